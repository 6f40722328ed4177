from django.urls import path

from orgwarden.console.views import admins, audit, home, setup
from orgwarden.console.views import users as users_views

app_name = "console"

org = "admin/o/<str:org_id>/"

urlpatterns = [
    path("setup/<str:token>", setup.setup, name="setup"),
    path("admin/", home.home, name="home"),
    path("admin/new", home.org_create, name="org_create"),
    path("admin/invitations/<str:token>", admins.invitation, name="invitation"),
    path(org, home.org_home, name="org_home"),
    path(org + "settings/", home.org_settings, name="org_settings"),
    path(org + "admins/", admins.admins, name="admins"),
    path(org + "admins/<str:account_id>/remove", admins.admin_remove, name="admin_remove"),
    path(
        org + "invitations/<str:invitation_id>/revoke",
        admins.invitation_revoke,
        name="invitation_revoke",
    ),
    path(org + "audit-log/", audit.audit_log, name="audit_log"),
    path(org + "audit-log/export.csv", audit.audit_export, name="audit_export"),
    path(org + "soon/<slug:slug>", home.not_built, name="not_built"),
    # Directory → Users and Managed accounts
    path(org + "users/", users_views.users, name="users"),
    path(org + "managed-accounts/", users_views.managed_accounts, name="managed_accounts"),
    path(org + "users/bulk", users_views.users_bulk, name="users_bulk"),
    path(org + "users/<str:account_id>/", users_views.user_detail, name="user_detail"),
    path(org + "users/<str:account_id>/profile", users_views.user_profile, name="user_profile"),
    path(org + "users/<str:account_id>/email", users_views.user_email, name="user_email"),
    path(org + "users/<str:account_id>/deactivate", users_views.user_deactivate, name="user_deactivate"),
    path(org + "users/<str:account_id>/reactivate", users_views.user_reactivate, name="user_reactivate"),
    path(org + "users/<str:account_id>/delete", users_views.user_deletion_schedule, name="user_delete"),
    path(
        org + "users/<str:account_id>/delete/cancel",
        users_views.user_deletion_cancel,
        name="user_delete_cancel",
    ),
    path(org + "users/<str:account_id>/sign-out", users_views.user_sessions_end, name="user_sessions_end"),
]

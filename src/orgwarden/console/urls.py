from django.urls import path

from orgwarden.console.views import admins, audit, home, setup

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
]

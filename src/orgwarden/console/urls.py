from django.urls import path

from orgwarden.console.views import admins, api_keys, api_tokens, audit, home, invite, launch, setup
from orgwarden.console.views import billing as billing_views
from orgwarden.console.views import domains as domains_views
from orgwarden.console.views import groups as groups_views
from orgwarden.console.views import help_centers as help_center_views
from orgwarden.console.views import identity_providers as idp_views
from orgwarden.console.views import insights as insights_views
from orgwarden.console.views import policies as policies_views
from orgwarden.console.views import products as products_views
from orgwarden.console.views import provisioning as provisioning_views
from orgwarden.console.views import support as support_views
from orgwarden.console.views import users as users_views

app_name = "console"

org = "admin/o/<str:org_id>/"

urlpatterns = [
    path("setup/<str:token>", setup.setup, name="setup"),
    path("admin/", home.home, name="home"),
    path("admin/new", home.org_create, name="org_create"),
    path("launch/<str:site_id>", launch.launch, name="launch"),
    path("admin/invitations/<str:token>", admins.invitation, name="invitation"),
    path(
        "admin/invitations/pending/<str:invitation_id>/accept",
        home.invitation_accept,
        name="invitation_accept_pending",
    ),
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
    # Directory → Domains
    path(org + "domains/", domains_views.domains, name="domains"),
    path(org + "domains/<str:domain_id>/", domains_views.domain, name="domain"),
    path(org + "domains/<str:domain_id>/verify", domains_views.domain_verify, name="domain_verify"),
    path(org + "domains/<str:domain_id>/claim", domains_views.domain_claim, name="domain_claim"),
    path(org + "domains/<str:domain_id>/remove", domains_views.domain_remove, name="domain_remove"),
    path(org + "domains/<str:domain_id>/accounts/", domains_views.domain_accounts, name="domain_accounts"),
    # Settings → API keys
    path(org + "api-keys/", api_keys.api_keys, name="api_keys"),
    path(org + "api-keys/<str:key_id>/revoke", api_keys.api_key_revoke, name="api_key_revoke"),
    # Security → User API tokens; a product site's client secret
    path(org + "api-tokens/", api_tokens.api_tokens, name="api_tokens"),
    path(org + "api-tokens/revoke", api_tokens.api_tokens_revoke, name="api_tokens_revoke"),
    path(org + "api-tokens/<str:token_id>/revoke", api_tokens.api_token_revoke, name="api_token_revoke"),
    path(
        org + "products/<str:site_id>/credential",
        api_tokens.site_credential_create,
        name="site_credential_create",
    ),
    path(
        org + "products/<str:site_id>/sign-in-addresses",
        api_tokens.site_redirect_uris,
        name="site_redirect_uris",
    ),
    # Products → Product sites, External users (the access feature)
    path(org + "products/", products_views.products, name="products"),
    path(org + "products/<str:site_id>/", products_views.product_site, name="product_site"),
    path(org + "products/<str:site_id>/edit", products_views.site_update, name="site_update"),
    path(org + "products/<str:site_id>/remove", products_views.site_remove, name="site_remove"),
    path(org + "products/<str:site_id>/access", products_views.site_access_grant, name="site_access_grant"),
    path(
        org + "products/<str:site_id>/access/<str:group_id>/revoke",
        products_views.site_access_revoke,
        name="site_access_revoke",
    ),
    path(
        org + "products/<str:site_id>/default-groups",
        products_views.site_default_groups,
        name="site_default_groups",
    ),
    path(org + "products/<str:site_id>/invite", products_views.site_invite, name="site_invite"),
    path(org + "external-users/", products_views.external_users, name="external_users"),
    path(
        org + "external-users/<str:account_id>/remove",
        products_views.external_user_remove,
        name="external_user_remove",
    ),
    # Products → Help centers (JSM customer portals, their customers and customer IdP)
    path(org + "help-centers/", help_center_views.help_centers, name="help_centers"),
    path(org + "help-centers/<str:site_id>/", help_center_views.help_center, name="help_center"),
    path(
        org + "help-centers/<str:site_id>/authentication",
        help_center_views.help_center_authentication,
        name="help_center_authentication",
    ),
    path(org + "help-centers/<str:site_id>/idp", help_center_views.help_center_idp, name="help_center_idp"),
    path(
        org + "help-centers/<str:site_id>/certificates",
        help_center_views.help_center_certificate_add,
        name="help_center_certificate_add",
    ),
    path(
        org + "help-centers/<str:site_id>/certificates/<str:certificate_id>/remove",
        help_center_views.help_center_certificate_remove,
        name="help_center_certificate_remove",
    ),
    path(
        org + "help-centers/<str:site_id>/metadata",
        help_center_views.help_center_metadata,
        name="help_center_metadata",
    ),
    path(
        org + "help-centers/<str:site_id>/test", help_center_views.help_center_test, name="help_center_test"
    ),
    path(
        org + "help-centers/<str:site_id>/customers/<str:customer_id>/deactivate",
        help_center_views.customer_deactivate,
        name="help_center_customer_deactivate",
    ),
    path(
        org + "help-centers/<str:site_id>/customers/<str:customer_id>/reactivate",
        help_center_views.customer_reactivate,
        name="help_center_customer_reactivate",
    ),
    path(
        org + "help-centers/<str:site_id>/customers/<str:customer_id>/remove",
        help_center_views.customer_remove,
        name="help_center_customer_remove",
    ),
    # Directory → Groups
    path(org + "groups/", groups_views.groups, name="groups"),
    path(org + "groups/<str:group_id>/", groups_views.group, name="group"),
    path(org + "groups/<str:group_id>/edit", groups_views.group_update, name="group_update"),
    path(org + "groups/<str:group_id>/delete", groups_views.group_delete, name="group_delete"),
    path(org + "groups/<str:group_id>/members", groups_views.group_members_add, name="group_members_add"),
    path(
        org + "groups/<str:group_id>/members/<str:account_id>/remove",
        groups_views.group_member_remove,
        name="group_member_remove",
    ),
    # Directory → Users and Managed accounts
    path(org + "users/", users_views.users, name="users"),
    path(org + "managed-accounts/", users_views.managed_accounts, name="managed_accounts"),
    path(org + "users/bulk", users_views.users_bulk, name="users_bulk"),
    path(org + "users/invitations/resend", invite.users_invitation_resend, name="users_invitation_resend"),
    path(org + "users/invite", invite.users_invite, name="users_invite"),
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
    path(
        org + "users/<str:account_id>/invitation/resend",
        invite.user_invitation_resend,
        name="user_invitation_resend",
    ),
    # Security → Authentication policies
    path(org + "policies/", policies_views.policies, name="policies"),
    path(org + "policies/check", policies_views.policy_check, name="policy_check"),
    path(org + "policies/break-glass", policies_views.break_glass_add, name="break_glass_add"),
    path(
        org + "policies/break-glass/<str:account_id>/remove",
        policies_views.break_glass_remove,
        name="break_glass_remove",
    ),
    path(
        org + "policies/accounts/<str:account_id>/reset-two-step",
        policies_views.two_step_reset,
        name="two_step_reset",
    ),
    path(org + "policies/<str:policy_id>/", policies_views.policy, name="policy"),
    path(org + "policies/<str:policy_id>/rename", policies_views.policy_rename, name="policy_rename"),
    path(org + "policies/<str:policy_id>/delete", policies_views.policy_delete, name="policy_delete"),
    path(
        org + "policies/<str:policy_id>/members",
        policies_views.policy_members_move,
        name="policy_members_move",
    ),
    # Billing
    path(org + "billing/", billing_views.billing, name="billing"),
    path(org + "billing/trial", billing_views.trial_start, name="billing_trial_start"),
    # Security → Insights
    path(org + "insights/", insights_views.insights, name="insights"),
    path(org + "insights/<slug:chart>.csv", insights_views.insights_csv, name="insights_csv"),
    path(
        org + "insights/remove-access", insights_views.inactive_access_remove, name="insights_access_remove"
    ),
    # Support → Support requests
    path(org + "support/", support_views.support_requests, name="support"),
    path(org + "support/<str:request_id>/", support_views.support_request, name="support_request"),
    # Security → Identity providers (SAML)
    path(org + "identity-providers/", idp_views.identity_providers, name="identity_providers"),
    path(
        org + "identity-providers/<str:connection_id>/", idp_views.identity_provider, name="identity_provider"
    ),
    path(
        org + "identity-providers/<str:connection_id>/certificates",
        idp_views.identity_provider_certificate_add,
        name="identity_provider_certificate_add",
    ),
    path(
        org + "identity-providers/<str:connection_id>/certificates/<str:certificate_id>/remove",
        idp_views.identity_provider_certificate_remove,
        name="identity_provider_certificate_remove",
    ),
    path(
        org + "identity-providers/<str:connection_id>/metadata",
        idp_views.identity_provider_metadata,
        name="identity_provider_metadata",
    ),
    path(
        org + "identity-providers/<str:connection_id>/domains",
        idp_views.identity_provider_domain_link,
        name="identity_provider_domain_link",
    ),
    path(
        org + "identity-providers/<str:connection_id>/domains/<str:domain_id>/unlink",
        idp_views.identity_provider_domain_unlink,
        name="identity_provider_domain_unlink",
    ),
    path(
        org + "identity-providers/<str:connection_id>/test",
        idp_views.identity_provider_test,
        name="identity_provider_test",
    ),
    path(
        org + "identity-providers/<str:connection_id>/remove",
        idp_views.identity_provider_remove,
        name="identity_provider_remove",
    ),
    path(
        org + "directories/<str:directory_id>/provisioning/",
        provisioning_views.provisioning,
        name="provisioning",
    ),
    path(
        org + "directories/<str:directory_id>/provisioning/key",
        provisioning_views.provisioning_key,
        name="provisioning_key",
    ),
    path(
        org + "directories/<str:directory_id>/provisioning/users/<str:scim_id>/relink",
        provisioning_views.provisioning_relink,
        name="provisioning_relink",
    ),
    path(
        org + "directories/<str:directory_id>/provisioning/groups/<str:scim_id>/resolve",
        provisioning_views.provisioning_clash,
        name="provisioning_clash",
    ),
]

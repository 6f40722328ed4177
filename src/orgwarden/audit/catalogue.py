"""The one catalogue of audit actions: every event's ``action`` is a key defined here.

Keys follow ``subject:object:verb`` (``org:admin:invited``). Display names are what the console and
the CSV show; categories drive the audit log's category filter. Add new actions here, never inline
in a service: ``event_record`` refuses a key it does not know, so a typo fails its test at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Action:
    key: str
    name: str
    category: str


SIGN_IN = "Sign-in and sessions"
ACCOUNTS = "Accounts"
ORGANIZATION = "Organization"
ADMINS = "Administrators"
AUDIT = "Audit log"
DOMAINS = "Domains"
USERS = "Managed accounts and users"
ACCESS = "Groups and product access"
API_KEYS = "API keys"
SSO = "Single sign-on"
POLICIES = "Authentication policies"
USER_TOKENS = "User API tokens and product sign-in"
PROVISIONING = "SCIM provisioning"
HELP_CENTERS = "Help centers"
SUPPORT = "Support requests"
BILLING = "Subscription and billing"

ACTIONS: tuple[Action, ...] = (
    # Sign-in and sessions
    Action("account:signin:succeeded", "Signed in", SIGN_IN),
    Action("account:signin:failed", "Sign-in failed", SIGN_IN),
    Action("account:signin:throttled", "Sign-in refused: too many attempts", SIGN_IN),
    Action("account:signout", "Signed out", SIGN_IN),
    Action("account:session:ended", "Session ended", SIGN_IN),
    Action("account:sessions:ended_all", "All sessions ended", SIGN_IN),
    Action("account:signin_link:created", "One-time sign-in link created", SIGN_IN),
    Action("account:signin_link:used", "One-time sign-in link used", SIGN_IN),
    # Accounts
    Action("account:created", "Account created", ACCOUNTS),
    Action("account:email:verification_sent", "Email verification sent", ACCOUNTS),
    Action("account:email:verified", "Email verified", ACCOUNTS),
    Action("account:profile:updated", "Profile updated", ACCOUNTS),
    Action("account:password:changed", "Password changed", ACCOUNTS),
    Action("account:password:reset_requested", "Password reset requested", ACCOUNTS),
    Action("account:password:reset", "Password reset", ACCOUNTS),
    Action("account:2sv:enabled", "Two-step verification turned on", ACCOUNTS),
    Action("account:2sv:disabled", "Two-step verification turned off", ACCOUNTS),
    Action("account:2sv:recovery_codes_regenerated", "Recovery codes regenerated", ACCOUNTS),
    Action("account:2sv:recovery_code_used", "Recovery code used", SIGN_IN),
    Action("account:2sv:failed", "Two-step verification failed", SIGN_IN),
    Action("account:email:changed", "Email address changed", ACCOUNTS),
    Action("account:closed", "Account closed", ACCOUNTS),
    Action("account:managed_notice:acknowledged", "Managed-account notice acknowledged", ACCOUNTS),
    Action(
        "account:unverified:credentials_cleared",
        "Unverified account's password, sessions and tokens cleared",
        ACCOUNTS,
    ),
    # Organization
    Action("org:created", "Organization created", ORGANIZATION),
    Action("org:renamed", "Organization renamed", ORGANIZATION),
    # Administrators
    Action("org:admin:invited", "Admin invited", ADMINS),
    Action("org:admin:invitation_accepted", "Admin invitation accepted", ADMINS),
    Action("org:admin:invitation_revoked", "Admin invitation revoked", ADMINS),
    Action("org:admin:added", "Admin added", ADMINS),
    Action("org:admin:removed", "Admin removed", ADMINS),
    # Audit log
    Action("org:audit:exported", "Audit log exported", AUDIT),
    Action("audit:events:pruned", "Audit events older than the retention period deleted", AUDIT),
    # Domains
    Action("org:domain:added", "Domain added", DOMAINS),
    Action("org:domain:verified", "Domain verified", DOMAINS),
    Action("org:domain:verification_failed", "Domain verification failed", DOMAINS),
    Action("org:domain:proof_missing", "Domain proof missing at re-check", DOMAINS),
    Action("org:domain:proof_restored", "Domain proof found again", DOMAINS),
    Action("org:domain:unverified", "Domain unverified", DOMAINS),
    Action("org:domain:removed", "Domain removed", DOMAINS),
    Action("org:domain:claim_changed", "Domain claim setting changed", DOMAINS),
    # Managed accounts and users
    Action("org:account:claimed", "Account claimed", USERS),
    Action("org:account:released", "Managed account released", USERS),
    Action("org:account:profile_updated", "Managed account profile updated", USERS),
    Action("org:account:email_changed", "Managed account email changed", USERS),
    Action("org:account:deactivated", "Account deactivated", USERS),
    Action("org:account:reactivated", "Account reactivated", USERS),
    Action("org:account:deletion_scheduled", "Account deletion scheduled", USERS),
    Action("org:account:deletion_cancelled", "Account deletion cancelled", USERS),
    Action("org:account:deleted", "Account deleted and anonymised", USERS),
    Action("org:user:invited", "User invited", USERS),
    Action("org:user:invitation_resent", "User invitation sent again", USERS),
    Action("org:user:removed", "User removed from the organization", USERS),
    # Groups and product access
    Action("org:group:created", "Group created", ACCESS),
    Action("org:group:updated", "Group updated", ACCESS),
    Action("org:group:deleted", "Group deleted", ACCESS),
    Action("org:group:member_added", "Added to group", ACCESS),
    Action("org:group:member_removed", "Removed from group", ACCESS),
    Action("org:site:added", "Product site added", ACCESS),
    Action("org:site:updated", "Product site updated", ACCESS),
    Action("org:site:removed", "Product site removed", ACCESS),
    Action("org:access:granted", "Product access granted", ACCESS),
    Action("org:access:revoked", "Product access revoked", ACCESS),
    # API keys
    Action("org:api_key:created", "API key created", API_KEYS),
    Action("org:api_key:revoked", "API key revoked", API_KEYS),
    # Single sign-on
    Action("org:idp:added", "Identity provider added", SSO),
    Action("org:idp:updated", "Identity provider updated", SSO),
    Action("org:idp:removed", "Identity provider removed", SSO),
    Action("org:idp:certificate_added", "IdP signing certificate added", SSO),
    Action("org:idp:certificate_removed", "IdP signing certificate removed", SSO),
    Action("org:idp:domain_linked", "Domain linked to identity provider", SSO),
    Action("org:idp:domain_unlinked", "Domain unlinked from identity provider", SSO),
    Action("org:idp:tested", "Single sign-on tested", SSO),
    Action("org:idp:certificate_expiring", "Identity provider certificate expiring soon", SSO),
    Action("account:signin:sso_failed", "Single sign-on refused", SSO),
    Action("account:created_jit", "Account created just in time by single sign-on", SSO),
    # Authentication policies
    Action("org:policy:created", "Authentication policy created", POLICIES),
    Action("org:policy:updated", "Authentication policy settings changed", POLICIES),
    Action("org:policy:renamed", "Authentication policy renamed", POLICIES),
    Action("org:policy:deleted", "Authentication policy deleted", POLICIES),
    Action("org:policy:members_moved", "Accounts moved to an authentication policy", POLICIES),
    Action("org:account:2sv_reset", "Two-step verification reset by an admin", POLICIES),
    Action("org:break_glass:added", "Break-glass admin added", POLICIES),
    Action("org:break_glass:removed", "Break-glass admin removed", POLICIES),
    Action("account:signin:break_glass", "Break-glass admin signed in", POLICIES),
    Action("account:session:expired", "Session expired by policy", SIGN_IN),
    # User API tokens and product sign-in
    Action("account:api_token:created", "API token created", USER_TOKENS),
    Action("account:api_token:revoked", "API token revoked", USER_TOKENS),
    Action("org:api_token:revoked", "API token revoked by an admin", USER_TOKENS),
    Action("org:site:credential_created", "Product site client secret created", USER_TOKENS),
    Action("account:product:access_denied", "Product sign-in refused", USER_TOKENS),
    Action(
        "account:product:tokens_replay_revoked",
        "Product sign-in tokens revoked: a code or refresh token was used twice",
        USER_TOKENS,
    ),
    Action("org:site:redirect_uris_changed", "Product site sign-in addresses changed", USER_TOKENS),
    Action("system:oidc_key:rotated", "Product sign-in signing key rotated", USER_TOKENS),
    # Help centers (portal-only customers and their IdP)
    Action("helpcenter:idp:updated", "Help center identity provider updated", HELP_CENTERS),
    Action("helpcenter:idp:metadata_imported", "Help center IdP metadata imported", HELP_CENTERS),
    Action("helpcenter:idp:certificate_added", "Help center IdP certificate added", HELP_CENTERS),
    Action("helpcenter:idp:certificate_removed", "Help center IdP certificate removed", HELP_CENTERS),
    Action("helpcenter:idp:tested", "Help center single sign-on tested", HELP_CENTERS),
    Action("helpcenter:authentication:updated", "Help center authentication changed", HELP_CENTERS),
    Action("helpcenter:customer:signed_up", "Customer signed up", HELP_CENTERS),
    Action("helpcenter:customer:signed_in", "Customer signed in", HELP_CENTERS),
    Action("helpcenter:customer:signin_failed", "Customer sign-in failed", HELP_CENTERS),
    Action("helpcenter:customer:sso_failed", "Customer single sign-on refused", HELP_CENTERS),
    Action("helpcenter:customer:password_reset_requested", "Customer password reset requested", HELP_CENTERS),
    Action("helpcenter:customer:password_reset", "Customer password reset", HELP_CENTERS),
    Action(
        "helpcenter:customer:unverified_password_cleared",
        "Customer's unverified sign-up password cleared at SSO",
        HELP_CENTERS,
    ),
    Action("helpcenter:customer:deactivated", "Customer deactivated", HELP_CENTERS),
    Action("helpcenter:customer:reactivated", "Customer reactivated", HELP_CENTERS),
    Action("helpcenter:customer:removed", "Customer removed", HELP_CENTERS),
    # Support requests
    Action("org:support_request:raised", "Support request raised", SUPPORT),
    Action("org:support_request:commented", "Support request commented on", SUPPORT),
    Action("org:support_request:replied", "Support replied to a request", SUPPORT),
    Action("org:support_request:severity_changed", "Support request severity changed", SUPPORT),
    Action("org:support_request:resolved", "Support request resolved", SUPPORT),
    Action("system:staff:granted", "Made staff of this installation", SUPPORT),
    Action("system:staff:revoked", "No longer staff of this installation", SUPPORT),
    # Subscription and billing
    Action("org:subscription:trial_started", "Free trial started", BILLING),
    Action("org:subscription:paid", "Subscription paid", BILLING),
    Action("org:subscription:lapsed", "Subscription lapsed", BILLING),
    Action("org:subscription:expiry_warned", "Admins warned that the trial ends soon", BILLING),
    # SCIM provisioning
    Action("scim:key:generated", "SCIM provisioning key generated", PROVISIONING),
    Action("scim:user:created", "User provisioned", PROVISIONING),
    Action("scim:user:updated", "Provisioned user updated", PROVISIONING),
    Action("scim:user:deleted", "Provisioned user deleted (deactivated)", PROVISIONING),
    Action("scim:user:deactivation_skipped", "Provisioned break-glass admin left active", PROVISIONING),
    Action(
        "scim:user:reactivation_skipped",
        "Provisioned user deactivated by an admin left deactivated",
        PROVISIONING,
    ),
    Action("scim:user:relinked", "Provisioned user relinked to its account", PROVISIONING),
    Action("scim:group:created", "Group provisioned", PROVISIONING),
    Action("scim:group:updated", "Provisioned group updated", PROVISIONING),
    Action("scim:group:deleted", "Provisioned group deleted", PROVISIONING),
    Action("scim:group:clash_resolved", "Synced group name clash resolved", PROVISIONING),
)

BY_KEY: dict[str, Action] = {action.key: action for action in ACTIONS}
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(action.category for action in ACTIONS))


def action_for(key: str) -> Action:
    """The catalogued action for ``key``; raises ``KeyError`` for an unknown key."""
    return BY_KEY[key]


def actions_in(category: str) -> list[Action]:
    return [action for action in ACTIONS if action.category == category]

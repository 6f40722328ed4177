"""Named errors of the orgs domain."""


class OrgsError(Exception):
    message = "This change is not allowed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class NotFound(OrgsError):
    """Unknown, or belonging to another org: both answer 404, never confirming the object exists."""

    message = "Not found."


class InvitationNotPending(NotFound):
    """A revoke sent twice: the invitation is this org's but revoked, accepted or expired already."""

    message = "This invitation is no longer pending: it was revoked, accepted or expired already."


class EmailNotVerified(OrgsError):
    message = "Verify your email address before you create an organization."


class AlreadySetUp(OrgsError):
    message = "This installation is already set up: it has an organization."


class InvalidName(OrgsError):
    message = "Enter a name of 1 to 100 characters."


class AlreadyAdmin(OrgsError):
    message = "This person is already an admin of this organization."


class LastAdmin(OrgsError):
    message = "An organization must keep at least one admin. Add another admin first."


class InvitationInvalid(OrgsError):
    message = "This invitation is invalid, expired or already used. Ask an admin to invite you again."


class InvitationForSomeoneElse(OrgsError):
    message = "This invitation was sent to another email address. Sign in with that address to accept it."


class InvalidInput(OrgsError):
    """A value breaks a rule; the message says which, in words an admin can act on."""

    message = "This value is not valid."


class NotManaged(OrgsError):
    message = "This account is not managed by your organization."


class ClaimedByAnotherOrg(OrgsError):
    message = "This account is already managed by another organization."


class GroupSynced(OrgsError):
    """The group comes from an identity provider: it changes there, and reaches us by SCIM."""

    message = "This group is synced from an identity provider. Change it there; it is read-only here."


class DomainNotVerified(OrgsError):
    message = "Verify this domain first: only a verified domain's accounts can be claimed."


class AutomaticClaimTaken(OrgsError):
    """Another org already claims this domain's accounts automatically (one org per name)."""

    message = "Another organization already claims this domain automatically."


class ProfileManagedByIdp(OrgsError):
    """The account was provisioned by an identity provider: its profile changes there, by SCIM."""

    message = "This profile is managed by your identity provider. Change it there; it is read-only here."


class NotInvited(OrgsError):
    """An invitation sent again to someone who is not "Invited" (signed in since, deactivated)."""

    message = "This person is not waiting on an invitation."


class NoProductAccess(OrgsError):
    """An invitation sent again to someone who has no product site of the org left to invite to."""

    message = "This person has no access to any product site of your organization any more."


class OrgCreationThrottled(OrgsError):
    """An account created ``ORG_CREATIONS``' number of organizations in the last day
    (``services.orgs.org_create``)."""

    message = "You have created too many organizations today. Wait a while, then try again."


class InvitationThrottled(OrgsError):
    """Too many invitation emails (an invite, an invite again, a resend, an admin invitation) to
    one address, sent again by one admin or API key, or first invitations of one org
    (``services.invitation_limits``): ``retry_after`` says in how many seconds the next one is
    admitted."""

    message = "Too many invitation emails. Wait a while, then try again."

    def __init__(self, message: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after

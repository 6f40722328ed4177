"""Named errors of the policies domain (subclasses of ``OrgsError``, so console views map them alike)."""

from __future__ import annotations

from orgwarden.orgs.exceptions import OrgsError


class PoliciesError(OrgsError):
    message = "This change to authentication policies is not allowed."


class InvalidSetting(PoliciesError):
    """One or more settings break a rule; ``errors`` maps each setting to what is wrong with it."""

    message = "Some settings are not valid."

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()) or self.message)
        self.errors = errors


class DefaultPolicyProtected(PoliciesError):
    message = "A directory's default policy can't be deleted."


class NameTaken(PoliciesError):
    message = "Another policy of this organization already has this name."


class MoveRefused(PoliciesError):
    message = "These accounts can't be moved to this policy."


class BreakGlassRefused(PoliciesError):
    message = "This person can't be a break-glass admin."


class TooManyBreakGlass(PoliciesError):
    message = "An organization has at most three break-glass admins. Remove one first."


class NoTwoStepToReset(PoliciesError):
    message = "This account has no two-step verification to reset (it was reset already, or never set up)."

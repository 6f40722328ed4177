"""Named errors of the help-center domain (subclasses of ``OrgsError``, so the console maps them
like every other service error; ``NotFound`` is reused for unknown or another org's objects)."""

from __future__ import annotations

from orgwarden.orgs.exceptions import OrgsError


class NotAHelpCenter(OrgsError):
    message = "Only Jira Service Management sites have a help center."


class AuthenticationRule(OrgsError):
    """A choice of password/SSO sign-in that the rules refuse."""

    message = "At least one way to sign in must stay on."


class CustomerSigninRefused(OrgsError):
    """A customer's sign-in is refused; ``reason`` is a stable code kept in the audit log."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

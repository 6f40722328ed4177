"""Named errors of the sso domain (admin input and sign-in outcomes after a valid assertion)."""

from orgwarden.orgs.exceptions import InvalidInput, NotFound, OrgsError

__all__ = ["InvalidInput", "NotFound", "OrgsError", "SsoSigninRefused"]


class SsoSigninRefused(Exception):
    """A valid assertion that still may not sign anyone in; ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message

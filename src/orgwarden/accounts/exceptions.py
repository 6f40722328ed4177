"""Named errors of the accounts domain; views map them to form errors or pages in one place."""


class AccountsError(Exception):
    """Base class. ``message`` is safe to show to the person who caused it."""

    message = "Something is wrong with this request."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class InvalidInput(AccountsError):
    """A value that breaks a rule; the message says which."""


class SignupDisabled(AccountsError):
    message = "Sign-up is turned off on this installation. Ask an administrator for an invitation."


class EmailTaken(AccountsError):
    message = "An account with this email already exists. Sign in instead."


class InvalidPassword(AccountsError):
    """The password fails the rules; ``messages`` lists every rule it fails."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


class WrongPassword(AccountsError):
    message = "Your current password is not correct."


class TooManyAttempts(AccountsError):
    """Too many wrong passwords for this account lately (``throttle.SIGNIN``); nothing was checked."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts. Wait {retry_after} seconds, then try again.")
        self.retry_after = retry_after


class InvalidLink(AccountsError):
    message = "This link is invalid or has expired. Ask for a new one."


class PasswordNotUsed(AccountsError):
    """The account (or a new one with this email) signs in without a password: its org's policy
    enforces single sign-on (``signin.password_signs_in``), so no password is set or reset for it."""

    message = (
        "Your organization signs you in through its identity provider, so this account has no "
        "password to set or reset here. Sign in with your organization's account instead."
    )


class SessionNotFound(AccountsError):
    message = "That session does not exist or has already ended."


class ChangeRefused(AccountsError):
    """Something above accounts (an org managing it) refuses the change; the message says who and why."""

    message = "This change is not allowed for your account."

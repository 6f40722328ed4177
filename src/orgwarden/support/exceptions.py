"""Named errors of support requests; views map them to form errors or a 404."""


class SupportError(Exception):
    message = "This change is not allowed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class NotFound(SupportError):
    """Unknown, another org's, or asked for by someone who may not see it: always a 404."""

    message = "Not found."


class InvalidRequest(SupportError):
    message = "Check the request's severity, summary and description."


class AlreadyResolved(SupportError):
    message = "This request is resolved."


class InvalidPageLink(SupportError):
    """A list's ``after`` cursor that is not one of ours: a 400 with this, never a 500."""

    message = "That page link is not valid. Start again from the first page."

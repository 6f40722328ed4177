"""Named errors of the tokens domain."""


class TokensError(Exception):
    message = "This change is not allowed."
    code = "invalid_request"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class InvalidKeyRequest(TokensError):
    code = "invalid_request"


class KeyNotFound(TokensError):
    message = "No such API key."
    code = "not_found"


class TokensNotAllowed(TokensError):
    message = "Your organization's authentication policy does not allow API tokens."
    code = "api_tokens_not_allowed"


class TokenNotFound(TokensError):
    message = "No such API token."
    code = "not_found"

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


class KeyRevokedAlready(KeyNotFound):
    """A revoke sent twice: the key is this org's and was revoked (a 404 to the REST API, as before)."""

    message = "This API key was revoked already."


class TokensNotAllowed(TokensError):
    message = "Your organization's authentication policy does not allow API tokens."
    code = "api_tokens_not_allowed"


class TokenNotFound(TokensError):
    message = "No such API token."
    code = "not_found"


class TokenRevokedAlready(TokenNotFound):
    """A revoke sent twice: the token was revoked already (a 404 to the REST API, as before)."""

    message = "This API token was revoked already."


class SecretReplaced(TokensError):
    """A product site's client secret is not the one the admin chose to replace: a confirmation
    left open while it was replaced, a click sent twice, a second tab."""

    code = "conflict"

"""Named SCIM errors; ``views`` turns each into the SCIM error schema (RFC 7644 §3.12)."""

from __future__ import annotations


class ScimError(Exception):
    """An error answered as ``{"schemas": [Error], "status", "scimType", "detail"}``."""

    def __init__(self, detail: str, *, status: int = 400, scim_type: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.scim_type = scim_type
        # Who a refused create was for (its userName or displayName), for the provisioning log:
        # the line has no resource id to name it by.
        self.subject = ""


class ResourceNotFound(ScimError):
    def __init__(self, what: str = "Resource") -> None:
        super().__init__(f"{what} not found.", status=404)


class Uniqueness(ScimError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, status=409, scim_type="uniqueness")


class InvalidValue(ScimError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, status=400, scim_type="invalidValue")


class KeyReplaced(ScimError):
    """The directory's SCIM key is not the one the admin chose to replace: a confirmation page
    left open while the key was regenerated, a click sent twice, a second tab."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, status=409)

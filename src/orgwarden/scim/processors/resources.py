"""SCIM resources in and out — no Django here.

Incoming JSON becomes a *flat* dict keyed by lower-cased attribute paths (``username``,
``name.givenname``, ``department``, ``emails`` …) whatever the client's spelling: any case, nested
``name`` objects, dotted names, full schema URNs (``urn:ietf:params:scim:schemas:extension:
enterprise:2.0:User:department``) or OneLogin's ``urn:scim:schemas:core:2.0``. PUT, POST and PATCH
all end as one flat dict (PATCH applies its operations to the current resource's flat dict), so one
code path stores them. ``render_user``/``render_group`` go the other way; ``select`` applies
``attributes``/``excludedAttributes``.
"""

from __future__ import annotations

from typing import Any

from orgwarden.scim.processors.filters import strip_schema

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

EXTENSION_KEYS = (ENTERPRISE_SCHEMA.lower(), "urn:scim:schemas:extension:enterprise:2.0")
IGNORED = {"schemas", "id", "meta", "password", "groups"}

USER_SCALARS = {
    "username",
    "externalid",
    "active",
    "displayname",
    "nickname",
    "profileurl",
    "title",
    "usertype",
    "preferredlanguage",
    "locale",
    "timezone",
    "department",
    "organization",
    "employeenumber",
    "costcenter",
    "division",
    "name.givenname",
    "name.familyname",
    "name.formatted",
    "name.middlename",
    "name.honorificprefix",
    "name.honorificsuffix",
    # The enterprise manager's sub-attributes (RFC 7643 §4.3), which a PATCH path may name one by one.
    "manager.value",
    "manager.$ref",
    "manager.displayname",
}
ENTERPRISE_ATTRIBUTES = (
    "department",
    "organization",
    "employeenumber",
    "costcenter",
    "division",
    "manager.value",
)
USER_MULTI = {
    "emails",
    "phonenumbers",
    "addresses",
    "photos",
    "ims",
    "roles",
    "entitlements",
    "x509certificates",
}
USER_COMPLEX = {"name", "manager"}
GROUP_SCALARS = {"displayname", "externalid"}
GROUP_MULTI = {"members"}
BOOLEAN_KEYS = {"active", "primary"}


class ResourceError(ValueError):
    """The resource body is not acceptable; ``scim_type`` says how (invalidValue, invalidSyntax …)."""

    def __init__(self, message: str, scim_type: str = "invalidValue") -> None:
        super().__init__(message)
        self.message = message
        self.scim_type = scim_type


def as_bool(value: Any, name: str) -> bool:
    """SCIM booleans; Entra sends "True"/"False" strings by default."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ResourceError(f"{name} must be true or false.")


def _element(value: Any, key: str) -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                continue
            k = k.lower()
            out[k] = as_bool(v, f"{key}.{k}") if k in BOOLEAN_KEYS and v is not None else v
        return out
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"value": value}
    raise ResourceError(f"Each value of {key} must be an object.")


def elements(value: Any, key: str) -> list[dict]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [_element(item, key) for item in items]


def flatten(data: Any, *, multi: set[str], complex_: set[str] = frozenset()) -> dict[str, Any]:
    """The flat form of a resource body (or of a path-less PATCH value)."""
    if not isinstance(data, dict):
        raise ResourceError("The body must be a JSON object.", "invalidSyntax")
    flat: dict[str, Any] = {}
    for raw_key, value in data.items():
        if not isinstance(raw_key, str):
            continue
        lowered = raw_key.lower()
        if lowered in EXTENSION_KEYS and isinstance(value, dict):
            flat.update(flatten(value, multi=multi, complex_=complex_))
            continue
        key = strip_schema(raw_key)
        if key in IGNORED:
            continue
        if key in complex_ and isinstance(value, dict):
            for sub, sub_value in value.items():
                if isinstance(sub, str):
                    flat[f"{key}.{sub.lower()}"] = sub_value
            continue
        if key in complex_ and value is None:
            flat[key] = None
            continue
        if key in multi:
            flat[key] = elements(value, key)
            continue
        flat[key] = value
    if "active" in flat and flat["active"] is not None:
        flat["active"] = as_bool(flat["active"], "active")
    return flat


def flatten_user(data: Any) -> dict[str, Any]:
    return flatten(data, multi=USER_MULTI, complex_=USER_COMPLEX)


def flatten_group(data: Any) -> dict[str, Any]:
    return flatten(data, multi=GROUP_MULTI)


def text(flat: dict[str, Any], key: str, limit: int) -> str:
    """A string attribute of ``flat`` ("" when absent), checked against the column's limit."""
    value = flat.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ResourceError(f"{key} must be a string.")
    value = str(value).strip()
    if "\x00" in value:
        raise ResourceError(f"{key} holds a NUL character.")
    if len(value) > limit:
        raise ResourceError(f"{key} is longer than {limit} characters.")
    return value


# --- out ------------------------------------------------------------------------------------------


def select(resource: dict, *, attributes: list[str], excluded: list[str]) -> dict:
    """Apply ``attributes``/``excludedAttributes`` (RFC 7644 §3.4.2.5); id and schemas always stay."""
    if not attributes and not excluded:
        return resource
    wanted = {strip_schema(a.strip()) for a in attributes if a.strip()}
    unwanted = {strip_schema(a.strip()) for a in excluded if a.strip()}

    def keep(path: str) -> bool:
        if path in ("id", "schemas"):
            return True
        if wanted:
            head = path.split(".", 1)[0]
            return path in wanted or head in wanted or any(w.startswith(path + ".") for w in wanted)
        return path not in unwanted

    def walk(obj: dict, prefix: str) -> dict:
        out = {}
        for key, value in obj.items():
            if key.lower() in (ENTERPRISE_SCHEMA.lower(),) and isinstance(value, dict):
                inner = walk(value, "")
                if inner:
                    out[key] = inner
                continue
            path = prefix + key.lower()
            if not keep(path):
                continue
            if isinstance(value, dict) and not prefix and wanted and path not in wanted:
                value = {k: v for k, v in value.items() if keep(f"{path}.{k.lower()}")}
            out[key] = value
        return out

    return walk(resource, "")

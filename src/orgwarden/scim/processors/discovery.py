"""The discovery documents (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas — static data
that tells the truth about what this server does (PATCH and filter yes; bulk, sort, ETags and
password changes no)."""

from __future__ import annotations

from typing import Any

from orgwarden.scim.processors.resources import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RT_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


def service_provider_config(base: str, max_results: int) -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://github.com/orgwarden/orgwarden#scim-provisioning",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Directory API key",
                "description": "The directory's SCIM key as a Bearer token.",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"},
    }


def resource_types(base: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [RT_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User account",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"},
        },
        {
            "schemas": [RT_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group",
            "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/Group"},
        },
    ]


def _attr(
    name: str,
    type_: str = "string",
    *,
    multi: bool = False,
    required: bool = False,
    case_exact: bool = False,
    mutability: str = "readWrite",
    returned: str = "default",
    uniqueness: str = "none",
    subs: list | None = None,
    description: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "type": type_,
        "multiValued": multi,
        "description": description or name,
        "required": required,
        "mutability": mutability,
        "returned": returned,
    }
    if type_ in ("string", "reference"):
        out["caseExact"] = case_exact
        out["uniqueness"] = uniqueness
    if type_ == "reference":
        out["referenceTypes"] = ["User", "Group"]
    if subs is not None:
        out["subAttributes"] = subs
    return out


def _multi_subs() -> list:
    return [_attr("value"), _attr("type"), _attr("primary", "boolean")]


def schemas(base: str) -> list[dict[str, Any]]:
    user = [
        _attr("userName", required=True, uniqueness="server"),
        _attr("name", "complex", subs=[_attr("formatted"), _attr("familyName"), _attr("givenName")]),
        _attr("displayName"),
        _attr("title"),
        _attr("preferredLanguage"),
        _attr("locale"),
        _attr("timezone"),
        _attr("active", "boolean"),
        _attr(
            "emails",
            "complex",
            multi=True,
            required=True,
            subs=[_attr("value", required=True), _attr("type"), _attr("primary", "boolean")],
            description="The primary email (else userName) is the account email, on a verified domain.",
        ),
        _attr("phoneNumbers", "complex", multi=True, subs=_multi_subs()),
        _attr(
            "groups",
            "complex",
            multi=True,
            mutability="readOnly",
            subs=[
                _attr("value", mutability="readOnly"),
                _attr("display", mutability="readOnly"),
                _attr("$ref", "reference", mutability="readOnly"),
            ],
        ),
    ]
    enterprise = [_attr("employeeNumber"), _attr("organization"), _attr("department")]
    group = [
        _attr("displayName", required=True),
        _attr(
            "members",
            "complex",
            multi=True,
            subs=[
                _attr("value", mutability="immutable"),
                _attr("display", mutability="readOnly"),
                _attr("$ref", "reference", mutability="immutable"),
                _attr("type", mutability="readOnly"),
            ],
        ),
    ]
    out = []
    for schema_id, name, attributes in (
        (USER_SCHEMA, "User", user),
        (ENTERPRISE_SCHEMA, "EnterpriseUser", enterprise),
        (GROUP_SCHEMA, "Group", group),
    ):
        out.append(
            {
                "schemas": [SCHEMA_SCHEMA],
                "id": schema_id,
                "name": name,
                "description": name,
                "attributes": attributes,
                "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{schema_id}"},
            }
        )
    return out

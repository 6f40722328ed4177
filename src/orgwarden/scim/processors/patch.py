"""PATCH (RFC 7644 §3.5.2) applied to a resource's flat dict (see ``resources``) — no Django here.

``PatchProcessor(scalars=…, multi=…, complex_=…).apply(flat, body)`` returns a new flat dict; the
caller stores it like a PUT. Accepts what real clients send: op names in any case (Entra's
"Replace"), path-less operations whose value keys are dotted names or schema URNs (Okta's
``{"op":"replace","value":{"active":false}}``), paths with value filters
(``emails[type eq "work"].value``, ``members[value eq "…"]``), removal of members by a value list,
and ``add`` on a single-valued attribute that already has a value (it replaces). Raises
``ResourceError`` with scimType invalidSyntax, invalidPath, noTarget or mutability.
"""

from __future__ import annotations

import copy
from typing import Any

from orgwarden.scim.processors.filters import FilterError, matches, parse_filter, strip_schema
from orgwarden.scim.processors.resources import (
    ENTERPRISE_ATTRIBUTES,
    EXTENSION_KEYS,
    PATCH_SCHEMA,
    ResourceError,
    as_bool,
    elements,
    flatten,
)

MAX_OPERATIONS = 1000
READ_ONLY = {"id", "meta", "schemas", "groups"}


class PatchProcessor:
    def __init__(self, *, scalars: set[str], multi: set[str], complex_: set[str] = frozenset()) -> None:
        self.scalars = scalars
        self.multi = multi
        self.complex = complex_

    def apply(self, flat: dict[str, Any], body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ResourceError("The PATCH body must be a JSON object.", "invalidSyntax")
        schemas = body.get("schemas") or body.get("Schemas")
        if schemas is not None and (not isinstance(schemas, list) or PATCH_SCHEMA not in schemas):
            raise ResourceError(f"A PATCH body lists the schema {PATCH_SCHEMA}.", "invalidSyntax")
        operations = next((v for k, v in body.items() if k.lower() == "operations"), None)
        if not isinstance(operations, list) or not operations:
            raise ResourceError("A PATCH body needs a non-empty Operations list.", "invalidSyntax")
        if len(operations) > MAX_OPERATIONS:
            raise ResourceError(f"Send at most {MAX_OPERATIONS} operations per PATCH.", "tooMany")
        result = copy.deepcopy(flat)
        for operation in operations:
            self._operation(result, operation)
        return result

    # --- one operation
    def _operation(self, flat: dict, operation: Any) -> None:
        if not isinstance(operation, dict):
            raise ResourceError("Each operation must be a JSON object.", "invalidSyntax")
        operation = {k.lower(): v for k, v in operation.items() if isinstance(k, str)}
        op = operation.get("op")
        if not isinstance(op, str) or op.lower() not in ("add", "replace", "remove"):
            raise ResourceError(f"“{op}” is not a PATCH op: use add, replace or remove.", "invalidSyntax")
        op = op.lower()
        path = operation.get("path")
        value = operation.get("value")
        if path in (None, ""):
            if op == "remove":
                raise ResourceError("A remove operation needs a path.", "noTarget")
            if not isinstance(value, dict):
                raise ResourceError("An operation without a path needs an object value.", "invalidValue")
            for key, item in flatten(value, multi=self.multi, complex_=self.complex).items():
                self._at(flat, op, key, None, None, item, lenient=True)
            return
        if not isinstance(path, str) or "\x00" in path or len(path) > 1000:
            raise ResourceError("The path is not a string.", "invalidPath")
        if path.lower() in EXTENSION_KEYS:  # the whole enterprise extension as one complex value
            if op == "remove":
                for key in ENTERPRISE_ATTRIBUTES:
                    flat.pop(key, None)
                return
            if not isinstance(value, dict):
                raise ResourceError(f"{path} takes an object.", "invalidValue")
            if op == "replace":
                for key in ENTERPRISE_ATTRIBUTES:
                    flat.pop(key, None)
            for key, item in flatten(value, multi=self.multi, complex_=self.complex).items():
                self._at(flat, op, key, None, None, item, lenient=True)
            return
        attr, tree, sub = self._parse_path(path)
        if op != "remove" and "value" not in operation:
            raise ResourceError(f"The {op} operation on {path} needs a value.", "invalidValue")
        self._at(flat, op, attr, tree, sub, value, lenient=False)

    def _parse_path(self, path: str) -> tuple[str, tuple | None, str | None]:
        tree = None
        sub = None
        if "[" in path:
            head, _, rest = path.partition("[")
            inner, close, after = rest.rpartition("]")
            if not close or (after and not after.startswith(".")):
                raise ResourceError(f"“{path}” is not a valid path.", "invalidPath")
            try:
                tree = parse_filter(inner)
            except FilterError as exc:
                raise ResourceError(f"The filter in “{path}” is not valid: {exc}", "invalidPath") from exc
            attr = strip_schema(head)
            sub = after[1:].lower() or None
        else:
            attr = strip_schema(path)
            head, dot, rest = attr.partition(".")
            if dot and head in self.multi:
                attr, sub = head, rest
        if attr.split(".", 1)[0] in READ_ONLY:
            raise ResourceError(f"{attr} can't be changed.", "mutability")
        known = attr in self.scalars or attr in self.multi or attr in self.complex
        if not known or (tree is not None and attr not in self.multi):
            raise ResourceError(f"“{path}” is not an attribute of this resource.", "invalidPath")
        return attr, tree, sub

    def _at(
        self, flat: dict, op: str, key: str, tree: tuple | None, sub: str | None, value: Any, lenient: bool
    ) -> None:
        if key in READ_ONLY:
            raise ResourceError(f"{key} can't be changed.", "mutability")
        if key in self.multi:
            self._multi(flat, op, key, tree, sub, value)
        elif key in self.complex:
            for existing in [k for k in flat if k.startswith(key + ".")]:
                if op != "add":
                    flat.pop(existing)
            if op != "remove" and value is not None:
                if isinstance(value, str | int) and not isinstance(value, bool):
                    value = {"value": value}  # Entra sends manager as its bare id
                if not isinstance(value, dict):
                    raise ResourceError(f"{key} takes an object.", "invalidValue")
                for sub_key, sub_value in value.items():
                    flat[f"{key}.{str(sub_key).lower()}"] = sub_value
        elif key in self.scalars or not lenient:
            if op == "remove":
                flat.pop(key, None)
            else:
                flat[key] = as_bool(value, key) if key == "active" and value is not None else value
        # path-less keys this resource doesn't have are ignored, as RFC 7643 §3.3 lets a server do

    def _multi(self, flat: dict, op: str, key: str, tree: tuple | None, sub: str | None, value: Any) -> None:
        current: list[dict] = list(flat.get(key) or [])
        if tree is None and sub is None:
            new = elements(value, key)
            if op == "replace":
                flat[key] = new
            elif op == "add":
                seen = {str(e.get("value")) for e in current}
                flat[key] = current + [
                    e for e in new if str(e.get("value")) not in seen or e.get("value") is None
                ]
            else:  # remove: all values, or those listed (Entra removes members by a value list)
                if new:
                    drop = {str(e.get("value")) for e in new}
                    flat[key] = [e for e in current if str(e.get("value")) not in drop]
                else:
                    flat[key] = []
            return
        try:
            hits = [e for e in current if tree is None or matches(tree, e)]
        except FilterError as exc:
            raise ResourceError(str(exc), "invalidPath") from exc
        if op == "remove":
            if sub is None:
                flat[key] = [e for e in current if not any(e is h for h in hits)]
            else:
                for element in hits:
                    element.pop(sub, None)
                flat[key] = current
            return
        if not hits:  # replace/add on a value not there yet: create it from the filter's equalities
            seed = _equalities(tree) if tree is not None else {}
            element = dict(seed)
            current.append(element)
            hits = [element]
        for element in hits:
            if sub is None:
                if not isinstance(value, dict):
                    raise ResourceError(f"{key}[…] takes an object.", "invalidValue")
                element.update(_element_value(value, key))
            else:
                element[sub] = as_bool(value, f"{key}.{sub}") if sub == "primary" else value
        flat[key] = current


def _element_value(value: dict, key: str) -> dict:
    return elements(value, key)[0]


def _equalities(tree: tuple) -> dict:
    if tree[0] == "cmp" and tree[2] == "eq":
        return {tree[1]: tree[3]}
    if tree[0] == "and":
        return {**_equalities(tree[1]), **_equalities(tree[2])}
    return {}

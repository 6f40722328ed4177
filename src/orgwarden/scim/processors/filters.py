"""The SCIM filter grammar (RFC 7644 §3.4.2.2) parsed into a small tree — no Django here.

``FilterParser().parse(text)`` returns nested tuples:

- ``("and", left, right)``, ``("or", left, right)``, ``("not", inner)``
- ``("cmp", path, op, value)`` with ``op`` one of eq ne co sw ew gt ge lt le
- ``("pr", path)``
- ``("vp", path, inner)`` — a complex-attribute filter, ``emails[type eq "work"]``

Paths are lower-cased, with a leading schema URN removed (``urn:…:User:userName`` → ``username``).
Precedence: ``not`` over ``and`` over ``or``; parentheses group. Raises ``FilterError`` with a
message an IdP admin can act on. ``matches(tree, element)`` evaluates a tree against one dict (used
by PATCH paths on the values of one resource, never to scan rows).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

OPS = {"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"}
MAX_LENGTH = 4000
MAX_DEPTH = 50

# Schema URNs a path may start with; OneLogin still sends the SCIM 1.1 style core URN.
SCHEMA_PREFIXES = (
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:",
    "urn:ietf:params:scim:schemas:core:2.0:user:",
    "urn:ietf:params:scim:schemas:core:2.0:group:",
    "urn:scim:schemas:extension:enterprise:2.0:",
    "urn:scim:schemas:core:2.0:",
    "urn:scim:schemas:core:1.0:",
)

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<punct>[()\[\]])
    | (?P<word>[^\s()\[\]"]+)
    )""",
    re.VERBOSE,
)
# A value that is not a string, boolean or null is a JSON number (RFC 7644 §3.4.2.2, RFC 8259 §6).
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?P<fraction>\.[0-9]+)?(?P<exponent>[eE][+-]?[0-9]+)?")


class FilterError(ValueError):
    """The filter is not valid SCIM filter syntax."""


def strip_schema(path: str) -> str:
    """Lower-case ``path`` and drop a leading known schema URN."""
    lowered = path.lower()
    for prefix in SCHEMA_PREFIXES:
        if lowered.startswith(prefix):
            return lowered[len(prefix) :]
    return lowered


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterError(f"Unexpected character at position {pos + 1} of the filter.")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class FilterParser:
    """A recursive-descent parser of one filter string."""

    def parse(self, text: str) -> tuple:
        if not isinstance(text, str) or not text.strip():
            raise FilterError("The filter is empty.")
        if len(text) > MAX_LENGTH or "\x00" in text:
            raise FilterError("The filter is too long or holds a NUL character.")
        self.tokens = _tokens(text)
        self.pos = 0
        self.depth = 0
        tree = self._or()
        if self.pos != len(self.tokens):
            raise FilterError(f"Unexpected “{self.tokens[self.pos][1]}” in the filter.")
        return tree

    # --- token helpers
    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _peek_word(self) -> str:
        token = self._peek()
        return token[1].lower() if token and token[0] == "word" else ""

    def _next(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise FilterError("The filter ends too early.")
        self.pos += 1
        return token

    def _expect(self, punct: str) -> None:
        token = self._next()
        if token != ("punct", punct):
            raise FilterError(f"Expected “{punct}” in the filter, found “{token[1]}”.")

    # --- grammar
    def _or(self) -> tuple:
        left = self._and()
        while self._peek_word() == "or":
            self.pos += 1
            left = ("or", left, self._and())
        return left

    def _and(self) -> tuple:
        left = self._unary()
        while self._peek_word() == "and":
            self.pos += 1
            left = ("and", left, self._unary())
        return left

    def _unary(self) -> tuple:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError("The filter nests too deeply.")
        try:
            if self._peek_word() == "not":
                self.pos += 1
                self._expect("(")
                inner = self._or()
                self._expect(")")
                return ("not", inner)
            if self._peek() == ("punct", "("):
                self.pos += 1
                inner = self._or()
                self._expect(")")
                return inner
            return self._attribute_expression()
        finally:
            self.depth -= 1

    def _attribute_expression(self) -> tuple:
        kind, raw = self._next()
        if kind != "word":
            raise FilterError(f"Expected an attribute name in the filter, found “{raw}”.")
        path = strip_schema(raw)
        if not re.fullmatch(r"[a-z$][a-z0-9_$\-]*(\.[a-z$][a-z0-9_$\-]*)?", path):
            raise FilterError(f"“{raw}” is not an attribute name.")
        if self._peek() == ("punct", "["):
            self.pos += 1
            inner = self._or()
            self._expect("]")
            return ("vp", path, inner)
        op_kind, op = self._next()
        op = op.lower()
        if op_kind != "word" or (op not in OPS and op != "pr"):
            raise FilterError(f"“{op}” is not a filter operator (eq ne co sw ew gt ge lt le pr).")
        if op == "pr":
            return ("pr", path)
        return ("cmp", path, op, self._value())

    def _value(self) -> Any:
        kind, raw = self._next()
        if kind == "string":
            try:
                value = json.loads(raw)
            except ValueError as exc:
                raise FilterError(f"{raw} is not a valid string.") from exc
            if "\x00" in value:  # written as \u0000: no column can hold it (PostgreSQL refuses it)
                raise FilterError(f"{raw} holds a NUL character.")
            try:  # a lone surrogate (\ud800) is not Unicode text: no database driver encodes it
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise FilterError(f"{raw} holds an unpaired UTF-16 surrogate.") from exc
            return value
        if kind != "word":
            raise FilterError(f"Expected a value in the filter, found “{raw}”.")
        lowered = raw.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        number = _NUMBER.fullmatch(raw)
        if number is None:  # not JSON's number grammar: "nan", "inf", "1_000", "0x1f", "+1", "1."
            raise FilterError(f"“{raw}” is not a value: quote strings with double quotes.")
        if not (number["fraction"] or number["exponent"]):
            return int(raw)
        value = float(raw)
        if not math.isfinite(value):  # 1e999: beyond any attribute's range, and no database stores it
            raise FilterError(f"“{raw}” is out of range for a number.")
        return value


def parse_filter(text: str) -> tuple:
    return FilterParser().parse(text)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        actual, expected = actual.lower(), expected.lower()
    if op == "eq":
        return actual == expected
    if op == "ne":
        return actual != expected
    if actual is None or expected is None:
        return False
    if op in ("co", "sw", "ew"):
        if not isinstance(actual, str) or not isinstance(expected, str):
            return False
        return {"co": expected in actual, "sw": actual.startswith(expected), "ew": actual.endswith(expected)}[
            op
        ]
    try:
        return {
            "gt": actual > expected,
            "ge": actual >= expected,
            "lt": actual < expected,
            "le": actual <= expected,
        }[op]
    except TypeError:
        return False


def _get(element: dict, path: str) -> Any:
    value: Any = element
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = next((v for k, v in value.items() if k.lower() == part), None)
    return value


def matches(tree: tuple, element: dict) -> bool:
    """Whether one value (a dict such as an email or a member) satisfies ``tree``."""
    kind = tree[0]
    if kind == "and":
        return matches(tree[1], element) and matches(tree[2], element)
    if kind == "or":
        return matches(tree[1], element) or matches(tree[2], element)
    if kind == "not":
        return not matches(tree[1], element)
    if kind == "pr":
        value = _get(element, tree[1])
        return value not in (None, "", [], {})
    if kind == "cmp":
        return _compare(_get(element, tree[1]), tree[2], tree[3])
    raise FilterError("Complex filters can't nest inside a value filter.")

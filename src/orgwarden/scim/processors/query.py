"""A parsed SCIM filter (``filters.parse_filter``) turned into one Django ``Q`` — SQL, never a scan.

``FilterQuery(attributes).to_q(tree)``; ``attributes`` maps lower-cased SCIM paths to ``Scalar``
(a column, with how it compares), ``Multi`` (a multi-valued attribute kept in a child table, whose
value filters become ``pk IN (SELECT …)``), ``JsonMulti`` (one kept as a JSON array of objects in a
column of the resource's own table, whose value filters become ``EXISTS (SELECT … FROM`` its
elements ``)``, written for each database), ``Constant`` (the same value on every resource of the
type, such as ``meta.resourceType``) or ``Absent``. Raises ``FilterError`` for an attribute that
can't be filtered or a comparison its type doesn't have (``active gt true``).

``Absent`` serves the root ``/.search``, which runs one filter over every resource type
(RFC 7644 §3.4.3): ``FilterQuery.alongside(other)`` adds, as ``Absent``, each attribute that only
the other type has. An absent attribute is unassigned on every resource of the type, and an
unassigned attribute compares as it does on any resource here (RFC 7643 §2.5: unassigned and null
are the same state): ``eq``/``co``/``sw``/``ew``/``gt``/``ge``/``lt``/``le`` and ``pr`` match
nothing, ``ne "x"`` and ``eq null`` match everything. So ``userName eq "ada"`` at the root finds
the user and no group, and an attribute that no type has is still an ``invalidFilter``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from orgwarden.scim.processors.filters import FilterError, matches

# kind → Django lookup per SCIM operator
_STRING_LOOKUPS = {
    "lower": {
        "eq": "exact",
        "co": "contains",
        "sw": "startswith",
        "ew": "endswith",
        "gt": "gt",
        "ge": "gte",
        "lt": "lt",
        "le": "lte",
    },
    "ci": {
        "eq": "iexact",
        "co": "icontains",
        "sw": "istartswith",
        "ew": "iendswith",
        "gt": "gt",
        "ge": "gte",
        "lt": "lt",
        "le": "lte",
    },
    "exact": {
        "eq": "exact",
        "co": "contains",
        "sw": "startswith",
        "ew": "endswith",
        "gt": "gt",
        "ge": "gte",
        "lt": "lt",
        "le": "lte",
    },
}
_ORDER = {"gt": "gt", "ge": "gte", "lt": "lt", "le": "lte", "eq": "exact"}

# Constant conditions as plain SQL that negates cleanly (``~Q()`` would still match every row).
ALWAYS = Q(pk__isnull=False)
NEVER = Q(pk__isnull=True)


@dataclass(frozen=True)
class Scalar:
    column: str
    kind: str  # lower | ci | exact | bool | bool_default_true (NULL counts as true) | datetime


@dataclass(frozen=True)
class Multi:
    """A multi-valued attribute: ``rows(q)`` gives the owners' primary keys whose values match ``q``."""

    rows: Any  # Callable[[Q], QuerySet of owner pks]
    subs: dict[str, Scalar] = field(default_factory=dict)
    default: str = "value"


@dataclass(frozen=True)
class JsonMulti:
    """A multi-valued attribute stored as a JSON array of objects in ``table.column``.

    ``subs`` maps each sub-attribute that filters to its kind: ``ci`` (text, compared without
    regard to case, as ``Scalar``'s ``ci``; a missing key is the empty string) or ``bool``.
    """

    table: str
    column: str
    subs: dict[str, str] = field(default_factory=dict)
    default: str = "value"


@dataclass(frozen=True)
class Constant:
    """An attribute with one value on every resource of the type (``meta.resourceType``)."""

    value: str


@dataclass(frozen=True)
class Absent:
    """An attribute this resource type does not have (only in root searches, see the module doc)."""


Spec = Scalar | Multi | JsonMulti | Constant | Absent


class FilterQuery:
    def __init__(self, attributes: dict[str, Spec]) -> None:
        self.attributes = attributes

    def alongside(self, *others: FilterQuery) -> FilterQuery:
        """This type's attributes, plus every attribute only ``others`` have as ``Absent``."""
        attributes = dict(self.attributes)
        for other in others:
            for path in other.attributes:
                attributes.setdefault(path, Absent())
        return FilterQuery(attributes)

    def to_q(self, tree: tuple) -> Q:
        kind = tree[0]
        if kind == "and":
            return self.to_q(tree[1]) & self.to_q(tree[2])
        if kind == "or":
            return self.to_q(tree[1]) | self.to_q(tree[2])
        if kind == "not":
            return ~self.to_q(tree[1])
        if kind == "vp":
            multi = self.attributes.get(tree[1])
            if isinstance(multi, Absent):
                return NEVER  # no value of an attribute the type lacks can match
            if not isinstance(multi, Multi | JsonMulti):
                raise FilterError(f"“{tree[1]}” is not a multi-valued attribute that can be filtered.")
            return self._any_value(multi, tree[2])
        path = tree[1]
        spec = self.attributes.get(path)
        if spec is None and "." in path:
            head, sub = path.split(".", 1)
            multi = self.attributes.get(head)
            if isinstance(multi, Multi | JsonMulti):
                return self._any_value(multi, (tree[0], sub, *tree[2:]))
            if isinstance(multi, Absent):
                spec = multi
        if isinstance(spec, Multi | JsonMulti):
            return self._any_value(spec, (tree[0], spec.default, *tree[2:]))
        if isinstance(spec, Absent):
            return self._absent(tree)
        if isinstance(spec, Constant):
            return ALWAYS if matches((tree[0], "value", *tree[2:]), {"value": spec.value}) else NEVER
        if spec is None:
            raise FilterError(f"“{path}” is not an attribute you can filter on.")
        return self._scalar(spec, tree)

    @staticmethod
    def _absent(tree: tuple) -> Q:
        """An unassigned attribute: only ``ne <value>`` and ``eq null`` hold (see the module doc)."""
        if tree[0] == "pr":
            return NEVER
        _, _, op, value = tree
        if value is None:
            if op not in ("eq", "ne"):
                raise FilterError(f"“{op} null” is not a comparison.")
            return ALWAYS if op == "eq" else NEVER
        return ALWAYS if op == "ne" else NEVER

    def _any_value(self, multi: Multi | JsonMulti, tree: tuple) -> Q:
        """The resources with at least one value of ``multi`` that ``tree`` (over its sub-attributes)
        matches."""
        if isinstance(multi, Multi):
            return Q(pk__in=multi.rows(self._sub_q(multi, tree)))
        elements = JsonElements(multi)
        condition, params = elements.condition(tree)
        sql = f"EXISTS (SELECT 1 FROM {elements.source} WHERE {condition})"  # noqa: S608 — names from _meta
        return Q(RawSQL(sql, params, output_field=BooleanField()))  # noqa: S611 — values are params

    def _sub_q(self, multi: Multi, tree: tuple) -> Q:
        kind = tree[0]
        if kind in ("and", "or"):
            left, right = self._sub_q(multi, tree[1]), self._sub_q(multi, tree[2])
            return left & right if kind == "and" else left | right
        if kind == "not":
            return ~self._sub_q(multi, tree[1])
        if kind == "vp":
            raise FilterError("Complex filters can't nest.")
        spec = multi.subs.get(tree[1])
        if spec is None:
            raise FilterError(f"“{tree[1]}” is not a sub-attribute you can filter on.")
        return self._scalar(spec, tree)

    @staticmethod
    def _scalar(spec: Scalar, tree: tuple) -> Q:
        column = spec.column
        if tree[0] == "pr":
            if spec.kind == "bool_default_true":
                return ALWAYS
            if spec.kind in ("bool", "datetime"):
                return Q(**{f"{column}__isnull": False})
            return ~Q(**{column: ""})
        _, path, op, value = tree
        if value is None:
            if op == "eq":
                return Q(**{column: ""}) if spec.kind in _STRING_LOOKUPS else Q(**{f"{column}__isnull": True})
            if op == "ne":
                return (
                    ~Q(**{column: ""}) if spec.kind in _STRING_LOOKUPS else Q(**{f"{column}__isnull": False})
                )
            raise FilterError(f"“{op} null” is not a comparison.")
        if spec.kind in ("bool", "bool_default_true"):
            if isinstance(value, str) and value.lower() in ("true", "false"):
                value = value.lower() == "true"
            if not isinstance(value, bool) or op not in ("eq", "ne"):
                raise FilterError(f"{path} is true or false: compare it with eq or ne.")
            if spec.kind == "bool_default_true":
                q = Q(**{column: False})
                return q if (value is False) == (op == "eq") else ~q
            q = Q(**{column: value})
            return ~q if op == "ne" else q
        if spec.kind == "datetime":
            if not isinstance(value, str):
                raise FilterError(f"{path} compares with a date-time string.")
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as exc:
                raise FilterError(f"“{value}” is not a date-time (use ISO 8601).") from exc
            if moment.tzinfo is None:  # RFC 7643 §2.3.5 wants an offset; without one, read it as UTC
                moment = moment.replace(tzinfo=UTC)
            try:  # what the database compares (SQLite stores UTC): 0001-01-01T00:00+14:00 is not a year
                moment = moment.astimezone(UTC)
            except OverflowError as exc:
                raise FilterError(f"“{value}” is outside the years 1 to 9999 in UTC.") from exc
            if op not in _ORDER and op != "ne":
                raise FilterError(f"{path} is a date-time: compare it with eq ne gt ge lt le.")
            q = Q(**{f"{column}__{_ORDER.get(op, 'exact')}": moment})
            return ~q if op == "ne" else q
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise FilterError(f"{path} compares with a string.")
        value = str(value)
        if spec.kind == "lower":
            value = value.lower()
        lookups = _STRING_LOOKUPS[spec.kind]
        q = Q(**{f"{column}__{lookups['eq' if op == 'ne' else op]}": value})
        return ~q if op == "ne" else q


class JsonElements:
    """A filter over the elements of a ``JsonMulti`` column, as SQL for the connection's database.

    Each element is ``e``; no condition is ever NULL, so ``not`` negates cleanly: a text
    sub-attribute reads as the empty string where it is missing or null, as an empty column does for
    ``Scalar`` (so ``ne`` and ``eq null`` agree with them), and a boolean is true only where it is
    the JSON ``true``. Text compares as ``Scalar``'s ``ci``: ``eq``/``co``/``sw``/``ew`` with
    ``LIKE`` on upper case (each database's own case folding), the orderings as they are.

    The ``EXISTS`` is correlated with the owner's table by its name: it serves a query on that table
    itself (a SCIM list), not one nested in another, where Django would rename the table.
    """

    def __init__(self, multi: JsonMulti) -> None:
        self.multi = multi
        self.sqlite = connection.vendor == "sqlite"
        column = f"{connection.ops.quote_name(multi.table)}.{connection.ops.quote_name(multi.column)}"
        self.source = f"json_each({column}) e" if self.sqlite else f"jsonb_array_elements({column}) e"

    def _text(self, sub: str) -> str:
        if self.sqlite:
            return f"COALESCE(json_extract(e.value, '$.{sub}'), '')"
        return f"COALESCE(e ->> '{sub}', '')"

    def _true(self, sub: str) -> str:
        if self.sqlite:
            return f"COALESCE(json_type(e.value, '$.{sub}'), '') = 'true'"
        return f"COALESCE((e -> '{sub}') = 'true'::jsonb, FALSE)"

    def condition(self, tree: tuple) -> tuple[str, list]:
        kind = tree[0]
        if kind in ("and", "or"):
            left, left_params = self.condition(tree[1])
            right, right_params = self.condition(tree[2])
            return f"({left} {kind.upper()} {right})", left_params + right_params
        if kind == "not":
            inner, params = self.condition(tree[1])
            return f"NOT ({inner})", params
        if kind == "vp":
            raise FilterError("Complex filters can't nest.")
        sub = tree[1]
        sub_kind = self.multi.subs.get(sub)
        if sub_kind is None:
            raise FilterError(f"“{sub}” is not a sub-attribute you can filter on.")
        if sub_kind == "bool":
            return self._bool(sub, tree), []
        return self._compare(sub, tree)

    def _bool(self, sub: str, tree: tuple) -> str:
        """A missing boolean is false, as it is stored for emails (``primary``): ``pr`` holds and
        ``eq null`` does not, as on their column."""
        if tree[0] == "pr":
            return "1 = 1"
        _, path, op, value = tree
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if value is None and op in ("eq", "ne"):
            return "1 = 0" if op == "eq" else "1 = 1"
        if not isinstance(value, bool) or op not in ("eq", "ne"):
            raise FilterError(f"{path} is true or false: compare it with eq or ne.")
        return self._true(sub) if value == (op == "eq") else f"NOT ({self._true(sub)})"

    def _compare(self, sub: str, tree: tuple) -> tuple[str, list]:
        text = self._text(sub)
        if tree[0] == "pr":
            return f"{text} <> ''", []
        _, path, op, value = tree
        if value is None:
            if op not in ("eq", "ne"):
                raise FilterError(f"“{op} null” is not a comparison.")
            return (f"{text} = ''" if op == "eq" else f"{text} <> ''"), []
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise FilterError(f"{path} compares with a string.")
        value = str(value)
        if op in _ORDER and op != "eq":
            return f"{text} {_SQL_ORDER[op]} %s", [value]
        escaped = connection.ops.prep_for_like_query(value)
        pattern = {"eq": "{}", "ne": "{}", "co": "%{}%", "sw": "{}%", "ew": "%{}"}[op].format(escaped)
        like = f"UPPER({text}) LIKE UPPER(%s) ESCAPE '\\'"
        return (f"NOT ({like})" if op == "ne" else like), [pattern]


_SQL_ORDER = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}

"""Hypothesis strategies for what a SCIM client can send — used by ``test_fuzz``. No Django here.

Each strategy is bounded (sizes, depths, lengths) and biased to where bugs live: values just over a
column's limit, characters whose lower case is longer (``İ`` → ``i̇``), JSON's ``NaN`` and
``Infinity`` (Python's json writes and reads them; no database's JSON does), ``True``/``False``
as strings, ids of other resources and directories, and every path spelling real IdPs use.

Ids are written as ``{name}`` placeholders (``{ada}``, ``{eng}``, ``{bob}`` …) that the test fills
in with the world's ids (``test_fuzz.fill``): strategies are built before any row exists.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, quote_from_bytes

from hypothesis import strategies as st

from orgwarden.scim.processors.resources import ENTERPRISE_SCHEMA, PATCH_SCHEMA

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
IDS = ["{ada}", "{alan}", "{eng}", "{carol}", "{bob}", "{bobs}"]


def encode(text: str) -> str:
    """``text`` percent-encoded for a URL, a lone surrogate as its (CESU-8) bytes."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each as likely as its weight says. (``st.one_of`` gives each distinct
    branch the same chance, however often it is listed.)"""
    picks = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(range(len(picks))).flatmap(lambda index: picks[index])


def any_case(words: list[str]) -> st.SearchStrategy[str]:
    """One of ``words`` as written, or in lower, upper, title or swapped case."""
    return st.builds(
        lambda word, case: case(word),
        st.sampled_from(words),
        st.sampled_from([str, str.lower, str.upper, str.title, str.swapcase]),
    )


# --- values -------------------------------------------------------------------------------------------

# Lengths around the columns' limits (64, 150, 254, 255) and over them.
LENGTHS = [1, 64, 65, 150, 151, 200, 254, 255, 300, 5000]
# İ, whose lower case is two characters (İ → i + U+0307); an emoji; NUL; a space.
CHARACTERS = ["x", "İ", "😀", "\x00", " "]
long_strings = st.builds(lambda ch, n: ch * n, st.sampled_from(CHARACTERS), st.sampled_from(LENGTHS))
email_addresses = st.builds(
    lambda local, domain: f"{local}@{domain}",
    weighted((1, st.sampled_from(["new", "ada", "ALAN", "bob", "ſ"])), (1, long_strings)),
    st.sampled_from(
        ["example.com", "EXAMPLE.COM", "elsewhere.org", "gmail.com", "müller.de", "example.com."]
    ),
)
special_numbers = st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -0.0, 2**64, -1])
interesting_strings = st.sampled_from(
    [
        "",
        " ",
        "True",
        "False",
        "true",
        "maybe",
        "null",
        "\x00",
        "a\x00b",
        "NaN",
        "1e400",
        *IDS,
        "{ada}x",
        USER_URN,
    ]
)
strings = weighted(
    (2, st.text(max_size=20)), (1, interesting_strings), (2, long_strings), (1, email_addresses)
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    special_numbers,
    strings,
)
keys = st.one_of(
    any_case(["value", "type", "primary", "display", "$ref", "givenName", "familyName", "active"]),
    st.text(max_size=8),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=8,
)
# What a string attribute gets: mostly strings, sometimes any other JSON type.
texts = weighted((4, strings), (1, json_values))
booleans = weighted(
    (2, st.booleans()),
    (1, st.sampled_from(["True", "False", "TRUE ", "maybe", "", 0, 1, None, 1.5, [True], {}])),
)
emails = st.lists(
    weighted(
        (
            4,
            st.fixed_dictionaries(
                {"value": weighted((3, email_addresses), (1, scalars))},
                optional={"type": texts, "primary": booleans, "display": texts},
            ),
        ),
        (1, json_values),
    ),
    max_size=3,
)
phone_numbers = st.lists(
    weighted(
        (
            4,
            st.fixed_dictionaries(
                {"value": weighted((3, strings), (1, scalars))},
                optional={
                    "type": st.one_of(scalars, special_numbers),
                    "primary": st.one_of(booleans, special_numbers),
                },
            ),
        ),
        (1, json_values),
    ),
    max_size=3,
)
member_ids = weighted((3, st.sampled_from([*IDS, "nope", "", "{ada}x"])), (1, scalars))
members = st.lists(
    weighted(
        (4, st.fixed_dictionaries({"value": member_ids}, optional={"display": texts, "$ref": scalars})),
        (1, member_ids),
        (1, json_values),
    ),
    max_size=4,
)
names = weighted(
    (
        4,
        st.dictionaries(
            any_case(["givenName", "familyName", "formatted", "middleName", "x"]), texts, max_size=3
        ),
    ),
    (1, json_values),
)
enterprise = weighted(
    (
        4,
        st.dictionaries(
            any_case(["department", "organization", "employeeNumber", "manager", "costCenter"]),
            texts,
            max_size=3,
        ),
    ),
    (1, json_values),
)


# --- filters ------------------------------------------------------------------------------------------

FILTER_PATHS = [
    "userName",
    "id",
    "externalId",
    "active",
    "displayName",
    "name",
    "name.givenName",
    "name.familyName",
    "title",
    "department",
    "organization",
    "employeeNumber",
    "locale",
    "timezone",
    "preferredLanguage",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    "emails.display",
    "phoneNumbers",
    "phoneNumbers.value",
    "members",
    "members.value",
    "members.display",
    "groups",
    "meta.created",
    "meta.lastModified",
    "meta.resourceType",
    "meta.location",
    "nope",
    "a.b.c",
    "$ref",
    "1x",
]
SCHEMA_PREFIXES = [
    *["", "", ""],
    USER_URN + ":",
    GROUP_URN + ":",
    ENTERPRISE_SCHEMA + ":",
    "urn:scim:schemas:core:1.0:",
    "urn:nope:",
]
SUB_PATHS = ["value", "type", "primary", "display", "$ref", "nope", "value.x"]
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "zz"]
dates = st.one_of(
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "2024-01-01T00:00:00Z",
            "2024-01-01",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "2024-13-45T00:00:00Z",
            "2024-01-01T00:00:00ZZ",
            "2024-01-01T00:00:00+99:00",
            "2024-01-01T00:00:00.123456789Z",
            "-2024-01-01",
        ]
    ),
)
literals = st.one_of(
    st.builds(json.dumps, st.text(max_size=12), ensure_ascii=st.booleans()),
    st.builds(json.dumps, st.one_of(interesting_strings, email_addresses, long_strings)),
    dates.map(json.dumps),
    st.sampled_from(['"\\x"', '"\\u12"', '"open', '"a\\"', '"\\ud800"', '"\\u0000"', "'single'", '""']),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats().map(repr),
    st.sampled_from(["1e400", "-1e400", "-0", "1.", ".5", "0x1F", "1_000", "٣", "inf", "nan", "bare"]),
    any_case(["true", "false", "null"]),
)
attribute_paths = st.builds(
    lambda prefix, path: prefix + path, st.sampled_from(SCHEMA_PREFIXES), any_case(FILTER_PATHS)
)


def _comparisons(paths: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda path, op: f"{path} {op}", paths, any_case(["pr"])),
        st.builds(lambda path, op, value: f"{path} {op} {value}", paths, any_case(OPERATORS), literals),
    )


def _combined(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda a, b, word: f"{a} {word} {b}", children, children, any_case(["and", "or"])),
        st.builds(lambda a, word: f"{word} ({a})", children, any_case(["not"])),
        st.builds(lambda a: f"({a})", children),
        st.builds(
            lambda attribute, inner, sub: f"{attribute}[{inner}]{sub}",
            any_case(["emails", "members", "phoneNumbers", "name", "groups", "nope"]),
            children,
            st.sampled_from(["", "", "", ".value"]),
        ),
    )


grammar_filters = st.recursive(
    st.one_of(_comparisons(attribute_paths), _comparisons(any_case(SUB_PATHS))), _combined, max_leaves=6
)
junk_filters = st.one_of(
    st.text(max_size=40),
    st.text(alphabet='()[]" \\andortu.:', max_size=30),
    # Around the parser's limits: 4,000 characters, 50 levels deep.
    st.builds(
        lambda ch, n: ch * n,
        st.sampled_from(["(", "a", '"', "x pr and ", "not ("]),
        st.sampled_from([1, 2, 49, 50, 51, 3999, 4001]),
    ),
    st.builds(lambda a, b: a + "\x00" + b, grammar_filters, st.text(max_size=5)),
)
filters = weighted((3, grammar_filters), (1, junk_filters))


# --- query strings ------------------------------------------------------------------------------------

QUERY_NAMES = ["startIndex", "count", "attributes", "excludedAttributes", "sortBy", "sortOrder", "filter"]
query_values = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", "0", "-1", "1", "200", "201", "1e3", "0x10", " 5", "٣", "1_000", "9" * 5000]),
    st.sampled_from(
        [
            "userName",
            "emails,name.givenName",
            f"{ENTERPRISE_SCHEMA}:department",
            ENTERPRISE_SCHEMA,
            "meta,id",
            ",,",
        ]
    ),
    st.sampled_from(["ascending", "descending", "userName", "meta.created"]),
    st.text(max_size=20),
)
query_pairs = st.lists(
    st.tuples(st.one_of(any_case(QUERY_NAMES), st.text(max_size=5)), query_values), max_size=6
)


def query_string(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{encode(name)}={encode(value)}" for name, value in pairs)


raw_query_strings = st.one_of(
    st.binary(max_size=40).map(lambda b: quote_from_bytes(b, safe="=&")),
    st.sampled_from(["&&&", "?", "??filter", "%", "%zz", "=", "filter", "count=1?startIndex=2", "a=%ff%fe"]),
    # One parameter repeated: a few times, or more times than Django parses (1,000 fields).
    st.builds(
        lambda name, n: "&".join([f"{name}=1"] * n),
        st.sampled_from(QUERY_NAMES),
        st.sampled_from([2, 3, 999, 1001]),
    ),
)
search_bodies = st.dictionaries(
    st.sampled_from(QUERY_NAMES), st.one_of(json_values, query_values), max_size=4
)


# --- bodies -------------------------------------------------------------------------------------------

USER_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "userName": st.one_of(email_addresses, texts),
    "USERNAME": email_addresses,
    f"{USER_URN}:userName": email_addresses,
    "emails": weighted((4, emails), (1, json_values)),
    "Emails": emails,
    "phoneNumbers": weighted((4, phone_numbers), (1, json_values)),
    "active": booleans,
    "name": names,
    f"{USER_URN}:name": names,
    ENTERPRISE_SCHEMA: enterprise,
}
USER_KEYS = [
    *USER_VALUES,
    "displayName",
    "title",
    "externalId",
    "nickName",
    "locale",
    "timezone",
    "preferredLanguage",
    "name.givenName",
    "addresses",
    "roles",
    "x509Certificates",
    f"{ENTERPRISE_SCHEMA}:department",
    f"{ENTERPRISE_SCHEMA}:manager",
    "urn:scim:schemas:core:1.0:title",
    "schemas",
    "id",
    "meta",
    "groups",
    "password",
]
GROUP_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "displayName": st.one_of(st.sampled_from(["New", "Eng", "ENG", "Bobs"]), texts),
    "members": weighted((4, members), (1, json_values)),
}
GROUP_KEYS = [*GROUP_VALUES, "externalId", f"{GROUP_URN}:displayName", "schemas", "id", "meta"]


@st.composite
def _around(draw, valid: dict[str, Any], keys_: list[str], values: dict[str, st.SearchStrategy[Any]]) -> Any:
    """``valid`` with one to three attributes (half the time one of ``values``, the attributes with
    a strategy of their own) set to anything of their kind, or removed; now and then not an object."""
    if draw(st.sampled_from(["body"] * 9 + ["other"])) == "other":
        return draw(json_values)
    body = dict(valid)
    for _ in range(draw(st.sampled_from([1, 1, 2, 3]))):
        key = draw(
            weighted(
                (2, st.sampled_from(list(values))), (2, st.sampled_from(keys_)), (1, st.text(max_size=8))
            )
        )
        if draw(st.sampled_from(["set"] * 4 + ["remove"])) == "remove":
            body.pop(key, None)
        else:
            body[key] = draw(values.get(key, texts))
    return body


def user_bodies(valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    return _around(valid, USER_KEYS, USER_VALUES)


def group_bodies(valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    return _around(valid, GROUP_KEYS, GROUP_VALUES)


unusable_bodies = st.one_of(
    st.binary(max_size=60),
    st.sampled_from(
        [
            b"",
            b"{",
            b"null",
            b"[]",
            b'"x"',
            b"NaN",
            b'{"userName": NaN}',
            b'{"displayName": Infinity}',
            b"\xef\xbb\xbf{}",
            "{}".encode("utf-16"),
            b'{"userName": "\\ud800"}',
            b"[" * 5000,
            b'{"a": 1' + b"0" * 5000 + b"}",
        ]
    ),
    st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
content_types = st.sampled_from(
    [
        "application/scim+json",
        "application/json",
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "multipart/form-data",
        "",
    ]
)


# --- PATCH --------------------------------------------------------------------------------------------

USER_PATCH_PATHS: dict[str, st.SearchStrategy[Any]] = {
    "userName": USER_VALUES["userName"],
    "active": booleans,
    "displayName": texts,
    "title": texts,
    "externalId": texts,
    "locale": texts,
    "name": names,
    "name.givenName": texts,
    "name.formatted": texts,
    "emails": emails,
    "emails.value": email_addresses,
    "emails.primary": booleans,
    'emails[type eq "work"]': emails,
    'emails[type eq "work"].value': email_addresses,
    'emails[type eq "work"].primary': booleans,
    "emails[primary eq true].value": email_addresses,
    'emails[value eq "ada@example.com"]': emails,
    'emails[value eq "ada@example.com"].type': texts,
    "phoneNumbers": phone_numbers,
    'phoneNumbers[type eq "mobile"].value': texts,
    "phoneNumbers[type eq 1e400].value": texts,
    'phoneNumbers[type eq "work"].primary': booleans,
    'addresses[type eq "work"].streetAddress': texts,
    "roles": json_values,
    "x509Certificates": json_values,
    ENTERPRISE_SCHEMA: enterprise,
    "urn:scim:schemas:extension:enterprise:2.0": enterprise,
    f"{ENTERPRISE_SCHEMA}:department": texts,
    f"{ENTERPRISE_SCHEMA}:manager": texts,
    f"{ENTERPRISE_SCHEMA}:manager.value": texts,
    f"{USER_URN}:userName": email_addresses,
    f"{USER_URN}:name.givenName": texts,
    f'{USER_URN}:emails[type eq "work"].value': email_addresses,
    **{
        path: json_values
        for path in [
            "id",
            "meta",
            "meta.created",
            "schemas",
            "groups",
            "password",
            "nope",
            "name.x",
            "emails[",
            'emails[type eq "work"',
            'emails[type eq "work"]x',
            "emails]",
            "[]",
            'name[givenName eq "x"]',
            "emails[value pr].display",
            "emails.value.x",
        ]
    },
}
GROUP_PATCH_PATHS: dict[str, st.SearchStrategy[Any]] = {
    "displayName": GROUP_VALUES["displayName"],
    "externalId": texts,
    "members": members,
    "members.value": member_ids,
    'members[value eq "{ada}"]': members,
    'members[value eq "{alan}"]': members,
    'members[value eq "{carol}"]': members,
    'members[value eq "{bob}"]': members,
    'members[value eq "nope"]': members,
    "members[value pr]": members,
    'members[value eq "{ada}"].display': texts,
    'members[display co "a"]': members,
    f"{GROUP_URN}:displayName": texts,
    f"{GROUP_URN}:members": members,
    **{path: json_values for path in ["id", "meta", "nope", "members[", "members]"]},
}
PATCH_SCHEMAS = [
    {"schemas": [PATCH_SCHEMA]},
    {"schemas": [PATCH_SCHEMA]},
    {},
    {"schemas": "x"},
    {"schemas": [USER_URN]},
    {"Schemas": [PATCH_SCHEMA]},
]
# Mostly a real op in any case (Entra's "Replace"); now and then one that isn't, or not a string.
PATCH_OPS = weighted(
    (8, any_case(["add", "replace", "remove"])), (1, st.sampled_from(["move", ""])), (1, scalars)
)


@st.composite
def _operation(draw, paths: dict[str, st.SearchStrategy[Any]]) -> Any:
    """One operation: an op, a path (known, upper-cased, with a generated value filter, junk, or
    none — a path-less operation takes an object) and a value of the path's kind."""
    shape = draw(
        st.sampled_from(["known"] * 4 + ["KNOWN", "path-less", "path-less", "filter", "filter", "junk"])
    )
    operation: dict[str, Any] = {"op": draw(PATCH_OPS)}
    if shape in ("known", "KNOWN"):
        path = draw(st.sampled_from(sorted(paths)))
        operation["path"] = path.upper() if shape == "KNOWN" else path
        value = draw(weighted((3, paths[path]), (1, json_values)))
    elif shape == "path-less":  # path-less: the value names the attributes
        flat = {k: v for k, v in paths.items() if "[" not in k and k.lower() not in ("id", "meta")}
        chosen = draw(st.lists(st.sampled_from(sorted(flat)), min_size=1, max_size=3))
        value = {k: draw(flat[k]) for k in chosen}
    elif shape == "filter":
        operation["path"] = draw(
            st.builds(
                lambda attribute, inner, sub: f"{attribute}[{inner}]{sub}",
                st.sampled_from(["emails", "members", "phoneNumbers", "name", "nope"]),
                grammar_filters,
                st.sampled_from(["", ".value", ".primary", ".type", ".x", "x"]),
            )
        )
        value = draw(json_values)
    else:
        operation["path"] = draw(st.one_of(st.text(max_size=15), scalars))
        value = draw(json_values)
    if draw(st.sampled_from(["value"] * 9 + ["none"])) == "value":
        operation["value"] = value
    spelling = draw(st.sampled_from(["as is"] * 9 + ["Title", "extra keys", "no op"]))
    if spelling == "Title":
        operation = {k.title(): v for k, v in operation.items()}  # Op, Path, Value (Entra)
    elif spelling == "extra keys":
        operation.update(draw(st.dictionaries(keys, json_values, max_size=2)))
    elif spelling == "no op":
        operation.pop("op")
    return operation


def patch_bodies(paths: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Mostly a PatchOp with one to four operations; sometimes its schemas or Operations key
    spelled otherwise, or Operations that is not a list; rarely not an object at all."""
    operations = st.lists(_operation(paths), min_size=1, max_size=4)
    return weighted(
        (8, st.builds(lambda ops: {"schemas": [PATCH_SCHEMA], "Operations": ops}, operations)),
        (
            1,
            st.builds(
                lambda schemas, key, ops: {**schemas, key: ops},
                st.sampled_from(PATCH_SCHEMAS),
                st.sampled_from(["Operations", "operations", "OPERATIONS", "Ops"]),
                st.one_of(operations, json_values),
            ),
        ),
        (1, json_values),
    )


# --- ids in the URL -----------------------------------------------------------------------------------

ids_in_paths = st.one_of(
    st.sampled_from([*IDS, "{ada}x", "x{ada}", "", ".search"]),
    st.text(max_size=30).map(encode),
    st.sampled_from(["%2F", "..", "%2e%2e", "%00", "%0A", "a" * 5000, "%ff", "%ED%A0%80"]),
)
directory_ids = st.sampled_from(["{directory}", "{directory}", "{second}", "{elsewhere}", "nope", "%00"])

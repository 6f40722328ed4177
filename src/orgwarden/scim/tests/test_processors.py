"""The pure SCIM processors: the filter parser, value-filter matching, flattening and PATCH — no database."""

from __future__ import annotations

import pytest

from orgwarden.scim.processors.filters import FilterError, matches, parse_filter
from orgwarden.scim.processors.patch import PatchProcessor
from orgwarden.scim.processors.query import ALWAYS, NEVER, Absent, Constant, FilterQuery, Multi, Scalar
from orgwarden.scim.processors.resources import (
    USER_COMPLEX,
    USER_MULTI,
    USER_SCALARS,
    ResourceError,
    flatten_user,
    select,
)

PATCH = PatchProcessor(scalars=USER_SCALARS, multi=USER_MULTI, complex_=USER_COMPLEX)


def ops(*operations):
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}


def test_precedence_not_over_and_over_or():
    tree = parse_filter('a eq "1" or b eq "2" and not (c pr)')
    assert tree == ("or", ("cmp", "a", "eq", "1"), ("and", ("cmp", "b", "eq", "2"), ("not", ("pr", "c"))))


def test_values_and_complex_filters():
    assert parse_filter("x gt 5")[3] == 5 and parse_filter("x eq 1.5")[3] == 1.5
    assert parse_filter("x lt -0.25E+2")[3] == -25.0 and parse_filter("x eq 0")[3] == 0
    assert parse_filter("x eq null")[3] is None and parse_filter("x EQ TRUE")[3] is True
    assert parse_filter('emails[type eq "work"]') == ("vp", "emails", ("cmp", "type", "eq", "work"))
    assert parse_filter('userName eq "a \\"quoted\\" b"')[3] == 'a "quoted" b'


@pytest.mark.parametrize(
    "bad",
    [
        *("", "userName", 'userName eq "x" and', "x eq bare", "((x pr)", "x pr)", 'x eq "x\x00"', "1x pr"),
        # Python's int() and float() read these; JSON's number grammar (RFC 8259 §6) does not.
        *("x eq nan", "x eq inf", "x eq -Infinity", "x eq 1_000", "x eq 1e999", "x eq 007", "x eq +1"),
        *("x eq 1.", "x eq .5", "x eq 0x1f", "x eq \u0661\u0662"),
    ],
)
def test_bad_filters(bad):
    with pytest.raises(FilterError):
        parse_filter(bad)


def test_a_lone_surrogate_in_a_patch_path_filter_is_an_invalid_path():
    """``emails[value eq "\\ud800"].value`` would seed an email no database can encode."""
    with pytest.raises(ResourceError) as caught:
        PATCH.apply({}, ops({"op": "add", "path": 'emails[value eq "\\ud800"].type', "value": "work"}))
    assert caught.value.scim_type == "invalidPath"


def test_too_deep_is_refused_not_a_recursion_error():
    with pytest.raises(FilterError):
        parse_filter("(" * 200 + "x pr" + ")" * 200)


def test_matches_is_case_insensitive_for_strings():
    element = {"type": "Work", "value": "A@B.com", "primary": True}
    assert matches(parse_filter('type eq "work" and value ew "b.com"'), element)
    assert not matches(parse_filter("primary eq false"), element)
    assert matches(parse_filter("not (display pr)"), element)


def test_flatten_accepts_any_spelling():
    flat = flatten_user(
        {
            "USERNAME": "a@example.com",
            "name": {"GivenName": "A"},
            "urn:ietf:params:scim:schemas:core:2.0:User:title": "T",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "D"},
            "active": "False",
            "emails": [{"value": "a@example.com", "primary": "True"}],
        }
    )
    assert flat == {
        "username": "a@example.com",
        "name.givenname": "A",
        "title": "T",
        "department": "D",
        "active": False,
        "emails": [{"value": "a@example.com", "primary": True}],
    }
    with pytest.raises(ResourceError):
        flatten_user({"active": "maybe"})


def test_patch_value_filter_creates_missing_value_and_replaces_matching():
    flat = {"emails": [{"value": "a@x.com", "type": "home"}]}
    out = PATCH.apply(
        flat, ops({"op": "replace", "path": 'emails[type eq "work"].value', "value": "w@x.com"})
    )
    assert out["emails"] == [{"value": "a@x.com", "type": "home"}, {"type": "work", "value": "w@x.com"}]
    assert flat == {"emails": [{"value": "a@x.com", "type": "home"}]}  # the input is untouched
    out = PATCH.apply(out, ops({"op": "remove", "path": 'emails[type eq "home"]'}))
    assert out["emails"] == [{"type": "work", "value": "w@x.com"}]


def test_patch_pathless_complex_and_dotted():
    out = PATCH.apply(
        {"name.givenname": "A"},
        ops({"op": "add", "value": {"name": {"familyName": "B"}, "name.givenName": "C"}}),
    )
    assert out == {"name.givenname": "C", "name.familyname": "B"}
    out = PATCH.apply(out, ops({"op": "remove", "path": "name"}))
    assert out == {}


def test_patch_body_errors():
    with pytest.raises(ResourceError) as caught:
        PATCH.apply({}, {"Operations": []})
    assert caught.value.scim_type == "invalidSyntax"
    with pytest.raises(ResourceError) as caught:
        PATCH.apply({}, {"schemas": ["nope"], "Operations": [{"op": "add", "path": "title", "value": "x"}]})
    assert caught.value.scim_type == "invalidSyntax"
    with pytest.raises(ResourceError) as caught:
        PATCH.apply({}, ops({"op": "add", "path": "title"}))
    assert caught.value.scim_type == "invalidValue"
    with pytest.raises(ResourceError) as caught:
        PATCH.apply({}, ops({"op": "add", "path": 'title[value eq "x"]', "value": "x"}))
    assert caught.value.scim_type == "invalidPath"


def test_select_attributes():
    resource = {
        "schemas": [],
        "id": "1",
        "userName": "u",
        "name": {"givenName": "g", "familyName": "f"},
        "title": "t",
    }
    assert select(resource, attributes=["name.familyName"], excluded=[]) == {
        "schemas": [],
        "id": "1",
        "name": {"familyName": "f"},
    }
    assert select(resource, attributes=[], excluded=["title", "id"]) == {
        "schemas": [],
        "id": "1",
        "userName": "u",
        "name": {"givenName": "g", "familyName": "f"},
    }


def _q(attributes, text):
    return attributes.to_q(parse_filter(text))


def test_an_absent_attribute_compares_as_unassigned():
    users = FilterQuery({"username": Scalar("user_name_key", "lower")})
    groups = FilterQuery({"members": Multi(lambda q: q)})
    root = groups.alongside(users)
    assert isinstance(root.attributes["username"], Absent) and "members" in root.attributes
    assert _q(root, 'userName eq "x"') == NEVER
    assert _q(root, "userName pr") == NEVER
    assert _q(root, 'userName ne "x"') == ALWAYS
    assert _q(root, "userName eq null") == ALWAYS
    assert _q(root, "userName ne null") == NEVER
    assert _q(users.alongside(groups), 'members[value eq "x"]') == NEVER
    assert _q(users.alongside(groups), 'members.value eq "x"') == NEVER
    with pytest.raises(FilterError):
        _q(root, "userName lt null")
    with pytest.raises(FilterError):
        _q(groups, 'userName eq "x"')  # outside a root search the attribute is still unknown


def test_a_constant_attribute_compares_in_place():
    users = FilterQuery({"meta.resourcetype": Constant("User")})
    assert _q(users, 'meta.resourceType eq "user"') == ALWAYS
    assert _q(users, 'meta.resourceType ne "User"') == NEVER
    assert _q(users, "meta.resourceType pr") == ALWAYS
    assert _q(users, 'not (meta.resourceType eq "Group")') == ~NEVER

"""The graduated price table, without a database."""

from decimal import Decimal

import pytest

from orgwarden.billing.pricing import Tier, estimate, parse_money, parse_tiers

TIERS = parse_tiers("250:4.00,1000:3.00,*:2.00")


def test_parse_tiers():
    expected = (Tier(250, Decimal("4.00")), Tier(1000, Decimal("3.00")), Tier(None, Decimal("2.00")))
    assert parse_tiers("250:4.00,1000:3.00,*:2.00") == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("250:4", "open one"),
        ("*:2,250:4", "must come last"),
        ("250:x", "number"),
        ("250:-1", "negative"),
        ("abc:1,*:1", "whole number"),
        ("0:1,*:1", "whole number"),
        ("500:1,250:1,*:1", "grow"),
        ("", "open one"),
    ],
)
def test_parse_tiers_refuses(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_tiers(raw)


@pytest.mark.parametrize(
    ("users", "total"),
    [
        (0, "0.00"),
        (1, "40.00"),  # the minimum
        (10, "40.00"),
        (11, "44.00"),
        (250, "1000.00"),
        (251, "1003.00"),
        (1000, "3250.00"),
        (1001, "3252.00"),
        (5000, "11250.00"),
    ],
)
def test_graduated_estimate_with_a_minimum(users, total):
    result = estimate(users=users, tiers=TIERS, minimum=Decimal("40.00"))
    assert result.total == Decimal(total)
    assert sum(line.users for line in result.lines) == users


def test_estimate_lines_and_bad_count():
    result = estimate(users=300, tiers=TIERS, minimum=Decimal("0"))
    assert [(line.first, line.last, line.amount) for line in result.lines] == [
        (1, 250, Decimal("1000.00")),
        (251, 300, Decimal("150.00")),
    ]
    with pytest.raises(ValueError):
        estimate(users=-1, tiers=TIERS, minimum=Decimal("0"))


def test_parse_money():
    assert parse_money("") == Decimal("0")
    assert parse_money("12.50") == Decimal("12.50")
    for bad in ("x", "-1"):
        with pytest.raises(ValueError):
            parse_money(bad)

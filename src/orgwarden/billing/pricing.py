"""The monthly estimate: graduated per-user tiers and a minimum, as the operator configures them.

Pure (no Django). ``ORGWARDEN_BILLING_TIERS`` is ``250:4.00,1000:3.00,*:2.00``: users 1–250 cost
4.00 each, users 251–1,000 3.00 each, every user from 1,001 2.00 each (graduated, like income tax
bands, so adding a user never makes the bill smaller). ``ORGWARDEN_BILLING_MINIMUM`` is the least a
month costs once the subscription is paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True, slots=True)
class Tier:
    up_to: int | None  # the last user of this tier; None: every further user
    price: Decimal  # per user per month


@dataclass(frozen=True, slots=True)
class Line:
    first: int
    last: int
    users: int
    price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Estimate:
    users: int
    lines: tuple[Line, ...]
    subtotal: Decimal
    minimum: Decimal
    total: Decimal


def parse_tiers(raw: str) -> tuple[Tier, ...]:
    """``250:4.00,1000:3.00,*:2.00`` → tiers; raises ``ValueError`` saying what is wrong."""
    tiers: list[Tier] = []
    for item in [part.strip() for part in raw.split(",") if part.strip()]:
        bound, _, price = item.partition(":")
        try:
            value = Decimal(price.strip())
        except InvalidOperation as exc:
            raise ValueError(f"{item!r}: the price must be a number like 4.00") from exc
        if value < 0:
            raise ValueError(f"{item!r}: the price cannot be negative")
        if tiers and tiers[-1].up_to is None:
            raise ValueError("the open tier '*' must come last")
        if bound.strip() == "*":
            tiers.append(Tier(None, value))
            continue
        if not bound.strip().isdigit() or int(bound) < 1:
            raise ValueError(f"{item!r}: a tier ends at a whole number of users, or '*'")
        if tiers and int(bound) <= (tiers[-1].up_to or 0):
            raise ValueError(f"{item!r}: tiers must grow")
        tiers.append(Tier(int(bound), value))
    if not tiers or tiers[-1].up_to is not None:
        raise ValueError("end the tiers with an open one, like *:2.00")
    return tuple(tiers)


def parse_money(raw: str) -> Decimal:
    try:
        value = Decimal(raw.strip() or "0")
    except InvalidOperation as exc:
        raise ValueError(f"{raw!r} is not an amount like 40.00") from exc
    if value < 0:
        raise ValueError("the minimum cannot be negative")
    return value


def estimate(*, users: int, tiers: tuple[Tier, ...], minimum: Decimal) -> Estimate:
    """What ``users`` billable users cost per month. Raises ``ValueError`` for a negative count."""
    if users < 0:
        raise ValueError("the number of users cannot be negative")
    lines: list[Line] = []
    first = 1
    for tier in tiers:
        if first > users:
            break
        last = users if tier.up_to is None else min(users, tier.up_to)
        count = last - first + 1
        lines.append(Line(first, last, count, tier.price, (tier.price * count).quantize(Decimal("0.01"))))
        first = last + 1
    subtotal = sum((line.amount for line in lines), Decimal("0.00"))
    total = max(subtotal, minimum) if users else Decimal("0.00")
    return Estimate(users, tuple(lines), subtotal, minimum, total.quantize(Decimal("0.01")))

"""Loyalty tiers by rolling spend (contract: "Segments and loyalty"): the highest tier
whose ``from_spend`` the spend of the last ``tier_window_days`` reaches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    from_cents: int
    """the spend (in kopecks, cents) from which a customer holds it"""
    accrual_percent: Decimal


def tier_of(spend_cents: int, tiers: Sequence[Tier]) -> str | None:
    """The highest tier held with this spend (``tiers`` ascending); None: not even the
    first (its ``from_spend`` is above zero). Returns beyond the window's purchases (a
    spend below zero) hold what no spend holds."""
    spend_cents = max(spend_cents, 0)
    held = None
    for tier in tiers:
        if spend_cents >= tier.from_cents:
            held = tier.name
    return held


def direction(tiers: Sequence[Tier], before: str, after: str) -> str:
    """``up`` when ``after`` is a higher tier than ``before``, else ``down``."""
    rank = {tier.name: n for n, tier in enumerate(tiers)}
    return "up" if rank.get(after, -1) > rank.get(before, -1) else "down"


def cents(amount: float) -> int:
    """An amount of money as whole cents (sums of them are exact)."""
    return round(amount * 100)

"""The ``segments:`` and ``loyalty:`` sections of the settings (contract: "Segments and
loyalty"), and the engine's `Loyalty` made of them."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from triggers.customer import DAY
from triggers.rfm import RfmBounds
from triggers.rfm_quantiles import DailyBounds
from triggers.standing import Loyalty
from triggers.tiers import Tier, cents

Bounds = Annotated[list[float], Field(min_length=4, max_length=4)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _ascending(name: str, values: list[float]) -> None:
    if any(b <= a for a, b in itertools.pairwise(values)) or values[0] < 0:
        raise ValueError(f"{name}: four ascending bounds of at least 0, got {values}")


class RfmSettings(_Section):
    recency_days: Bounds = [14, 30, 90, 180]
    """R = 5 while the days since the latest purchase are below the first, ... 1 from
    the last"""
    frequency: Bounds = [2, 4, 8, 16]
    """purchases in 365 days: F = 1 below the first, ... 5 from the last"""
    monetary: Bounds = [5000, 15000, 40000, 100000]
    """spend in 365 days, as frequency"""
    quantiles: bool = False
    """true: the bounds are the quintiles of all customers, recomputed daily"""

    @model_validator(mode="after")
    def _bounds_ascend(self) -> RfmSettings:
        _ascending("recency_days", self.recency_days)
        _ascending("frequency", self.frequency)
        _ascending("monetary", self.monetary)
        return self


class SegmentSettings(_Section):
    rfm: RfmSettings | None = None
    """absent: no RFM scores and segments"""


class TierSettings(_Section):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    from_spend: float = Field(ge=0)
    accrual_percent: Decimal = Field(ge=0, le=100)


class LoyaltySettings(_Section):
    tiers: list[TierSettings] = []
    """by spend in the last ``tier_window_days``; the highest that holds"""
    tier_window_days: float = Field(default=365, gt=0, le=3660)
    category_multipliers: dict[str, Decimal] = {}
    """category -> how many times its lines accrue"""
    expiry_days: float | None = Field(default=None, gt=0, le=3660)
    """our own accruals expire this long after they were earned, oldest first"""
    expiry_warning_days: float = Field(default=14, ge=0, le=3660)
    """``points_expiring`` this long before an expiry"""

    @field_validator("tiers")
    @classmethod
    def _tiers_ascend(cls, tiers: list[TierSettings]) -> list[TierSettings]:
        names = [tier.name for tier in tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must be unique, got {names}")
        spends = [tier.from_spend for tier in tiers]
        if spends != sorted(set(spends)):
            raise ValueError(f"from_spend must ascend from tier to tier, got {spends}")
        return tiers

    @field_validator("category_multipliers")
    @classmethod
    def _multipliers(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for category, times in value.items():
            if not 0 <= times <= 100:
                raise ValueError(f"{category!r}: a multiplier from 0 to 100, got {times}")
        return value


def loyalty_of(segments: SegmentSettings, loyalty: LoyaltySettings | None) -> Loyalty:
    """What the engine keeps of a customer's standing, from the two sections."""
    rfm = segments.rfm
    bounds = None
    if rfm is not None:
        bounds = RfmBounds.of_days(rfm.recency_days, rfm.frequency, rfm.monetary)
    daily = DailyBounds(bounds) if rfm is not None and bounds and rfm.quantiles else None
    if loyalty is None:
        return Loyalty(rfm=bounds, daily=daily)
    return Loyalty(
        rfm=bounds,
        daily=daily,
        tiers=tuple(
            Tier(tier.name, cents(tier.from_spend), tier.accrual_percent) for tier in loyalty.tiers
        ),
        tier_window_s=loyalty.tier_window_days * DAY,
        multipliers=dict(loyalty.category_multipliers),
        expiry_s=None if loyalty.expiry_days is None else loyalty.expiry_days * DAY,
        warning_s=loyalty.expiry_warning_days * DAY,
    )

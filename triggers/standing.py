"""The customer's standing: RFM segment, loyalty tier and expiring bonus lots, kept
current at the exact event time each changes (contract: "Segments and loyalty").

`Loyalty.refresh` brings a state to ``now``: lots whose warning or expiry is due (the
balance drops), the scores again (a changed segment or tier is a trigger event), and the
customer's one "next change" timer (`NEXT_CHANGE`) at the first moment anything of it
would differ with no event at all (`Loyalty.next_change`): recency grows, purchases leave
a window, a lot warns or expires. The engine calls it after each purchase or return and
when that timer fires (with quantile bounds, at every event: the bounds may have moved).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from triggers.customer import DAY, HISTORY_S, CustomerState, forget_purchases
from triggers.notices import plain_number, rfc3339_utc
from triggers.points import next_lot_change, settle_lots
from triggers.rfm import (
    RFM_WINDOW_S,
    RfmBounds,
    ascending_score,
    recency_score,
    rfm_code,
    segment_of,
)
from triggers.rfm_quantiles import DailyBounds, Sketched, cell, money_bin
from triggers.scenarios.signals import Signal
from triggers.tiers import Tier, cents, direction, tier_of
from triggers.timers import arm, take

NEXT_CHANGE = "loyalty:next"
"""the timer of a customer's next change of standing (no scenario id has a colon)"""


@dataclass(slots=True)
class _Sums:
    """The window sums a score is made of."""

    count: float
    rfm_cents: int
    tier_cents: int


@dataclass(frozen=True)
class Loyalty:
    """What is configured of segments and loyalty (nothing: the contract's defaults)."""

    rfm: RfmBounds | None = None
    tiers: tuple[Tier, ...] = ()
    """ascending by ``from_spend``"""
    tier_window_s: float = 365 * DAY
    multipliers: Mapping[str, Decimal] | None = None
    """category -> accrual multiplier; None: no ``loyalty`` configured, the flat accrual
    of ``total`` (the contract's default)"""
    expiry_s: float | None = None
    warning_s: float = 14 * DAY
    warns: bool = True
    """whether expiry warnings are given (a scenario enters or exits on points_expiring;
    Rules sets it: a warning nobody listens to is a timer for nothing)"""
    daily: DailyBounds | None = field(default=None, compare=False)
    """quantile bounds (``quantiles: true``), taken anew each day; None: ``rfm`` fixed"""

    @property
    def active(self) -> bool:
        """Whether any standing is kept."""
        return self.rfm is not None or bool(self.tiers) or self.expiry_s is not None

    @property
    def history_s(self) -> float:
        """How long purchases are kept: the longest window."""
        return max(HISTORY_S, self.tier_window_s if self.tiers else 0.0)

    def accrual_percent(self, state: CustomerState, now: float) -> Decimal | None:
        """The percent of the tier the customer holds at ``now`` (never scored yet, e.g.
        loyalty just switched on: the tier of its history); None: no tiers, or none held
        (the flat ``bonus.accrual_percent``)."""
        if not self.tiers:
            return None
        held = state.tier if state.tier is not None else self.scores(state, now)[1]
        for tier in self.tiers:
            if tier.name == held:
                return tier.accrual_percent
        return None

    def refresh(
        self,
        state: CustomerState,
        now: float,
        cause: str | None = None,
        ts: str | None = None,
        sketched: list[Any] | None = None,
    ) -> list[Signal]:
        """Bring the standing to ``now``; the trigger events it makes. ``cause``/``ts``:
        the event behind it (None: a change of time alone, named by its time). With
        quantile bounds, a move of the customer's histogram cell goes to ``sketched``."""
        signals: list[Signal] = []
        if self.expiry_s is not None:
            self._settle_lots(state, now, signals)
        forget_purchases(state, now, self.history_s)
        sums = self._sums(state, now)
        rfm, tier = self._scored(state, sums, now)
        if self.daily is not None and sketched is not None:
            self._sketch(state, sums, sketched)
        if self.rfm is not None and rfm != state.rfm:
            before, after = segment_of(state.rfm), segment_of(rfm)
            state.rfm = rfm
            if before is not None and after is not None and before != after:
                moved = {"from": before, "to": after}
                signals.append(_signal("segment_changed", now, cause, ts, moved, moved))
        if self.tiers and tier != state.tier:
            before_tier, state.tier = state.tier, tier
            if before_tier is not None and tier is not None:
                moved = {"from": before_tier, "to": tier}
                fields = {**moved, "direction": direction(self.tiers, before_tier, tier)}
                signals.append(_signal("tier_changed", now, cause, ts, fields, moved))
        due = self._next_change(state, now, sums)
        if due is None:
            take(state, NEXT_CHANGE)
        else:
            arm(state, NEXT_CHANGE, due)
        return signals

    @staticmethod
    def _sketch(state: CustomerState, sums: _Sums, sketched: list[Sketched]) -> None:
        last = state.last_purchase_at
        now_in = None if last is None else cell(last, sums.count, sums.rfm_cents / 100)
        before = None if state.sketched is None else tuple(state.sketched)
        if now_in != before:
            sketched.append(Sketched(before, now_in))  # type: ignore[arg-type]
            state.sketched = None if now_in is None else list(now_in)

    @property
    def _warning_s(self) -> float | None:
        return self.warning_s if self.warns else None

    @property
    def quantiles(self) -> bool:
        """Whether the RFM bounds are the customers' quintiles (they move every day)."""
        return self.daily is not None

    def _settle_lots(self, state: CustomerState, now: float, signals: list[Signal]) -> None:
        assert self.expiry_s is not None
        while True:
            at = next_lot_change(state.lots, self.expiry_s, self._warning_s)
            if at is None or at > now:
                return
            warnings, expired = settle_lots(state.lots, at, self.expiry_s, self._warning_s)
            if expired:
                state.balance = round(state.balance - expired, 2)
            for points, expires_at in warnings:
                expiring = {"points": plain_number(points), "expires_at": rfc3339_utc(expires_at)}
                signals.append(_signal("points_expiring", at, None, None, {}, expiring))

    def scores(self, state: CustomerState, now: float) -> tuple[str | None, str | None]:
        """(RFM code, tier) at ``now`` (None where not configured or not held)."""
        return self._scored(state, self._sums(state, now), now)

    def _sums(self, state: CustomerState, now: float) -> _Sums:
        sums = _Sums(0.0, 0, 0)
        tier_window = self.tier_window_s
        for at, count, spend in state.purchases:
            if at + RFM_WINDOW_S > now:
                sums.count += count
                sums.rfm_cents += cents(spend)
            if at + tier_window > now:
                sums.tier_cents += cents(spend)
        return sums

    def _scored(
        self, state: CustomerState, sums: _Sums, now: float
    ) -> tuple[str | None, str | None]:
        rfm = None
        bounds = self.rfm if self.daily is None else self.daily.bounds
        if bounds is not None and state.last_purchase_at is not None:
            rfm = rfm_code(
                recency_score(state.last_purchase_at, now, bounds),
                ascending_score(sums.count, bounds.frequency),
                ascending_score(sums.rfm_cents / 100, bounds.monetary),
            )
        tier = tier_of(sums.tier_cents, self.tiers) if self.tiers else None
        return rfm, tier

    def next_change(self, state: CustomerState, now: float) -> float | None:
        """The first moment after ``now`` at which the standing differs with no event:
        the RFM code or the tier as `scores` gives them, or a lot's warning or expiry."""
        return self._next_change(state, now, self._sums(state, now))

    def _next_change(self, state: CustomerState, now: float, sums: _Sums) -> float | None:
        found = self._next_score_change(state, now, replace(sums))
        if self.expiry_s is not None:
            lot = next_lot_change(state.lots, self.expiry_s, self._warning_s)
            if lot is not None and (found is None or lot < found):
                found = lot
        return found

    def _next_score_change(self, state: CustomerState, now: float, sums: _Sums) -> float | None:
        """A sweep over the moments a score can change (a recency bound passed, a
        purchase leaving a window), in time order, with ``sums`` (those of ``now``, the
        sweep's own) kept as it goes."""
        if self.rfm is None and not self.tiers:
            return None
        leaving: list[tuple[float, float, int, int]] = []  # (at, count, rfm, tier cents)
        if self.rfm is not None and state.last_purchase_at is not None:
            for bound in self.rfm.recency_s:
                if state.last_purchase_at + bound > now:
                    leaving.append((state.last_purchase_at + bound, 0.0, 0, 0))
        for at, count, spend in state.purchases:
            spent = cents(spend)
            if self.rfm is not None and at + RFM_WINDOW_S > now:
                leaving.append((at + RFM_WINDOW_S, count, spent, 0))
            if self.tiers and at + self.tier_window_s > now:
                leaving.append((at + self.tier_window_s, 0.0, 0, spent))
        if not leaving:
            return None
        leaving.sort()
        current = self._standing(state, sums, now)
        index = 0
        while index < len(leaving):
            moment = leaving[index][0]
            while index < len(leaving) and leaving[index][0] == moment:
                _at, count, rfm_cents, tier_cents = leaving[index]
                sums.count -= count
                sums.rfm_cents -= rfm_cents
                sums.tier_cents -= tier_cents
                index += 1
            if self._standing(state, sums, moment) != current:
                return moment
        return None

    def _standing(self, state: CustomerState, sums: _Sums, now: float) -> tuple[object, ...]:
        """What a change of is a change: the scores; with quantiles, the F and M cells."""
        scored = self._scored(state, sums, now)
        if self.daily is None:
            return scored
        return (*scored, sums.count, money_bin(sums.rfm_cents / 100))


def _signal(
    name: str,
    at: float,
    cause: str | None,
    ts: str | None,
    fields: dict[str, str],
    vars_: Mapping[str, object],
) -> Signal:
    """A trigger event of a change: the event's, or (no event) one named by its time."""
    if cause is None or ts is None:
        return Signal(name, f"{name}:{round(at * 1000)}", at, rfc3339_utc(at), fields, vars_)
    return Signal(name, cause, at, ts, fields, vars_)

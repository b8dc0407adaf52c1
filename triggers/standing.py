"""The customer's standing: RFM segment, loyalty tier and expiring bonus lots, kept
current at the exact event time each changes (contract: "Segments and loyalty").

`Loyalty.refresh` brings a state to ``now``: lots whose warning or expiry is due (the
balance drops), the scores again (a changed segment or tier is a trigger event), and the
customer's one "next change" timer (`NEXT_CHANGE`) at the first moment the segment, the
tier, a lot or (quantile bounds) the histogram cell would differ with no event at all
(`Loyalty.next_change`): recency grows, purchases leave a window, a lot warns or
expires. The engine calls it after each purchase or return, when that timer fires, and
at an event where the code scored now is not the stored one (quantile bounds moved, or a
scenario compares the code).

What is timed depends on the configuration only, never on which scenarios use it, so a
scenario added later finds every customer's segment and tier current. The timer waits
for the segment (R and F), not for each digit: the three-digit ``rfm`` code moves more
often (M, and R within a segment) and is scored anew at each refresh; a programme that
compares the code itself refreshes at every check (`Rules.reads_code`). With quantile
bounds R is measured from the start of the bounds' day (triggers.rfm_quantiles), so it
moves only with the next day's bounds and is re-scored lazily, as the issue asks; no
timer waits for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from triggers.customer import DAY, HISTORY_S, CustomerState, forget_purchases
from triggers.notices import plain_number, rfc3339_utc
from triggers.points import next_lot_change, settle_lots
from triggers.rfm import (
    RFM_WINDOW_S,
    SEGMENTS,
    RfmBounds,
    ascending_score,
    recency_score,
    rfm_code,
    segment_of,
)
from triggers.rfm_quantiles import DailyBounds, Sketched, cell
from triggers.scenarios.instances import local_date
from triggers.scenarios.signals import Signal
from triggers.tiers import Tier, cents, direction, tier_of
from triggers.timers import arm, take

NEXT_CHANGE = "loyalty:next"
"""the timer of a customer's next change of standing (no scenario id has a colon)"""


STANDING_EVENTS = frozenset(("segment_changed", "tier_changed", "points_expiring"))
"""the trigger events a standing makes"""

_Sums = tuple[float, int, int]
"""the window sums a score is made of: purchases and cents in the RFM window, cents in
the tier window"""


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
    heard: frozenset[str] = STANDING_EVENTS
    """the trigger events of a standing some enabled scenario enters or exits on (Rules
    sets it): only they are made. What is timed never depends on it."""
    timezone: str = "Europe/Moscow"
    """the timezone of customers without one of their own (Rules sets it): the local date
    an expiry warning names"""
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

    @property
    def quantiles(self) -> bool:
        """Whether the RFM bounds are the customers' quintiles (they move every day)."""
        return self.daily is not None

    def accrual_percent(self, state: CustomerState, now: float) -> Decimal | None:
        """The percent of the tier the customer's history holds at ``now``; None: no
        tiers, or none held (the flat ``bonus.accrual_percent``)."""
        if not self.tiers:
            return None
        held = tier_of(self._sums(state, now)[2], self.tiers)
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
        heard = self.heard
        lot_change = None
        if self.expiry_s is not None and state.lots:
            lot_change = self._settle_lots(state, now, signals)
        if state.purchases:
            forget_purchases(state, now, self.history_s)
        sums = self._sums(state, now)
        rfm, tier = self._scored(state, sums, now)
        if self.daily is not None and sketched is not None:
            self._sketch(state, sums, sketched)
        if self.rfm is not None and rfm != state.rfm:
            before, after = segment_of(state.rfm), segment_of(rfm)
            state.rfm = rfm
            heard_now = "segment_changed" in heard and before != after
            if before is not None and after is not None and heard_now:
                moved = {"from": before, "to": after}
                signals.append(_signal("segment_changed", now, cause, ts, moved, moved))
        if self.tiers and tier != state.tier:
            before_tier, state.tier = state.tier, tier
            if before_tier is not None and tier is not None and "tier_changed" in heard:
                moved = {"from": before_tier, "to": tier}
                fields = {**moved, "direction": direction(self.tiers, before_tier, tier)}
                signals.append(_signal("tier_changed", now, cause, ts, fields, moved))
        due = self._next_change(state, now, sums, lot_change)
        if due is None:
            take(state, NEXT_CHANGE)
        else:
            arm(state, NEXT_CHANGE, due)
        return signals

    @staticmethod
    def _sketch(state: CustomerState, sums: _Sums, sketched: list[Sketched]) -> None:
        last = state.last_purchase_at
        now_in = None if last is None else cell(last, sums[0], sums[1] / 100)
        before = None if state.sketched is None else tuple(state.sketched)
        if now_in != before:
            sketched.append(Sketched(before, now_in))  # type: ignore[arg-type]
            state.sketched = None if now_in is None else list(now_in)

    def _settle_lots(self, state: CustomerState, now: float, signals: list[Signal]) -> float | None:
        """Settle what is due by ``now``; the lots' next change after it."""
        assert self.expiry_s is not None
        while True:
            at = next_lot_change(state.lots, self.expiry_s, self.warning_s)
            if at is None or at > now:
                return at
            warnings, expired = settle_lots(state.lots, at, self.expiry_s, self.warning_s)
            if expired:
                state.balance = round(state.balance - expired, 2)
            for points, expires_at in warnings if "points_expiring" in self.heard else ():
                expiring = {
                    "points": plain_number(points),
                    "expires_at": rfc3339_utc(expires_at),
                    "expires_on": local_date(expires_at, state.timezone or self.timezone),
                }
                signals.append(_signal("points_expiring", at, None, None, {}, expiring))

    def scores(self, state: CustomerState, now: float) -> tuple[str | None, str | None]:
        """(RFM code, tier) at ``now`` (None where not configured or not held)."""
        return self._scored(state, self._sums(state, now), now)

    def _sums(self, state: CustomerState, now: float) -> _Sums:
        count, rfm_cents, tier_cents = 0.0, 0, 0
        tier_window = self.tier_window_s
        for at, purchases, spend in state.purchases:
            in_rfm = at + RFM_WINDOW_S > now  # as a window's edge is timed: the same floats
            in_tier = at + tier_window > now
            if in_rfm or in_tier:
                spent = cents(spend)
                if in_rfm:
                    count += purchases
                    rfm_cents += spent
                if in_tier:
                    tier_cents += spent
        return count, rfm_cents, tier_cents

    @property
    def _bounds(self) -> RfmBounds | None:
        return self.rfm if self.daily is None else self.daily.bounds

    def _scored(
        self, state: CustomerState, sums: _Sums, now: float
    ) -> tuple[str | None, str | None]:
        rfm = None
        bounds, last = self._bounds, state.last_purchase_at
        if bounds is not None and last is not None:
            daily = self.daily
            since = now if daily is None or daily.recency_from is None else daily.recency_from
            rfm = rfm_code(
                recency_score(last, since, bounds),
                ascending_score(sums[0], bounds.frequency),
                ascending_score(sums[1] / 100, bounds.monetary),
            )
        tier = tier_of(sums[2], self.tiers) if self.tiers else None
        return rfm, tier

    def next_change(self, state: CustomerState, now: float) -> float | None:
        """The first moment after ``now`` at which the standing differs with no event:
        the segment or the tier as `scores` gives them, a lot's warning or expiry, a
        histogram cell (quantile bounds)."""
        lot_change = None
        if self.expiry_s is not None:
            lot_change = next_lot_change(state.lots, self.expiry_s, self.warning_s)
        return self._next_change(state, now, self._sums(state, now), lot_change)

    def _next_change(
        self, state: CustomerState, now: float, sums: _Sums, lot_change: float | None
    ) -> float | None:
        found = self._next_recency_change(state, now, sums)
        if found is None:
            found = self._next_score_change(state, now, sums)
        if lot_change is not None and (found is None or lot_change < found):
            found = lot_change
        return found

    def _next_recency_change(self, state: CustomerState, now: float, sums: _Sums) -> float | None:
        """The first recency bound that changes the segment before any purchase leaves a
        window (the usual next change, found without the sweep); None: ask the sweep."""
        last, bounds = state.last_purchase_at, self.rfm
        if self.quantiles or last is None or bounds is None:
            return None
        first_leaving = math.inf
        for window in (RFM_WINDOW_S, self.tier_window_s) if self.tiers else (RFM_WINDOW_S,):
            for at, _count, _spend in state.purchases:  # oldest first
                if at + window > now:
                    first_leaving = min(first_leaving, at + window)
                    break
        frequency = ascending_score(sums[0], bounds.frequency)
        recency = recency_score(last, now, bounds)
        segment = SEGMENTS[recency, frequency]
        for bound in bounds.recency_s:  # ascending: R drops by one at each
            moment = last + bound
            if moment <= now:
                continue
            if moment >= first_leaving:
                return None
            recency -= 1
            if SEGMENTS[recency, frequency] != segment:
                return moment
        return None

    def _next_score_change(self, state: CustomerState, now: float, sums: _Sums) -> float | None:
        """A sweep over the moments the segment, the tier or the cell can change (a
        recency bound passed, a purchase leaving a window), in time order, with the
        window sums of ``now`` kept as it goes."""
        last, bounds, tiers, cells = state.last_purchase_at, self.rfm, self.tiers, self.quantiles
        timed: tuple[float, RfmBounds] | None = None  # (latest purchase, fixed bounds)
        if not cells and last is not None and bounds is not None:  # quantile R holds all day
            timed = last, bounds
        leaving: list[tuple[float, float, int, int]] = []  # (at, count, rfm, tier cents)
        if timed is not None:
            latest, fixed = timed
            leaving += [(latest + b, 0.0, 0, 0) for b in fixed.recency_s if latest + b > now]
        tier_window = self.tier_window_s
        for at, count, spend in state.purchases:
            if (timed is not None or cells) and at + RFM_WINDOW_S > now:
                leaving.append((at + RFM_WINDOW_S, count, cents(spend), 0))
            if tiers and at + tier_window > now:
                leaving.append((at + tier_window, 0.0, 0, cents(spend)))
        if not leaving:
            return None
        leaving.sort()

        def standing(sums: _Sums, moment: float) -> tuple[object, ...]:
            segment = None
            if timed is not None:
                recency = recency_score(timed[0], moment, timed[1])
                segment = SEGMENTS[recency, ascending_score(sums[0], timed[1].frequency)]
            tier = tier_of(sums[2], tiers) if tiers else None
            placed = cell(last, sums[0], sums[1] / 100) if cells and last is not None else None
            return segment, tier, placed

        current = standing(sums, now)
        count, rfm_cents, tier_cents = sums
        index = 0
        while index < len(leaving):
            moment = leaving[index][0]
            while index < len(leaving) and leaving[index][0] == moment:
                _at, gone, gone_rfm, gone_tier = leaving[index]
                count, rfm_cents, tier_cents = (
                    count - gone,
                    rfm_cents - gone_rfm,
                    tier_cents - gone_tier,
                )
                index += 1
            if standing((count, rfm_cents, tier_cents), moment) != current:
                return moment
        return None


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

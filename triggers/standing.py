"""The customer's standing: RFM segment, loyalty tier and expiring bonus lots, kept
current at the exact event time each changes (contract: "Segments and loyalty").

`Loyalty.refresh` brings a state to ``now``: lots whose warning or expiry is due (the
balance drops), the scores again (a changed segment or tier is a trigger event), and the
customer's one "next change" timer (`NEXT_CHANGE`) at the first moment anything of it
would differ with no event at all (`Loyalty.next_change`): recency grows, purchases leave
a window, a lot warns or expires. The engine calls it after each purchase or return and
when that timer fires (with quantile bounds and segments watched, at every event: the
bounds may have moved).

Only what the programme observes is timed (`Loyalty.watched`): a segment that no trigger
event, condition or template var reads is scored at the customer's next refresh instead
of waking it at every recency bound, which on a purchase history is most of the timers.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
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


WATCHABLE = frozenset({"segment_changed", "tier_changed", "points_expiring"})
"""the changes of a standing a programme can observe the moment they happen"""

_WATCHED_BY = {
    "segment_changed": ("segment_changed", "segment", "rfm"),
    "tier_changed": ("tier_changed", "tier"),
    "points_expiring": ("points_expiring",),
}
"""a change -> the trigger event, condition keys and template vars that observe it"""

_Sums = tuple[float, int, int]
"""the window sums a score is made of: purchases and cents in the RFM window, cents in
the tier window"""


def watched_by(names: Collection[str]) -> frozenset[str]:
    """The changes observed by a programme that uses ``names`` (trigger events,
    condition keys, template vars its notices show)."""
    return frozenset(
        change for change, by in _WATCHED_BY.items() if any(name in names for name in by)
    )


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
    watched: frozenset[str] = WATCHABLE
    """the changes the programme observes (`watched_by`; Rules sets it): only they, a
    lot's expiry (the balance drops) and, with quantile bounds, a move of the
    customer's histogram cell wait on the next-change timer. A change nobody observes
    would be a timer for nothing: such a segment or tier is scored anew at the next
    refresh (a purchase or return, a due timer), and accrual always reads the tier of
    the history itself."""
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

    @property
    def times_segments(self) -> bool:
        """Whether segment changes are kept at their exact time (someone observes them)."""
        return self.rfm is not None and "segment_changed" in self.watched

    @property
    def times_tiers(self) -> bool:
        """Whether tier changes are kept at their exact time (someone observes them)."""
        return bool(self.tiers) and "tier_changed" in self.watched

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
        now_in = None if last is None else cell(last, sums[0], sums[1] / 100)
        before = None if state.sketched is None else tuple(state.sketched)
        if now_in != before:
            sketched.append(Sketched(before, now_in))  # type: ignore[arg-type]
            state.sketched = None if now_in is None else list(now_in)

    @property
    def _warning_s(self) -> float | None:
        return self.warning_s if "points_expiring" in self.watched else None

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
        count, rfm_cents, tier_cents = 0.0, 0, 0
        tier_window = self.tier_window_s
        for at, purchases, spend in state.purchases:
            if at + RFM_WINDOW_S > now:  # as a window's edge is timed: the same floats
                count += purchases
                rfm_cents += cents(spend)
            if at + tier_window > now:
                tier_cents += cents(spend)
        return count, rfm_cents, tier_cents

    @property
    def _bounds(self) -> RfmBounds | None:
        return self.rfm if self.daily is None else self.daily.bounds

    def _scored(
        self, state: CustomerState, sums: _Sums, now: float
    ) -> tuple[str | None, str | None]:
        rfm = None
        bounds = self._bounds
        if bounds is not None and state.last_purchase_at is not None:
            rfm = rfm_code(*self._rfm_scores(state.last_purchase_at, sums, now, bounds))
        tier = tier_of(sums[2], self.tiers) if self.tiers else None
        return rfm, tier

    @staticmethod
    def _rfm_scores(
        last_purchase_at: float, sums: _Sums, now: float, bounds: RfmBounds
    ) -> tuple[int, int, int]:
        return (
            recency_score(last_purchase_at, now, bounds),
            ascending_score(sums[0], bounds.frequency),
            ascending_score(sums[1] / 100, bounds.monetary),
        )

    def next_change(self, state: CustomerState, now: float) -> float | None:
        """The first moment after ``now`` at which what is timed of the standing differs
        with no event: the RFM code or the tier as `scores` gives them (where watched),
        a lot's warning or expiry, a histogram cell."""
        return self._next_change(state, now, self._sums(state, now))

    def _next_change(self, state: CustomerState, now: float, sums: _Sums) -> float | None:
        found = self._next_score_change(state, now, sums)
        if self.expiry_s is not None:
            lot = next_lot_change(state.lots, self.expiry_s, self._warning_s)
            if lot is not None and (found is None or lot < found):
                found = lot
        return found

    def _next_score_change(self, state: CustomerState, now: float, sums: _Sums) -> float | None:
        """A sweep over the moments a timed score can change (a recency bound passed, a
        purchase leaving a window), in time order, with the window sums of ``now`` kept
        as it goes."""
        segments, tiers, cells = self.times_segments, self.times_tiers, self.quantiles
        last = state.last_purchase_at
        bounds = self._bounds
        leaving: list[tuple[float, float, int, int]] = []  # (at, count, rfm, tier cents)
        if segments and last is not None and bounds is not None:
            leaving += [
                (last + bound, 0.0, 0, 0) for bound in bounds.recency_s if last + bound > now
            ]
        rfm_window, tier_window = segments or cells, self.tier_window_s
        for at, count, spend in state.purchases:
            if rfm_window and at + RFM_WINDOW_S > now:
                leaving.append((at + RFM_WINDOW_S, count, cents(spend), 0))
            if tiers and at + tier_window > now:
                leaving.append((at + tier_window, 0.0, 0, cents(spend)))
        if not leaving:
            return None
        leaving.sort()

        def standing(sums: _Sums, moment: float) -> tuple[object, ...]:
            rfm = None
            if segments and last is not None and bounds is not None:
                rfm = self._rfm_scores(last, sums, moment, bounds)
            tier = tier_of(sums[2], self.tiers) if tiers else None
            return rfm, tier, (sums[0], money_bin(sums[1] / 100)) if cells else None

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

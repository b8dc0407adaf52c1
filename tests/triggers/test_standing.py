"""RFM scores and segments, tiers, the next change of a customer's standing, accrual by
tier and category, and expiring lots (contract: "Segments and loyalty")."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.events import receipt
from tests.triggers.driver import rules
from triggers.bonus import apply_bonus, bonus_of
from triggers.customer import DAY, CustomerState, record_purchase
from triggers.engine import Rules
from triggers.events import Receipt, parse_event
from triggers.points import accrue, cap_to_balance, settle_lots, spend_oldest, take_newest
from triggers.rfm import RfmBounds, ascending_score, recency_score, segment_of
from triggers.standing import NEXT_CHANGE, Loyalty, watched_by
from triggers.tiers import Tier

NOW = 1_800_000_000.0
BOUNDS = RfmBounds.of_days([14, 30, 90, 180], [2, 4, 8, 16], [5000, 15000, 40000, 100000])
TIERS = (
    Tier("base", 0, Decimal(3)),
    Tier("silver", 2_000_000, Decimal(5)),
    Tier("gold", 6_000_000, Decimal(7)),
)
LOYALTY = Loyalty(rfm=BOUNDS, tiers=TIERS, multipliers={})

# the contract's map, row by row: R 5 at the top, F 1..5 from left to right
CONTRACT_MAP = """
new            potential_loyalists potential_loyalists champions champions
promising      potential_loyalists potential_loyalists loyal     loyal
about_to_sleep about_to_sleep      need_attention      loyal     loyal
hibernating    hibernating         at_risk             at_risk   cant_lose
hibernating    hibernating         at_risk             at_risk   cant_lose
"""


@pytest.mark.parametrize("r", [5, 4, 3, 2, 1])
@pytest.mark.parametrize("f", [1, 2, 3, 4, 5])
def test_every_cell_of_the_segment_map(r: int, f: int) -> None:
    rows = [line.split() for line in CONTRACT_MAP.strip().splitlines()]
    expected = rows[5 - r][f - 1]
    for m in (1, 5):
        assert segment_of(f"{r}{f}{m}") == expected
    assert segment_of(None) is None


def test_recency_drops_at_exactly_the_last_purchase_plus_each_bound() -> None:
    last = NOW
    assert recency_score(last, last, BOUNDS) == 5
    for days, after in ((14, 4), (30, 3), (90, 2), (180, 1)):
        assert recency_score(last, last + days * DAY - 0.001, BOUNDS) == after + 1
        assert recency_score(last, last + days * DAY, BOUNDS) == after
    assert recency_score(last, last + 1000 * DAY, BOUNDS) == 1


def test_frequency_and_monetary_score_from_each_bound() -> None:
    assert [ascending_score(v, BOUNDS.frequency) for v in (0, 1, 2, 3, 4, 8, 15, 16, 99)] == [
        1,
        1,
        2,
        2,
        3,
        4,
        4,
        5,
        5,
    ]
    assert ascending_score(4999.99, BOUNDS.monetary) == 1
    assert ascending_score(5000, BOUNDS.monetary) == 2


def _bought(*purchases: tuple[float, float]) -> CustomerState:
    """A state with purchases (days before NOW, total), oldest first."""
    state = CustomerState()
    for days_ago, total in purchases:
        record_purchase(state, abs(total), (), NOW - days_ago * DAY, 1 if total >= 0 else -1)
    return state


def test_scores_of_a_customer() -> None:
    state = _bought((400, 90000), (200, 9000), (20, 3000), (10, 3000))
    # 365 days: three purchases (F 2), 15000 spent (M 3); the latest 10 days ago (R 5)
    assert LOYALTY.scores(state, NOW) == ("523", "base")
    assert LOYALTY.scores(CustomerState(), NOW) == (None, "base")  # no purchase: no RFM


def test_the_tier_is_the_highest_whose_spend_holds() -> None:
    assert LOYALTY.scores(_bought((1, 19999.99)), NOW)[1] == "base"
    assert LOYALTY.scores(_bought((1, 20000)), NOW)[1] == "silver"
    assert LOYALTY.scores(_bought((1, 30000), (2, 30000)), NOW)[1] == "gold"
    assert LOYALTY.scores(_bought((1, 70000), (0.5, -20000)), NOW)[1] == "silver"  # a return


def _special_moments(state: CustomerState, loyalty: Loyalty, now: float) -> list[float]:
    """Every moment the contract lets a score change without an event."""
    moments = []
    if state.last_purchase_at is not None:
        moments += [state.last_purchase_at + b * DAY for b in (14, 30, 90, 180)]
    for at, _count, _spend in state.purchases:
        moments += [at + 365 * DAY, at + loyalty.tier_window_s]
    return sorted(m for m in moments if m > now)


purchase = st.tuples(
    st.floats(min_value=0, max_value=500, allow_nan=False),
    st.sampled_from([100.0, 4999.99, 5000.0, 12000.0, 20000.0, 41000.0, -3000.0]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(purchase, min_size=1, max_size=25),
    st.sampled_from([365.0, 180.0, 30.0]),
)
def test_the_next_change_is_exactly_the_first_moment_the_standing_differs(
    purchases: list[tuple[float, float]], tier_window_days: float
) -> None:
    loyalty = Loyalty(rfm=BOUNDS, tiers=TIERS, tier_window_s=tier_window_days * DAY)
    state = _bought(*sorted(purchases, key=lambda p: -p[0]))
    current = loyalty.scores(state, NOW)
    change = loyalty.next_change(state, NOW)
    moments = _special_moments(state, loyalty, NOW)
    if change is None:
        assert all(loyalty.scores(state, m) == current for m in moments)
        return
    assert change > NOW
    assert loyalty.scores(state, change) != current
    assert loyalty.scores(state, change - 0.001) == current
    for moment in moments:
        if moment < change:
            assert loyalty.scores(state, moment) == current


def test_refresh_arms_one_timer_and_names_the_changes() -> None:
    state = _bought((10, 3000))
    assert LOYALTY.refresh(state, NOW) == []  # the first segment and tier are no change
    assert (state.rfm, state.tier) == ("511", "base")
    assert segment_of(state.rfm) == "new"
    assert list(state.timers) == [NEXT_CHANGE]
    assert state.timers[NEXT_CHANGE] == NOW + 4 * DAY  # R 5 -> 4 at 14 days
    [signal] = LOYALTY.refresh(state, NOW + 4 * DAY)
    assert (signal.name, signal.fields, signal.at) == (
        "segment_changed",
        {"from": "new", "to": "promising"},
        NOW + 4 * DAY,
    )
    assert signal.event_id == f"segment_changed:{round((NOW + 4 * DAY) * 1000)}"
    record_purchase(state, 20000, (), NOW + 5 * DAY, 1)
    signals = LOYALTY.refresh(state, NOW + 5 * DAY, "r9", "ts")
    tier = next(s for s in signals if s.name == "tier_changed")
    assert tier.fields == {"from": "base", "to": "silver", "direction": "up"}
    assert (tier.event_id, tier.ts, tier.vars) == ("r9", "ts", {"from": "base", "to": "silver"})


def test_accrual_lots_merge_by_day_and_spend_oldest_first() -> None:
    lots: list[list[float]] = []
    day = 20_000 * DAY
    accrue(lots, 10, day + 100)
    accrue(lots, 5, day + 50_000)  # the same day: one lot, at its latest accrual
    accrue(lots, 20, day + DAY + 1)
    accrue(lots, 0, day + 2 * DAY)  # nothing earned: no lot
    assert lots == [[day + 50_000, 15], [day + DAY + 1, 20]]
    spend_oldest(lots, 18)
    assert lots == [[day + DAY + 1, 17]]
    accrue(lots, 4, day + 3 * DAY)
    take_newest(lots, 6)  # a return: the newest lot first
    assert lots == [[day + DAY + 1, 15]]
    cap_to_balance(lots, 9)  # a POS balance below the lots
    assert lots == [[day + DAY + 1, 9]]
    cap_to_balance(lots, -5)
    assert lots == []


def test_a_lot_warns_then_expires_at_its_exact_times() -> None:
    lots = [[1000.0, 30.0], [5000.0, 8.0]]
    expiry, warning = 10_000.0, 2_000.0
    assert settle_lots(lots, 8999.0, expiry, warning) == ([], 0.0)
    assert settle_lots(lots, 9000.0, expiry, warning) == ([(30.0, 11_000.0)], 0.0)
    assert settle_lots(lots, 10_999.0, expiry, warning) == ([], 0.0)  # warned once only
    assert settle_lots(lots, 11_000.0, expiry, warning) == ([], 30.0)
    assert lots == [[5000.0, 8.0]]


def test_expiry_drops_the_balance_and_warns_before() -> None:
    loyalty = Loyalty(multipliers={}, expiry_s=100 * DAY, warning_s=14 * DAY)
    state = CustomerState(balance=50.0, lots=[[NOW, 30.0], [NOW + DAY, 20.0]])
    assert loyalty.refresh(state, NOW) == []
    assert state.timers == {NEXT_CHANGE: NOW + 86 * DAY}
    [warning] = loyalty.refresh(state, NOW + 86 * DAY)
    assert warning.name == "points_expiring"
    assert warning.vars == {"points": 30, "expires_at": "2027-04-25T08:00:00.000+00:00"}
    assert state.timers == {NEXT_CHANGE: NOW + 87 * DAY}  # the second lot's warning
    loyalty.refresh(state, NOW + 87 * DAY)
    assert loyalty.refresh(state, NOW + 100 * DAY) == []
    assert state.balance == 20.0 and state.lots == [[NOW + DAY, 20.0, 1.0]]
    loyalty.refresh(state, NOW + 101 * DAY)
    assert state.balance == 0.0 and state.lots == [] and state.timers == {}


def test_a_customer_never_scored_accrues_at_the_tier_of_its_history() -> None:
    """Loyalty switched on for a customer with history: its first receipt earns at the
    tier its spend of the window holds, not at the lowest."""
    state = _bought((100, 30000))
    assert state.tier is None
    assert LOYALTY.accrual_percent(state, NOW) == Decimal(5)  # silver: 30000 in 365 days
    assert LOYALTY.accrual_percent(CustomerState(), NOW) == Decimal(3)
    assert Loyalty().accrual_percent(state, NOW) is None  # no tiers: the flat percent


def _receipt(total: float, lines: list[tuple[str, float]], **fields: object) -> Receipt:
    raw = receipt(
        "e1",
        "C1",
        total,
        lines=[{"sku": c, "category": c, "qty": 1, "price": a, "amount": a} for c, a in lines],
        **fields,
    )
    parsed = parse_event(orjson.dumps(raw))
    assert isinstance(parsed, Receipt)
    return parsed


def test_accrual_by_lines_with_category_multipliers_rounded_down_once() -> None:
    times = {"электроника": Decimal(2), "подарки": Decimal("0.5")}
    mixed = _receipt(1000, [("электроника", 333.33), ("подарки", 100), ("молочка", 566.67)])
    # (666.66 + 50 + 566.67) * 5 % = 64.1665: one floor of the sum, not one per line
    assert bonus_of(mixed, Decimal(5), times) == (64.0, 0.0, None)
    assert bonus_of(_receipt(999, []), Decimal(5), times) == (49.0, 0.0, None)  # the total
    assert bonus_of(mixed, Decimal(5)) == (50.0, 0.0, None)  # no loyalty: 5 % of the total
    pos = _receipt(1000, [("электроника", 1000)], bonus={"earned": 7, "spent": 3, "balance": 4})
    assert bonus_of(pos, Decimal(5), times) == (7, 3, 4)  # the POS wins


def test_a_return_takes_back_what_its_lines_earn_from_the_newest_lots() -> None:
    state = CustomerState()
    first = _receipt(1000, [("электроника", 1000)])
    apply_bonus(state, first, NOW, Decimal(5), {"электроника": Decimal(2)}, expiring=True)
    later = _receipt(400, [("молочка", 400)], ts="2027-01-16T10:00:00+03:00")
    apply_bonus(state, later, NOW + 2 * DAY, Decimal(5), {}, expiring=True)
    assert state.balance == 120 and state.lots == [[NOW, 100], [NOW + 2 * DAY, 20]]
    back = _receipt(600, [("электроника", 300)], type="return")
    apply_bonus(state, back, NOW + 3 * DAY, Decimal(5), {"электроника": Decimal(2)}, True)
    assert state.balance == 90 and state.lots == [[NOW, 90]]  # 30 back: 20 newest, then 10


@pytest.mark.parametrize(
    ("names", "watched"),
    [
        ({"first_name", "offer", "receipt"}, set()),
        ({"segment"}, {"segment_changed"}),
        ({"rfm", "tier"}, {"segment_changed", "tier_changed"}),
        ({"tier_changed", "points_expiring"}, {"tier_changed", "points_expiring"}),
    ],
)
def test_what_a_programme_watches(names: set[str], watched: set[str]) -> None:
    assert watched_by(names) == watched


def test_the_programme_decides_what_is_timed() -> None:
    """The built-in scenarios read no standing; a scenario showing the contract's vars
    reads the segment and tier; a where on the tier watches the tier only."""
    loyalty = {
        "segments": {"rfm": {}},
        "loyalty": {"tiers": [{"name": "base", "from_spend": 0, "accrual_percent": 3}]},
    }
    builtins = Rules(loyalty=rules({}, **loyalty).loyalty)
    assert builtins.loyalty.watched == frozenset()
    step = {"id": "s1", "template": "t"}
    shows = {"entry": {"on": "purchase"}, "steps": [step]}
    assert rules({"s": shows}, **loyalty).loyalty.watched == {"segment_changed", "tier_changed"}
    asks = {
        "entry": {"on": "purchase", "where": {"tier": "base"}},
        "steps": [step],
        "notice_vars": ["first_name"],
    }
    assert rules({"s": asks}, **loyalty).loyalty.watched == {"tier_changed"}


def test_an_unwatched_segment_waits_for_the_next_refresh() -> None:
    """Nobody observes the segment: no timer at its recency bounds (a lot's expiry is
    still timed, the balance drops; its warning is not); the next refresh scores anew,
    and accrual reads the tier of the history, not the one last scored."""
    loyalty = replace(LOYALTY, expiry_s=100 * DAY, watched=frozenset())
    state = _bought((10, 3000))
    state.lots = [[NOW - 10 * DAY, 90.0]]
    loyalty.refresh(state, NOW)
    assert (state.rfm, state.timers) == ("511", {NEXT_CHANGE: NOW + 90 * DAY})
    loyalty.refresh(state, NOW + 30 * DAY)
    assert state.rfm == "311"
    state.tier = "gold"  # as if scored before purchases left the window
    assert loyalty.accrual_percent(state, NOW) == Decimal(3)
    timed = replace(loyalty, watched=frozenset({"segment_changed"}))
    timed.refresh(state, NOW + 30 * DAY)
    assert state.timers == {NEXT_CHANGE: NOW + 80 * DAY}  # R 3 -> 2 at 90 days

"""RFM scores and segments, tiers, the next change of a customer's standing, accrual by
tier and category, and expiring lots (contract: "Segments and loyalty")."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.events import receipt
from tests.triggers.driver import Customer, rules
from triggers.bonus import apply_bonus, bonus_of
from triggers.customer import DAY, CustomerState, record_purchase
from triggers.events import Receipt, epoch_of, parse_event
from triggers.points import accrue, cap_to_balance, settle_lots, spend_oldest, take_newest
from triggers.rfm import RfmBounds, ascending_score, recency_score, segment_of
from triggers.rfm_quantiles import DailyBounds
from triggers.standing import NEXT_CHANGE, Loyalty
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


def test_returns_beyond_the_windows_purchases_hold_the_tier_of_no_spend() -> None:
    """A return of a purchase older than the window leaves its spend below zero: the
    customer holds base and earns at its percent, not the flat one of no tiers."""
    returned = _bought((0.5, -1000))
    assert LOYALTY.scores(returned, NOW)[1] == "base"
    assert LOYALTY.accrual_percent(returned, NOW) == Decimal(3)


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
    """The standing the timer waits for: the segment and the tier (not each RFM digit)."""
    loyalty = Loyalty(rfm=BOUNDS, tiers=TIERS, tier_window_s=tier_window_days * DAY)
    state = _bought(*sorted(purchases, key=lambda p: -p[0]))

    def standing(at: float) -> tuple[str | None, str | None]:
        code, tier = loyalty.scores(state, at)
        return segment_of(code), tier

    current = standing(NOW)
    change = loyalty.next_change(state, NOW)
    moments = _special_moments(state, loyalty, NOW)
    if change is None:
        assert all(standing(m) == current for m in moments)
        return
    assert change > NOW
    assert standing(change) != current
    assert standing(change - 0.001) == current
    for moment in moments:
        if moment < change:
            assert standing(moment) == current


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


def test_accrual_lots_by_time_and_spend_oldest_first() -> None:
    lots: list[list[float]] = []
    day = 20_000 * DAY
    accrue(lots, 10, day + 100)
    accrue(lots, 5, day + 50_000)  # the same day: a lot of its own, expiring at its time
    accrue(lots, 20, day + DAY + 1)
    accrue(lots, 0, day + 2 * DAY)  # nothing earned: no lot
    accrue(lots, 1, day + 50_000)  # the very same time: the same lot
    accrue(lots, 2, day + 200)  # a late receipt: in its place
    assert lots == [[day + 100, 10], [day + 200, 2], [day + 50_000, 6], [day + DAY + 1, 20]]
    spend_oldest(lots, 21)
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
    lots = [[NOW, 30.0], [NOW + DAY, 20.0]]
    state = CustomerState(balance=50.0, lots=lots, timezone="Pacific/Honolulu")
    assert loyalty.refresh(state, NOW) == []
    assert state.timers == {NEXT_CHANGE: NOW + 86 * DAY}
    [warning] = loyalty.refresh(state, NOW + 86 * DAY)
    assert warning.name == "points_expiring"
    assert warning.vars == {
        "points": 30,
        "expires_at": "2027-04-25T08:00:00.000+00:00",
        "expires_on": "2027-04-24",  # 22:00 in Honolulu
    }
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


amount = st.one_of(
    st.integers(min_value=1, max_value=10**7).map(lambda kopecks: kopecks / 100),
    st.floats(min_value=0.001, max_value=10**5, allow_nan=False),  # finer than kopecks
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), amount), min_size=1, max_size=8))
@example([("c", 39.999)])  # 1.99995 earns 1; as 40.00 it would earn 2
def test_accrual_by_lines_is_the_exact_decimal_sum(lines: list[tuple[str, float]]) -> None:
    """Kopecks added as integers give what each line's exact decimal would."""
    times = {"a": Decimal(2), "b": Decimal("0.35")}
    exact = sum(
        (Decimal(repr(a)) * times.get(c, Decimal(1)) * 5 / 100 for c, a in lines), Decimal(0)
    )
    parsed = _receipt(round(sum(a for _c, a in lines), 2), lines)
    assert bonus_of(parsed, Decimal(5), times)[0] == float(int(exact))


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


def test_the_timer_waits_for_the_segment_not_each_digit() -> None:
    """At risk (R 2, F 3) stays at risk when R drops to 1: no wake-up at 180 days; the
    code is scored anew at the next refresh."""
    state = _bought((100, 3000), (101, 3000), (102, 3000), (103, 3000))
    LOYALTY.refresh(state, NOW)
    assert (state.rfm, segment_of(state.rfm)) == ("232", "at_risk")
    assert state.timers[NEXT_CHANGE] == NOW + (365 - 103) * DAY  # F 3 -> 2: hibernating
    LOYALTY.refresh(state, NOW + 100 * DAY)
    assert state.rfm == "132"


LOYAL_PROGRAMME = {
    "segments": {"rfm": {}},
    "loyalty": {
        "tiers": [
            {"name": "base", "from_spend": 0, "accrual_percent": 3},
            {"name": "gold", "from_spend": 1000, "accrual_percent": 7},
        ]
    },
}
SHOWS_NAME = {"notice_vars": ["first_name"]}


def _customer_who_bought(scenarios: dict[str, object]) -> Customer:
    customer = Customer(rules(scenarios, **LOYAL_PROGRAMME))
    contacts = {"contacts": {"phone": "+79990000000"}, "consents": {"sms": True}}
    customer.event("customer", "2027-01-01T00:00:00Z", first_name="A", **contacts)
    customer.event("receipt", "2027-01-01T10:00:00Z", total=1500.0)
    return customer


def test_a_scenario_added_later_finds_every_segment_and_tier_timed() -> None:
    """What is timed follows the configuration, not the scenarios: with the built-ins
    only, the customer's segment and tier still wait on the timer, so a `lost` chain or
    a tier-down notice added later fires at the exact moment, with no further event."""
    customer = _customer_who_bought({})
    assert NEXT_CHANGE in customer.state.timers
    lost = {"entry": {"on": "segment_changed", "where": {"to": "hibernating"}}}
    down = {"entry": {"on": "tier_changed", "where": {"direction": "down"}}}
    customer.rules = rules(
        {
            "lost": {**lost, **SHOWS_NAME, "steps": [{"id": "offer", "template": "win_back"}]},
            "down": {**down, **SHOWS_NAME, "steps": [{"id": "sorry", "template": "t"}]},
        },
        **LOYAL_PROGRAMME,
    )
    sent = customer.until("2028-06-01T00:00:00Z")
    assert [(s.trigger, s.due) for s in sent] == [
        ("lost", epoch_of("2027-01-01T10:00:00Z") + 90 * DAY),  # R 3 -> 2, F 1
        ("down", epoch_of("2027-01-01T10:00:00Z") + 365 * DAY),
    ]


@pytest.mark.parametrize("profile_first", [True, False])
def test_a_first_receipt_that_crosses_a_tier_is_a_change_whatever_came_first(
    profile_first: bool,
) -> None:
    """The customer held base before it (the receipt earns at base's percent), with or
    without a profile before: base -> gold is a change, both ways."""
    up = {"entry": {"on": "tier_changed"}, "steps": [{"id": "s", "template": "t"}]}
    customer = Customer(rules({"up": up}, **LOYAL_PROGRAMME))
    if profile_first:
        customer.event("customer", "2027-01-01T00:00:00Z", first_name="A")
    sent = customer.event("receipt", "2027-01-01T10:00:00Z", total=1500.0)
    [moved] = [candidate for candidate in sent if candidate.trigger == "up"]
    assert (moved.vars["from"], moved.vars["to"]) == ("base", "gold")
    assert customer.state.tier == "gold"


def test_a_condition_on_the_code_sees_it_at_the_moment_of_the_check() -> None:
    """No timer waits for M or for R within a segment (R 2 -> 1 at 180 days keeps F 1
    hibernating); a scenario comparing `rfm` scores it anew at each check."""
    asks = {"entry": {"on": "login", "where": {"rfm": "111"}}, **SHOWS_NAME}
    customer = _customer_who_bought({"asks": {**asks, "steps": [{"id": "s", "template": "t"}]}})
    assert customer.event("login", "2027-06-25T00:00:00Z") == []  # 175 days: still 211
    [sent] = customer.event("login", "2027-07-05T00:00:00Z")
    assert sent.trigger == "asks"
    assert customer.state.rfm == "111"


def test_a_step_on_the_code_sees_it_when_it_falls_due() -> None:
    """The step's timer brings the standing to its due time before its `if`."""
    step = {"id": "later", "after": "185d", "if": {"rfm": "111"}, "template": "t"}
    chain = {"entry": {"on": "purchase"}, **SHOWS_NAME, "steps": [step]}
    customer = _customer_who_bought({"chain": chain})
    [sent] = customer.until("2027-12-01T00:00:00Z")
    assert (sent.trigger, sent.step) == ("chain", "later")


def test_quantile_recency_holds_all_day_and_moves_with_the_next_bounds() -> None:
    """With the day's quintiles R is measured from the day's start, so it does not slide
    during the day (no timer waits for it); the next day's bounds re-score it."""
    daily = DailyBounds(BOUNDS)
    day_start = NOW // DAY * DAY
    daily.taken(day_start, BOUNDS)
    loyalty = Loyalty(rfm=BOUNDS, daily=daily)
    state = CustomerState()
    bought_at = day_start - 14 * DAY + 3600  # 14 days ago at 01:00: R 4 from then on
    record_purchase(state, 100.0, (), bought_at, 1)
    loyalty.refresh(state, day_start + 7200)
    assert state.rfm == "511"
    assert state.timers == {NEXT_CHANGE: bought_at + 365 * DAY}  # F: it leaves the window
    daily.taken(day_start + DAY, BOUNDS)
    assert loyalty.scores(state, day_start + DAY + 1) == ("411", None)
    assert daily.next_day_at == day_start + 2 * DAY

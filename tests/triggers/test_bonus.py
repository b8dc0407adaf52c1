from __future__ import annotations

from decimal import Decimal

import orjson
from hypothesis import given
from hypothesis import strategies as st

from tests.events import customer, receipt
from triggers.customer import DAY, CustomerState, purchase_totals
from triggers.engine import Rules, apply_event
from triggers.events import epoch_of, parse_event

RULES = Rules()


def apply(state: CustomerState, event: dict) -> list:
    parsed = parse_event(orjson.dumps(event))
    return apply_event(state, parsed, epoch_of(event["ts"]), RULES)  # type: ignore[arg-type]


def test_receipt_without_bonus_accrues_five_percent_rounded_down() -> None:
    state = CustomerState()
    [notice] = apply(state, receipt("e1", "C1", 1999.99))
    assert notice.vars["earned"] == 99 and notice.vars["spent"] == 0
    assert notice.vars["balance"] == 99
    assert state.balance == 99


def test_accrual_is_exact_for_decimal_totals() -> None:
    # 0.05 * 140 is 7.000000000000001 in floats and 0.05 * 60 rounds badly the other way
    state = CustomerState()
    for n, total in enumerate((140.0, 60.0, 19.9)):
        apply(state, receipt(f"e{n}", "C1", total))
    assert state.balance == 7 + 3 + 0


def test_pos_bonus_and_balance_win() -> None:
    state = CustomerState(balance=10)
    [notice] = apply(
        state, receipt("e1", "C1", 500, bonus={"earned": 25, "spent": 100, "balance": 840})
    )
    assert (notice.vars["earned"], notice.vars["spent"], notice.vars["balance"]) == (25, 100, 840)
    assert state.balance == 840


def test_running_balance_without_pos_balance() -> None:
    state = CustomerState(balance=200)
    [notice] = apply(state, receipt("e1", "C1", 500, bonus={"earned": 25, "spent": 100}))
    assert notice.vars["balance"] == 125


def test_no_notice_when_nothing_earned_or_spent() -> None:
    state = CustomerState()
    assert apply(state, receipt("e1", "C1", 10)) == []  # 5 % of 10 is 0.5 -> 0
    assert apply(state, receipt("e2", "C1", 0, lines=[])) == []


def test_return_reverses_bonus_and_spend_without_notice() -> None:
    state = CustomerState()
    apply(state, receipt("e1", "C1", 1000))
    assert apply(state, receipt("e2", "C1", 1000, type="return")) == []
    assert state.balance == 0
    now = epoch_of("2026-11-22T12:00:00+03:00")
    assert purchase_totals(state, now, 30) == (0, 0.0)


def test_notice_fields_follow_the_contract() -> None:
    state = CustomerState()
    apply(state, customer("C1", first_name="Анна"))
    [notice] = apply(state, receipt("e1", "C1", 1000))
    assert notice.trigger == "bonus_earned" and notice.kind == "transactional"
    assert notice.caused_by == "e1"
    assert notice.event_ts == notice.due_ts == "2026-11-22T10:15:03.120+03:00"
    assert notice.vars["first_name"] == "Анна"
    same = CustomerState()
    apply(same, customer("C1", first_name="Анна"))
    assert apply(same, receipt("e1", "C1", 1000))[0].notice_id == notice.notice_id


def test_switched_off_trigger_still_keeps_the_balance() -> None:
    state = CustomerState()
    parsed = parse_event(orjson.dumps(receipt("e1", "C1", 1000)))
    rules = Rules(accrual_percent=Decimal(10), bonus_template=None)
    assert apply_event(state, parsed, 0.0, rules) == []  # type: ignore[arg-type]
    assert state.balance == 100


def test_rolling_aggregates_are_exact_half_open_windows() -> None:
    state = CustomerState()
    apply(state, receipt("old", "C1", 100, ts="2026-01-10T12:00:00+03:00"))
    apply(state, receipt("mid", "C1", 200, ts="2026-10-01T12:00:00+03:00"))
    apply(state, receipt("new", "C1", 300, ts="2026-11-20T12:00:00+03:00"))
    now = epoch_of("2026-11-22T12:00:00+03:00")
    assert purchase_totals(state, now, 30) == (1, 300.0)
    assert purchase_totals(state, now, 90) == (2, 500.0)
    assert purchase_totals(state, now, 365) == (3, 600.0)
    mid = epoch_of("2026-10-01T12:00:00+03:00")
    assert purchase_totals(state, mid + 90 * DAY - 0.001, 90) == (2, 500.0)
    assert purchase_totals(state, mid + 90 * DAY, 90) == (1, 300.0)  # left at exactly +90 d
    assert state.last_purchase_at == epoch_of("2026-11-20T12:00:00+03:00")
    assert state.category_spend == {"dairy": 600.0}


bonus = st.fixed_dictionaries({"earned": st.integers(0, 500), "spent": st.integers(0, 500)})


@given(st.lists(st.tuples(st.integers(1, 10_000), st.one_of(st.none(), bonus)), max_size=30))
def test_balance_is_the_sum_of_earned_minus_spent(receipts: list) -> None:
    state = CustomerState()
    expected = 0
    for n, (total, pos_bonus) in enumerate(receipts):
        event = receipt(f"e{n}", "C1", float(total))
        if pos_bonus is None:
            expected += total * 5 // 100
        else:
            event["bonus"] = pos_bonus
            expected += pos_bonus["earned"] - pos_bonus["spent"]
        apply(state, event)
    assert state.balance == expected

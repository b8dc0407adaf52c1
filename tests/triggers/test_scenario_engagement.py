"""Engagement: delivery receipts reach the step of the customer's notice they are about."""

from __future__ import annotations

from tests.triggers.driver import Customer, rules
from triggers.notices import Anomaly
from triggers.scenarios.instances import Instance

STEPS = [
    {"id": "d1", "template": "t"},
    {"id": "d2", "after": "1d", "if": {"opened": "d1"}, "template": "t"},
    {"id": "d3", "after": "2d", "if": {"clicked": "d2"}, "template": "t"},
]
WELCOME = {"welcome": {"entry": {"on": "registered"}, "steps": STEPS}}
REGISTER = {"registered_at": "2026-11-22T10:00:00+03:00"}


def delivery(customer: Customer, notice_id: str, status: str, ts: str) -> list:
    return customer.event("delivery", ts, notice_id=notice_id, channel="push", status=status)


def test_receipts_mark_the_step_and_conditions_read_them() -> None:
    customer = Customer(rules(WELCOME))
    [d1] = customer.event("customer", "2026-11-22T10:00:00+03:00", **REGISTER)
    delivery(customer, d1.notice_id, "delivered", "2026-11-22T10:01:00+03:00")
    delivery(customer, d1.notice_id, "opened", "2026-11-22T11:00:00+03:00")
    [d2] = customer.until("2026-11-23T10:00:00+03:00")
    assert d2.step == "d2"
    instance = Instance(customer.state.instances["welcome"])
    assert instance.outcomes[0][:2] == ["d1", "sdo"]
    customer.until("2026-11-25T00:00:00+03:00")  # d2 not clicked: d3 skipped
    assert [n.step for n in customer.sent] == ["d1", "d2"]
    assert Instance(customer.state.instances["welcome"]).outcomes[-1][:2] == ["d3", "k"]


def test_a_click_implies_the_opening_and_the_delivery() -> None:
    customer = Customer(rules(WELCOME))
    [d1] = customer.event("customer", "2026-11-22T10:00:00+03:00", **REGISTER)
    delivery(customer, d1.notice_id, "clicked", "2026-11-22T10:05:00+03:00")
    assert Instance(customer.state.instances["welcome"]).steps_with("o") == {"d1"}


def test_receipts_are_trigger_events() -> None:
    scenarios = {
        **WELCOME,
        "rescue": {
            "entry": {"on": "delivery_failed", "where": {"scenario": "welcome"}},
            "reentry_days": 0,
            "steps": [{"id": "sms", "channels": ["sms"], "template": "t"}],
        },
    }
    customer = Customer(rules(scenarios))
    [d1] = customer.event("customer", "2026-11-22T10:00:00+03:00", **REGISTER)
    [rescue] = delivery(customer, d1.notice_id, "failed", "2026-11-22T10:01:00+03:00")
    assert rescue.trigger == "rescue" and rescue.caused_by.startswith("e")


def test_a_receipt_for_an_unknown_notice_changes_nothing_and_is_counted() -> None:
    from triggers.engine import apply_event
    from triggers.events import parse_event

    customer = Customer(rules(WELCOME))
    customer.event("customer", "2026-11-22T10:00:00+03:00", **REGISTER)
    before = [list(o) for o in Instance(customer.state.instances["welcome"]).outcomes]
    event = parse_event(
        b'{"event_id": "d9", "type": "delivery", "ts": "2026-11-22T10:01:00+03:00", '
        b'"notice_id": "not-ours", "customer_id": "C1", "channel": "push", "status": "opened"}'
    )
    assert apply_event(customer.state, event, 0.0, customer.rules) == [Anomaly("unknown_notice")]  # type: ignore[arg-type]
    assert Instance(customer.state.instances["welcome"]).outcomes == before


def test_an_ended_instance_stays_whole_for_its_attribution_days_then_is_tidied() -> None:
    once = {"welcome": {**WELCOME["welcome"], "attribution_days": 2}}  # never again
    again = {"welcome": {**once["welcome"], "reentry_days": 0}}
    for scenarios in (once, again):
        customer = Customer(rules(scenarios))
        [d1] = customer.event("customer", "2026-11-22T10:00:00+03:00", **REGISTER)
        customer.until("2026-11-25T00:00:00+03:00")  # d3 decided on the 24th: ended
        assert Instance(customer.state.instances["welcome"]).ended == "done"
        delivery(customer, d1.notice_id, "opened", "2026-11-25T09:00:00+03:00")  # late
        assert Instance(customer.state.instances["welcome"]).outcomes[0][:2] == ["d1", "sdo"]
        customer.until("2026-11-26T11:00:00+03:00")  # two days after the end
        kept = customer.state.instances.get("welcome")
        if scenarios is again:  # nothing reads it any more
            assert kept is None
        else:  # only what "never again" reads
            assert kept is not None and Instance(kept).ended == "done"
            assert Instance(kept).outcomes == [] and Instance(kept).entry_id == "e1"
            assert not customer.state.timers
            assert delivery(customer, d1.notice_id, "opened", "2026-11-26T12:00:00+03:00") == []
            assert customer.event("customer", "2026-11-27T10:00:00+03:00", **REGISTER) == []

"""Attribution: a purchase within ``attribution_days`` after an instance's notice (or a
control customer's step that would have sent) converts the instance, once."""

from __future__ import annotations

from tests.triggers.driver import Customer, rules
from triggers.notices import Converted
from triggers.scenarios.experiments import Experiment
from triggers.scenarios.instances import Instance

NUDGE = [{"id": "nudge", "after": "1d", "template": "t"}]
CHAIN = [
    {"id": "d1", "after": "1d", "template": "t"},
    {"id": "d2", "after": "3d", "template": "t"},
]


def nudge(steps: list | None = None, **keys: object) -> dict:
    """Entered by a login, sent a day later (a purchase is then what it tries to cause)."""
    return {"nudge": {"entry": {"on": "login"}, "steps": steps or NUDGE, **keys}}


def test_a_purchase_at_the_end_of_the_window_converts_a_moment_later_does_not() -> None:
    inside, outside = Customer(rules(nudge())), Customer(rules(nudge()))
    for customer in (inside, outside):
        customer.event("login", "2026-11-01T10:00:00+03:00")
        customer.until("2026-11-02T10:00:00+03:00")  # the notice
    inside.event("receipt", "2026-11-09T10:00:00+03:00", total=250.5)  # exactly 7 days on
    outside.event("receipt", "2026-11-09T10:00:00.001+03:00")
    assert inside.converted == [Converted("nudge", "nudge", None, False, 250.5)]
    assert outside.converted == []


def test_a_purchase_before_the_first_notice_converts_nothing() -> None:
    customer = Customer(rules(nudge()))
    customer.event("login", "2026-11-01T10:00:00+03:00")
    customer.event("receipt", "2026-11-01T12:00:00+03:00")  # before the notice
    customer.until("2026-11-02T10:00:00+03:00")
    assert customer.converted == []


def test_an_instance_converts_once_at_its_first_purchase_on_its_latest_notice() -> None:
    customer = Customer(rules(nudge(CHAIN)))
    customer.event("login", "2026-11-01T10:00:00+03:00")
    customer.until("2026-11-04T12:00:00+03:00")  # d1 on the 2nd, d2 on the 4th
    customer.event("receipt", "2026-11-05T10:00:00+03:00", total=100.0)
    customer.event("receipt", "2026-11-06T10:00:00+03:00", total=900.0)
    assert customer.converted == [Converted("nudge", "d2", None, False, 100.0)]


def test_one_purchase_converts_instances_of_two_scenarios_independently() -> None:
    both = {**nudge(), "other": {"entry": {"on": "login"}, "steps": NUDGE}}
    customer = Customer(rules(both))
    customer.event("login", "2026-11-01T10:00:00+03:00")
    customer.until("2026-11-02T10:00:00+03:00")
    customer.event("receipt", "2026-11-03T10:00:00+03:00")
    assert sorted(c.trigger for c in customer.converted) == ["nudge", "other"]


def test_the_next_instance_converts_again_and_the_one_it_replaced_keeps_its_window() -> None:
    customer = Customer(rules(nudge(restart=True, reentry_days=0)))
    customer.event("login", "2026-11-01T10:00:00+03:00")
    customer.until("2026-11-02T10:00:00+03:00")  # the first instance's notice
    customer.event("login", "2026-11-02T12:00:00+03:00")  # a second instance, no notice yet
    customer.event("receipt", "2026-11-02T13:00:00+03:00")  # the first one's conversion
    customer.until("2026-11-03T12:00:00+03:00")  # the second's notice
    customer.event("receipt", "2026-11-04T10:00:00+03:00")  # the second's conversion
    customer.event("receipt", "2026-11-05T10:00:00+03:00")  # nothing left to convert
    assert len(customer.converted) == 2


def test_one_purchase_converts_every_instance_whose_window_it_falls_in() -> None:
    """Each instance converts at its first purchase within its window: the replaced ones
    too, at the same purchase as their successor (three instances, three conversions)."""
    customer = Customer(rules(nudge(restart=True, reentry_days=0)))
    for day in ("01", "02", "03"):
        customer.event("login", f"2026-11-{day}T12:00:00+03:00")  # restarts the one before
        customer.until(f"2026-11-{int(day) + 1:02d}T12:00:00+03:00")  # its notice
    customer.event("receipt", "2026-11-05T10:00:00+03:00", total=100.0)
    customer.event("receipt", "2026-11-05T11:00:00+03:00", total=50.0)  # nothing left
    assert [(c.step, c.revenue) for c in customer.converted] == [("nudge", 100.0)] * 3


def test_a_replaced_window_closed_at_the_next_entry_is_let_go() -> None:
    customer = Customer(rules(nudge(restart=True, reentry_days=0, attribution_days=1)))
    customer.event("login", "2026-11-01T10:00:00+03:00")
    customer.until("2026-11-02T10:00:00+03:00")  # the notice; its window ends on the 3rd
    customer.event("login", "2026-11-04T10:00:00+03:00")  # re-entry: nothing to carry
    assert "pw" not in customer.state.instances["nudge"][-1]
    customer.until("2026-11-05T10:00:00+03:00")
    customer.event("receipt", "2026-11-05T12:00:00+03:00")
    assert len(customer.converted) == 1


def test_a_purchase_that_restarts_a_chain_converts_the_instance_it_ends() -> None:
    retention = {
        "retention": {
            "entry": {"on": "purchase"},
            "restart": True,
            "reentry_days": 0,
            "steps": [{"id": "d30", "after": "30d", "template": "t"}],
        }
    }
    customer = Customer(rules(retention))
    customer.event("receipt", "2026-10-01T10:00:00+03:00")
    customer.until("2026-10-31T10:00:00+03:00")  # the 30-day message
    customer.event("receipt", "2026-11-02T10:00:00+03:00", total=700.0)
    assert customer.converted == [Converted("retention", "d30", None, False, 700.0)]


def test_a_control_customer_converts_after_the_step_that_would_have_sent() -> None:
    made = Experiment.of("nudge", [], 50, 0)
    assert made is not None
    cid = next(f"C{i}" for i in range(1000) if made.assign(f"C{i}").control)
    customer = Customer(rules(nudge(control_percent=50)), customer_id=cid)
    customer.event("login", "2026-11-01T10:00:00+03:00")
    customer.until("2026-11-02T10:00:00+03:00")
    customer.event("receipt", "2026-11-03T10:00:00+03:00", total=80.0)
    assert customer.sent == []
    assert customer.converted == [Converted("nudge", "nudge", None, True, 80.0)]


def test_a_return_converts_nothing_and_no_window_means_no_attribution() -> None:
    customer = Customer(rules(nudge(attribution_days=0)))
    customer.event("login", "2026-11-01T10:00:00+03:00")
    customer.until("2026-11-02T10:00:00+03:00")
    customer.event("receipt", "2026-11-03T10:00:00+03:00")
    returned = Customer(rules(nudge()))
    returned.event("login", "2026-11-01T10:00:00+03:00")
    returned.until("2026-11-02T10:00:00+03:00")
    returned.event("return", "2026-11-03T10:00:00+03:00")
    assert customer.converted == returned.converted == []


def test_a_transactional_notice_converts_nothing_and_keeps_its_receipts() -> None:
    scenarios = {
        "bonus_earned": {"enabled": True},
        "rescue": {  # reads the delivery receipts of the bonus message
            "kind": "transactional",
            "entry": {"on": "delivery_failed", "where": {"scenario": "bonus_earned"}},
            "reentry_days": 0,
            "steps": [{"id": "sms", "channels": ["sms"], "template": "t"}],
        },
    }
    customer = Customer(rules(scenarios))
    customer.event("customer", "2026-11-22T10:00:00+03:00", contacts={"phone": "+79990000000"})
    [bonus] = customer.event("receipt", "2026-11-22T11:00:00+03:00", total=1000.0)
    failed = customer.event(
        "delivery",
        "2026-11-22T11:05:00+03:00",
        notice_id=bonus.notice_id,
        channel="sms",
        status="failed",
    )
    assert [n.trigger for n in failed] == ["rescue"]
    customer.event("receipt", "2026-11-23T11:00:00+03:00", total=500.0)
    assert customer.converted == []


def test_a_window_carried_in_the_earlier_format_still_converts() -> None:
    """Documents kept before several windows were carried hold one ``[at, step]``."""
    instance = Instance.start("e1", 1000.0, "ts", "nudge")
    instance.extra["pw"] = [900.0, "d2"]
    assert instance.may_convert() and instance.carried == [[900.0, "d2"]]
    assert instance.convert(1100.0, 7 * 86_400) == ["d2"]
    assert "pw" not in instance.extra and not instance.may_convert()

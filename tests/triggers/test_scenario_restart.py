"""Restart and re-entry: at most one running instance per scenario and customer."""

from __future__ import annotations

from tests.triggers.driver import Customer, rules
from triggers.scenarios.instances import Instance

LATER = [{"id": "a", "after": "1d", "template": "t"}, {"id": "b", "after": "2d", "template": "t"}]


def chain(**keys: object) -> dict:
    return {"chain": {"entry": {"on": "purchase"}, "steps": LATER, **keys}}


def test_a_new_entry_while_an_instance_runs_is_ignored_without_restart() -> None:
    customer = Customer(rules(chain(reentry_days=0)))
    customer.event("receipt", "2026-11-01T10:00:00+03:00")
    customer.event("receipt", "2026-11-01T20:00:00+03:00")  # ignored: one instance runs
    sent = customer.until("2026-11-10T00:00:00+03:00")
    assert [(n.step, n.caused_by) for n in sent] == [("a", "e1"), ("b", "e1")]


def test_restart_ends_the_running_instance_and_starts_anew() -> None:
    customer = Customer(rules(chain(restart=True)))
    customer.event("receipt", "2026-11-01T10:00:00+03:00")
    customer.event("receipt", "2026-11-02T12:00:00+03:00")  # after step a of the first
    customer.until("2026-11-10T00:00:00+03:00")
    assert [(n.step, n.caused_by) for n in customer.sent] == [("a", "e1"), ("a", "e2"), ("b", "e2")]
    assert [n.reason for n in customer.notes if hasattr(n, "reason")] == ["restart"]


def test_an_older_entry_event_does_not_restart_a_newer_instance() -> None:
    customer = Customer(rules(chain(restart=True)))
    customer.event("receipt", "2026-11-01T10:00:00+03:00")
    customer.event("receipt", "2026-10-31T10:00:00+03:00")  # late
    customer.until("2026-11-10T00:00:00+03:00")
    assert {n.caused_by for n in customer.sent} == {"e1"}


def test_reentry_null_is_never_again() -> None:
    customer = Customer(rules(chain()))
    customer.event("receipt", "2026-11-01T10:00:00+03:00")
    customer.until("2026-11-10T00:00:00+03:00")
    customer.event("receipt", "2027-11-01T10:00:00+03:00")
    customer.until("2027-11-10T00:00:00+03:00")
    assert {n.caused_by for n in customer.sent} == {"e1"}


def test_reentry_days_counts_from_the_last_entry() -> None:
    customer = Customer(rules(chain(reentry_days=10)))
    customer.event("receipt", "2026-11-01T10:00:00+03:00")
    customer.until("2026-11-05T00:00:00+03:00")  # ended after b (3 Nov)
    customer.event("receipt", "2026-11-10T09:59:00+03:00")  # 9 days after the entry: no
    customer.event("receipt", "2026-11-11T10:00:00+03:00")  # 10 days: yes
    customer.until("2026-11-20T00:00:00+03:00")
    assert [n.caused_by for n in customer.sent] == ["e1", "e1", "e3", "e3"]


def test_reentry_zero_is_at_once_after_the_end() -> None:
    customer = Customer(rules(chain(reentry_days=0)))
    customer.event("receipt", "2026-11-01T10:00:00+03:00")
    customer.until("2026-11-04T00:00:00+03:00")
    customer.event("receipt", "2026-11-04T00:00:01+03:00")
    customer.until("2026-11-10T00:00:00+03:00")
    assert [n.caused_by for n in customer.sent] == ["e1", "e1", "e2", "e2"]


def test_an_ended_instance_is_kept_only_while_a_rule_needs_it() -> None:
    at_once = Customer(rules(chain(reentry_days=0, attribution_days=0)))  # nothing reads it
    kept = Customer(rules(chain(reentry_days=10, attribution_days=0)))  # re-entry counts
    converts = Customer(rules(chain(reentry_days=0, attribution_days=7)))  # a purchase may
    for customer in (at_once, kept, converts):
        customer.event("receipt", "2026-11-01T10:00:00+03:00")
        customer.until("2026-11-05T00:00:00+03:00")
    assert "chain" not in at_once.state.instances
    assert Instance(kept.state.instances["chain"]).ended == "done"
    assert Instance(converts.state.instances["chain"]).outcomes  # whole: its notices count
    converts.until("2026-11-10T10:00:01+03:00")  # 7 days after it ended (step b, 3 Nov)
    assert "chain" not in converts.state.instances

"""exit_on acts at once, on the event, also on a step that waits or is held."""

from __future__ import annotations

from collections.abc import Callable

from tests.triggers.driver import Customer, rules
from triggers.notices import Candidate, Decision, Emit, Exited, Hold

STEPS = [{"id": "a", "after": "1h", "template": "t"}, {"id": "b", "after": "1d", "template": "t"}]


def test_an_exit_event_ends_a_waiting_instance_at_once() -> None:
    scenario = {"entry": {"on": "cart_changed"}, "exit_on": ["purchase"], "steps": STEPS}
    customer = Customer(rules({"cart": scenario}))
    customer.event("add_to_cart", "2026-11-22T10:00:00+03:00", sku="tea", price=100.0)
    customer.event("receipt", "2026-11-22T10:30:00+03:00")
    assert customer.until("2026-11-25T00:00:00+03:00") == []
    assert customer.state.timers == {}
    [exited] = [n for n in customer.notes if hasattr(n, "reason")]
    assert (exited.trigger, exited.reason) == ("cart", "exit_on")


def test_a_late_exit_event_older_than_the_entry_ends_nothing() -> None:
    """It happened before the instance began (as `purchases_since_entry` ignores it)."""
    scenario = {"entry": {"on": "login"}, "exit_on": ["purchase"], "steps": STEPS}
    customer = Customer(rules({"back": scenario}))
    customer.event("login", "2026-11-22T10:00:00+03:00")
    customer.event("receipt", "2026-11-22T09:00:00+03:00")  # arrives late
    assert [n.step for n in customer.until("2026-11-25T00:00:00+03:00")] == ["a", "b"]


def test_exit_where_filters_the_exit_event() -> None:
    exit_on = [{"on": "purchase", "where": {"total": {"gte": 1000}}}]
    scenario = {"entry": {"on": "registered"}, "exit_on": exit_on, "steps": STEPS}
    customer = Customer(rules({"welcome": scenario}))
    customer.event(
        "customer", "2026-11-22T10:00:00+03:00", registered_at="2026-11-22T10:00:00+03:00"
    )
    customer.event("receipt", "2026-11-22T10:10:00+03:00", total=500.0)  # too small to exit
    assert [n.step for n in customer.until("2026-11-22T11:00:00+03:00")] == ["a"]
    customer.event("receipt", "2026-11-22T12:00:00+03:00", total=5000.0)
    assert customer.until("2026-11-25T00:00:00+03:00") == []


def holding_the_first(held: list[Candidate]) -> Callable[[Candidate], Decision]:
    """A policy that holds the first candidate 8 hours (into ``held``), sends the rest."""

    def quiet_once(candidate: Candidate) -> Decision:
        if not held:
            held.append(candidate)
            return Hold(candidate.due + 8 * 3600)
        return Emit(["sms"])

    return quiet_once


def test_held_then_exit_counts_the_held_notice_as_cancelled() -> None:
    held: list[Candidate] = []
    quiet_once = holding_the_first(held)
    scenario = {"entry": {"on": "cart_changed"}, "exit_on": ["purchase"], "steps": STEPS}
    customer = Customer(rules({"cart": scenario}), quiet_once)
    customer.event("add_to_cart", "2026-11-22T20:30:00+03:00", sku="tea", price=100.0)
    assert customer.until("2026-11-22T22:00:00+03:00") == [] and held  # a held to 05:30
    assert customer.state.held == ["cart"]
    customer.event("receipt", "2026-11-22T23:00:00+03:00")
    assert customer.until("2026-11-25T00:00:00+03:00") == []
    [cancelled] = customer.suppressed
    assert (cancelled.trigger, cancelled.reason) == ("cart", "quiet_hours_then_cancelled")
    assert customer.state.held == [] and customer.state.timers == {}


def test_a_purchase_cancels_a_held_step_and_the_chain_goes_on() -> None:
    """Quiet hours: a held marketing notice is "re-checked (cancelled by a purchase
    meanwhile)" at the release, also in a scenario that does not exit on purchases;
    counted, and the next step follows."""
    held: list[Candidate] = []
    quiet_once = holding_the_first(held)
    scenario = {"entry": {"on": "product_view"}, "steps": STEPS}
    customer = Customer(rules({"browse": scenario}), quiet_once)
    customer.event("product_view", "2026-11-22T20:30:00+03:00", sku="tea")
    assert customer.until("2026-11-22T22:00:00+03:00") == [] and held  # a held to 05:30
    customer.event("receipt", "2026-11-23T05:00:00+03:00")
    assert [n.step for n in customer.until("2026-11-25T00:00:00+03:00")] == ["b"]
    [cancelled] = customer.suppressed  # at the release, 05:30
    assert (cancelled.trigger, cancelled.step) == ("browse", "a")
    assert cancelled.reason == "quiet_hours_then_cancelled"


def test_a_held_step_is_checked_again_at_release() -> None:
    decisions: list[Decision] = [Hold(0.0)]

    def hold_first(candidate: Candidate) -> Decision:
        if decisions:
            decisions.pop()
            return Hold(candidate.due + 3600)
        return Emit(["sms"])

    steps = [{"id": "a", "after": "1h", "if": {"purchases_since_entry": 0}, "template": "t"}]
    scenario = {"entry": {"on": "registered"}, "steps": steps}
    customer = Customer(rules({"welcome": scenario}), hold_first)
    customer.event(
        "customer", "2026-11-22T10:00:00+03:00", registered_at="2026-11-22T10:00:00+03:00"
    )
    customer.until("2026-11-22T11:30:00+03:00")  # due at 11:00, held to 12:00
    customer.event("receipt", "2026-11-22T11:45:00+03:00")  # a purchase meanwhile
    assert customer.until("2026-11-22T13:00:00+03:00") == []
    [skipped] = [n for n in customer.notes if type(n).__name__ == "Skipped"]
    assert skipped.step == "a"


def test_an_event_that_starts_an_instance_does_not_also_end_it() -> None:
    """An online order is a purchase (the entry) and empties the cart (an exit): the exit
    acts on what ran before the order; the chain it starts goes on, its first notice
    recorded, so a later purchase converts it."""
    steps = [{"id": "a", "after": 0, "template": "t"}, {"id": "b", "after": "1d", "template": "t"}]
    scenario = {"entry": {"on": "purchase"}, "exit_on": ["cart_emptied"], "steps": steps}
    customer = Customer(rules({"thanks": scenario}))
    customer.event("add_to_cart", "2026-11-22T10:00:00+03:00", sku="tea", price=100.0)
    sent = customer.event("order", "2026-11-22T12:00:00+03:00", order_id="O1", total=100.0)
    assert [n.step for n in sent] == ["a"]
    assert [n for n in customer.notes if isinstance(n, Exited)] == []
    customer.event("receipt", "2026-11-22T14:00:00+03:00", total=500.0)
    assert [(c.step, c.revenue) for c in customer.converted] == [("a", 500.0)]
    assert [n.step for n in customer.until("2026-11-24T00:00:00+03:00")] == ["b"]


def test_an_order_ends_what_ran_before_it() -> None:
    scenario = {"entry": {"on": "cart_changed"}, "exit_on": ["cart_emptied"], "steps": STEPS}
    customer = Customer(rules({"cart": scenario}))
    customer.event("add_to_cart", "2026-11-22T10:00:00+03:00", sku="tea", price=100.0)
    customer.event("order", "2026-11-22T10:30:00+03:00", order_id="O1", total=100.0)
    assert customer.until("2026-11-25T00:00:00+03:00") == []
    [exited] = [n for n in customer.notes if isinstance(n, Exited)]
    assert exited.reason == "exit_on"

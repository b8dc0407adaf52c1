"""Entry: what starts an instance, when, and with what (pure, through the engine)."""

from __future__ import annotations

from tests.triggers.driver import Customer, rules
from triggers.events import epoch_of

STEP = {"id": "hello", "after": 0, "template": "t"}


def test_an_entry_with_an_immediate_step_sends_with_the_event() -> None:
    customer = Customer(rules({"thanks": {"entry": {"on": "purchase"}, "steps": [STEP]}}))
    [notice] = customer.event("receipt", "2026-11-22T10:00:00+03:00")
    assert notice.trigger == "thanks" and notice.step == "hello"
    assert notice.caused_by == "e1" and notice.due_ts == notice.event_ts
    assert notice.due_ts == "2026-11-22T10:00:00+03:00"  # the entry event's own ts


def test_where_filters_on_the_trigger_events_fields() -> None:
    where = {"category": "электроника", "total": {"gte": 1000}}
    customer = Customer(
        rules({"gadgets": {"entry": {"on": "purchase", "where": where}, "steps": [STEP]}})
    )
    line = {"sku": "tv", "category": "электроника", "qty": 1, "price": 1500, "amount": 1500}
    other = {**line, "category": "хлеб"}
    assert customer.event("receipt", "2026-11-22T10:00:00+03:00", total=500.0, lines=[line]) == []
    assert customer.event("receipt", "2026-11-22T10:01:00+03:00", total=1500.0, lines=[other]) == []
    assert (
        len(
            customer.event(
                "receipt", "2026-11-22T10:02:00+03:00", total=1500.0, lines=[other, line]
            )
        )
        == 1
    )


def test_registered_starts_only_within_24_hours_of_the_registration() -> None:
    welcome = rules({"welcome": {"entry": {"on": "registered"}, "steps": [STEP]}})
    fresh = Customer(welcome)
    ts = "2026-11-22T10:00:00+03:00"
    assert len(fresh.event("customer", ts, registered_at="2026-11-21T10:00:01+03:00")) == 1
    # the next profile update of the same customer is not a registration
    assert fresh.event("customer", "2026-11-23T10:00:00+03:00", registered_at=ts) == []
    imported = Customer(welcome)  # an import of long-registered customers
    assert imported.event("customer", ts, registered_at="2026-11-21T09:59:59+03:00") == []


def test_later_steps_fall_due_after_the_entry_in_order() -> None:
    steps = [STEP, {"id": "later", "after": "3d", "template": "t"}]
    customer = Customer(rules({"chain": {"entry": {"on": "purchase"}, "steps": steps}}))
    customer.event("receipt", "2026-11-22T10:00:00+03:00")
    assert customer.until("2026-11-25T09:59:59+03:00") == []
    [later] = customer.until("2026-11-25T10:00:00+03:00")
    assert later.step == "later" and later.caused_by == "e1"
    assert epoch_of(later.due_ts) == epoch_of("2026-11-25T10:00:00+03:00")
    assert later.notice_id != customer.sent[0].notice_id  # distinct per step


def test_cart_changed_is_a_cart_newer_than_the_last_purchase() -> None:
    nudge = {"id": "nudge", "after": "1h", "template": "t"}
    customer = Customer(rules({"cart": {"entry": {"on": "cart_changed"}, "steps": [nudge]}}))
    customer.event("receipt", "2026-11-22T10:00:00+03:00")
    add = {"sku": "tea", "price": 100.0}
    customer.event("add_to_cart", "2026-11-22T09:30:00+03:00", **add)  # late: before the receipt
    assert customer.until("2026-11-22T12:00:00+03:00") == []
    customer.event("add_to_cart", "2026-11-22T12:30:00+03:00", **add)
    assert [n.step for n in customer.until("2026-11-22T14:00:00+03:00")] == ["nudge"]


def test_birthday_comes_every_year_at_local_midnight_days_before() -> None:
    offer = {"id": "offer", "after": 0, "at_local": "10:00", "template": "t"}
    bday = {"entry": {"on": "birthday", "days_before": 3}, "reentry_days": 0, "steps": [offer]}
    customer = Customer(rules({"bday": bday}))
    customer.event(
        "customer", "2026-01-10T12:00:00+03:00", birthday="1990-03-05", timezone="Asia/Vladivostok"
    )
    [first] = customer.until("2026-12-31T00:00:00+03:00")
    assert first.due_ts == "2026-03-02T00:00:00.000+00:00"  # 10:00 in Vladivostok, 3 days before
    assert first.caused_by == "birthday:2026"
    [second] = customer.until("2027-12-31T00:00:00+03:00")
    assert second.caused_by == "birthday:2027" and second.notice_id != first.notice_id


def test_a_birthday_corrected_after_this_years_entry_waits_for_next_year() -> None:
    """One birthday instance a year: a second one would repeat the first's notice ids."""
    bday = {"entry": {"on": "birthday"}, "reentry_days": 0, "steps": [STEP]}
    customer = Customer(rules({"bday": bday}))
    customer.event("customer", "2026-01-10T12:00:00+00:00", birthday="1990-03-10", timezone="UTC")
    [first] = customer.until("2026-03-10T12:00:00+00:00")
    customer.event("customer", "2026-03-11T12:00:00+00:00", birthday="1990-05-10", timezone="UTC")
    [second] = customer.until("2027-12-31T00:00:00+00:00")
    assert (first.caused_by, second.caused_by) == ("birthday:2026", "birthday:2027")
    assert second.due_ts == "2027-05-10T00:00:00.000+00:00"


def test_a_birthday_a_whole_year_ahead_comes_for_new_year_birthdays_too() -> None:
    """366 days before 1 January falls on 31 December two years before: the entry after
    that one is three years on (there was none in one of them, 2027: a leap year between)."""
    bday = {"entry": {"on": "birthday", "days_before": 366}, "reentry_days": 0, "steps": [STEP]}
    customer = Customer(rules({"bday": bday}))
    customer.event("customer", "2026-06-10T12:00:00+00:00", birthday="1990-01-01", timezone="UTC")
    sent = customer.until("2030-01-01T00:00:00+00:00")
    assert [(n.caused_by, n.due_ts[:10]) for n in sent] == [
        ("birthday:2028", "2026-12-31"),
        ("birthday:2029", "2028-01-01"),
        ("birthday:2030", "2028-12-31"),
        ("birthday:2031", "2029-12-31"),
    ]


def test_a_29_february_birthday_is_on_28_february_in_other_years() -> None:
    bday = {"entry": {"on": "birthday"}, "steps": [STEP]}
    customer = Customer(rules({"bday": bday}))
    customer.event("customer", "2026-01-10T12:00:00+00:00", birthday="2000-02-29", timezone="UTC")
    [notice] = customer.until("2026-03-01T00:00:00+00:00")
    assert notice.due_ts == "2026-02-28T00:00:00.000+00:00"


def test_a_new_year_birthday_east_of_greenwich_comes_every_year() -> None:
    """1 January in Moscow starts on 31 December in UTC: each year is entered once, named
    by the birthday's own year."""
    bday = {"entry": {"on": "birthday"}, "reentry_days": 0, "steps": [STEP]}
    customer = Customer(rules({"bday": bday}))
    customer.event(
        "customer", "2026-06-10T12:00:00+03:00", birthday="1990-01-01", timezone="Europe/Moscow"
    )
    sent = customer.until("2029-06-01T00:00:00+03:00")
    assert [(n.caused_by, n.due_ts) for n in sent] == [
        (f"birthday:{year}", f"{year - 1}-12-31T21:00:00.000+00:00") for year in (2027, 2028, 2029)
    ]


def test_later_steps_see_the_entry_purchase_s_lines() -> None:
    later = {"id": "later", "after": "1h", "template": "t"}
    chain = {"entry": {"on": "purchase"}, "steps": [STEP, later]}
    customer = Customer(rules({"chain": chain}))
    lines = [
        {"sku": f"S{n}", "category": "хлеб", "qty": 1, "price": 10, "amount": 10}
        for n in range(120)
    ]
    [first] = customer.event("receipt", "2026-11-22T10:00:00+03:00", total=1200.0, lines=lines)
    [second] = customer.until("2026-11-22T12:00:00+03:00")
    assert len(first.vars["lines"]) == 120  # the step at once: all of them
    assert second.vars["lines"] == first.vars["lines"][:100]  # kept: the first 100 (bounded)
    assert second.vars["total"] == 1200

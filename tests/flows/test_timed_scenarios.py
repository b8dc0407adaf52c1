"""Issue 3 rules, scenario by scenario, through replay on event time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.backends import Backend
from tests.events import customer, receipt
from tests.scenario import add, click, of, run

PROFILE = customer(
    "C1",
    first_name="Анна",
    contacts={"push_token": "t", "phone": "+7999"},
    consents={"push": True, "sms": True},
    ts="2026-09-01T10:00:00+03:00",
)


@pytest.fixture
def replay(backend: Backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    def go(events: list, until: str | None = None, config: dict | None = None):  # type: ignore[no-untyped-def]
        return run(backend.url, tmp_path, [PROFILE, *events], until, config)

    return go


def utc(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


def test_cart_fires_60_minutes_after_the_last_change(replay) -> None:  # type: ignore[no-untyped-def]
    first = add("2026-11-20T12:00:00+03:00", qty=2)
    notices, _ = replay([first], until="2026-11-20T13:30:00+03:00")
    [cart] = of(notices, "abandoned_cart")
    assert cart["kind"] == "marketing" and cart["channels"] == ["push", "sms"]
    assert cart["caused_by"] == first["event_id"]
    assert cart["event_ts"] == "2026-11-20T12:00:00+03:00"
    assert utc(cart["due_ts"]) == utc("2026-11-20T13:00:00+03:00")
    assert cart["vars"]["lines"] == [
        {"sku": "kettle", "category": "техника", "qty": 2, "price": 1990, "amount": 3980}
    ]
    assert cart["vars"]["total"] == 3980
    assert (
        cart["text"] == "Анна, в корзине ждёт 1 товар на 3\u00a0980,00\u00a0₽. "
        "Оформите заказ, пока они в наличии."
    )


def test_cart_does_not_fire_before_its_time(replay) -> None:  # type: ignore[no-untyped-def]
    notices, _ = replay([add("2026-11-20T12:00:00+03:00")], until="2026-11-20T12:59:59+03:00")
    assert notices == []


def test_every_change_rearms(replay) -> None:  # type: ignore[no-untyped-def]
    second = add("2026-11-20T12:30:00+03:00", sku="mug", price=300)
    notices, _ = replay(
        [add("2026-11-20T12:00:00+03:00"), second], until="2026-11-20T15:00:00+03:00"
    )
    [cart] = of(notices, "abandoned_cart")
    assert cart["caused_by"] == second["event_id"]
    assert utc(cart["due_ts"]) == utc("2026-11-20T13:30:00+03:00")
    assert cart["vars"]["total"] == 2290 and cart["vars"]["items"] == 2


def test_quantities_add_up_and_removal_to_zero_drops_the_line(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        add("2026-11-20T12:00:00+03:00", qty=1),
        add("2026-11-20T12:01:00+03:00", qty=2),
        add("2026-11-20T12:02:00+03:00", sku="mug", price=300),
        click("remove_from_cart", "2026-11-20T12:03:00+03:00", sku="mug", qty=1),
    ]
    notices, _ = replay(events, until="2026-11-20T15:00:00+03:00")
    [cart] = of(notices, "abandoned_cart")
    assert [(line["sku"], line["qty"]) for line in cart["vars"]["lines"]] == [("kettle", 3)]


def test_emptied_cart_does_not_fire(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        add("2026-11-20T12:00:00+03:00", qty=2),
        click("remove_from_cart", "2026-11-20T12:05:00+03:00", sku="kettle", qty=2),
    ]
    notices, _ = replay(events, until="2026-11-20T15:00:00+03:00")
    assert of(notices, "abandoned_cart") == []


def test_store_receipt_cancels_the_web_cart(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        add("2026-11-20T12:00:00+03:00"),
        receipt("r1", "C1", 500, ts="2026-11-20T12:40:00+03:00"),
    ]
    notices, _ = replay(events, until="2026-11-20T15:00:00+03:00")
    assert [n["trigger"] for n in notices] == ["bonus_earned"]


def test_order_cancels_and_empties_the_cart(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        add("2026-11-20T12:00:00+03:00"),
        click("order", "2026-11-20T12:20:00+03:00", order_id="O1", total=1990.0),
        add("2026-11-20T12:30:00+03:00", sku="mug", price=300),
    ]
    notices, _ = replay(events, until="2026-11-20T15:00:00+03:00")
    [cart] = of(notices, "abandoned_cart")  # only the mug, added after the order
    assert [line["sku"] for line in cart["vars"]["lines"]] == ["mug"]


def test_login_moves_the_anonymous_cart_keeping_its_age(replay) -> None:  # type: ignore[no-untyped-def]
    anonymous = add("2026-11-20T12:00:00+03:00", customer=None, device="D9")
    login = click("login", "2026-11-20T12:45:00+03:00", customer="C1", device="D9")
    notices, _ = replay([anonymous, login], until="2026-11-20T15:00:00+03:00")
    [cart] = of(notices, "abandoned_cart")
    assert cart["caused_by"] == anonymous["event_id"]
    assert utc(cart["due_ts"]) == utc("2026-11-20T13:00:00+03:00")


def test_a_login_with_a_cart_older_than_its_delay_nudges_at_the_login(replay) -> None:  # type: ignore[no-untyped-def]
    """The cart keeps its age, but its nudge cannot fall due before the login that made it
    the customer's: at once after the login, with the login's time as ``due_ts``."""
    anonymous = add("2026-11-20T10:00:00+03:00", customer=None, device="D9")
    login = click("login", "2026-11-20T14:00:00+03:00", customer="C1", device="D9")
    notices, _ = replay([anonymous, login], until="2026-11-20T15:00:00+03:00")
    [cart] = of(notices, "abandoned_cart")
    assert cart["caused_by"] == anonymous["event_id"]
    assert cart["event_ts"] == "2026-11-20T10:00:00+03:00"
    assert utc(cart["due_ts"]) == utc("2026-11-20T14:00:00+03:00")


def test_a_device_cart_joining_the_customers_own_is_a_new_nudge(replay) -> None:  # type: ignore[no-untyped-def]
    """The customer's own cart was nudged; a day later a login brings a device's cart into
    it: a second nudge, caused by the login, with an id of its own."""
    anonymous = add("2026-11-20T10:10:00+03:00", customer=None, device="D2", sku="bread")
    own = add("2026-11-20T10:30:00+03:00", sku="milk", price=100.0)
    login = click("login", "2026-11-21T12:00:00+03:00", customer="C1", device="D2")
    notices, _ = replay([anonymous, own, login], until="2026-11-21T13:00:00+03:00")
    first, second = of(notices, "abandoned_cart")
    assert (first["caused_by"], second["caused_by"]) == (own["event_id"], login["event_id"])
    assert first["notice_id"] != second["notice_id"]
    assert second["event_ts"] == login["ts"]
    assert utc(second["due_ts"]) == utc(login["ts"])  # the cart is older than the delay
    assert [line["sku"] for line in second["vars"]["lines"]] == ["milk", "bread"]


def test_a_device_cart_joining_a_waiting_nudge_rearms_it(replay) -> None:  # type: ignore[no-untyped-def]
    own = add("2026-11-20T10:30:00+03:00", sku="milk", price=100.0)
    anonymous = add("2026-11-20T10:10:00+03:00", customer=None, device="D2", sku="bread")
    login = click("login", "2026-11-20T11:00:00+03:00", customer="C1", device="D2")
    notices, _ = replay([own, anonymous, login], until="2026-11-20T13:00:00+03:00")
    [cart] = of(notices, "abandoned_cart")  # one nudge, at the own cart's 60 minutes
    assert cart["caused_by"] == login["event_id"]
    assert utc(cart["due_ts"]) == utc("2026-11-20T11:30:00+03:00")
    assert [line["sku"] for line in cart["vars"]["lines"]] == ["milk", "bread"]


def test_a_late_night_login_with_an_old_cart_waits_for_quiet_hours(replay) -> None:  # type: ignore[no-untyped-def]
    """Due at a 23:30 login, the nudge is held to 09:00, and a purchase at 08:00 cancels
    it (it went out at 23:30 when it counted as due at 13:00, the cart's age)."""
    anonymous = add("2026-11-20T12:00:00+03:00", customer=None, device="D9")
    login = click("login", "2026-11-20T23:30:00+03:00", customer="C1", device="D9")
    notices, _ = replay([anonymous, login], until="2026-11-21T12:00:00+03:00")
    [cart] = of(notices, "abandoned_cart")
    assert utc(cart["due_ts"]) == utc("2026-11-21T09:00:00+03:00")
    bought = receipt("r1", "C1", 1000.0, ts="2026-11-21T08:00:00+03:00")
    notices, stats = replay([anonymous, login, bought], until="2026-11-21T12:00:00+03:00")
    assert of(notices, "abandoned_cart") == []
    assert stats.suppressed["quiet_hours_then_cancelled"] == 1


def test_a_late_crm_sync_does_not_undo_an_opt_out(replay) -> None:  # type: ignore[no-untyped-def]
    opt_out = customer("C1", ts="2026-11-20T10:00:00+03:00", consents={"push": False})
    sync = customer("C1", ts="2026-11-20T09:00:00+03:00", consents={"push": True, "sms": False})
    cart = add("2026-11-20T10:10:00+03:00")
    notices, _ = replay([opt_out, sync, cart], until="2026-11-20T12:00:00+03:00")
    assert of(notices, "abandoned_cart") == []  # sms: the sync's answer, the newest for it
    opt_in = customer("C1", ts="2026-11-20T10:05:00+03:00", consents={"push": True})
    notices, _ = replay([opt_out, sync, opt_in, cart], until="2026-11-20T12:00:00+03:00")
    assert [n["channels"] for n in of(notices, "abandoned_cart")] == [["push"]]


def test_anonymous_carts_are_never_notified(replay) -> None:  # type: ignore[no-untyped-def]
    notices, _ = replay(
        [add("2026-11-20T12:00:00+03:00", customer=None)], until="2026-11-21T15:00:00+03:00"
    )
    assert notices == []


def test_at_most_one_cart_notice_per_day(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        add("2026-11-20T10:00:00+03:00"),
        add("2026-11-20T12:00:00+03:00", sku="mug"),  # would fire 13:00: capped
        add("2026-11-21T12:00:00+03:00", sku="tea"),
    ]  # fires 13:00 next day
    notices, stats = replay(events, until="2026-11-21T15:00:00+03:00")
    assert [n["due_ts"][:10] for n in of(notices, "abandoned_cart")] == ["2026-11-20", "2026-11-21"]
    assert stats.suppressed["capped"] == 1


def test_quiet_hours_hold_until_nine_local(replay) -> None:  # type: ignore[no-untyped-def]
    notices, stats = replay([add("2026-11-20T20:30:00+03:00")], until="2026-11-21T12:00:00+03:00")
    [cart] = of(notices, "abandoned_cart")
    assert utc(cart["due_ts"]) == utc("2026-11-21T09:00:00+03:00")
    assert stats.held == 1


def test_held_notice_cancelled_by_a_purchase_meanwhile(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        add("2026-11-20T20:30:00+03:00"),
        receipt("r1", "C1", 100, ts="2026-11-20T23:00:00+03:00"),
    ]
    notices, stats = replay(events, until="2026-11-21T12:00:00+03:00")
    assert of(notices, "abandoned_cart") == []
    assert stats.suppressed["quiet_hours_then_cancelled"] == 1


def test_quiet_hours_follow_the_customers_timezone(replay) -> None:  # type: ignore[no-untyped-def]
    far_east = customer("C1", timezone="Asia/Vladivostok", ts="2026-11-01T11:00:00+03:00")
    # 13:30 in Moscow is 20:30 in Vladivostok: due 21:30 local, held to 09:00 local
    notices, _ = replay(
        [far_east, add("2026-11-20T13:30:00+03:00")], until="2026-11-21T12:00:00+03:00"
    )
    [cart] = of(notices, "abandoned_cart")
    assert utc(cart["due_ts"]) == utc("2026-11-21T09:00:00+10:00")


def test_transactional_notices_ignore_quiet_hours(replay) -> None:  # type: ignore[no-untyped-def]
    notices, _ = replay([receipt("r1", "C1", 1000, ts="2026-11-20T23:30:00+03:00")])
    [bonus] = notices
    assert bonus["due_ts"] == bonus["event_ts"] == "2026-11-20T23:30:00+03:00"


def test_win_back_after_30_days_without_purchase(replay) -> None:  # type: ignore[no-untyped-def]
    notices, _ = replay(
        [receipt("r1", "C1", 1000, ts="2026-10-01T12:00:00+03:00")],
        until="2026-11-05T12:00:00+03:00",
    )
    [win_back] = of(notices, "win_back")
    assert win_back["caused_by"] == "r1" and win_back["kind"] == "marketing"
    assert utc(win_back["due_ts"]) == utc("2026-10-31T12:00:00+03:00")
    assert win_back["vars"]["days_since_purchase"] == 30
    assert win_back["text"].startswith("Анна, давно не виделись!")


def test_a_later_purchase_rearms_win_back(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        receipt("r1", "C1", 1000, ts="2026-10-01T12:00:00+03:00"),
        click("order", "2026-10-20T12:00:00+03:00", order_id="O1", total=10.0),
    ]
    early, _ = replay(events, until="2026-11-05T12:00:00+03:00")
    assert of(early, "win_back") == []
    later, _ = replay(events, until="2026-11-25T12:00:00+03:00")
    [win_back] = of(later, "win_back")
    assert win_back["caused_by"] == events[1]["event_id"]


NO_TRIGGER_CAP = {"caps": {"per_trigger": {}}, "quiet_hours": {"enabled": False}}


def test_rolling_24h_cap_is_not_a_calendar_day(replay) -> None:  # type: ignore[no-untyped-def]
    # carts firing at 10:00 and 12:00 on day 1 and 09:30 on day 2 (21.5 h after the second)
    events = [
        add("2026-11-20T09:00:00+03:00", sku="a"),
        click("order", "2026-11-20T10:30:00+03:00", order_id="O1", total=1.0),
        add("2026-11-20T11:00:00+03:00", sku="b"),
        click("order", "2026-11-20T12:30:00+03:00", order_id="O2", total=1.0),
        add("2026-11-21T08:30:00+03:00", sku="c"),
        click("order", "2026-11-21T10:00:00+03:00", order_id="O3", total=1.0),
        add("2026-11-21T12:30:00+03:00", sku="d"),
    ]  # fires 13:30, 25.5 h after 12:00
    notices, stats = replay(events, until="2026-11-21T18:00:00+03:00", config=NO_TRIGGER_CAP)
    due = [n["due_ts"] for n in of(notices, "abandoned_cart")]
    assert [utc(d) for d in due] == [
        utc("2026-11-20T10:00:00+03:00"),
        utc("2026-11-20T12:00:00+03:00"),
        utc("2026-11-21T13:30:00+03:00"),
    ]
    assert stats.suppressed["capped"] == 1


def test_weekly_cap(replay) -> None:  # type: ignore[no-untyped-def]
    events = []
    for day in range(10, 17):  # one cart a day for seven days
        events += [
            add(f"2026-11-{day}T12:00:00+03:00", sku=f"s{day}"),
            click("order", f"2026-11-{day}T14:00:00+03:00", order_id=f"O{day}", total=1.0),
        ]
    notices, stats = replay(events, until="2026-11-17T00:00:00+03:00", config=NO_TRIGGER_CAP)
    assert len(of(notices, "abandoned_cart")) == 5
    assert stats.suppressed["capped"] == 2


@pytest.mark.parametrize(
    ("contacts", "consents", "channels", "reason"),
    [
        ({"push_token": "t", "phone": "+7"}, {"push": True, "sms": True}, ["push", "sms"], None),
        ({"push_token": "t", "phone": "+7"}, {"push": False, "sms": True}, ["sms"], None),
        ({"push_token": "t", "phone": "+7"}, {"email": True}, None, "unreachable_no_consent"),
        ({"push_token": "t"}, {}, None, "unreachable_no_consent"),
        ({}, {"push": True, "sms": True}, None, "unreachable_no_channel"),
    ],
)
def test_consent_matrix(
    backend: Backend,
    tmp_path: Path,
    contacts: dict,
    consents: dict,
    channels: list | None,
    reason: str | None,
) -> None:
    profile = customer("C7", contacts=contacts, consents=consents, ts="2026-09-01T10:00:00+03:00")
    events = [
        profile,
        add("2026-11-20T12:00:00+03:00", customer="C7"),
        receipt("b1", "C7", 1000, ts="2026-11-20T14:00:00+03:00", lines=[]),
    ]
    notices, stats = run(backend.url, tmp_path, events, until="2026-11-20T15:00:00+03:00")
    carts = of(notices, "abandoned_cart")
    if channels is None:
        bonus_unreachable = 0 if contacts else 1  # no contact at all: the bonus neither
        assert carts == [] and stats.suppressed[reason] == 1 + bonus_unreachable
    else:
        assert [cart["channels"] for cart in carts] == [channels]
    bonus = of(notices, "bonus_earned")  # transactional: a contact is enough
    assert len(bonus) == (1 if contacts else 0)


def test_consent_withdrawn_before_the_timer(replay) -> None:  # type: ignore[no-untyped-def]
    withdraw = customer("C1", consents={"push": False}, ts="2026-11-20T12:30:00+03:00")
    notices, _ = replay(
        [add("2026-11-20T12:00:00+03:00"), withdraw], until="2026-11-20T15:00:00+03:00"
    )
    assert of(notices, "abandoned_cart")[0]["channels"] == ["sms"]


def test_duplicate_cart_events_count_once(replay) -> None:  # type: ignore[no-untyped-def]
    change = add("2026-11-20T12:00:00+03:00", qty=2)
    notices, stats = replay([change, change], until="2026-11-20T15:00:00+03:00")
    assert of(notices, "abandoned_cart")[0]["vars"]["lines"][0]["qty"] == 2
    assert stats.duplicates == 1


def test_late_cart_change_still_counts_as_the_last_change(replay) -> None:  # type: ignore[no-untyped-def]
    late = add("2026-11-20T12:10:00+03:00", sku="mug")
    events = [
        add("2026-11-20T12:00:00+03:00"),
        click("page_view", "2026-11-20T12:40:00+03:00"),
        late,
    ]
    notices, _ = replay(events, until="2026-11-20T15:00:00+03:00")
    [cart] = of(notices, "abandoned_cart")
    assert cart["caused_by"] == late["event_id"]
    assert utc(cart["due_ts"]) == utc("2026-11-20T13:10:00+03:00")


def test_late_purchase_before_the_due_time_cancels(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        add("2026-11-20T12:00:00+03:00"),
        click("page_view", "2026-11-20T12:50:00+03:00"),
        click("order", "2026-11-20T12:20:00+03:00", order_id="O1", total=1990.0),
    ]
    notices, _ = replay(events, until="2026-11-20T15:00:00+03:00")
    assert of(notices, "abandoned_cart") == []


def test_timer_fires_when_the_stream_passes_its_due_time(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        add("2026-11-20T12:00:00+03:00"),
        receipt("r1", "C1", 1000, ts="2026-11-20T13:30:00+03:00"),
    ]
    notices, _ = replay(events)  # no --until: the last event passes the due time
    assert [n["trigger"] for n in notices] == ["abandoned_cart", "bonus_earned"]


def test_configured_delay(replay) -> None:  # type: ignore[no-untyped-def]
    notices, _ = replay(
        [add("2026-11-20T12:00:00+03:00")],
        until="2026-11-20T12:20:00+03:00",
        config={"triggers": {"abandoned_cart": {"delay_minutes": 15}}},
    )
    assert utc(of(notices, "abandoned_cart")[0]["due_ts"]) == utc("2026-11-20T12:15:00+03:00")


def test_cart_from_before_a_purchase_is_not_abandoned_after_login(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        add("2026-11-20T12:00:00+03:00", customer=None, device="D9"),
        receipt("r1", "C1", 500, ts="2026-11-20T12:10:00+03:00"),
        click("login", "2026-11-20T12:20:00+03:00", customer="C1", device="D9"),
    ]
    notices, _ = replay(events, until="2026-11-20T15:00:00+03:00")
    assert of(notices, "abandoned_cart") == []


def test_per_channel_cap_drops_the_channel_not_the_notice(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        add("2026-11-20T10:00:00+03:00", sku="a"),
        click("order", "2026-11-20T11:30:00+03:00", order_id="O1", total=1.0),
        add("2026-11-20T12:00:00+03:00", sku="b"),
    ]
    config = {"caps": {"per_trigger": {}, "per_channel": {"push": {"per_day": 1}}}}
    notices, _ = replay(events, until="2026-11-20T15:00:00+03:00", config=config)
    assert [n["channels"] for n in of(notices, "abandoned_cart")] == [["push", "sms"], ["sms"]]

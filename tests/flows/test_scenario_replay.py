"""Scenarios end to end through replay (real Redis): every recipe, and the welcome and
retention chains of the seeds (kilbil, 002) step by step."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.backends import Backend
from tests.events import customer, receipt
from tests.scenario import click, run
from triggers.notices import step_notice_id

EVERY_CHANNEL = {
    "push_token": "t",
    "web_push": "{}",
    "telegram_chat_id": "42",
    "viber_id": "v",
    "whatsapp": "+79990000001",
    "phone": "+79990000001",
    "email": "anna@example.ru",
}
CONSENTS = {
    channel: True
    for channel in ("push", "web_push", "telegram", "viber", "whatsapp", "sms", "email")
}
BUILT_INS_OFF = {sid: {"enabled": False} for sid in ("bonus_earned", "abandoned_cart", "win_back")}


def config(**scenarios: Any) -> dict[str, Any]:
    return {"scenarios": {**BUILT_INS_OFF, **scenarios}}


def utc(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


def steps(notices: list[dict], scenario: str) -> list[tuple[str, datetime, list[str]]]:
    return [
        (n["step"], utc(n["due_ts"]), n["channels"]) for n in notices if n["trigger"] == scenario
    ]


@pytest.fixture
def replay(backend: Backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    def go(events: list, until: str | None = None, cfg: dict | None = None):  # type: ignore[no-untyped-def]
        return run(backend.url, tmp_path, events, until, cfg)

    return go


REGISTERED = customer(
    "C1",
    first_name="Анна",
    registered_at="2026-11-02T09:59:00+03:00",
    contacts={"email": "anna@example.ru", "push_token": "t"},
    consents={"email": True, "push": True},
    ts="2026-11-02T10:00:00+03:00",
)
WELCOME = config(welcome={"recipe": "welcome_series"})


def opened(notice_id: str, ts: str) -> dict:
    return {
        "event_id": f"open-{notice_id}",
        "type": "delivery",
        "ts": ts,
        "notice_id": notice_id,
        "customer_id": "C1",
        "channel": "push",
        "status": "opened",
    }


def test_welcome_without_a_purchase_opened_day_one(replay) -> None:  # type: ignore[no-untyped-def]
    d1 = step_notice_id("welcome", "C1", REGISTERED["event_id"], "d1", True)
    events = [REGISTERED, opened(d1, "2026-11-02T12:00:00+03:00")]
    notices, stats = replay(events, until="2026-11-20T00:00:00+03:00", cfg=WELCOME)
    assert steps(notices, "welcome") == [
        ("d1", utc("2026-11-02T10:00:00+03:00"), ["push", "email"]),  # at once
        ("d4", utc("2026-11-05T10:00:00+03:00"), ["push", "email"]),  # no purchase: reminder
        ("d7", utc("2026-11-08T10:00:00+03:00"), ["push", "email"]),  # opened, no purchase
    ]
    assert notices[0]["notice_id"] == d1 and notices[0]["caused_by"] == REGISTERED["event_id"]
    assert notices[0]["text"].startswith("Анна, скидка 10 % на первую покупку")
    assert stats.skipped == {("welcome", "d14"): 1}  # no purchase: no review bonus


def test_welcome_with_a_purchase_on_day_two(replay) -> None:  # type: ignore[no-untyped-def]
    bought = receipt("r1", "C1", 1500.0, ts="2026-11-03T18:00:00+03:00")
    notices, stats = replay([REGISTERED, bought], until="2026-11-20T00:00:00+03:00", cfg=WELCOME)
    assert [(step, due) for step, due, _ in steps(notices, "welcome")] == [
        ("d1", utc("2026-11-02T10:00:00+03:00")),
        ("d14", utc("2026-11-15T10:00:00+03:00")),  # there was a purchase: review bonus
    ]
    assert stats.skipped == {("welcome", "d4"): 1, ("welcome", "d7"): 1}
    assert notices[-1]["vars"]["review_bonus"] == 100


def test_welcome_is_once_per_customer(replay) -> None:  # type: ignore[no-untyped-def]
    again = {**REGISTERED, "event_id": "again", "ts": "2026-11-30T10:00:00+03:00"}
    again["registered_at"] = "2026-11-30T09:00:00+03:00"
    notices, _ = replay([REGISTERED, again], until="2026-12-30T00:00:00+03:00", cfg=WELCOME)
    assert {n["caused_by"] for n in notices} == {REGISTERED["event_id"]}


RETENTION_CUSTOMER = customer(
    "C1", contacts=EVERY_CHANNEL, consents=CONSENTS, ts="2026-08-01T10:00:00+03:00"
)
RETENTION = config(retention={"recipe": "retention"})


def test_retention_chain_with_a_channel_per_step(replay) -> None:  # type: ignore[no-untyped-def]
    events = [RETENTION_CUSTOMER, receipt("r1", "C1", 900.0, ts="2026-09-01T15:00:00+03:00")]
    notices, _ = replay(events, until="2026-10-20T00:00:00+03:00", cfg=RETENTION)
    assert steps(notices, "retention") == [
        ("d30", utc("2026-10-01T15:00:00+03:00"), ["email"]),  # 30 days on
        ("d32", utc("2026-10-03T15:00:00+03:00"), ["push"]),
        ("d35", utc("2026-10-06T15:00:00+03:00"), ["telegram", "viber", "whatsapp"]),
        ("d40", utc("2026-10-11T15:00:00+03:00"), ["web_push"]),
    ]


def test_retention_starts_again_at_every_purchase(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        RETENTION_CUSTOMER,
        receipt("r1", "C1", 900.0, ts="2026-09-01T15:00:00+03:00"),
        receipt("r2", "C1", 500.0, ts="2026-10-03T09:00:00+03:00"),  # after d30, before d32
        receipt("old", "C1", 100.0, ts="2026-09-20T09:00:00+03:00"),  # late: no restart
    ]
    notices, stats = replay(events, until="2026-11-20T00:00:00+03:00", cfg=RETENTION)
    sent = [(n["step"], n["caused_by"]) for n in notices if n["trigger"] == "retention"]
    assert sent == [("d30", "r1"), ("d30", "r2"), ("d32", "r2"), ("d35", "r2"), ("d40", "r2")]
    assert stats.exited == {("retention", "restart"): 1}


def view(ts: str, sku: str) -> dict:
    return click("product_view", ts, sku=sku, category="техника", price=1990.0)


BROWSE = config(browse={"recipe": "browse_abandonment"})
BROWSER = customer(
    "C1", contacts={"push_token": "t"}, consents={"push": True}, ts="2026-11-01T10:00:00+03:00"
)


def test_browse_abandonment_two_hours_after_the_last_view(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        BROWSER,
        view("2026-11-20T10:00:00+03:00", "kettle"),
        view("2026-11-20T10:30:00+03:00", "iron"),
    ]
    notices, _ = replay(events, until="2026-11-20T15:00:00+03:00", cfg=BROWSE)
    [nudge] = notices
    assert nudge["trigger"] == "browse" and utc(nudge["due_ts"]) == utc("2026-11-20T12:30:00+03:00")
    assert nudge["vars"]["viewed"] == [
        {"sku": "iron", "category": "техника"},
        {"sku": "kettle", "category": "техника"},
    ]
    assert nudge["text"] == "Товары, которые вы смотрели, ещё в наличии."


def test_a_late_older_view_does_not_move_a_product_back(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        BROWSER,
        view("2026-11-20T10:00:00+03:00", "kettle"),
        view("2026-11-20T10:30:00+03:00", "iron"),
        view("2026-11-20T09:00:00+03:00", "iron"),  # late, older than the view before
    ]
    notices, _ = replay(events, until="2026-11-20T15:00:00+03:00", cfg=BROWSE)
    [nudge] = notices
    assert [v["sku"] for v in nudge["vars"]["viewed"]] == ["iron", "kettle"]


def test_a_device_view_merged_at_login_keeps_the_newer_view(replay) -> None:  # type: ignore[no-untyped-def]
    on_device = {"customer": None, "device": "D9", "sku": "kettle", "category": "техника"}
    events = [
        BROWSER,
        click("product_view", "2026-11-12T10:00:00+03:00", **on_device),
        view("2026-11-20T10:10:00+03:00", "kettle"),
        click("login", "2026-11-20T10:20:00+03:00", device="D9"),
    ]
    notices, _ = replay(events, until="2026-11-20T15:00:00+03:00", cfg=BROWSE)
    [nudge] = notices  # the 8-day-old device view would have left the 7-day window
    assert nudge["vars"]["viewed"] == [{"sku": "kettle", "category": "техника"}]


@pytest.mark.parametrize(
    "then",
    [
        click("add_to_cart", "2026-11-20T11:00:00+03:00", sku="kettle", price=1990.0),
        receipt("r1", "C1", 1990.0, ts="2026-11-20T11:00:00+03:00"),
    ],
)
def test_browse_abandonment_ends_with_a_cart_or_a_purchase(replay, then: dict) -> None:  # type: ignore[no-untyped-def]
    events = [BROWSER, view("2026-11-20T10:00:00+03:00", "kettle"), then]
    notices, _ = replay(events, until="2026-11-20T15:00:00+03:00", cfg=BROWSE)
    assert [n for n in notices if n["trigger"] == "browse"] == []


BUYER = customer(
    "C1", contacts={"email": "a@b.ru"}, consents={"email": True}, ts="2026-10-01T10:00:00+03:00"
)


def basket(event_id: str, cid: str | None, skus: list[str], ts: str) -> dict:
    lines = [
        {"sku": s, "category": "кухня", "qty": 1, "price": 100.0, "amount": 100.0} for s in skus
    ]
    return receipt(event_id, cid, 100.0 * len(skus), ts=ts, lines=lines)


def test_cross_sell_recommends_what_others_bought_with_it(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        BUYER,
        basket("o1", "C2", ["kettle", "tea"], "2026-10-02T10:00:00+03:00"),
        basket("o2", "C3", ["kettle", "tea", "mug"], "2026-10-02T11:00:00+03:00"),
        basket("o3", None, ["kettle", "cable"], "2026-10-02T12:00:00+03:00"),  # anonymous
        basket("o4", None, ["kettle", "cable"], "2026-10-02T13:00:00+03:00"),
        basket("o4", None, ["kettle", "cable"], "2026-10-02T13:00:00+03:00"),  # resent: once
        basket("o5", None, ["kettle", "cable", "tea"], "2026-10-02T14:00:00+03:00"),
        basket("mine", "C1", ["kettle", "mug"], "2026-10-05T15:00:00+03:00"),
    ]
    notices, _ = replay(
        events, until="2026-10-20T00:00:00+03:00", cfg=config(cross={"recipe": "cross_sell"})
    )
    [offer] = [n for n in notices if n["trigger"] == "cross"]
    assert utc(offer["due_ts"]) == utc("2026-10-12T15:00:00+03:00")  # 7 days on
    # with kettle and mug: tea 3 + 1, cable 3 (o4 counted once); the seeds left out
    assert offer["vars"]["recommendations"] == [
        {"sku": "tea", "category": "кухня"},
        {"sku": "cable", "category": "кухня"},
    ]
    assert "tea, cable" in offer["text"]


def test_an_entry_without_products_recommends_from_the_cart(replay) -> None:  # type: ignore[no-untyped-def]
    """A login has no product of its own: its steps start from the cart (else the views)."""
    events = [
        BUYER,
        basket("o1", "C2", ["kettle", "tea"], "2026-10-02T10:00:00+03:00"),
        click(
            "add_to_cart", "2026-10-05T09:00:00+03:00", sku="kettle", price=1.0, category="кухня"
        ),
        click("login", "2026-10-05T10:00:00+03:00"),
    ]
    picks = "{% for r in recommendations %}{{ r.sku }} {% endfor %}"
    cfg = {
        **config(back={"entry": {"on": "login"}, "steps": [{"id": "s1", "template": "picks"}]}),
        "templates": {"picks": {"default": {"text": picks}}},
    }
    notices, _ = replay(events, until="2026-10-06T00:00:00+03:00", cfg=cfg)
    [back] = [n for n in notices if n["trigger"] == "back"]
    assert back["vars"]["recommendations"] == [{"sku": "tea", "category": "кухня"}]


def test_cross_sell_skips_when_the_customer_bought_again(replay) -> None:  # type: ignore[no-untyped-def]
    events = [
        BUYER,
        basket("mine", "C1", ["kettle"], "2026-10-05T15:00:00+03:00"),
        basket("again", "C1", ["tea"], "2026-10-08T15:00:00+03:00"),
    ]
    notices, stats = replay(
        events, until="2026-10-20T00:00:00+03:00", cfg=config(cross={"recipe": "cross_sell"})
    )
    assert [n for n in notices if n["trigger"] == "cross"] == []
    assert stats.skipped == {("cross", "d7"): 1}


def test_cross_sell_is_sent_when_the_customer_only_returned_since(replay) -> None:  # type: ignore[no-untyped-def]
    """A return is no purchase: net of returns, purchases since the entry are below zero."""
    events = [
        BUYER,
        basket("mine", "C1", ["kettle", "tea"], "2026-10-05T15:00:00+03:00"),
        {**basket("back", "C1", ["tea"], "2026-10-05T16:00:00+03:00"), "type": "return"},
    ]
    notices, _ = replay(
        events, until="2026-10-20T00:00:00+03:00", cfg=config(cross={"recipe": "cross_sell"})
    )
    assert [n["caused_by"] for n in notices if n["trigger"] == "cross"] == ["mine"]


def test_a_step_too_large_for_kafka_is_suppressed_and_the_chain_goes_on(replay) -> None:  # type: ignore[no-untyped-def]
    steps = [
        {"id": "big", "after": "1h", "template": "huge"},
        {"id": "next", "after": "2h", "template": "small"},
    ]
    chain = {"kind": "transactional", "entry": {"on": "purchase"}, "steps": steps}
    templates = {
        "huge": {"default": {"text": "{{ 'x' * 1000000 }}"}},  # over MAX_NOTICE_BYTES
        "small": {"default": {"text": "ok"}},
    }
    events = [BUYER, receipt("r1", "C1", 100, ts="2026-10-05T15:00:00+03:00")]
    cfg = {**config(chain=chain), "templates": templates}
    notices, stats = replay(events, until="2026-10-06T00:00:00+03:00", cfg=cfg)
    assert [n["step"] for n in notices if n["trigger"] == "chain"] == ["next"]
    assert stats.suppressed == {"too_large": 1}


def test_birthday_three_days_before_at_ten_local(replay) -> None:  # type: ignore[no-untyped-def]
    profile = customer(
        "C1",
        birthday="1990-12-10",
        timezone="Asia/Yekaterinburg",
        contacts={"phone": "+7999"},
        consents={"sms": True},
        ts="2026-11-01T10:00:00+03:00",
    )
    notices, _ = replay(
        [profile], until="2026-12-31T00:00:00+03:00", cfg=config(bday={"recipe": "birthday"})
    )
    [offer] = notices
    assert utc(offer["due_ts"]) == utc("2026-12-07T10:00:00+05:00")
    assert offer["text"] == "С наступающим днём рождения! Дарим 500 бонусов"


def test_recipes_waiting_for_loyalty_events_load(replay) -> None:  # type: ignore[no-untyped-def]
    cfg = config(expiry={"recipe": "points_expiry"}, up={"recipe": "tier_up"})
    notices, _ = replay([receipt("r1", "C1", 100.0)], cfg=cfg)
    assert notices == []


def test_a_step_with_its_own_channels_and_a_skip_condition(replay) -> None:  # type: ignore[no-untyped-def]
    scenario = {
        "entry": {"on": "purchase", "where": {"total": {"gte": 1000}}},
        "reentry_days": 0,
        "steps": [
            {
                "id": "thanks",
                "channels": ["email", "sms"],
                "template": "welcome_d1",
                "vars": {"discount": 5},
            },
            {
                "id": "big",
                "after": "1d",
                "if": {"spend_30d": {"gte": 5000}},
                "template": "welcome_d4",
                "vars": {"discount": 5},
            },
        ],
    }
    profile = customer(
        "C1",
        contacts={"phone": "+7", "email": "a@b.ru", "push_token": "t"},
        consents={"sms": True, "email": True, "push": True},
        ts="2026-11-01T10:00:00+03:00",
    )
    events = [profile, receipt("r1", "C1", 1200.0, ts="2026-11-10T12:00:00+03:00")]
    notices, stats = replay(events, until="2026-11-15T00:00:00+03:00", cfg=config(vip=scenario))
    assert [(n["step"], n["channels"]) for n in notices] == [("thanks", ["email", "sms"])]
    assert stats.skipped == {("vip", "big"): 1}

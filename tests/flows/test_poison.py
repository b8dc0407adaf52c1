"""No poison pills: schema-valid events with extreme values never stop replay; each is
applied or dead-lettered, and the good traffic's notices are what they are without them."""

from __future__ import annotations

import functools
import io
import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.replay import replay
from smartcomms.config import Settings
from smartcomms.synthetic import TrafficGenerator
from tests.backends import Backend
from tests.events import customer, receipt
from triggers.events import MAX_LINES, MAX_MONEY, MAX_QTY

GOOD = [raw for _topic, _key, raw in TrafficGenerator(200, seed=23).events(3000)]
ZONES = sorted(available_timezones())

money = st.one_of(
    st.sampled_from([0.0, 5e-324, 1e-9, 0.005, 0.015, MAX_MONEY, MAX_MONEY - 0.01, 2.0**52]),
    st.floats(0, MAX_MONEY, allow_nan=False),
    st.sampled_from([1e21, 1e300, 2.0**64]),  # valid JSON past the bounds: dead letters
)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=256)
"""any Unicode a JSON document can carry (no lone surrogates): RTL marks, zero widths,
combining characters, emoji, NUL"""
ident = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=256)
far = st.sampled_from(
    [
        "2000-01-01T00:00:00+00:00",
        "2000-01-01T00:00:00-14:00",
        "2099-12-31T23:59:59.999999+00:00",
        "2099-12-31T23:59:59+14:00",
        "1999-12-31T23:59:59+00:00",  # before the window: a dead letter
        "2100-01-01T00:00:00+00:00",  # after the window: a dead letter
        "9999-12-31T23:59:59+00:00",
        "0001-01-01T00:00:00+00:00",
    ]
)


@st.composite
def extreme(draw: st.DrawFn, n: int) -> dict[str, Any]:
    """A schema-valid event of a customer (or device) of its own, with extreme values."""
    subject = f"X{draw(st.integers(0, 5))}"
    base = {"event_id": f"x{n}-{draw(st.integers(0, 3))}", "ts": draw(far)}
    kind = draw(st.sampled_from(["receipt", "return", "customer", "cart", "order", "other"]))
    if kind in ("receipt", "return"):
        count = draw(st.sampled_from([0, 1, 3, MAX_LINES]))
        line = st.fixed_dictionaries(
            {
                "sku": ident,
                "category": st.none() | text,
                "qty": st.sampled_from([5e-324, 0.001, 1.0, float(MAX_QTY)]),
                "price": money,
                "amount": money,
            }
        )
        event = {
            **base,
            "type": kind,
            "receipt_id": draw(ident),
            "store_id": draw(ident),
            "customer_id": draw(st.sampled_from([subject, None])),
            "total": draw(money),
            "lines": [draw(line)] * count,
        }
        if draw(st.booleans()):
            balance = draw(st.none() | st.floats(-MAX_MONEY, MAX_MONEY, allow_nan=False))
            event["bonus"] = {"earned": draw(money), "spent": draw(money), "balance": balance}
        return event
    if kind == "customer":
        return {
            **base,
            "type": "customer",
            "customer_id": subject,
            "first_name": draw(text),
            "timezone": draw(st.sampled_from(ZONES)),
            "birthday": draw(st.dates(date(1, 1, 1), date(9999, 12, 31))).isoformat(),
            "registered_at": draw(far),
            "contacts": {"phone": "+79990000000", "email": draw(text), "push_token": draw(text)},
            "consents": {"sms": True, "email": True, "push": True},
        }
    click = {"cart": "add_to_cart", "order": "order"}.get(kind) or draw(
        st.sampled_from(["remove_from_cart", "login", "product_view", "checkout_start"])
    )
    event = {
        **base,
        "type": click,
        "anonymous_id": f"X{subject}",
        "customer_id": draw(st.sampled_from([subject, None])),
        "sku": draw(text),
        "category": draw(text),
        "qty": draw(st.sampled_from([1, MAX_QTY, 10**30])),  # JSON has no integer limit
        "price": draw(money),
    }
    if click == "order":
        event["total"] = draw(money)
    return event


def run(path: Path, lines: list[bytes], redis_url: str | None) -> tuple[list[dict], Any]:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    out, err = io.BytesIO(), io.BytesIO()
    stats = replay(Settings(), path, redis_url, out, err)
    notices = [orjson.loads(line) for line in out.getvalue().splitlines()]
    for notice in notices:
        notice.pop("created_at")
    return notices, stats


@functools.cache
def clean(redis_url: str | None, tmp: Path) -> list[dict]:
    return run(tmp / "clean.jsonl", GOOD, redis_url)[0]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_extreme_valid_events_never_stop_replay_nor_touch_the_good_traffic(
    backend: Backend, tmp_path_factory: Any, data: st.DataObject
) -> None:
    redis_url = backend.url
    bad = [data.draw(extreme(n)) for n in range(data.draw(st.integers(1, 12)))]
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    # bad events at distinct places with good traffic between: two outliers side by side
    # would rightly move replay's clock (they confirm each other)
    places = sorted(rng.sample(range(1, len(GOOD)), len(bad)))
    mixed = list(GOOD)
    for offset, (place, event) in enumerate(zip(places, bad, strict=True)):
        mixed.insert(place + offset, json.dumps(event, ensure_ascii=False).encode())
    tmp = tmp_path_factory.mktemp("poison")
    notices, stats = run(tmp / "mixed.jsonl", mixed, redis_url)
    good_customers = [n for n in notices if not n["customer_id"].startswith("X")]
    assert good_customers == clean(redis_url, tmp_path_factory.getbasetemp())
    dead = sum(stats.dead_letters.values())
    # every event was applied (counted by type), a duplicate, or a dead letter
    assert sum(stats.events.values()) + stats.duplicates + dead == len(mixed)
    outside = [e for e in bad if not "2000" <= _utc(e["ts"])[:4] < "2100"]
    assert dead >= len(outside)


def _utc(ts: str) -> str:
    try:
        return datetime.fromisoformat(ts).astimezone(UTC).isoformat()
    except (OverflowError, ValueError):  # beyond year 9999 in UTC
        return "9999"


def test_one_typo_in_the_year_does_not_fire_other_customers_timers(
    redis_url: str, tmp_path: Path
) -> None:
    """The cart nudge of a customer who bought five minutes after adding to the cart must
    not fire because another event of the file says 2926 (or 2036)."""
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

    def at(minutes: float) -> str:
        return (start + timedelta(minutes=minutes)).isoformat()

    profile = {
        "event_id": "p1",
        "type": "customer",
        "ts": at(0),
        "customer_id": "C1",
        "contacts": {"push_token": "t"},
        "consents": {"push": True},
    }
    cart = {
        "event_id": "a1",
        "type": "add_to_cart",
        "ts": at(1),
        "anonymous_id": "D1",
        "customer_id": "C1",
        "sku": "kettle",
        "price": 1990.0,
    }
    purchase = {
        "event_id": "r1",
        "type": "receipt",
        "ts": at(6),
        "receipt_id": "R1",
        "store_id": "S1",
        "customer_id": "C1",
        "total": 1990.0,
    }
    for year in ("2926", "2036"):
        typo = {**purchase, "event_id": f"t{year}", "customer_id": "C2", "ts": year + at(3)[4:]}
        lines = [orjson.dumps(e) for e in (profile, cart, typo, purchase)]
        notices, stats = run(tmp_path / f"typo-{year}.jsonl", lines, redis_url)
        assert [n["trigger"] for n in notices] == ["bonus_earned"], year
        assert sum(stats.dead_letters.values()) == 1


def test_a_real_gap_in_the_data_is_no_outlier(redis_url: str, tmp_path: Path) -> None:
    """A jump ahead that the next event confirms (a quiet half year) is applied, with the
    timers it passes fired in order."""
    receipt = {
        "type": "receipt",
        "receipt_id": "R",
        "store_id": "S1",
        "customer_id": "C1",
        "total": 100.0,
    }
    lines = [
        {
            "event_id": "p",
            "type": "customer",
            "ts": "2026-09-01T10:00:00+00:00",
            "customer_id": "C1",
            "contacts": {"push_token": "t"},
            "consents": {"push": True},
        },
        {**receipt, "event_id": "r1", "ts": "2026-09-01T11:00:00+00:00"},
        # more than replay_max_jump (180 days) on: held, then ...
        {**receipt, "event_id": "r2", "ts": "2027-04-20T12:00:00+00:00"},
        {**receipt, "event_id": "r3", "ts": "2027-04-20T12:30:00+00:00"},  # ... confirmed
    ]
    notices, stats = run(tmp_path / "gap.jsonl", [orjson.dumps(e) for e in lines], redis_url)
    assert [(n["trigger"], n["caused_by"]) for n in notices] == [
        ("bonus_earned", "r1"),
        ("win_back", "r1"),  # due 30 days after r1: before r2 is applied
        ("bonus_earned", "r2"),
        ("bonus_earned", "r3"),
    ]
    assert sum(stats.dead_letters.values()) == 0


def test_a_file_that_jumps_days_ahead_and_comes_back_loses_nothing(tmp_path: Path) -> None:
    """A hand-made file: a receipt four days on, then a late one of the first day. The jump
    is far below `replay_max_jump`, so the later receipt is no typo: both earn their bonus."""
    lines = [
        customer("C1", "2026-03-01T09:00:00+03:00", contacts={"email": "c1@example.com"}),
        receipt("r1", "C1", 1000.0, "2026-03-05T10:00:00+03:00"),
        receipt("r2", "C1", 1000.0, "2026-03-01T12:00:00+03:00"),
    ]
    notices, stats = run(tmp_path / "back.jsonl", [orjson.dumps(e) for e in lines], None)
    assert [(n["trigger"], n["caused_by"]) for n in notices] == [
        ("bonus_earned", "r1"),
        ("bonus_earned", "r2"),
    ]
    assert [n["vars"]["balance"] for n in notices] == [50, 100]
    assert sum(stats.dead_letters.values()) == 0

"""The console's activity counters (state.activity) as the engine keeps them on a real
Redis: each event counted once, also a page view a restarted worker gets again."""

from __future__ import annotations

import uuid

import orjson
import redis

from channels.policy import Policy
from flows.clock import EventTimeClock
from flows.inputs import RawInput
from flows.processor import BatchProcessor
from flows.stats import Stats
from smartcomms.config import CHANNELS
from state.activity import ActivityCounters
from state.customers import CustomerStore
from state.timers import TimerIndex
from tests.events import customer, receipt
from triggers.engine import Rules
from triggers.events import Event, parse_event


def page_view(n: int) -> dict[str, object]:
    return {"event_id": f"pv{n}", "type": "page_view", "ts": "2026-11-22T09:05:00+03:00",
            "anonymous_id": f"d{n}", "page": "/"}  # fmt: skip


def engine(client: redis.Redis, prefix: str) -> BatchProcessor:
    """A processor as a (re)started worker builds it."""
    return BatchProcessor(
        CustomerStore(client, prefix, 3600), TimerIndex(client, prefix), Rules(),
        Policy(CHANNELS), 7 * 86_400.0, EventTimeClock(), Stats(),
        activity=ActivityCounters(client, prefix),
    )  # fmt: skip


def batch(raw: list[tuple[str, dict[str, object]]]) -> tuple[list[Event], list[RawInput]]:
    encoded = [(origin, orjson.dumps(event)) for origin, event in raw]
    return [parse_event(value) for _o, value in encoded], [
        RawInput(value, origin) for origin, value in encoded
    ]


def test_each_event_is_counted_once_across_a_redelivery(redis_client: redis.Redis) -> None:
    prefix = f"t{uuid.uuid4().hex[:6]}"
    first = [
        ("customers:0@4", customer("C1", contacts={"phone": "+7999"})),
        ("clicks:1@10", page_view(1)),
        ("clicks:1@11", page_view(2)),
        ("receipts:2@7", receipt("r1", "C1", 1000)),
    ]
    items, sources = batch(first)
    assert len(engine(redis_client, prefix).process("0", items, sources)) == 1
    # a restarted worker gets the same messages again, and one new page view
    items, sources = batch([*first, ("clicks:1@12", page_view(3))])
    assert engine(redis_client, prefix).process("0", items, sources) == []
    totals = ActivityCounters(redis_client, prefix).totals()
    assert {k: v for k, v in totals.items() if k.startswith("events|")} == {
        "events|customer": 1,
        "events|page_view": 3,
        "events|receipt": 1,
    }
    assert totals["notices|bonus_earned|sms"] == 1 and totals["duplicates"] == 4

"""Invariants over random event sequences (hypothesis), through the real batch processor and
a real Redis: caps hold in every rolling window, nothing marketing falls in quiet hours, no
cart nudge follows a purchase made before it was due, and replay is deterministic."""

from __future__ import annotations

import itertools
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.policy import Policy
from flows.clock import ClockTick, EventTimeClock
from flows.processor import BatchProcessor
from flows.stats import Stats
from smartcomms.config import CHANNELS
from tests.backends import Backend
from triggers.engine import Rules
from triggers.events import epoch_of, parse_event

BASE = datetime(2026, 11, 2, 0, 0, tzinfo=ZoneInfo("Europe/Moscow"))
CUSTOMERS = ("C1", "C2")
TIMEZONES = ("Europe/Moscow", "Asia/Vladivostok", "Europe/Kaliningrad")
_prefixes = itertools.count()

kinds = st.sampled_from(
    [
        "add_to_cart",
        "add_to_cart",
        "add_to_cart",
        "remove_from_cart",
        "order",
        "receipt",
        "page_view",
        "login",
        "anon_add",
    ]
)
steps = st.lists(
    st.tuples(kinds, st.integers(1, 240), st.sampled_from(CUSTOMERS), st.sampled_from("ab")),
    min_size=1,
    max_size=60,
)


def build_events(plan: list[tuple[str, int, str, str]], zones: tuple[str, str]) -> list[dict]:
    events: list[dict[str, Any]] = []
    for n, customer in enumerate(CUSTOMERS):
        events.append(
            {
                "event_id": f"p{n}",
                "type": "customer",
                "ts": BASE.isoformat(),
                "customer_id": customer,
                "timezone": zones[n],
                "contacts": {"push_token": "t", "phone": "+7"},
                "consents": {"push": True, "sms": n == 0},
            }
        )
    at = BASE
    for n, (kind, gap_minutes, customer, sku) in enumerate(plan):
        at += timedelta(minutes=gap_minutes, seconds=n)  # strictly increasing, no ties
        ts = at.isoformat()
        device = f"D{customer}"
        base = {"event_id": f"e{n}", "ts": ts, "anonymous_id": device, "customer_id": customer}
        if kind == "receipt":
            events.append(
                {
                    "event_id": f"e{n}",
                    "type": "receipt",
                    "ts": ts,
                    "receipt_id": f"R{n}",
                    "store_id": "S",
                    "customer_id": customer,
                    "total": 100.0,
                }
            )
        elif kind == "anon_add":
            events.append(
                {**base, "type": "add_to_cart", "customer_id": None, "sku": sku, "price": 10.0}
            )
        elif kind in ("add_to_cart", "remove_from_cart"):
            events.append({**base, "type": kind, "sku": sku, "price": 10.0})
        elif kind == "order":
            events.append({**base, "type": "order", "order_id": f"O{n}", "total": 10.0})
        else:
            events.append({**base, "type": kind})
    return events


def run(backend: Backend, events: list[dict], batch_size: int) -> list[dict]:
    prefix = f"h{next(_prefixes)}"
    processor = BatchProcessor(
        backend.documents(prefix),
        backend.timers(prefix),
        Rules(),
        Policy(CHANNELS),
        7 * 86_400.0,
        EventTimeClock(),
        Stats(),
    )
    parsed = [parse_event(orjson.dumps(e)) for e in events]
    end = ClockTick(epoch_of(events[-1]["ts"]) + 40 * 86_400)
    out = []
    for start in range(0, len(parsed), batch_size):
        out += processor.process("0", parsed[start : start + batch_size])  # type: ignore[arg-type]
    out += processor.process("0", [end])
    return [orjson.loads(notice) for _customer, notice in out]


def marketing(notices: list[dict], customer: str) -> list[dict]:
    return [n for n in notices if n["kind"] == "marketing" and n["customer_id"] == customer]


PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(
    plan=steps,
    zones=st.tuples(st.sampled_from(TIMEZONES), st.sampled_from(TIMEZONES)),
    batch_size=st.integers(1, 50),
)
def test_invariants(backend: Backend, plan: list, zones: tuple[str, str], batch_size: int) -> None:
    events = build_events(plan, zones)
    notices = run(backend, events, batch_size)
    purchases = [
        (e["customer_id"], epoch_of(e["ts"]))
        for e in events
        if e["type"] == "receipt" or e["type"] == "order"
    ]
    for n, customer in enumerate(CUSTOMERS):
        sent = marketing(notices, customer)
        due = sorted(epoch_of(x["due_ts"]) for x in sent)
        for i, start in enumerate(due):  # every rolling window starting at a notice
            assert sum(1 for d in due[i:] if d < start + 86_400) <= 2
            assert sum(1 for d in due[i:] if d < start + 7 * 86_400) <= 5
        zone = ZoneInfo(zones[n])
        for notice in sent:
            local = datetime.fromisoformat(notice["due_ts"]).astimezone(zone).time()
            assert time(9, 0) <= local < time(21, 0), notice
        for cart in (x for x in sent if x["trigger"] == "abandoned_cart"):
            changed, due_at = epoch_of(cart["event_ts"]), epoch_of(cart["due_ts"])
            assert not any(c == customer and changed <= at <= due_at for c, at in purchases)


@PROPERTY
@given(plan=steps, batch_size=st.integers(1, 50))
def test_replay_twice_gives_the_same_notices(backend: Backend, plan: list, batch_size: int) -> None:
    events = build_events(plan, ("Europe/Moscow", "Asia/Vladivostok"))

    def without_created_at(notices: list[dict]) -> list[dict]:
        return [{k: v for k, v in n.items() if k != "created_at"} for n in notices]

    first = without_created_at(run(backend, events, batch_size))
    assert first == without_created_at(run(backend, events, batch_size))
    # and batching does not matter: one event at a time gives the same notices
    assert first == without_created_at(run(backend, events, 1))

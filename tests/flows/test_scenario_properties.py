"""Scenario invariants over random event sequences (hypothesis), through the real batch
processor and a real Redis: no step after an exit, no two instances of a scenario at
once, at most one notice per step and instance whatever the batching, and the same notices
from the live code path (timers on clock ticks) as from replay's."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.policy import Policy
from flows.clock import ClockTick, EventTimeClock
from flows.processor import BatchProcessor
from flows.stats import Stats
from smartcomms.config import Settings
from state.cache import StateCache
from tests.backends import Backend
from triggers.engine import Rules
from triggers.events import epoch_of, parse_event

BASE = datetime(2026, 11, 2, 0, 0, tzinfo=ZoneInfo("Europe/Moscow"))
CUSTOMERS = ("C1", "C2")
SETTINGS = Settings.model_validate(
    {
        "quiet_hours": {"enabled": False},
        "caps": {"marketing": {}, "per_trigger": {}},
        "scenarios": {
            "bonus_earned": {"enabled": False},
            "win_back": {"enabled": False},
            "cart": {
                "entry": {"on": "cart_changed"},
                "restart": True,
                "reentry_days": 0,
                "exit_on": ["purchase", "cart_emptied"],
                "steps": [
                    {"id": "soon", "after": "30m", "template": "abandoned_cart"},
                    {"id": "later", "after": "2h", "template": "abandoned_cart"},
                ],
                "notice_vars": ["first_name", "lines", "total", "items"],
            },
            "browse": {
                "entry": {"on": "product_view"},
                "reentry_days": 0,
                "exit_on": ["add_to_cart"],
                "steps": [
                    {"id": "now", "template": "browse_abandonment"},
                    {
                        "id": "hour",
                        "after": "1h",
                        "if": {"purchases_since_entry": 0},
                        "template": "browse_abandonment",
                    },
                    {"id": "two", "after": "2h", "template": "browse_abandonment"},
                ],
            },
        },
    }
)
EXITS = {"cart": ("receipt", "order"), "browse": ("add_to_cart",)}
"""the exits the property checks (an emptied cart is not read off the plan)"""
_prefixes = itertools.count()

kinds = st.sampled_from(
    ["add_to_cart", "remove_from_cart", "order", "receipt", "product_view", "product_view"]
)
plans = st.lists(
    st.tuples(kinds, st.integers(1, 150), st.sampled_from(CUSTOMERS), st.sampled_from("ab")),
    min_size=1,
    max_size=50,
)


def build_events(plan: list[tuple[str, int, str, str]]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {
            "event_id": f"p{n}",
            "type": "customer",
            "ts": BASE.isoformat(),
            "customer_id": customer,
            "contacts": {"push_token": "t"},
            "consents": {"push": True},
        }
        for n, customer in enumerate(CUSTOMERS)
    ]
    at = BASE
    for n, (kind, gap_minutes, customer, sku) in enumerate(plan):
        at += timedelta(minutes=gap_minutes, seconds=n)  # strictly increasing
        base = {"event_id": f"e{n}", "ts": at.isoformat(), "customer_id": customer}
        if kind == "receipt":
            events.append(
                {**base, "type": "receipt", "receipt_id": f"R{n}", "store_id": "S", "total": 1.0}
            )
        elif kind == "order":
            events.append({**base, "type": "order", "anonymous_id": f"D{customer}", "total": 1.0})
        else:
            events.append(
                {**base, "type": kind, "anonymous_id": f"D{customer}", "sku": sku, "price": 10.0}
            )
    return events


def run(
    backend: Backend,
    events: list[dict],
    batch_size: int,
    ticking: bool,
    timers_per_tick: int | None = None,
    cache: StateCache | None = None,
) -> list[dict]:
    """Notices of ``events`` in batches; ``ticking``: timers fire on clock ticks only, one
    tick at every event's time (the live code path), else as replay fires them;
    ``timers_per_tick``: how many customers' due timers a batch may load."""
    prefix = f"sp{next(_prefixes)}"
    templates = Policy.from_settings(SETTINGS).templates
    rules = Rules(scenarios=SETTINGS.scenarios, template_vars=templates.variables)
    clock = _TickingClock() if ticking else EventTimeClock()
    processor = BatchProcessor(
        backend.documents(prefix),
        backend.timers(prefix),
        rules,
        Policy.from_settings(SETTINGS),
        7 * 86_400.0,
        clock,
        Stats(),
        timers_per_tick=timers_per_tick,
        cache=cache,
    )
    items: list[Any] = []
    for event in events:
        if ticking:
            items.append(ClockTick(epoch_of(event["ts"])))
        items.append(parse_event(orjson.dumps(event)))
    items.append(ClockTick(epoch_of(events[-1]["ts"]) + 3 * 86_400))
    out = []
    for start in range(0, len(items), batch_size):
        out += processor.process("0", items[start : start + batch_size])
    return [orjson.loads(notice) for _customer, notice in out]  # type: ignore[misc]


class _TickingClock(EventTimeClock):
    ticking = True


def strip(notices: list[dict]) -> list[dict]:
    return [{k: v for k, v in n.items() if k != "created_at"} for n in notices]


PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(plan=plans, batch_size=st.integers(1, 40))
def test_scenario_invariants(backend: Backend, plan: list, batch_size: int) -> None:
    events = build_events(plan)
    notices = run(backend, events, batch_size, ticking=False)
    ids = [n["notice_id"] for n in notices]
    assert len(ids) == len(set(ids))  # at most one notice per step and instance
    assert len(
        {(n["trigger"], n["customer_id"], n["caused_by"], n["step"]) for n in notices}
    ) == len(ids)
    for customer in CUSTOMERS:
        for scenario, exit_kinds in EXITS.items():
            mine = [n for n in notices if n["customer_id"] == customer and n["trigger"] == scenario]
            exits = [
                epoch_of(e["ts"])
                for e in events
                if e["customer_id"] == customer and _exits(e, exit_kinds)
            ]
            for notice in mine:  # no step after an exit of its instance
                entered, due = epoch_of(notice["event_ts"]), epoch_of(notice["due_ts"])
                assert not any(entered < at <= due for at in exits), notice
            spans: dict[str, tuple[float, float]] = {}
            for notice in mine:
                entered, due = epoch_of(notice["event_ts"]), epoch_of(notice["due_ts"])
                low, high = spans.get(notice["caused_by"], (entered, due))
                spans[notice["caused_by"]] = (low, max(high, due))
            ordered = sorted(spans.values())
            for (_first, end), (start, _last) in itertools.pairwise(ordered):
                assert end <= start  # an instance's notices all come before the next one's entry


def _exits(event: dict, kinds: tuple[str, ...]) -> bool:
    return event["type"] in kinds


@PROPERTY
@given(plan=plans, batch_size=st.integers(1, 40))
def test_the_same_notices_whatever_the_batching_and_live_or_replay(
    backend: Backend, plan: list, batch_size: int
) -> None:
    events = build_events(plan)
    replayed = strip(run(backend, events, 1, ticking=False))
    assert strip(run(backend, events, batch_size, ticking=False)) == replayed
    assert strip(run(backend, events, batch_size, ticking=True)) == replayed
    chunked = strip(run(backend, events, batch_size, ticking=False, timers_per_tick=1))
    assert by_customer(chunked) == by_customer(replayed)  # due masses fired in chunks
    cached = run(backend, events, batch_size, ticking=False, cache=StateCache(1))
    assert strip(cached) == replayed  # states kept between batches (one per shard)


def by_customer(notices: list[dict]) -> dict[str, list[dict]]:
    """Each customer's notices, in order (chunks of due timers order customers apart)."""
    mine: dict[str, list[dict]] = {}
    for notice in notices:
        mine.setdefault(notice["customer_id"], []).append(notice)
    return mine

"""Per-event isolation in the engine (real Redis): an event or a due timer the engine fails
on is rolled back, remembered and dead-lettered (or dropped); the rest of the batch
commits as if it had not been there."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import redis

from channels.policy import Policy
from channels.templates import TemplateSet
from flows import processor as processor_module
from flows.clock import AdmissionWindow, ClockTick, EventTimeClock
from flows.inputs import DeadLetter, RawInput
from flows.live import confirm_dead_letters, confirm_notices
from flows.processor import BatchProcessor
from flows.routing import route_key
from flows.stats import Stats
from smartcomms.config import CHANNELS
from state.cache import StateCache
from state.outbox import Outbox
from tests.backends import Backend
from tests.events import customer, receipt
from triggers import decisions, engine
from triggers.engine import Rules
from triggers.events import Event, epoch_of, parse_event

WEEK = 7 * 86_400.0
PROFILE = customer("C1", first_name="Анна", contacts={"phone": "+7999"})
CONSENTING = {**PROFILE, "ts": "2026-09-01T10:00:00+03:00", "consents": {"sms": True}}
"""a profile that marketing notices can reach, from before the receipts below"""


def build(
    backend: Backend,
    stats: Stats,
    templates: TemplateSet | None = None,
    window: AdmissionWindow | None = None,
    outbox: Outbox | None = None,
) -> BatchProcessor:
    policy = Policy(CHANNELS, templates=templates or TemplateSet.with_overrides({}))
    return BatchProcessor(
        backend.documents(),
        backend.timers(),
        Rules(),
        policy,
        WEEK,
        EventTimeClock(),
        stats,
        outbox,
        keep_decisions_s=WEEK,
        window=window,
        cache=StateCache(100),  # as live: a careful pass must not start from a cached state
    )


def parsed(*raw: dict) -> tuple[list[Event], list[RawInput | None]]:
    bodies = [orjson.dumps(e) for e in raw]
    return [parse_event(b) for b in bodies], [  # type: ignore[misc]
        RawInput(b, f"line {n}") for n, b in enumerate(bodies, 1)
    ]


def state_of(backend: Backend, customer_id: str) -> Any:
    return backend.documents().load([f"c:{customer_id}"])[f"c:{customer_id}"]


@pytest.fixture
def boom(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine fails (after changing the state) on events whose id starts with boom."""

    def failing(state: Any, event: Event, *args: Any, **kwargs: Any) -> Any:
        outcomes = engine.apply_event(state, event, *args, **kwargs)
        if event.event_id.startswith("boom"):
            raise RuntimeError("engine bug hit by this event")
        return outcomes

    monkeypatch.setattr(processor_module, "apply_event", failing)


@pytest.mark.usefixtures("boom")
def test_a_failing_event_is_rolled_back_dead_lettered_and_remembered(
    backend: Backend,
) -> None:
    stats = Stats()
    proc = build(backend, stats)
    items, sources = parsed(
        PROFILE,
        receipt("r1", "C1", 1000),
        receipt("boom1", "C1", 5000),
        receipt("r2", "C1", 2000, ts="2026-11-22T10:20:00+03:00"),
    )
    out = proc.process("0", items, sources)
    notices = [orjson.loads(n[1]) for n in out if not isinstance(n, DeadLetter)]
    [letter] = [n for n in out if isinstance(n, DeadLetter)]
    assert [n["caused_by"] for n in notices] == ["r1", "r2"]
    assert [n["vars"]["balance"] for n in notices] == [50, 150]  # boom1's 250 never counted
    assert letter.raw == sources[2].value and letter.origin == "line 3"  # type: ignore[union-attr]
    assert letter.reason == "engine apply: RuntimeError: engine bug hit by this event"
    assert letter.kind == "engine_apply"
    assert state_of(backend, "C1").balance == 150
    assert stats.poisoned == {"apply": 1}
    assert stats.events["receipt"] == 2 and stats.events["customer"] == 1  # counted once
    later = receipt("r3", "C1", 1000, ts="2026-11-22T10:30:00+03:00")
    [(_c, next_notice)] = proc.process("0", *parsed(later))
    assert orjson.loads(next_notice)["vars"]["balance"] == 200  # from what was stored
    # a replay of the same input after a restart: the poison is a duplicate, not retried
    again = build(backend, stats).process("0", items, sources)
    assert again == [] and stats.duplicates == 4 and stats.poisoned == {"apply": 1}


@pytest.mark.usefixtures("boom")
def test_the_careful_pass_sees_the_same_times_and_timers_as_the_fast_one(
    backend: Backend,
) -> None:
    """A batch that fails is computed again: the second pass must start from the clock
    where the first did, or a timer would fire before an event that came before it."""
    setup = [CONSENTING, receipt("r0", "C1", 100, ts="2026-10-01T10:00:00+03:00")]
    # r1 comes a day before the win-back is due and re-arms it; the poison comes later
    r1 = receipt("r1", "C1", 100, ts="2026-10-30T10:00:00+03:00")
    poison = receipt("boom", "C3", 100, ts="2026-11-05T12:00:00+03:00")
    proc = build(backend, Stats())
    proc.process("0", *parsed(*setup))
    out = proc.process("0", *parsed(r1, poison))
    assert [orjson.loads(n[1])["trigger"] for n in out if not isinstance(n, DeadLetter)] == [
        "bonus_earned"
    ]
    assert state_of(backend, "C1").timers == {"win_back": epoch_of(r1["ts"]) + 30 * 86_400}


def test_a_template_failing_for_one_customer_dead_letters_only_that_event(
    backend: Backend,
) -> None:
    templates = TemplateSet.with_overrides(
        {"bonus_earned": {"sms": {"text": "{{ 1000 // (earned - 5) }} за покупку"}}}
    )
    stats = Stats()
    items, sources = parsed(PROFILE, receipt("r1", "C1", 100), receipt("r2", "C1", 1000))
    out = build(backend, stats, templates).process("0", items, sources)
    [letter] = [n for n in out if isinstance(n, DeadLetter)]
    [(_customer_id, notice)] = [n for n in out if not isinstance(n, DeadLetter)]
    assert letter.reason.startswith("engine render: ZeroDivisionError")
    assert orjson.loads(notice)["vars"]["balance"] == 50  # r1's 5 bonuses rolled back
    assert stats.poisoned == {"render": 1}


def test_the_dead_letter_of_a_failing_event_outlives_a_crash_before_kafka_confirms_it(
    redis_client: redis.Redis,
) -> None:
    """The failed event counts as applied, so its redelivery makes no letter again: the
    letter waits in the outbox with the batch's notices until Kafka confirms it."""
    templates = TemplateSet.with_overrides(
        {"bonus_earned": {"sms": {"text": "{{ 1000 // (earned - 5) }} за покупку"}}}
    )
    backend, outbox = Backend("redis", redis_client, None), Outbox(redis_client, "t")
    items, sources = parsed(PROFILE, receipt("r1", "C1", 100), receipt("r2", "C1", 1000))
    first = build(backend, Stats(), templates, outbox=outbox).process("0", items, sources)
    [letter] = [n for n in first if isinstance(n, DeadLetter)]
    assert letter.outbox_shard == "0" and letter.reason.startswith("engine render")
    # the worker dies before Kafka confirmed anything; the next one reads the batch again
    stats = Stats()
    again = build(backend, stats, templates, outbox=outbox).process("0", items, sources)
    assert sorted(again, key=repr) == sorted(first, key=repr)  # the same letter and notice
    assert stats.duplicates == 3 and stats.poisoned == {}  # none applied, none failed again
    # what Kafka confirms leaves the outbox: a third process has nothing to emit again
    confirm_notices(outbox)([(route_key(0), n) for n in again if not isinstance(n, DeadLetter)])
    confirm_dead_letters(outbox, lambda _letters: None)(
        [n for n in again if isinstance(n, DeadLetter)]
    )
    assert build(backend, Stats(), templates, outbox=outbox).process("0", items, sources) == []


def test_a_failing_timer_is_dropped_with_a_decision(backend: Backend) -> None:
    templates = TemplateSet.with_overrides(
        {"win_back": {"sms": {"text": "{{ 100 // (days_since_purchase - 30) }}"}}}
    )
    stats = Stats()
    proc = build(backend, stats, templates)
    first = receipt("r1", "C1", 100, ts="2026-10-01T12:00:00+03:00")
    proc.process("0", *parsed(CONSENTING, first))
    out = proc.process("0", [ClockTick(epoch_of("2026-11-22T12:00:00+03:00"))])
    assert out == [] and stats.dropped_timers == {"render": 1}
    state = state_of(backend, "C1")
    assert state.timers == {}  # gone, not fired again at every tick
    _at, trigger, outcome, _notice, detail = decisions.entries(state)[-1]
    assert (trigger, outcome) == ("win_back", decisions.DROPPED)
    assert detail.startswith("render: ZeroDivisionError")
    assert backend.timers().due("0", float("inf")) == []


def test_events_outside_the_time_window_are_refused(backend: Backend) -> None:
    window = AdmissionWindow(
        epoch_of("2000-01-01T00:00:00+00:00"), epoch_of("2100-01-01T00:00:00+00:00"), 86_400
    )
    stats = Stats()
    items, sources = parsed(
        PROFILE,
        receipt("old", "C1", 100, ts="1999-12-31T23:59:59+00:00"),
        receipt("far", "C1", 100, ts="2026-11-24T09:00:00+03:00"),  # 2 days ahead
        receipt("ok", "C1", 100, ts="2026-11-23T09:00:00+03:00"),  # 1 day ahead
    )
    out = build(backend, stats, window=window).process("0", items, sources)
    letters = [n for n in out if isinstance(n, DeadLetter)]
    assert [letter.origin for letter in letters] == ["line 2", "line 3"]
    assert "before the earliest accepted time 2000-01-01" in letters[0].reason
    assert "more than 1d ahead of the engine clock" in letters[1].reason
    assert len(out) == 3 and stats.poisoned == {"admission": 2}

"""The one dataflow: input -> parse -> shard -> engine -> notices / dead letters.

Live and replay differ only in the source, the sinks and the clock given to the engine.
Parsing, keying and splitting off rejects happen per batch, not per event.
Step ids are a frozen contract (Bytewax recovery keys snapshots by them).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar, cast

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.operators import KeyedStream, StatefulBatchLogic
from bytewax.outputs import Sink

from flows.clock import ClockTick
from flows.fatal import RedisLoss, stop_if_redis_is_gone
from flows.inputs import DeadLetter, RawInput
from flows.outliers import OutlierGuard
from flows.processor import BatchProcessor, EmittedNotice, Output
from flows.routing import route_keys
from triggers.events import Event, Rejection, parse_event, subject_of

X = TypeVar("X")
Y = TypeVar("Y")


def shard_of(subject: str, shards: int) -> str:
    """Stable shard of a subject (crc32 is stable across runs); the stateful step is keyed
    by its Bytewax key (flows.routing)."""
    return str(zlib.crc32(subject.encode()) % shards)


Engine = tuple[Event, RawInput] | ClockTick
"""What the engine step gets: an event with its input as received, or a clock tick."""


class _EngineLogic(StatefulBatchLogic[Engine, Output, None]):
    """Bytewax adapter: the engine keeps no in-memory state (Redis holds it)."""

    def __init__(self, processor: BatchProcessor, shards: int, loss: RedisLoss | None) -> None:
        self._processor = processor
        self._shards = shards
        self._loss = loss

    def on_batch(self, values: list[Engine]) -> tuple[Iterable[Output], bool]:
        items: list[Event | ClockTick] = []
        sources: list[RawInput | None] = []
        for value in values:
            if isinstance(value, ClockTick):
                items.append(value)
                sources.append(None)
            else:
                items.append(value[0])
                sources.append(value[1])
        # Bytewax does not tell the logic its key; every item of the batch carries it
        shard = key_of(items[0], self._shards)

        def process() -> list[Output]:
            return stop_if_redis_is_gone(
                "engine", lambda: self._processor.process(shard, items, sources)
            )

        nothing: list[Output] = []
        outputs = process() if self._loss is None else self._loss.guard(process, nothing)
        return outputs, StatefulBatchLogic.DISCARD

    def snapshot(self) -> None:
        return None


def key_of(item: Event | ClockTick, shards: int) -> str:
    """The shard an item goes to: its subject's (an anonymous receipt spreads by event id)."""
    if isinstance(item, ClockTick):
        return item.shard
    subject = subject_of(item)
    return shard_of(item.event_id if subject == "-" else subject, shards)


DEAD_LETTER_KEY = "dead-letter"
"""Key of rejected input in the parsed stream (never a shard: shards are numbers)."""

Parsed = tuple[str, Engine | DeadLetter]
"""(Bytewax key of the shard, item) or (DEAD_LETTER_KEY, dead letter)"""


def parse_batch(
    items: list[X | ClockTick],
    read: Callable[[X], RawInput | DeadLetter],
    routes: Mapping[str, str],
) -> list[Parsed]:
    """Read, parse and key a whole input batch in one call (a Bytewax step per event costs).
    An event is keyed by its shard's Bytewax key (``routes``: shard -> key, for every
    shard). Clock ticks (the live clock partition, replay's end of input) go to their shard
    as they are."""
    shards = len(routes)
    out: list[Parsed] = []
    for item in items:
        if isinstance(item, ClockTick):
            out.append((routes[item.shard], item))
            continue
        raw = read(item)
        if isinstance(raw, RawInput):
            parsed = parse_event(raw.value)
            if isinstance(parsed, Rejection):
                out.append(
                    (
                        DEAD_LETTER_KEY,
                        DeadLetter(parsed.raw, raw.origin, parsed.reason, parsed.kind),
                    )
                )
            else:
                out.append((routes[key_of(parsed, shards)], (parsed, raw)))
        else:
            out.append((DEAD_LETTER_KEY, raw))
    return out


class _GuardLogic(StatefulBatchLogic[Engine, Engine | DeadLetter, None]):
    """Bytewax adapter of replay's `OutlierGuard` (one per shard; replay has one)."""

    def __init__(self, guard: OutlierGuard) -> None:
        self._guard = guard

    def on_batch(self, values: list[Engine]) -> tuple[Iterable[Engine | DeadLetter], bool]:
        return self._guard.feed(values), StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[Engine | DeadLetter], bool]:
        return self._guard.flush(), StatefulBatchLogic.DISCARD

    def snapshot(self) -> None:
        return None


def _without_dead_letters(
    step_id: str, stream: KeyedStream[Y | DeadLetter]
) -> tuple[KeyedStream[Y], Stream[DeadLetter]]:
    split = op.branch(step_id, stream, lambda kv: not isinstance(kv[1], DeadLetter))
    return (
        cast(KeyedStream[Y], split.trues),
        cast(Stream[DeadLetter], op.key_rm(f"unkey_{step_id}", split.falses)),
    )


def build_flow(
    flow_id: str,
    source: Source[X | ClockTick],
    read: Callable[[X], RawInput | DeadLetter],
    processor: Callable[[], BatchProcessor],
    shards: int,
    notice_sink: Sink[tuple[str, EmittedNotice]],
    dead_letter_sink: Sink[DeadLetter],
    guard_clock: float | None = None,
    redis_loss: RedisLoss | None = None,
) -> Dataflow:
    """Wire the dataflow. ``processor()`` is called once per shard batch (cache it).

    Notices reach ``notice_sink`` as ``(key, (customer_id, notice_json))``, the Bytewax key
    of their shard (flows.routing.shard_of_key gives the shard). Clock ticks
    (live: flows.ticker) come from ``source`` like events and go to their shard. Dead
    letters are the input that does not parse and the events the engine refused or failed
    on (flows.processor). ``guard_clock``: replay's event-time clock is guarded against
    outliers more than this many seconds ahead (flows.outliers). ``redis_loss``: how an
    in-process run stops when Redis is gone (flows.fatal; None: the error is raised).
    """
    flow = Dataflow(flow_id)
    raw = op.input("input", flow, source)
    routes = route_keys(shards)
    parsed = op.flat_map_batch("parse", raw, lambda items: parse_batch(items, read, routes))
    split = op.branch("split_rejects", parsed, lambda kv: kv[0] != DEAD_LETTER_KEY)
    dead = [cast(Stream[DeadLetter], op.key_rm("unkey_rejects", split.falses))]
    keyed = cast(KeyedStream[Engine], split.trues)
    if guard_clock is not None:
        guarded = op.stateful_batch(
            "guard_clock", keyed, lambda _: _GuardLogic(OutlierGuard(guard_clock))
        )
        keyed, outliers = _without_dead_letters("split_outliers", guarded)
        dead.append(outliers)
    engine = op.stateful_batch(
        "engine",
        keyed,
        lambda _: _EngineLogic(stop_if_redis_is_gone("engine", processor), shards, redis_loss),
    )
    notices, failed = _without_dead_letters("split_failed", engine)
    op.output("dead_letters", op.merge("all_dead_letters", *dead, failed), dead_letter_sink)
    op.output("notices", cast(Stream[tuple[str, EmittedNotice]], notices), notice_sink)
    return flow

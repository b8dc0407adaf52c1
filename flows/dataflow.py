"""The one dataflow: input -> parse -> shard -> engine -> notices / dead letters.

Live and replay differ only in the source, the sinks and the clock given to the engine.
Parsing, keying and splitting off rejects happen per batch, not per event.
Step ids are a frozen contract (Bytewax recovery keys snapshots by them).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar, cast

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.operators import KeyedStream, StatefulBatchLogic
from bytewax.outputs import Sink

from flows.clock import ClockTick
from flows.processor import BatchProcessor, EmittedNotice
from triggers.events import Event, Rejection, parse_event, subject_of

X = TypeVar("X")


@dataclass(frozen=True, slots=True)
class RawInput:
    """One input message as received, with where it came from (for dead letters)."""

    value: bytes
    origin: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Rejected input: the original bytes, where they came from and why."""

    raw: bytes
    origin: str
    reason: str
    kind: str
    """a short fixed label of the reason, for metrics (see triggers.events.Rejection)"""


def shard_of(subject: str, shards: int) -> str:
    """Stable shard of a subject: the key of the stateful step (crc32 is stable across runs)."""
    return str(zlib.crc32(subject.encode()) % shards)


class _EngineLogic(StatefulBatchLogic[Event | ClockTick, EmittedNotice, None]):
    """Bytewax adapter: the engine keeps no in-memory state (Redis holds it)."""

    def __init__(self, processor: BatchProcessor, shards: int) -> None:
        self._processor = processor
        self._shards = shards

    def on_batch(self, values: list[Event | ClockTick]) -> tuple[Iterable[EmittedNotice], bool]:
        # Bytewax does not tell the logic its key; every item of the batch carries it
        shard = key_of(values[0], self._shards)
        return self._processor.process(shard, values), StatefulBatchLogic.DISCARD

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

Parsed = tuple[str, Event | ClockTick | DeadLetter]
"""(shard, item) or (DEAD_LETTER_KEY, dead letter)"""


def parse_batch(
    items: list[X | ClockTick], read: Callable[[X], RawInput | DeadLetter], shards: int
) -> list[Parsed]:
    """Read, parse and key a whole input batch in one call (a Bytewax step per event costs).
    Clock ticks (the live clock partition, replay's end of input) go to their shard as they
    are."""
    out: list[Parsed] = []
    for item in items:
        if isinstance(item, ClockTick):
            out.append((item.shard, item))
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
                out.append((key_of(parsed, shards), parsed))
        else:
            out.append((DEAD_LETTER_KEY, raw))
    return out


def build_flow(
    flow_id: str,
    source: Source[X | ClockTick],
    read: Callable[[X], RawInput | DeadLetter],
    processor: Callable[[], BatchProcessor],
    shards: int,
    notice_sink: Sink[tuple[str, EmittedNotice]],
    dead_letter_sink: Sink[DeadLetter],
) -> Dataflow:
    """Wire the dataflow. ``processor()`` is called once per shard batch (cache it).

    Notices reach ``notice_sink`` as ``(shard, (customer_id, notice_json))``. Clock ticks
    (live: flows.ticker) come from ``source`` like events and go to their shard.
    """
    flow = Dataflow(flow_id)
    raw = op.input("input", flow, source)
    parsed = op.flat_map_batch("parse", raw, lambda items: parse_batch(items, read, shards))
    split = op.branch("split_rejects", parsed, lambda kv: kv[0] != DEAD_LETTER_KEY)
    rejects = cast(Stream[DeadLetter], op.key_rm("unkey_rejects", split.falses))
    op.output("dead_letters", rejects, dead_letter_sink)
    keyed = cast(KeyedStream[Event | ClockTick], split.trues)
    engine = op.stateful_batch("engine", keyed, lambda _: _EngineLogic(processor(), shards))
    op.output("notices", engine, notice_sink)
    return flow

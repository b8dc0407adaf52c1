"""The one dataflow: input -> parse -> shard -> engine -> notices / dead letters.

Live and replay differ only in the source, the sinks and the clock given to the engine.
Step ids are a frozen contract (Bytewax recovery keys snapshots by them).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.operators import StatefulBatchLogic
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


def shard_of(subject: str, shards: int) -> str:
    """Stable shard of a subject: the key of the stateful step (crc32 is stable across runs)."""
    return str(zlib.crc32(subject.encode()) % shards)


class _EngineLogic(StatefulBatchLogic[Event | ClockTick, EmittedNotice, None]):
    """Bytewax adapter: the engine keeps no in-memory state (Redis holds it)."""

    def __init__(self, processor: BatchProcessor) -> None:
        self._processor = processor

    def on_batch(self, values: list[Event | ClockTick]) -> tuple[Iterable[EmittedNotice], bool]:
        return self._processor.process(values), StatefulBatchLogic.DISCARD

    def snapshot(self) -> None:
        return None


def _parse(item: RawInput | DeadLetter | ClockTick) -> Event | DeadLetter | ClockTick:
    if not isinstance(item, RawInput):
        return item
    parsed = parse_event(item.value)
    if isinstance(parsed, Rejection):
        return DeadLetter(parsed.raw, item.origin, parsed.reason)
    return parsed


def build_flow(
    flow_id: str,
    source: Source[X],
    read: Callable[[X], RawInput | DeadLetter | ClockTick],
    processor: Callable[[], BatchProcessor],
    shards: int,
    notice_sink: Sink[EmittedNotice],
    dead_letter_sink: Sink[DeadLetter],
) -> Dataflow:
    """Wire the dataflow. ``processor()`` is called once per shard a worker owns."""
    flow = Dataflow(flow_id)
    raw = op.input("input", flow, source)
    parsed = op.map("parse", op.map("read", raw, read), _parse)
    split = op.branch("split_rejects", parsed, lambda x: not isinstance(x, DeadLetter))
    op.output("dead_letters", split.falses, dead_letter_sink)

    def key(event: Any) -> str:
        if isinstance(event, ClockTick):
            return event.shard
        subject = subject_of(event)
        return shard_of(event.event_id if subject == "-" else subject, shards)

    keyed = op.key_on("shard", split.trues, key)
    notices = op.stateful_batch("engine", keyed, lambda _resume: _EngineLogic(processor()))
    op.output("notices", op.key_rm("unshard", notices), notice_sink)
    return flow

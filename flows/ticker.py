"""The live clock as one more partition of the input: every shard gets a tick every
``interval`` seconds, so due timers fire even when no events arrive.

Why a partition of the input and not an input of its own: Bytewax (0.21) lets an input
partition read in epoch N only once every output has finished epoch N-1, and a
partition closes its epoch at the first activation of its input operator after the
epoch interval. Partitions of one input operator close their epochs in the same
activation, so they stay in step. A separate clock input is activated only once per
tick, so it closed each epoch up to a tick late; the Kafka partitions then waited for it
a little longer every epoch, until (after some minutes at 0.5 s ticks) each of them read
a single batch per epoch: about 1k events/s for the whole flow, whatever the load.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from flows.clock import ClockTick
from flows.shutdown import STOP

X = TypeVar("X")

CLOCK_PART = "clock"
"""Name of the clock partition (one in the whole cluster: one worker ticks every shard)."""


class _TickPartition(StatefulSourcePartition[ClockTick, None]):
    def __init__(self, shards: int, interval_s: float) -> None:
        self._shards = [str(s) for s in range(shards)]
        self._interval = timedelta(seconds=interval_s)
        self._next = datetime.now(UTC)

    def next_batch(self) -> list[ClockTick]:
        if STOP.is_set():
            raise StopIteration
        now = time.time()
        self._next = datetime.now(UTC) + self._interval
        return [ClockTick(now, shard) for shard in self._shards]

    def next_awake(self) -> datetime:
        return self._next

    def snapshot(self) -> None:
        return None  # ticks are never replayed: timers are durable in Redis


class WithClock(FixedPartitionedSource[X | ClockTick, Any], Generic[X]):
    """``inner``'s partitions plus a clock partition that ticks each of ``shards``."""

    def __init__(
        self, inner: FixedPartitionedSource[X, Any], shards: int, interval_s: float
    ) -> None:
        self._inner = inner
        self._shards = shards
        self._interval_s = interval_s

    def list_parts(self) -> list[str]:
        return [*self._inner.list_parts(), CLOCK_PART]

    def build_part(
        self, step_id: str, for_part: str, resume_state: Any
    ) -> StatefulSourcePartition[Any, Any]:
        if for_part == CLOCK_PART:
            return _TickPartition(self._shards, self._interval_s)
        return self._inner.build_part(step_id, for_part, resume_state)

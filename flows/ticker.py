"""The live clock as an input: every shard gets a tick every ``interval`` seconds, so due
timers fire even when no events arrive."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from flows.clock import ClockTick
from flows.shutdown import STOP


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


class ShardTicker(FixedPartitionedSource[ClockTick, None]):
    """One partition (so one worker of the cluster ticks) emitting a tick per shard."""

    def __init__(self, shards: int, interval_s: float) -> None:
        self._shards = shards
        self._interval_s = interval_s

    def list_parts(self) -> list[str]:
        return ["clock"]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _TickPartition:
        return _TickPartition(self._shards, self._interval_s)

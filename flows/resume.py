"""Input snapshots kept a little behind, so a resume re-reads what Redis may have lost.

Bytewax resumes a Kafka partition from the offset in its last snapshot. Redis acknowledges
writes before they are durable (``appendfsync everysec``; asynchronous replicas), so after
a Redis restart or failover the effects of the last second or so of input can be gone
while the snapshot already lies past them. Each partition therefore reports, as its
snapshot, the offset it had ``lag_s`` ago: a resume reads those seconds again, and every
event in them is applied once (events already applied are recognised by their id).

The engine notices the loss itself (state.fence) and stops, so that it resumes.
"""

from __future__ import annotations

import time
from collections import deque
from datetime import datetime
from typing import Any, Generic, TypeVar

from bytewax.inputs import StatefulSourcePartition

X = TypeVar("X")
S = TypeVar("S")


class LaggingSnapshots(StatefulSourcePartition[X, S], Generic[X, S]):
    """``inner``, whose snapshots are the ones it took at least ``lag_s`` earlier."""

    def __init__(self, inner: StatefulSourcePartition[X, S], lag_s: float) -> None:
        self._inner = inner
        self._lag_s = lag_s
        self._taken: deque[tuple[float, S]] = deque([(float("-inf"), inner.snapshot())])

    def next_batch(self) -> Any:
        return self._inner.next_batch()

    def next_awake(self) -> datetime | None:
        return self._inner.next_awake()

    def snapshot(self) -> S:
        now = time.monotonic()
        self._taken.append((now, self._inner.snapshot()))
        old_enough = now - self._lag_s
        while len(self._taken) > 1 and self._taken[1][0] <= old_enough:
            self._taken.popleft()  # a newer one is old enough too
        return self._taken[0][1]

    def close(self) -> None:
        self._inner.close()

"""Input snapshots lag behind by the configured time (flows.resume)."""

from __future__ import annotations

import time
from datetime import datetime

from bytewax.inputs import StatefulSourcePartition

from flows.resume import LaggingSnapshots


class Counter(StatefulSourcePartition[int, int]):
    """A source partition whose position is a number we move by hand."""

    def __init__(self) -> None:
        self.position = 0

    def next_batch(self) -> list[int]:
        return []

    def next_awake(self) -> datetime | None:
        return None

    def snapshot(self) -> int:
        return self.position


def test_snapshots_are_the_positions_of_lag_seconds_ago() -> None:
    inner = Counter()
    lagging = LaggingSnapshots(inner, lag_s=0.3)
    inner.position = 10
    assert lagging.snapshot() == 0  # nothing is 0.3 s old yet: where it started
    time.sleep(0.35)
    inner.position = 20
    assert lagging.snapshot() == 10  # the position taken 0.35 s ago
    inner.position = 30
    assert lagging.snapshot() == 10
    time.sleep(0.35)
    assert lagging.snapshot() == 30


def test_no_lag_reports_the_current_position() -> None:
    inner = Counter()
    lagging = LaggingSnapshots(inner, lag_s=0)
    inner.position = 7
    assert lagging.snapshot() == 7

"""The flow's own time per notice: from consuming the event that caused it to the broker
acknowledging the notice (live). End-to-end latency adds the producer's and the consumer's
time at the broker, which on the local broker is mostly its fetch deadline; this is the
part smartcomms answers for (``smartcomms_flow_seconds``, bench/throughput.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from smartcomms.observability import FLOW_SECONDS

MAX_IN_FLIGHT = 100_000
"""notices awaiting their acknowledgement that are tracked at most (never more in a sane
flow: a batch is acknowledged before the next is read)"""


class FlowTimes:
    """Notices emitted by the engine, by their bytes, with when their event was consumed."""

    def __init__(self) -> None:
        self._consumed_at: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def emitted(self, notice: bytes, consumed_at: float) -> None:
        with self._lock:
            if len(self._consumed_at) >= MAX_IN_FLIGHT:
                self._consumed_at.clear()
            self._consumed_at[notice] = consumed_at

    def acknowledged(self, notices: Iterable[bytes]) -> None:
        """The broker acknowledged ``notices``: observe the time of those tracked."""
        now = time.time()
        with self._lock:
            times = [self._consumed_at.pop(n, None) for n in notices]
        for consumed_at in times:
            if consumed_at is not None:
                FLOW_SECONDS.observe(now - consumed_at)


FLOW_TIMES = FlowTimes()

"""The engine's store backends for tests: the same state, timer and engine tests run over
Redis (a real server, an emptied database) and over the process's memory (state.memory)."""

from __future__ import annotations

from typing import Any

import redis

from state.backend import CoPurchaseTable, Documents, DueIndex
from state.copurchases import CoPurchases
from state.customers import CustomerStore
from state.memory import (
    MemoryCoPurchases,
    MemoryDocuments,
    MemoryReportCounters,
    MemoryTimerIndex,
)
from state.report import ReportCounters
from state.timers import TimerIndex


class Backend:
    """One backend's stores by key prefix: asking twice for a prefix gives the same data."""

    def __init__(self, name: str, client: redis.Redis | None, url: str | None) -> None:
        self.name = name
        self.client = client
        self.url = url
        """what `flows.replay.replay` takes (None: memory)"""
        self._made: dict[tuple[str, str], Any] = {}

    def documents(self, prefix: str = "t", anonymous_ttl_s: int = 3600) -> Documents:
        if self.client is not None:
            return CustomerStore(self.client, prefix, anonymous_ttl_s)
        return self._memory("documents", prefix, MemoryDocuments)  # type: ignore[no-any-return]

    def timers(self, prefix: str = "t") -> DueIndex:
        if self.client is not None:
            return TimerIndex(self.client, prefix)
        return self._memory("timers", prefix, MemoryTimerIndex)  # type: ignore[no-any-return]

    def copurchases(self, prefix: str = "t") -> CoPurchaseTable:
        if self.client is not None:
            return CoPurchases(self.client, prefix)
        return self._memory("copurchases", prefix, MemoryCoPurchases)  # type: ignore[no-any-return]

    def report(self, prefix: str = "t") -> ReportCounters | MemoryReportCounters:
        if self.client is not None:
            return ReportCounters(self.client, prefix)
        return self._memory("report", prefix, MemoryReportCounters)  # type: ignore[no-any-return]

    def _memory(self, kind: str, prefix: str, make: type) -> Any:
        return self._made.setdefault((kind, prefix), make())

    def __repr__(self) -> str:
        return self.name

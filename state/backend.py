"""What the engine needs of its store, with two backends: Redis (state.customers,
state.timers, state.copurchases, state.fence) and the process's own memory (state.memory,
for a replay without a server).

A batch reads through the stores, then queues its writes on the backend's own batch of
writes (``writes``: a `state.batch.BatchWrite` or a `state.memory.MemoryWrites`), which
``Documents.write`` applies whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from state.fence import FencedBatch
from triggers.customer import CustomerState


class Fence(Protocol):
    """Guards a shard's batches against writes the store has lost (state.fence)."""

    def open(self, shard: str) -> FencedBatch: ...

    def committed(self, batch: FencedBatch, shard: str) -> None: ...


class Documents(Protocol):
    """Customer states by subject (``c:<customer_id>``, ``a:<anonymous_id>``)."""

    @property
    def fence(self) -> Fence:
        """This store's write fence."""
        ...

    def load(self, subjects: Iterable[str]) -> dict[str, CustomerState]:
        """The states of ``subjects`` (new empty ones for unknown subjects)."""
        ...

    def encode(self, states: Mapping[str, CustomerState]) -> dict[str, bytes]:
        """What ``write`` stores of each state (raises when a state cannot be stored)."""
        ...

    def write(
        self,
        documents: Mapping[str, bytes],
        also: Callable[[Any], None] | None = None,
        fenced: FencedBatch | None = None,
    ) -> bool:
        """Store encoded documents and what ``also`` queues on the writes, as one batch;
        whether anything was written."""
        ...


class DueIndex(Protocol):
    """Which subjects of a shard have a timer due by a given time."""

    def due(self, shard: str, until: float, limit: int | None = None) -> list[str]:
        """Subjects whose earliest timer is due at or before ``until``, earliest first
        (ties by subject); at most ``limit`` (None: all)."""
        ...

    def update(self, writes: Any, shard: str, changes: Mapping[str, float | None]) -> None:
        """Queue new earliest due times (None: the subject has no timer left)."""
        ...


class CoPurchaseTable(Protocol):
    """Item-to-item co-purchase counts (state.copurchases has the rules)."""

    def partners(self, skus: Iterable[str]) -> dict[str, dict[str, int]]: ...

    def categories(self, skus: Iterable[str]) -> dict[str, str]: ...

    def seen_anonymous(
        self, shard: str, digests: Sequence[str], today: int, window_days: int
    ) -> set[str]: ...

    def add(
        self,
        writes: Any,
        pairs: Mapping[str, Counter[str]],
        categories: Mapping[str, str],
        anonymous: tuple[str, int, Sequence[str], float] | None = None,
    ) -> None: ...


class ReportStore(Protocol):
    """The scenario report's counters (state.report)."""

    def add(self, writes: Any, shard: str, counts: Mapping[str, int]) -> None:
        """Queue a batch's counts (field -> increment) with its other writes."""
        ...

    def totals(self) -> Counter[str]:
        """Every shard's counts added up."""
        ...

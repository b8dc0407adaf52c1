"""The engine's store in the process's own memory: the backend of a replay without a
server (state.backend has the interface; the Redis backend is the reference).

Documents are kept as plain JSON (triggers.customer.to_bytes), so a loaded state shares
nothing with what is stored: a batch that fails on its data and is computed again starts
from what the last batch committed, as it does on Redis. One process, one thread: every
batch applies whole, no fence can find lost writes, and an anonymous device never expires
(a replay runs for minutes of wall time, which is what a Redis TTL counts).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from state.copurchases import PARTNERS
from state.fence import FencedBatch
from state.report import COUNT_MAX
from triggers.customer import CustomerState, from_bytes, to_bytes


class MemoryWrites:
    """A batch's writes: changes applied in the order queued, by `apply`."""

    def __init__(self) -> None:
        self._changes: list[Callable[[], None]] = []

    def queue(self, change: Callable[[], None]) -> None:
        self._changes.append(change)

    def apply(self) -> None:
        for change in self._changes:
            change()


class MemoryFence:
    """Nothing to guard: memory loses no write it acknowledged."""

    def open(self, shard: str) -> FencedBatch:
        return FencedBatch("", b"", None, already_applied=False)

    def committed(self, batch: FencedBatch, shard: str) -> None:
        return None


class MemoryDocuments:
    """Customer states by subject."""

    def __init__(self) -> None:
        self._documents: dict[str, bytes] = {}
        self.fence = MemoryFence()

    def load(self, subjects: Iterable[str]) -> dict[str, CustomerState]:
        documents = self._documents
        return {
            subject: CustomerState() if (raw := documents.get(subject)) is None else from_bytes(raw)
            for subject in subjects
        }

    def encode(self, states: Mapping[str, CustomerState]) -> dict[str, bytes]:
        return {subject: to_bytes(state) for subject, state in states.items()}

    def write(
        self,
        documents: Mapping[str, bytes],
        also: Callable[[Any], None] | None = None,
        fenced: FencedBatch | None = None,
    ) -> bool:
        if not documents and also is None:
            return False
        writes = MemoryWrites()
        if also is not None:
            also(writes)
        self._documents.update(documents)
        writes.apply()
        return True


class MemoryTimerIndex:
    """Each shard's subjects by earliest due time: a heap with stale entries skipped."""

    def __init__(self) -> None:
        self._due: dict[str, dict[str, float]] = {}
        """shard -> subject -> its earliest due"""
        self._heaps: dict[str, list[tuple[float, str]]] = {}
        """shard -> (due, subject), including entries the subject has moved away from"""

    def due(self, shard: str, until: float, limit: int | None = None) -> list[str]:
        current, heap = self._due.get(shard, {}), self._heaps.get(shard, [])
        while heap and current.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)  # a stale entry on top
        found: list[str] = []
        frontier = [(heap[0], 0)] if heap else []
        while frontier and (limit is None or len(found) < limit):
            (due, subject), at = heapq.heappop(frontier)
            if due > until:
                break
            if current.get(subject) == due and subject not in found[-1:]:
                found.append(subject)  # a subject moved back to a due it had is listed once
            for child in (2 * at + 1, 2 * at + 2):
                if child < len(heap):
                    heapq.heappush(frontier, (heap[child], child))
        return found

    def update(self, writes: MemoryWrites, shard: str, changes: Mapping[str, float | None]) -> None:
        changes = dict(changes)
        writes.queue(lambda: self._update(shard, changes))

    def _update(self, shard: str, changes: Mapping[str, float | None]) -> None:
        current = self._due.setdefault(shard, {})
        heap = self._heaps.setdefault(shard, [])
        for subject, due in changes.items():
            if due is None:
                current.pop(subject, None)
            elif current.get(subject) != due:
                current[subject] = due
                heapq.heappush(heap, (due, subject))
        if len(heap) > 2 * len(current) + 1024:  # mostly stale: rebuilt from what is current
            heap[:] = [(due, subject) for subject, due in current.items()]
            heapq.heapify(heap)


class MemoryCoPurchases:
    """Co-purchase counts with the rules of state.copurchases (Space-Saving per product)."""

    def __init__(self) -> None:
        self._partners: dict[str, dict[str, int]] = {}
        self._categories: dict[str, str] = {}
        self._anonymous: dict[tuple[str, int], set[str]] = {}
        """(shard, day) -> digests of the anonymous receipts counted that day"""

    def partners(self, skus: Iterable[str]) -> dict[str, dict[str, int]]:
        return {sku: dict(self._partners.get(sku, {})) for sku in dict.fromkeys(skus)}

    def categories(self, skus: Iterable[str]) -> dict[str, str]:
        return {sku: self._categories[sku] for sku in skus if sku in self._categories}

    def seen_anonymous(
        self, shard: str, digests: Sequence[str], today: int, window_days: int
    ) -> set[str]:
        days = [
            self._anonymous.get((shard, day), set())
            for day in range(today - window_days, today + 1)
        ]
        return {digest for digest in digests if any(digest in seen for seen in days)}

    def add(
        self,
        writes: MemoryWrites,
        pairs: Mapping[str, Counter[str]],
        categories: Mapping[str, str],
        anonymous: tuple[str, int, Sequence[str], float] | None = None,
    ) -> None:
        pairs, categories = dict(pairs), dict(categories)
        writes.queue(lambda: self._add(pairs, categories, anonymous))

    def _add(
        self,
        pairs: Mapping[str, Counter[str]],
        categories: Mapping[str, str],
        anonymous: tuple[str, int, Sequence[str], float] | None,
    ) -> None:
        for sku, partners in pairs.items():
            counts = self._partners.setdefault(sku, {})
            for partner, count in sorted(partners.items()):
                _space_saving_add(counts, partner, count)
        self._categories.update(categories)
        if anonymous is not None and anonymous[2]:
            shard, today, digests, keep_s = anonymous
            self._anonymous.setdefault((shard, today), set()).update(digests)
            kept_days = int(keep_s // 86400) + 1
            for key in [k for k in self._anonymous if k[0] == shard and k[1] <= today - kept_days]:
                del self._anonymous[key]  # what Redis would have expired


class MemoryReportCounters:
    """The report's counters (state.report), per shard."""

    def __init__(self) -> None:
        self._counts: dict[str, Counter[str]] = {}

    def add(self, writes: MemoryWrites, shard: str, counts: Mapping[str, int]) -> None:
        counts = dict(counts)
        writes.queue(lambda: _add_bounded(self._counts.setdefault(shard, Counter()), counts))

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self._counts.values():
            total.update(counts)
        return total


def _add_bounded(counter: Counter[str], counts: Mapping[str, int]) -> None:
    """Add the counts, each stopping at the bounds Redis holds (state.report)."""
    for field, count in counts.items():
        counter[field] = max(-COUNT_MAX - 1, min(COUNT_MAX, counter[field] + count))


def _space_saving_add(counts: dict[str, int], partner: str, count: int) -> None:
    """Count a partner (the Lua script of state.copurchases, the same tie rule): a new
    partner of a full product takes the place and the count of the weakest, plus its own."""
    if partner in counts or len(counts) < PARTNERS:
        counts[partner] = counts.get(partner, 0) + count
        return
    least = min(counts.values())
    weakest = max(name for name, c in counts.items() if c == least)
    del counts[weakest]
    counts[partner] = least + count

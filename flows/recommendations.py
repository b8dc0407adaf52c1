"""Co-purchases of one shard batch: counted from its receipts, read for recommendations
(Redis plus what the batch has counted so far, so replay sees every receipt before the
step in file order), written with the batch (state.copurchases)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from state.backend import CoPurchaseTable
from state.copurchases import pairs_of
from triggers.customer import DAY
from triggers.dedup import event_digest
from triggers.events import Click, Event, Receipt

RECOMMENDED = 3


def products(event: Event) -> list[tuple[str, str | None]]:
    """(sku, category) of a receipt's or an order's lines; none for other events."""
    if isinstance(event, Receipt) and event.type == "receipt":
        return [(line.sku, line.category) for line in event.lines]
    if isinstance(event, Click) and event.type == "order" and event.lines:
        return [(line.sku, line.category) for line in event.lines]
    return []


class CoPurchaseBatch:
    """What one batch counts and reads of the co-purchase table."""

    def __init__(
        self,
        table: CoPurchaseTable,
        shard: str,
        events: Iterable[Event],
        today: int,
        window_days: int,
    ) -> None:
        self._table = table
        self._shard = shard
        self._today = today
        self._window_days = window_days
        self._pairs: dict[str, Counter[str]] = {}
        self._categories: dict[str, str] = {}
        self._anonymous: list[str] = []
        anonymous = [
            event_digest(e.event_id)
            for e in events
            if isinstance(e, Receipt) and e.customer_id is None and e.type == "receipt"
        ]
        self._seen = table.seen_anonymous(shard, anonymous, today, window_days)
        self._read: dict[str, dict[str, int]] = {}

    def count(self, event: Event) -> None:
        """Count an applied receipt's (or order's) pairs of products."""
        lines = products(event)
        for sku, partners in pairs_of([sku for sku, _category in lines]).items():
            self._pairs.setdefault(sku, Counter()).update(partners)
        self._categories.update((sku, category) for sku, category in lines if category)

    def count_anonymous(self, receipt: Receipt) -> None:
        """An anonymous receipt has no state to remember it by: the shard does."""
        digest = event_digest(receipt.event_id)
        if digest in self._seen:
            return
        self._seen.add(digest)
        self._anonymous.append(digest)
        self.count(receipt)

    def recommend(self, seeds: Sequence[str], owned: Iterable[str]) -> list[dict[str, str | None]]:
        """Up to three products most often bought with ``seeds``, none the customer owns."""
        missing = [sku for sku in seeds if sku not in self._read]
        self._read.update(self._table.partners(missing))
        scores: Counter[str] = Counter()
        for sku in seeds:
            scores.update(self._read.get(sku, {}))
            scores.update(self._pairs.get(sku, {}))
        left_out = {*seeds, *owned}
        best = sorted(
            ((count, sku) for sku, count in scores.items() if sku not in left_out),
            key=lambda item: (-item[0], item[1]),
        )[:RECOMMENDED]
        categories = self._table.categories(sku for _count, sku in best)
        categories.update(self._categories)
        return [{"sku": sku, "category": categories.get(sku)} for _count, sku in best]

    def write(self, writes: Any) -> None:
        """Queue the batch's counts with its other writes."""
        anonymous = (self._shard, self._today, self._anonymous, (self._window_days + 1) * DAY)
        self._table.add(writes, self._pairs, self._categories, anonymous)

    @property
    def changed(self) -> bool:
        return bool(self._pairs or self._categories or self._anonymous)

"""The scenario report's counters in Redis (triggers.scenarios.report has what they count).

    <prefix>:report:{<shard>}    hash: field (scenario|figure|step|variant) -> count
    <prefix>:report-shards       set: the shards that have counted anything

Each batch adds its counts with HINCRBY in the same MULTI/EXEC as the documents whose
change caused them (state.batch), so a count is applied exactly when its event is: never
twice after a redelivery or a crash, never lost. The hash shares its shard's slot (the
fence's), so a Cluster takes it; there the batch's phases are separate pipelines
(state.batch) and the counts go with the fence in the last one: a crash between a
batch's phases on a Cluster can lose that batch's counts (never double them). Reading
the report is one HGETALL per shard: counters, not a scan, however many customers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import cast

from state.batch import BatchWrite
from state.connection import RedisClient


class ReportCounters:
    """The report's counters of every shard."""

    def __init__(self, client: RedisClient, prefix: str, name: str = "report") -> None:
        """``name``: which counters (``report``; ``rfm-sketch``: the RFM histograms of
        triggers.rfm_quantiles, kept the same way)."""
        self._client = client
        self._prefix = prefix
        self._name = name
        self._shards = f"{prefix}:{name}-shards"

    def key(self, shard: str) -> str:
        return f"{self._prefix}:{self._name}:{{{shard}}}"

    def add(self, writes: BatchWrite, shard: str, counts: Mapping[str, int]) -> None:
        """Queue a batch's counts (field -> increment)."""
        key = self.key(shard)
        writes.before.sadd(self._shards, shard)  # idempotent: harmless ahead of the rest
        for field, count in counts.items():
            writes.after.hincrby(key, field, count)

    def shards(self) -> list[str]:
        """The shards that have counted anything, in order."""
        return sorted(s.decode() for s in cast(set[bytes], self._client.smembers(self._shards)))

    def totals(self) -> Counter[str]:
        """Every shard's counts added up."""
        shards = self.shards()
        pipe = self._client.pipeline(transaction=False)
        for shard in shards:
            pipe.hgetall(self.key(shard))
        total: Counter[str] = Counter()
        for counts in pipe.execute():
            for field, count in counts.items():
                total[field.decode()] += int(count)
        return total

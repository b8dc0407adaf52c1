"""The scenario report's counters in Redis (triggers.scenarios.report has what they count).

    <prefix>:report:{<shard>}    hash: field (scenario|figure|step|variant) -> count
    <prefix>:report-shards       set: the shards that have counted anything

Each batch adds its counts (a script of HINCRBYs per hash) in the same MULTI/EXEC as the
documents whose change caused them (state.batch), so a count is applied exactly when its
event is: never twice after a redelivery or a crash, never lost. The hash shares its
shard's slot (the fence's), so a Cluster takes it; there the batch's phases are separate
pipelines (state.batch) and the counts go with the fence in the last one: a crash
between a batch's phases on a Cluster can lose that batch's counts (never double them).
Reading the report is one HGETALL per shard: counters, not a scan, however many customers.

A count stops at the largest integer Redis holds (2^63 - 1; revenue is counted in cents,
so a scenario's revenue stops at ~9.2e16): a bot's receipts at the largest total the
door lets in would otherwise make HINCRBY refuse, which stopped every batch after it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import cast

from state.batch import BatchWrite
from state.connection import RedisClient

COUNT_MAX = 2**63 - 1
"""the largest count Redis holds (and the smallest is -2^63)"""
_ADD = f"""
for i = 1, #ARGV, 2 do
  local added = redis.pcall('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  if type(added) == 'table' and added.err then
    local bound = tonumber(ARGV[i + 1]) < 0 and '{-COUNT_MAX - 1}' or '{COUNT_MAX}'
    redis.call('HSET', KEYS[1], ARGV[i], bound)
  end
end
return 1
"""
"""add each field's count; one that would pass a bound stops there"""


class ReportCounters:
    """The report's counters of every shard."""

    def __init__(self, client: RedisClient, prefix: str, name: str = "report") -> None:
        """``name``: which counters (``report``; ``rfm-sketch``: the RFM histograms of
        triggers.rfm_quantiles, kept the same way)."""
        self._client = client
        self._prefix = prefix
        self._name = name
        self._shards = f"{prefix}:{name}-shards"
        self._add = client.register_script(_ADD)

    def key(self, shard: str) -> str:
        return f"{self._prefix}:{self._name}:{{{shard}}}"

    def add(self, writes: BatchWrite, shard: str, counts: Mapping[str, int]) -> None:
        """Queue a batch's counts (field -> increment)."""
        if not counts:
            return
        writes.before.sadd(self._shards, shard)  # idempotent: harmless ahead of the rest
        args: list[str | int] = []
        for field, count in counts.items():
            args += [field, count]
        writes.script(writes.after, self._add, [self.key(shard)], args)

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

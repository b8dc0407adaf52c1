"""Item-to-item co-purchase counts, for the ``recommendations`` of scenario notices.

    <prefix>:co:{<sku>}       hash: partner sku -> receipts that had both; its top partners
    <prefix>:products         hash: sku -> category (the last one seen)
    <prefix>:anon:{<shard>}:<day>   set: digests of the anonymous receipts of a shard
                                      counted on that day (engine time); expires

Every receipt (anonymous ones too) counts each pair of its products once. A product keeps
at most `PARTNERS` partners (Space-Saving: a new partner of a full product takes the place
and the count of the weakest one, plus its own; counts of the top partners are then
overestimated by at most the weakest count), so memory is bounded by products, not pairs.
Each product's update is a Lua script on its own key (Cluster-safe), queued with the
batch's other writes (state.batch): applied with the receipt's dedup entry, exactly once
(anonymous receipts remember their ids per shard for the dedup window).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import cast

from state.batch import BatchWrite
from state.connection import RedisClient

PARTNERS = 20
"""partners kept per product"""
PRODUCTS_PER_RECEIPT = 20
"""the first distinct products of a receipt that are counted (a 1000-line receipt would
make half a million pairs)"""

_ADD = """
local k = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local partner, inc = ARGV[i], tonumber(ARGV[i + 1])
  if redis.call('HEXISTS', KEYS[1], partner) == 1 or redis.call('HLEN', KEYS[1]) < k then
    redis.call('HINCRBY', KEYS[1], partner, inc)
  else
    local all = redis.call('HGETALL', KEYS[1])
    local weakest, least = nil, nil
    for j = 1, #all, 2 do
      local count = tonumber(all[j + 1])
      if least == nil or count < least or (count == least and all[j] > weakest) then
        weakest, least = all[j], count
      end
    end
    redis.call('HDEL', KEYS[1], weakest)
    redis.call('HSET', KEYS[1], partner, least + inc)
  end
end
return 1
"""


def pairs_of(skus: Sequence[str]) -> dict[str, Counter[str]]:
    """Product -> partner -> 1, for every pair of a receipt's (first) distinct products."""
    distinct = list(dict.fromkeys(skus))[:PRODUCTS_PER_RECEIPT]
    return {sku: Counter(p for p in distinct if p != sku) for sku in distinct if len(distinct) > 1}


class CoPurchases:
    """The co-purchase table in Redis."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._add = client.register_script(_ADD)
        self.products_key = f"{prefix}:products"

    def key(self, sku: str) -> str:
        return f"{self._prefix}:co:{{{sku}}}"

    def anonymous_key(self, shard: str, day: int) -> str:
        return f"{self._prefix}:anon:{{{shard}}}:{day}"

    def partners(self, skus: Iterable[str]) -> dict[str, dict[str, int]]:
        """Each product's partners with their counts (one round trip)."""
        skus = list(dict.fromkeys(skus))
        if not skus:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for sku in skus:
            pipe.hgetall(self.key(sku))
        found = cast(list[dict[bytes, bytes]], pipe.execute())
        return {
            sku: {p.decode(): int(c) for p, c in partners.items()}
            for sku, partners in zip(skus, found, strict=True)
        }

    def categories(self, skus: Iterable[str]) -> dict[str, str]:
        """The category of each product that has one."""
        skus = list(skus)
        if not skus:
            return {}
        values = cast(list[bytes | None], self._client.hmget(self.products_key, skus))
        return {sku: v.decode() for sku, v in zip(skus, values, strict=True) if v}

    def seen_anonymous(
        self, shard: str, digests: Sequence[str], today: int, window_days: int
    ) -> set[str]:
        """Which anonymous receipts (by digest) this shard counted in the dedup window."""
        if not digests:
            return set()
        pipe = self._client.pipeline(transaction=False)
        for day in range(today - window_days, today + 1):
            pipe.smismember(self.anonymous_key(shard, day), list(digests))
        seen: set[str] = set()
        for flags in cast(list[list[int]], pipe.execute()):
            seen.update(d for d, flag in zip(digests, flags, strict=True) if flag)
        return seen

    def add(
        self,
        writes: BatchWrite,
        pairs: Mapping[str, Counter[str]],
        categories: Mapping[str, str],
        anonymous: tuple[str, int, Sequence[str], float] | None = None,
    ) -> None:
        """Queue a batch's counts with its other writes; ``anonymous``: (shard, today,
        digests, keep for seconds) of the anonymous receipts it counted."""
        for sku, partners in pairs.items():
            args: list[str | int] = [PARTNERS]
            for partner, count in sorted(partners.items()):
                args += [partner, count]
            writes.script(writes.main, self._add, [self.key(sku)], args)
        if categories:
            writes.main.hset(self.products_key, mapping=dict(categories))
        if anonymous is not None and anonymous[2]:
            shard, today, digests, keep_s = anonymous
            key = self.anonymous_key(shard, today)
            writes.main.sadd(key, *digests)
            writes.main.expire(key, int(keep_s))

"""The per-shard index of customers' next due timers (the timers themselves live in the
customer documents).

    <prefix>:timers:{<shard>}   sorted set: member = subject, score = its earliest due

Updated in the same MULTI/EXEC as the documents, so a timer survives any restart and any
change in the number of workers (shards, not workers, own the index).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import redis
from redis.client import Pipeline


class TimerIndex:
    """Which subjects of a shard have a timer due by a given time."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def key(self, shard: str) -> str:
        """Redis key of a shard's timer index."""
        return f"{self._prefix}:timers:{{{shard}}}"

    def due(self, shard: str, until: float) -> list[str]:
        """Subjects whose earliest timer is due at or before ``until``."""
        members = cast(list[bytes], self._client.zrangebyscore(self.key(shard), "-inf", until))
        return [member.decode() for member in members]

    def update(self, pipe: Pipeline, shard: str, changes: Mapping[str, float | None]) -> None:
        """Queue new earliest due times in ``pipe`` (None: the subject has no timer left)."""
        key = self.key(shard)
        added = {subject: due for subject, due in changes.items() if due is not None}
        removed = [subject for subject, due in changes.items() if due is None]
        if added:
            pipe.zadd(key, added)
        if removed:
            pipe.zrem(key, *removed)

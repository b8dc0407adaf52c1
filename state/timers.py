"""The per-shard index of customers' next due timers (the timers themselves live in the
customer documents).

    <prefix>:timers:{<shard>}   sorted set: member = subject, score = its earliest due

Written with the documents (state.batch: additions before them, removals after), so a
timer survives any restart and any change in the number of workers (shards, not workers,
own the index).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from state.batch import BatchWrite
from state.connection import RedisClient


class TimerIndex:
    """Which subjects of a shard have a timer due by a given time."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def key(self, shard: str) -> str:
        """Redis key of a shard's timer index."""
        return f"{self._prefix}:timers:{{{shard}}}"

    def due(self, shard: str, until: float, limit: int | None = None) -> list[str]:
        """Subjects whose earliest timer is due at or before ``until``, earliest first; at
        most ``limit`` of them (None: all)."""
        members = cast(
            list[bytes],
            self._client.zrangebyscore(
                self.key(shard), "-inf", until, start=0 if limit else None, num=limit
            ),
        )
        return [member.decode() for member in members]

    def update(self, writes: BatchWrite, shard: str, changes: Mapping[str, float | None]) -> None:
        """Queue new earliest due times (None: the subject has no timer left)."""
        key = self.key(shard)
        added = {subject: due for subject, due in changes.items() if due is not None}
        removed = [subject for subject, due in changes.items() if due is None]
        if added:
            writes.before.zadd(key, added)
        if removed:
            writes.after.zrem(key, *removed)

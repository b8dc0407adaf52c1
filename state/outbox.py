"""Notices between the state write and Kafka's acknowledgement (transactional outbox).

The engine adds each notice to its shard's outbox with the writes that apply the events
(before the documents: state.batch); the Kafka sink removes them once the broker
confirmed them. A worker that dies in between leaves them behind, and the next process
re-emits them (same bytes, same notice_id): a crash can duplicate a notice id on the
topic, never lose a notice.

    <prefix>:outbox:{<shard>}   sorted set: member = notice JSON, score = wall time written
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

from state.batch import BatchWrite
from state.connection import RedisClient


class Outbox:
    """Per-shard outbox of notices not yet confirmed by Kafka."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def key(self, shard: str) -> str:
        """Redis key of a shard's outbox."""
        return f"{self._prefix}:outbox:{{{shard}}}"

    def add(self, writes: BatchWrite, shard: str, notices: Iterable[bytes], now: float) -> None:
        """Queue the notices with the writes that apply their events."""
        members = dict.fromkeys(notices, now)
        if members:
            writes.before.zadd(self.key(shard), members)

    def confirm(self, by_shard: Mapping[str, Iterable[bytes]]) -> None:
        """Forget notices Kafka has acknowledged (one round trip)."""
        pipe = self._client.pipeline(transaction=False)
        for shard, notices in by_shard.items():
            members = list(notices)
            if members:
                pipe.zrem(self.key(shard), *members)
        pipe.execute()

    def written_before(self, shard: str, before: float) -> list[bytes]:
        """Unconfirmed notices a shard wrote before ``before`` (wall time)."""
        return cast(list[bytes], self._client.zrangebyscore(self.key(shard), "-inf", f"({before}"))

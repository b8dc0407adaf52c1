"""Notices between the state write and Kafka's acknowledgement (transactional outbox).

The engine adds each notice to its shard's outbox with the writes that apply the events
(before the documents: state.batch); the Kafka sink removes them once the broker
confirmed them. A worker that dies in between leaves them behind, and the next process
re-emits them (same bytes, same notice_id): a crash can duplicate a notice id on the
topic, never lose a notice. The dead letter of an event the engine failed on travels the
same way (the event counts as applied, so a redelivery would not make it again).

    <prefix>:outbox:{<shard>}   sorted set: member = notice JSON (an object) or dead
                                letter (an array, flows.inputs), score = wall time written
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

from state.batch import BatchWrite
from state.connection import RedisClient


class Outbox:
    """Per-shard outbox of notices (and dead letters) not yet confirmed by Kafka."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def key(self, shard: str) -> str:
        """Redis key of a shard's outbox."""
        return f"{self._prefix}:outbox:{{{shard}}}"

    def add(self, writes: BatchWrite, shard: str, entries: Iterable[bytes], now: float) -> None:
        """Queue the entries with the writes that apply their events."""
        members = dict.fromkeys(entries, now)
        if members:
            writes.before.zadd(self.key(shard), members)

    def confirm(self, by_shard: Mapping[str, Iterable[bytes]]) -> None:
        """Forget entries Kafka has acknowledged (one round trip)."""
        pipe = self._client.pipeline(transaction=False)
        for shard, entries in by_shard.items():
            members = list(entries)
            if members:
                pipe.zrem(self.key(shard), *members)
        pipe.execute()

    def written_before(self, shard: str, before: float) -> list[bytes]:
        """Unconfirmed entries a shard wrote before ``before`` (wall time), in that order."""
        return cast(list[bytes], self._client.zrangebyscore(self.key(shard), "-inf", f"({before}"))

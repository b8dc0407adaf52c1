"""Each shard's batch is an optimistic transaction guarded by a fence key, so the engine
never builds on writes Redis has lost.

    <prefix>:fence:{<shard>}   the token of the last batch written to the shard

Redis acknowledges a write before it is durable (``appendfsync everysec``: up to ~1 s; a
replica promoted by a failover: its replication lag). After a restart or a failover the
last acknowledged batches can be gone. A batch therefore

1. WATCHes the shard's fence and checks it still holds the token this process wrote last
   (`LostWrites` otherwise: the process must stop and resume from its last snapshot,
   which is kept far enough behind to re-read what was lost; see flows.resume);
2. writes its changes and a new token in one MULTI/EXEC: if the connection drops on the
   way, the whole batch is read and computed again; a retry that finds its own token
   knows the write went through.

A Redis Cluster has no WATCH across slots: there the fence is read before the batch and
written with it (losses found between batches, not inside one).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

from state.connection import RedisClient, is_cluster


class LostWrites(RuntimeError):
    """Redis no longer has writes it acknowledged to this process."""


@dataclass
class FencedBatch:
    """One attempt at a shard's batch."""

    key: str
    token: bytes
    """the token this attempt writes"""
    pipe: Any
    """the pipeline watching the fence (None on a Cluster)"""
    already_applied: bool
    """an earlier attempt whose answer was lost did commit (its token is in place)"""

    def seal(self, writes: Any) -> None:
        """Queue the new token with the batch's writes (a `state.batch.BatchWrite`)."""
        writes.after.set(self.key, self.token)

    def close(self) -> None:
        """Release the watching connection."""
        if self.pipe is not None:
            self.pipe.reset()


class WriteFence:
    """The fences of the shards this process writes."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._cluster = is_cluster(client)
        self._boot = uuid.uuid4().hex[:12]
        self._seq = itertools.count()
        self._last: dict[str, bytes] = {}
        """shard -> token of our last committed batch"""
        self._attempt: dict[str, bytes] = {}
        """shard -> token of an attempt whose outcome is unknown (connection lost)"""

    def key(self, shard: str) -> str:
        """Redis key of a shard's fence."""
        return f"{self._prefix}:fence:{{{shard}}}"

    def open(self, shard: str) -> FencedBatch:
        """Begin a batch of ``shard``; `LostWrites` when Redis lost our last batch of it."""
        key = self.key(shard)
        pipe = None if self._cluster else self._client.pipeline(transaction=True)
        try:
            if pipe is not None:
                pipe.watch(key)
                current = pipe.get(key)
            else:
                current = self._client.get(key)
            attempt = self._attempt.pop(shard, None)
            applied = attempt is not None and current == attempt
            if attempt is not None and applied:
                self._last[shard] = attempt
            elif shard in self._last and current != self._last[shard]:
                raise LostWrites(
                    f"Redis lost acknowledged writes of shard {shard} (restart or failover: "
                    f"found {current!r}, wrote {self._last[shard]!r})"
                )
        except BaseException:
            if pipe is not None:
                pipe.reset()
            raise
        token = f"{self._boot}:{next(self._seq)}".encode()
        self._attempt[shard] = token
        return FencedBatch(key, token, pipe, applied)

    def committed(self, batch: FencedBatch, shard: str) -> None:
        """The batch's writes were acknowledged."""
        self._attempt.pop(shard, None)
        self._last[shard] = batch.token

"""Dispatches in Redis: one JSON document per notice, and a per-shard index of deadlines.

<prefix>:d:{<customer_id>}:<notice_id>    the notice's cascade (expires after TTL)
<prefix>:dispatch:timers:{<shard>}        member "<customer_id>\\x1f<notice_id>",
                                          score = `Dispatch.wake_at`
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson

from channels.cascade import Dispatch
from state.activity import delivery_counters
from state.batch import BatchWrite
from state.connection import RedisClient, mget
from state.timers import TimerIndex

TTL_S = 14 * 86_400
NoticeRef = tuple[str, str]
"""(customer_id, notice_id)"""
_SEP = "\x1f"


class DispatchStore:
    """Batched load/save of dispatches and their deadlines."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._deadlines = TimerIndex(client, f"{prefix}:dispatch")
        self._outcomes = delivery_counters(client, prefix)

    def key(self, ref: NoticeRef) -> str:
        customer_id, notice_id = ref
        return f"{self._prefix}:d:{{{customer_id}}}:{notice_id}"

    def load(self, refs: Iterable[NoticeRef]) -> dict[NoticeRef, Dispatch]:
        """The stored dispatches among ``refs`` (unknown ones are left out)."""
        refs = list(dict.fromkeys(refs))
        if not refs:
            return {}
        docs = mget(self._client, [self.key(ref) for ref in refs])
        return {
            ref: Dispatch(**orjson.loads(doc))
            for ref, doc in zip(refs, docs, strict=True)
            if doc is not None
        }

    def due(self, shard: str, until: float) -> list[NoticeRef]:
        """Dispatches of a shard whose channel timed out by ``until``."""
        refs = []
        for member in self._deadlines.due(shard, until):
            customer_id, _, notice_id = member.rpartition(_SEP)  # ids are UUIDs
            refs.append((customer_id, notice_id))
        return refs

    def customer_of(self, notice_id: str) -> str | None:
        """The customer of a dispatched notice."""
        value = self._client.get(f"{self._prefix}:dn:{notice_id}")
        return value.decode() if isinstance(value, bytes) else None

    def save(
        self,
        shard: str,
        dispatches: Mapping[NoticeRef, Dispatch],
        new: Iterable[NoticeRef] = (),
        outcomes: Mapping[str, int] | None = None,
        gone: Iterable[NoticeRef] = (),
    ) -> None:
        """Write dispatches and their deadlines as one batch (state.batch; ``new``: first
        writes; ``outcomes``: the console's counts of cascades that ended, state.activity;
        ``gone``: due dispatches no longer stored, whose deadlines go)."""
        deadlines: dict[str, float | None] = {_SEP.join(ref): None for ref in gone}
        if not dispatches and not deadlines:
            return
        writes = BatchWrite(self._client)
        for customer_id, notice_id in new:
            writes.main.set(f"{self._prefix}:dn:{notice_id}", customer_id, ex=TTL_S)
        for ref, dispatch in dispatches.items():
            writes.main.set(self.key(ref), orjson.dumps(dispatch), ex=TTL_S)
        deadlines.update((_SEP.join(ref), d.wake_at) for ref, d in dispatches.items())
        self._deadlines.update(writes, shard, deadlines)
        if outcomes:
            self._outcomes.add(writes, shard, outcomes)
        writes.execute()

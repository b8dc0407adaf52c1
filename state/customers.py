"""Customer state in Redis: one JSON document per subject, read and written per batch.

Key schema (``{...}`` is the Redis Cluster hash tag, so every key of one subject shares a
slot; the batch transaction also spans per-shard keys, see README on Redis Cluster):

    <prefix>:c:{<customer_id>}     known customer, no expiry
    <prefix>:a:{<anonymous_id>}    anonymous device, expires anonymous_ttl after last write

One document holds profile, balance, aggregates and the dedup window, so applying an event
and remembering its id is a single SET: atomic without scripts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import orjson
import redis
from redis.client import Pipeline

from triggers.customer import CustomerState


class CustomerStore:
    """Batched load/save of `CustomerState` documents."""

    def __init__(self, client: redis.Redis, prefix: str, anonymous_ttl_s: int) -> None:
        self._client = client
        self._prefix = prefix
        self._anonymous_ttl_s = anonymous_ttl_s

    def key(self, subject: str) -> str:
        """Redis key of a subject (``c:<customer_id>`` or ``a:<anonymous_id>``)."""
        kind, _, ident = subject.partition(":")
        return f"{self._prefix}:{kind}:{{{ident}}}"

    def exists(self, subject: str) -> bool:
        """Whether anything is stored for the subject."""
        return bool(self._client.exists(self.key(subject)))

    def load(self, subjects: Iterable[str]) -> dict[str, CustomerState]:
        """States of the given subjects in one round trip; new empty states for unknown ones."""
        subjects = list(subjects)
        if not subjects:
            return {}
        docs = self._client.mget([self.key(s) for s in subjects])
        return {
            subject: CustomerState() if doc is None else CustomerState.from_dict(orjson.loads(doc))
            for subject, doc in zip(subjects, docs, strict=True)
        }

    def save(
        self,
        states: Mapping[str, CustomerState],
        also: Callable[[Pipeline], None] | None = None,
    ) -> None:
        """Write all states in one MULTI/EXEC: a batch is applied whole or not at all.

        ``also`` adds further writes to the same transaction (the outbox).
        """
        if not states and also is None:
            return
        known: dict[str, bytes] = {}
        pipe = self._client.pipeline(transaction=True)
        if also is not None:
            also(pipe)
        for subject, state in states.items():
            doc = orjson.dumps(state)
            if subject.startswith("a:"):
                pipe.set(self.key(subject), doc, ex=self._anonymous_ttl_s)
            else:
                known[self.key(subject)] = doc
        if known:
            pipe.mset(known)
        if len(pipe):
            pipe.execute()

"""Customer state in Redis: one JSON document per subject, read and written per batch.

Key schema (``{...}`` is the Redis Cluster hash tag, so every key of one subject shares a
slot; how a batch is written on one server and on a Cluster: state.batch):

    <prefix>:c:{<customer_id>}     known customer, no expiry
    <prefix>:a:{<anonymous_id>}    anonymous device, expires anonymous_ttl after last write

One document (compressed compact JSON: state.codec) holds profile, balance, aggregates,
the dedup window and recent decisions, so applying an event and remembering its id is a
single SET: atomic without scripts. Category names are interned (state.categories).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from state.batch import BatchWrite
from state.categories import CategoryTable
from state.codec import encode_state, read_document
from state.connection import RedisClient, mget
from state.fence import FencedBatch, WriteFence
from triggers.customer import CustomerState


class CustomerStore:
    """Batched load/save of `CustomerState` documents."""

    def __init__(self, client: RedisClient, prefix: str, anonymous_ttl_s: int) -> None:
        self._client = client
        self._prefix = prefix
        self._anonymous_ttl_s = anonymous_ttl_s
        self.categories = CategoryTable(client, prefix)
        self.fence = WriteFence(client, prefix)

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
        raws = mget(self._client, [self.key(s) for s in subjects])
        docs = [None if raw is None else read_document(raw) for raw in raws]
        names = self.categories.names(i for doc in docs if doc is not None for i in doc.ids())
        return {
            subject: CustomerState() if doc is None else doc.state(names)
            for subject, doc in zip(subjects, docs, strict=True)
        }

    def encode(self, states: Mapping[str, CustomerState]) -> dict[str, bytes]:
        """The stored documents of ``states``, by subject (allocates new category ids)."""
        ids = self.categories.ids(cat for state in states.values() for cat in state.category_spend)
        return {subject: encode_state(state, ids) for subject, state in states.items()}

    def save(
        self,
        states: Mapping[str, CustomerState],
        also: Callable[[BatchWrite], None] | None = None,
        fenced: FencedBatch | None = None,
    ) -> bool:
        """`encode` and `write` ``states``."""
        return self.write(self.encode(states), also, fenced)

    def write(
        self,
        documents: Mapping[str, bytes],
        also: Callable[[BatchWrite], None] | None = None,
        fenced: FencedBatch | None = None,
    ) -> bool:
        """Write encoded documents (by subject) as one batch (one MULTI/EXEC on a single
        server: applied whole or not at all; see state.batch for a Cluster). Returns
        whether anything was written.

        ``also`` adds further writes to the batch (timer index, outbox). ``fenced``: the
        batch is guarded by its shard's fence (state.fence) and carries its new token.
        """
        if not documents and also is None:
            return False
        known: dict[str, bytes] = {}
        writes = BatchWrite(self._client, fenced.pipe if fenced is not None else None)
        if fenced is not None:
            fenced.seal(writes)
        if also is not None:
            also(writes)
        for subject, doc in documents.items():
            if subject.startswith("a:"):
                writes.main.set(self.key(subject), doc, ex=self._anonymous_ttl_s)
            else:
                known[self.key(subject)] = doc
        writes.set_many(known)
        writes.execute()
        return True

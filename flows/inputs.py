"""Input as it was received, and input the flow rejected (for the dead-letters topic): one
record per message, made in C (msgspec), not tracked by the garbage collector."""

from __future__ import annotations

import msgspec


class RawInput(msgspec.Struct, frozen=True, gc=False):
    """One input message as received, with where it came from (for dead letters)."""

    value: bytes
    origin: str
    consumed_at: float = 0.0
    """wall time it was consumed (live; 0: a file)"""


class DeadLetter(msgspec.Struct, frozen=True, gc=False):
    """Rejected input: the original bytes, where they came from and why."""

    raw: bytes
    origin: str
    reason: str
    kind: str
    """a short fixed label of the reason, for metrics (see triggers.events.Rejection)"""
    outbox_shard: str | None = None
    """the engine shard whose outbox keeps it until Kafka confirms it (state.outbox): the
    letter of an event the engine failed on, which a redelivery will not make again (the
    event is remembered as applied). None: not kept (rejected input comes again)."""

    def outbox_entry(self) -> bytes:
        """How the outbox keeps it: a JSON array (a notice there is a JSON object)."""
        return msgspec.json.encode((self.raw, self.origin, self.reason, self.kind))

    @classmethod
    def from_outbox(cls, entry: bytes, shard: str) -> DeadLetter:
        """The letter ``outbox_entry`` made, kept in ``shard``'s outbox."""
        raw, origin, reason, kind = msgspec.json.decode(entry, type=tuple[bytes, str, str, str])
        return cls(raw, origin, reason, kind, shard)

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

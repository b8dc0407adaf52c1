"""Input as it was received, and input the flow rejected (for the dead-letters topic)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RawInput:
    """One input message as received, with where it came from (for dead letters)."""

    value: bytes
    origin: str
    consumed_at: float = 0.0
    """wall time it was consumed (live; 0: a file)"""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Rejected input: the original bytes, where they came from and why."""

    raw: bytes
    origin: str
    reason: str
    kind: str
    """a short fixed label of the reason, for metrics (see triggers.events.Rejection)"""

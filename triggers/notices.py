"""Candidate notices as the trigger rules produce them, and their deterministic identity."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

_NOTICE_NAMESPACE = uuid.UUID("6f0c55a2-3f0e-5a7c-9a57-5c0ad4b7e3a1")

Kind = Literal["transactional", "marketing"]


def notice_id(trigger: str, customer_id: str, cause: str) -> str:
    """UUIDv5 of (trigger, customer, cause): the same cause always yields the same id."""
    return str(uuid.uuid5(_NOTICE_NAMESPACE, f"{trigger}\x1f{customer_id}\x1f{cause}"))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A notice a trigger wants to send, before the delivery policy picks its channels."""

    trigger: str
    kind: Kind
    customer_id: str
    template: str
    vars: dict[str, Any]
    caused_by: str
    event_ts: str
    due_ts: str

    @property
    def notice_id(self) -> str:
        """Deterministic id of this notice."""
        return notice_id(self.trigger, self.customer_id, self.caused_by)


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Data a rule corrected on the way, counted by kind (never an error)."""

    kind: str


BALANCE_BELOW_ZERO = "balance_below_zero"
"""a return (or a POS figure) took the bonus balance below zero (customers read 0)"""


def rfc3339_utc(epoch: float) -> str:
    """RFC 3339 in UTC with milliseconds: ``2026-11-22T07:15:03.120+00:00``."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


EXACT_INTEGERS = 2.0**53
"""floats beyond this are not exact integers (and JSON integers stop at 2**63)"""


def plain_number(value: float) -> int | float:
    """50.0 -> 50, 12.5 -> 12.5: amounts as a person writes them, for template vars."""
    if not -EXACT_INTEGERS < value < EXACT_INTEGERS:
        return value
    as_int = int(value)
    return as_int if as_int == value else round(value, 2)

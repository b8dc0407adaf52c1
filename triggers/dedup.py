"""Per-customer memory of applied event ids, so that a redelivered event is applied once.

An ``event_id`` is unique per event at its source (contract), so the memory keys it by
its source too: a receipt and a web event that happen to share an id (two systems'
counters) are two events."""

from __future__ import annotations

import base64
import hashlib

from triggers.customer import CustomerState
from triggers.events import RECORD_OF, Click, CustomerUpdate, Delivery, Event, Receipt

_MARKS: dict[type[Event], str] = {Receipt: "!", CustomerUpdate: "@", Delivery: "^", Click: "~"}
"""each record's source (its input topic) in the dedup key: characters outside base64's,
so that no key can equal a digest an earlier version kept"""
SOURCE_OF: dict[str, str] = {kind: _MARKS[record] for kind, record in RECORD_OF.items()}
"""event type -> its source's mark"""


def event_digest(event_id: str) -> str:
    """A short fixed-size stand-in for an event id (12 chars; ids may be 128 long)."""
    raw = hashlib.blake2b(event_id.encode(), digest_size=9).digest()
    return base64.b64encode(raw).decode()


def dedup_keys(event: Event) -> tuple[str, str]:
    """The event's key in the dedup window (its id's digest with the first character
    naming its source), and the key versions before 2026-12-08 kept (the digest alone)."""
    digest = event_digest(event.event_id)
    return SOURCE_OF[event.type] + digest[1:], digest


def already_applied(state: CustomerState, key: str, old_key: str) -> bool:
    """True when this event was applied to this state within the dedup window (under its
    key, or under the key an earlier version kept: one window after the upgrade, 7 days
    by default, none is kept any more and that look can go)."""
    seen = state.seen
    return key in seen or old_key in seen


def remember(state: CustomerState, digest: str, now: float) -> None:
    """Mark an event applied at engine time ``now`` (whole seconds: the window is days)."""
    state.seen[digest] = round(now)


def forget_before(state: CustomerState, cutoff: float) -> None:
    """Drop ids applied before ``cutoff``: the dedup window slides with the engine clock.
    The times of consents answered before it go too: an update later than the window
    is taken as it arrives (triggers.customer.apply_customer_update)."""
    if state.seen and min(state.seen.values()) < cutoff:
        state.seen = {d: t for d, t in state.seen.items() if t >= cutoff}
    if state.consents_at and min(state.consents_at.values()) < cutoff:
        state.consents_at = {c: t for c, t in state.consents_at.items() if t >= cutoff}

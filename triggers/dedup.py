"""Per-customer memory of applied event ids, so that a redelivered event is applied once."""

from __future__ import annotations

import base64
import hashlib

from triggers.customer import CustomerState


def event_digest(event_id: str) -> str:
    """A short fixed-size stand-in for an event id (12 chars; ids may be 128 long)."""
    raw = hashlib.blake2b(event_id.encode(), digest_size=9).digest()
    return base64.b64encode(raw).decode()


def already_applied(state: CustomerState, digest: str) -> bool:
    """True when this event was applied to this state within the dedup window."""
    return digest in state.seen


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

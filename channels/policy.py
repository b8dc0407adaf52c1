"""The delivery policy on the way out: which channels, in which order, and the notice itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from channels.templates import render
from triggers.customer import CustomerState
from triggers.notices import Candidate


def cascade(kind: str, state: CustomerState, order: Sequence[str]) -> list[str]:
    """Channels to try, cheapest first: those with a contact and, for marketing, a consent."""
    reachable = state.reachable_channels()
    if kind == "marketing":
        return [c for c in order if c in reachable and state.consents.get(c) is True]
    return [c for c in order if c in reachable]


def build_notice(
    candidate: Candidate, channels: list[str], created_at: str
) -> dict[str, Any]:
    """The contract's notice for a candidate routed to ``channels`` (non-empty)."""
    return {
        "notice_id": candidate.notice_id,
        "trigger": candidate.trigger,
        "kind": candidate.kind,
        "customer_id": candidate.customer_id,
        "channels": channels,
        "template": candidate.template,
        "vars": candidate.vars,
        "text": render(candidate.template, channels[0], candidate.vars),
        "caused_by": candidate.caused_by,
        "event_ts": candidate.event_ts,
        "due_ts": candidate.due_ts,
        "created_at": created_at,
    }

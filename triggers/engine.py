"""One event against one customer's state: the state change and the candidate notices."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from triggers.bonus import apply_receipt
from triggers.customer import CustomerState, apply_customer_update, record_purchase
from triggers.events import Click, CustomerUpdate, Event, Receipt
from triggers.notices import Candidate


@dataclass(frozen=True, slots=True)
class Rules:
    """The trigger configuration the engine needs, as plain values."""

    accrual_percent: Decimal = Decimal(5)
    bonus_template: str | None = "bonus_earned"
    """None: ``bonus_earned`` is switched off."""


def changes_state(event: Event) -> bool:
    """Whether the event can change a subject's state (others skip the state round trip)."""
    if isinstance(event, Receipt):
        return event.customer_id is not None
    if isinstance(event, Click):
        return event.type == "order" and event.customer_id is not None
    return isinstance(event, CustomerUpdate)


def apply_event(state: CustomerState, event: Event, at: float, rules: Rules) -> list[Candidate]:
    """Apply ``event`` (event time ``at``, epoch s) to ``state`` in place; return candidates."""
    if isinstance(event, Receipt):
        notice = apply_receipt(state, event, at, rules.accrual_percent, rules.bonus_template)
        return [] if notice is None else [notice]
    if isinstance(event, CustomerUpdate):
        apply_customer_update(state, event)
    elif isinstance(event, Click) and event.type == "order":
        record_purchase(state, event.total or 0.0, event.lines or (), at, 1)
    return []

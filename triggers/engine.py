"""One event (or one due timer) against one customer's state: what changes, what to send."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from triggers.bonus import apply_receipt
from triggers.cart import (
    ABANDONED_CART,
    apply_cart_change,
    cancel_by_purchase,
    cart_notice,
    merge_cart,
)
from triggers.customer import DAY, CustomerState, apply_customer_update, record_purchase
from triggers.events import Click, CustomerUpdate, Event, Receipt
from triggers.notices import Anomaly, Candidate
from triggers.timers import Suppression
from triggers.winback import WIN_BACK, rearm_win_back, win_back_notice

Outcome = Candidate | Suppression | Anomaly
CART_CHANGES = frozenset(("add_to_cart", "remove_from_cart"))


@dataclass(frozen=True, slots=True)
class Rules:
    """The trigger configuration the engine needs, as plain values. A template of None
    switches its trigger off."""

    accrual_percent: Decimal = Decimal(5)
    bonus_template: str | None = "bonus_earned"
    cart_template: str | None = "abandoned_cart"
    cart_delay_s: float = 3600.0
    win_back_template: str | None = "win_back"
    win_back_after_s: float = 30 * DAY
    win_back_offer: str = "Дарим 300 бонусов на следующую покупку"


def changes_state(event: Event) -> bool:
    """Whether the event can change a subject's state (others skip the state round trip)."""
    if isinstance(event, Receipt):
        return event.customer_id is not None
    if isinstance(event, Click):
        return (
            event.type in CART_CHANGES
            or event.type == "order"
            or (event.type == "login" and event.customer_id is not None)
        )
    return isinstance(event, CustomerUpdate)


def linked_subject(event: Event) -> str | None:
    """A second subject the event needs: the device whose cart a login takes over."""
    if isinstance(event, Click) and event.type == "login" and event.customer_id is not None:
        return "a:" + event.anonymous_id
    return None


def apply_event(
    state: CustomerState,
    event: Event,
    at: float,
    rules: Rules,
    linked: CustomerState | None = None,
) -> list[Outcome]:
    """Apply ``event`` (event time ``at``, epoch s) to ``state`` in place.

    ``linked`` is the state of `linked_subject(event)`, changed in place too. Returns the
    candidate notices and the notices cancelled while held by quiet hours.
    """
    if isinstance(event, Receipt):
        return _apply_receipt(state, event, at, rules)
    if isinstance(event, Click):
        return _apply_click(state, event, at, rules, linked)
    if isinstance(event, CustomerUpdate):
        apply_customer_update(state, event)
    return []


def _apply_receipt(
    state: CustomerState, receipt: Receipt, at: float, rules: Rules
) -> list[Outcome]:
    outcomes: list[Outcome] = [
        *apply_receipt(state, receipt, at, rules.accrual_percent, rules.bonus_template)
    ]
    if receipt.type == "receipt":
        assert receipt.customer_id is not None
        _purchased(state, receipt.event_id, receipt.ts, at, rules)
        # a purchase in a store cancels the web cart nudge (omnichannel)
        outcomes += cancel_by_purchase(state, receipt.customer_id, clear_cart=False)
    return outcomes


def _apply_click(
    state: CustomerState, click: Click, at: float, rules: Rules, linked: CustomerState | None
) -> list[Outcome]:
    delay = rules.cart_delay_s if rules.cart_template else None
    if click.type in CART_CHANGES:
        return list(apply_cart_change(state, click, at, delay))
    if click.type == "order":
        if click.customer_id is None:  # an anonymous order empties the device's cart
            state.cart = {}
            return []
        if record_purchase(state, click.total or 0.0, click.lines or (), at, 1):
            _purchased(state, click.event_id, click.ts, at, rules)
        return list(cancel_by_purchase(state, click.customer_id, clear_cart=True))
    if click.type == "login" and linked is not None and click.customer_id is not None:
        return list(merge_cart(state, linked, click.customer_id, delay))
    return []


def _purchased(state: CustomerState, event_id: str, ts: str, at: float, rules: Rules) -> None:
    if state.last_purchase_at == at:  # this purchase is the latest one
        state.last_purchase_event, state.last_purchase_ts = event_id, ts
        rearm_win_back(state, rules.win_back_after_s if rules.win_back_template else None)


def fire_timer(
    state: CustomerState, name: str, due: float, due_ts: str, customer_id: str, rules: Rules
) -> Candidate | None:
    """The notice a due timer stands for, built from the state as it is now."""
    if name == ABANDONED_CART and rules.cart_template:
        return cart_notice(state, customer_id, rules.cart_template, due_ts)
    if name == WIN_BACK and rules.win_back_template:
        return win_back_notice(
            state, customer_id, rules.win_back_template, rules.win_back_offer, due, due_ts
        )
    return None

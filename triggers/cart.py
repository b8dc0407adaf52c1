"""Shopping carts and the ``abandoned_cart`` trigger.

Quantities add up; a removal to zero drops the line. A known customer's non-empty cart arms
a timer at last change + delay; every change re-arms it, an emptied cart, an order or any
receipt cancels it. An anonymous device's cart moves to the customer at login, keeping its
age. Only known customers are notified.
"""

from __future__ import annotations

from triggers.customer import CustomerState
from triggers.events import Click
from triggers.notices import Candidate, plain_number
from triggers.timers import Suppression, arm, cancel

ABANDONED_CART = "abandoned_cart"


def apply_cart_change(
    state: CustomerState, click: Click, at: float, delay_s: float | None
) -> list[Suppression]:
    """Apply an add_to_cart / remove_from_cart click; (re)arm or cancel the timer.

    ``delay_s`` None: the trigger is off (the cart is still kept).
    """
    sku = click.sku or ""
    line = state.cart.get(sku)
    if click.type == "add_to_cart":
        if line is None:
            state.cart[sku] = [click.qty, click.price or 0.0, click.category]
        else:
            line[0] += click.qty
            if click.price is not None:
                line[1] = click.price
    elif line is not None:
        line[0] -= click.qty
        if line[0] <= 0:
            del state.cart[sku]
    if state.cart_changed_at is None or at >= state.cart_changed_at:
        state.cart_changed_at, state.cart_cause, state.cart_changed_ts = (
            at,
            click.event_id,
            click.ts,
        )
    return _rearm(state, click.customer_id, delay_s)


def merge_cart(
    state: CustomerState, device: CustomerState, customer_id: str, delay_s: float | None
) -> list[Suppression]:
    """Login: the device's anonymous cart joins the customer's, with its age kept."""
    if not device.cart:
        return []
    for sku, (qty, price, category) in device.cart.items():
        line = state.cart.get(sku)
        if line is None:
            state.cart[sku] = [qty, price, category]
        else:
            line[0] += qty
    changed_at = device.cart_changed_at or 0.0
    if state.cart_changed_at is None or changed_at > state.cart_changed_at:
        state.cart_changed_at = changed_at
        state.cart_cause, state.cart_changed_ts = device.cart_cause, device.cart_changed_ts
    device.cart = {}
    device.cart_changed_at = device.cart_cause = device.cart_changed_ts = None
    return _rearm(state, customer_id, delay_s)


def _rearm(
    state: CustomerState, customer_id: str | None, delay_s: float | None
) -> list[Suppression]:
    if customer_id is None or delay_s is None:
        return []
    if not state.cart:
        return cancel(state, ABANDONED_CART, customer_id)
    assert state.cart_changed_at is not None
    arm(state, ABANDONED_CART, state.cart_changed_at + delay_s)
    return []


def cancel_by_purchase(
    state: CustomerState, customer_id: str, clear_cart: bool
) -> list[Suppression]:
    """A purchase cancels the nudge; an online order also empties the cart."""
    if clear_cart:
        state.cart = {}
    return cancel(state, ABANDONED_CART, customer_id)


def cart_notice(
    state: CustomerState, customer_id: str, template: str, due_ts: str
) -> Candidate | None:
    """The abandoned-cart notice for the cart as it is now.

    None when the cart is empty or was not changed since the customer's last purchase (a
    cart built on a device before a purchase and merged at a later login is not abandoned).
    """
    if not state.cart or state.cart_cause is None or state.cart_changed_ts is None:
        return None
    changed_at = state.cart_changed_at or 0.0
    if state.last_purchase_at is not None and state.last_purchase_at >= changed_at:
        return None
    lines = [
        {
            "sku": sku,
            "category": category,
            "qty": plain_number(qty),
            "price": plain_number(price),
            "amount": plain_number(round(qty * price, 2)),
        }
        for sku, (qty, price, category) in state.cart.items()
    ]
    total = round(sum(qty * price for qty, price, _c in state.cart.values()), 2)
    return Candidate(
        trigger=ABANDONED_CART,
        kind="marketing",
        customer_id=customer_id,
        template=template,
        vars={
            "first_name": state.first_name,
            "lines": lines,
            "total": plain_number(total),
            "items": len(lines),
        },
        caused_by=state.cart_cause,
        event_ts=state.cart_changed_ts,
        due_ts=due_ts,
    )

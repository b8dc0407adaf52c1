"""Shopping carts: quantities add up, a removal to zero drops the line, an online order
empties the cart, and an anonymous device's cart moves to the customer at login, keeping
its age; at most `MAX_CART_LINES` products. What carts mean for messages (the abandoned
cart) is a scenario's business (triggers.scenarios.builtin)."""

from __future__ import annotations

from triggers.customer import CustomerState
from triggers.events import Click

MAX_CART_LINES = 100
"""distinct products a cart holds: a full cart takes no new product (quantities of those
in it still change), as shops' own carts do. Unbounded, a bot adding 100k products made a
7 MB state and a 7 MB cart nudge, more than a Kafka message takes."""


def change_cart(state: CustomerState, click: Click, at: float) -> bool:
    """Apply an add_to_cart / remove_from_cart click; whether the cart changed (a removal
    of what is not in the cart changes nothing)."""
    sku = click.sku or ""
    line = state.cart.get(sku)
    if click.type == "add_to_cart":
        if line is None:
            if len(state.cart) >= MAX_CART_LINES:
                return False
            state.cart[sku] = [click.qty, click.price or 0.0, click.category]
        else:
            line[0] += click.qty
            if click.price is not None:
                line[1] = click.price
    elif line is not None:
        line[0] -= click.qty
        if line[0] <= 0:
            del state.cart[sku]
    else:
        return False
    if state.cart_changed_at is None or at >= state.cart_changed_at:
        state.cart_changed_at, state.cart_cause, state.cart_changed_ts = (
            at,
            click.event_id,
            click.ts,
        )
    return True


def merge_cart(state: CustomerState, device: CustomerState) -> bool:
    """Login: the device's anonymous cart joins the customer's, with its age kept; whether
    anything of it joined (a full cart takes none of the device's other products)."""
    if not device.cart:
        return False
    moved = False
    for sku, (qty, price, category) in device.cart.items():
        line = state.cart.get(sku)
        if line is not None:
            line[0] += qty
            moved = True
        elif len(state.cart) < MAX_CART_LINES:
            state.cart[sku] = [qty, price, category]
            moved = True
    changed_at = device.cart_changed_at or 0.0
    if moved and (state.cart_changed_at is None or changed_at > state.cart_changed_at):
        state.cart_changed_at = changed_at
        state.cart_cause, state.cart_changed_ts = device.cart_cause, device.cart_changed_ts
    device.cart = {}
    device.cart_changed_at = device.cart_cause = device.cart_changed_ts = None
    return moved


def empty_cart(state: CustomerState) -> bool:
    """An online order empties the cart; whether there was anything in it."""
    had = bool(state.cart)
    state.cart = {}
    return had


def cart_is_news(state: CustomerState) -> bool:
    """Whether the cart is non-empty and changed after the customer's latest purchase: a
    cart built before a purchase (merged at a later login, or changed by a late event) is
    not one to talk about."""
    if not state.cart or state.cart_cause is None:
        return False
    last = state.last_purchase_at
    return last is None or (state.cart_changed_at or 0.0) > last

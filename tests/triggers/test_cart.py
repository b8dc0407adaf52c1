"""Carts: a cart holds at most MAX_CART_LINES products, however many a bot adds."""

from __future__ import annotations

from typing import Any

import orjson

from triggers.cart import MAX_CART_LINES, change_cart, merge_cart
from triggers.customer import CustomerState
from triggers.events import Click, epoch_of, parse_event


def click(kind: str, sku: str, n: int, who: dict[str, str] | None = None) -> Click:
    ts = f"2026-11-22T10:{n // 60 % 60:02d}:{n % 60:02d}+03:00"
    raw: dict[str, Any] = {"type": kind, "event_id": f"e{n}", "ts": ts, "sku": sku, "price": 10}
    event = parse_event(
        orjson.dumps({**raw, "anonymous_id": "A1", **(who or {"customer_id": "C1"})})
    )
    assert isinstance(event, Click), event
    return event


def add(state: CustomerState, sku: str, n: int, who: dict[str, str] | None = None) -> bool:
    event = click("add_to_cart", sku, n, who)
    return change_cart(state, event, epoch_of(event.ts))


def test_a_full_cart_takes_no_new_product_but_its_own_still_change() -> None:
    state = CustomerState()
    for n in range(MAX_CART_LINES):
        assert add(state, f"S{n}", n)
    changed_at = state.cart_changed_at
    assert not add(state, "NEW", 200)  # nothing changed: the nudge is not re-armed
    assert "NEW" not in state.cart and state.cart_changed_at == changed_at
    assert add(state, "S0", 201)
    assert state.cart["S0"][0] == 2 and state.cart_cause == "e201"
    removal = click("remove_from_cart", "S1", 202)
    assert change_cart(state, removal, epoch_of(removal.ts))
    assert add(state, "NEW", 203)  # room again
    assert len(state.cart) == MAX_CART_LINES


def test_a_device_cart_joins_a_full_cart_only_where_there_is_room() -> None:
    state, device = CustomerState(), CustomerState()
    for n in range(MAX_CART_LINES - 1):
        add(state, f"S{n}", n)
    for n, sku in enumerate(["S0", "D1", "D2"]):
        add(device, sku, 300 + n, {})
    assert merge_cart(state, device)
    assert len(state.cart) == MAX_CART_LINES
    assert state.cart["S0"][0] == 2 and "D1" in state.cart and "D2" not in state.cart


def test_a_device_cart_that_finds_no_room_changes_nothing() -> None:
    state, device = CustomerState(), CustomerState()
    for n in range(MAX_CART_LINES):
        add(state, f"S{n}", n)
    changed_at = state.cart_changed_at
    add(device, "D1", 300, {})
    assert not merge_cart(state, device)  # no nudge re-armed for an unchanged cart
    assert state.cart_changed_at == changed_at and not device.cart

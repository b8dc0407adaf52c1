"""Trigger events: what happened to a customer, as scenarios see it (``entry.on``,
``exit_on``).

The engine turns each input event into zero or more `Signal`s once it has applied the
event to the customer's state (triggers.engine); scenarios enter and exit on them. The
table below is the registry: a new trigger event is one entry here and the line in the
engine that emits it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import msgspec

from triggers.rfm import SEGMENT_NAMES

PRODUCT = ("category", "sku")
"""where keys of events about products: true when any line (or the product) has it"""
RECEIPT = (*PRODUCT, "total", "store_id", "channel")


@dataclass(frozen=True, slots=True)
class TriggerEvent:
    """One kind of trigger event: when it happens and what ``where`` may ask of it."""

    when: str
    fields: tuple[str, ...] = ()
    """keys of the event itself a ``where`` may use"""
    entry: bool = True
    """whether a scenario can start on it (all can end one)"""
    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """field -> the only values it can have (another in a ``where`` is a typo)"""


TRIGGER_EVENTS: dict[str, TriggerEvent] = {
    "purchase": TriggerEvent(
        "a receipt of a known customer, or an online order",
        (*RECEIPT, "earned", "spent", "latest"),
    ),
    "return": TriggerEvent("a return of a known customer", RECEIPT),
    "registered": TriggerEvent(
        "the first customer event of a customer carrying registered_at no more than 24 h "
        "before the event's ts"
    ),
    "cart_changed": TriggerEvent(
        "a cart change of a known customer that leaves the cart non-empty (a login that "
        "brings a device's cart counts, with the cart's own time)",
        (*PRODUCT, "total"),
    ),
    "cart_emptied": TriggerEvent("a cart change that leaves the cart empty", PRODUCT),
    "product_view": TriggerEvent("a product view of a known customer", PRODUCT),
    "add_to_cart": TriggerEvent("an add_to_cart click of a known customer", PRODUCT),
    "checkout_start": TriggerEvent("a checkout_start click of a known customer", PRODUCT),
    "login": TriggerEvent("a login of a known customer"),
    "page_view": TriggerEvent("a page view of a known customer"),
    "delivery_failed": TriggerEvent(
        "a failed delivery receipt for one of the customer's notices",
        ("channel", "scenario", "step"),
    ),
    "opened": TriggerEvent(
        "an opened receipt for one of the customer's notices", ("channel", "scenario", "step")
    ),
    "clicked": TriggerEvent(
        "a clicked receipt for one of the customer's notices", ("channel", "scenario", "step")
    ),
    "birthday": TriggerEvent("00:00 local time on the customer's birthday, every year"),
    "segment_changed": TriggerEvent(
        "the customer's RFM segment changed",
        ("from", "to"),
        values=MappingProxyType({"from": SEGMENT_NAMES, "to": SEGMENT_NAMES}),
    ),
    "tier_changed": TriggerEvent(
        "the customer's loyalty tier changed", ("from", "to", "direction")
    ),
    "points_expiring": TriggerEvent("some of the customer's bonuses expire soon"),
}
"""Every trigger event of the contract. ``latest`` (purchase: not older than the customer's
latest purchase), ``earned``/``spent`` (purchase: the receipt's bonus) and ``scenario``/
``step`` (delivery receipts: the notice's) are ours, beyond the contract."""

NOTHING: Mapping[str, Any] = MappingProxyType({})
"""no fields, no vars (shared: nobody changes a signal's mappings)"""

ENGAGEMENT = {"failed": "delivery_failed", "opened": "opened", "clicked": "clicked"}
"""delivery receipt status -> the trigger event it is"""


class Signal(msgspec.Struct, gc=False):
    """One trigger event of one customer (made per event: see triggers.notices)."""

    name: str
    event_id: str
    """id of the event behind it (an instance it starts has it as ``caused_by``)"""
    at: float
    """event time, epoch s"""
    ts: str
    """event time as the source wrote it"""
    fields: Mapping[str, Any] = NOTHING
    """what ``where`` may ask of the event; ``category``/``sku``: sets of values"""
    vars: Mapping[str, Any] = NOTHING
    """template vars the event gives an instance it starts"""
    skus: tuple[str, ...] = ()
    """products the event is about (recommendations start from them)"""
    learned_at: float = 0.0
    """when the customer's state learned of it, when later than ``at``: a login bringing
    a device's cart (``at`` is the cart's own time). No step falls due before it."""

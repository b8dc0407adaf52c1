"""The input events' schema of record: pydantic models of the contract's events.

Types are strict (a number where a string is due is a wrong type), unknown extra fields
are ignored. The hot path does not build these models: it converts each event into the
records of triggers.events (msgspec), which must accept exactly what these accept, with
the same values (tests/triggers/test_event_records.py checks both on generated input).
A rejected event is validated here once more, for the reason its dead letter carries.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Name = Annotated[str, StringConstraints(max_length=256)]
"""free text kept in the state (names, categories): bounded, so one event cannot bloat it"""
Contact = Annotated[str, StringConstraints(max_length=4096)]
"""a contact; the longest real one is a Web Push subscription (~500 bytes)"""
Channel = Literal["push", "web_push", "telegram", "viber", "whatsapp", "sms", "email"]
MAX_LINES = 1000
MAX_MONEY = 1e12
"""the largest amount (total, price, bonus, balance) an event may carry: a trillion in the
currency's main unit is beyond any receipt; past it arithmetic and encoding stop being exact"""
MAX_QTY = 1_000_000
"""the largest quantity of one line or cart change"""
MAX_CONSENTS = 64
MAX_ERROR = 2000
CURRENCY = r"^[A-Z]{3}$"
Money = Annotated[float, Field(ge=0, le=MAX_MONEY, allow_inf_nan=False)]
Balance = Annotated[float, Field(ge=-MAX_MONEY, le=MAX_MONEY, allow_inf_nan=False)]


RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
"""RFC 3339's date-time (section 5.6): a date, a time with seconds, an offset. What else
``datetime.fromisoformat`` reads (week dates, ``20261122T1020+0300``, no seconds, offsets
with seconds) is ISO 8601 but not this, and would reach notices' ``event_ts`` as sent."""


def moment_of(ts: str) -> datetime:
    """The moment of an RFC 3339 timestamp of the right shape: ``datetime.fromisoformat``'s
    (~0.2 µs), and where it refuses, a lower-case ``z`` (RFC 3339 allows it, Python does
    not) is ``Z`` and a leap second (``:60``) is the next second, as POSIX time counts it.
    ValueError or OverflowError when there is no such moment (a 30 February)."""
    try:
        return datetime.fromisoformat(ts)
    except ValueError:
        text = ts[:-1] + "Z" if ts.endswith("z") else ts
        if text[17:19] != "60":
            return datetime.fromisoformat(text)
        return datetime.fromisoformat(text[:17] + "59" + text[19:]) + timedelta(seconds=1)


def check_timestamp(value: str) -> str:
    """The value if it is an RFC 3339 timestamp with an offset; ValueError otherwise."""
    if RFC3339.fullmatch(value) is None:
        raise ValueError("not an RFC 3339 timestamp with an offset (2026-11-22T10:00:00+03:00)")
    try:
        moment_of(value)
    except (ValueError, OverflowError):
        raise ValueError("not an RFC 3339 timestamp: no such date or time") from None
    return value  # any such time has an epoch time: `epoch_of` cannot fail on it


def check_timezone(value: str) -> str:
    """The value if it names an IANA timezone; ValueError otherwise."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {value!r}") from None
    return value


def check_date(value: str) -> str:
    """The value if it is a date written ``YYYY-MM-DD``; ValueError otherwise (Python's
    ISO reading also takes ``20261126`` and week dates)."""
    if len(value) != 10 or value[4] != "-" or value[7] != "-":
        raise ValueError(f"not a date written YYYY-MM-DD: {value[:40]!r}")
    date.fromisoformat(value)
    return value


Timestamp = Annotated[str, AfterValidator(check_timestamp)]


class _Event(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    event_id: EventId
    ts: Timestamp


class ReceiptLine(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    sku: Id
    category: Name | None = None
    qty: Annotated[float, Field(gt=0, le=MAX_QTY, allow_inf_nan=False)]
    price: Money
    amount: Money


class Bonus(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    earned: Money
    spent: Money
    balance: Balance | None = None
    """the balance after the receipt, as the POS computed it (may be negative: a debt)"""


class Receipt(_Event):
    """A POS or online receipt (``type: receipt``) or a return (``type: return``)."""

    type: Literal["receipt", "return"]
    receipt_id: Id
    store_id: Id
    customer_id: Id | None = None
    channel: Literal["pos", "online"] = "pos"
    currency: Annotated[str, StringConstraints(pattern=CURRENCY)] = "RUB"
    total: Money
    lines: Annotated[list[ReceiptLine], Field(max_length=MAX_LINES)] = []
    bonus: Bonus | None = None


ClickType = Literal[
    "page_view",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout_start",
    "order",
    "login",
]
CLICK_TYPES: tuple[str, ...] = get_args(ClickType)
CART_CHANGES = frozenset(("add_to_cart", "remove_from_cart"))
"""the clicks that change a cart: they name the product (no sku: no cart line)"""


def check_cart_product(kind: str, sku: str | None) -> None:
    """A cart change names its product (else it would add a line of no product)."""
    if not sku and kind in CART_CHANGES:
        raise ValueError("sku is required (a cart change names its product)")


class Click(_Event):
    """Web or app behaviour; ``anonymous_id`` always, ``customer_id`` when logged in."""

    type: ClickType
    anonymous_id: Id
    customer_id: Id | None = None
    session_id: Name | None = None
    sku: Name | None = None
    category: Name | None = None
    qty: Annotated[int, Field(gt=0, le=MAX_QTY)] = 1
    price: Money | None = None
    order_id: Name | None = None
    total: Money | None = None
    lines: Annotated[list[ReceiptLine], Field(max_length=MAX_LINES)] | None = None

    @model_validator(mode="after")
    def _names_its_product(self) -> Click:
        check_cart_product(self.type, self.sku)
        return self


class Contacts(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    push_token: Contact | None = None
    web_push: Contact | None = None
    telegram_chat_id: Contact | None = None
    viber_id: Contact | None = None
    whatsapp: Contact | None = None
    phone: Contact | None = None
    email: Contact | None = None


class CustomerUpdate(_Event):
    """Profile, contacts and consents; absent fields keep their old value."""

    type: Literal["customer"]
    customer_id: Id
    first_name: Name | None = None
    timezone: Annotated[str, AfterValidator(check_timezone)] | None = None
    birthday: Annotated[str, AfterValidator(check_date)] | None = None
    registered_at: Timestamp | None = None
    contacts: Contacts | None = None
    consents: Annotated[dict[Name, bool], Field(max_length=MAX_CONSENTS)] | None = None
    """keys are channel names (contract); a key of a channel we do not know (a source that
    evolves ahead of us) is ignored, like an unknown field"""


class Delivery(_Event):
    """A delivery receipt from a channel gateway."""

    type: Literal["delivery"]
    notice_id: Id
    customer_id: Id
    channel: Channel
    status: Literal["sent", "delivered", "failed", "opened", "clicked"]
    error: Annotated[str, StringConstraints(max_length=MAX_ERROR)] | None = None


EVENT_SCHEMA: TypeAdapter[Receipt | Click | CustomerUpdate | Delivery] = TypeAdapter(
    Annotated[Receipt | Click | CustomerUpdate | Delivery, Field(discriminator="type")]
)
"""Validates any input event (by its ``type``)."""

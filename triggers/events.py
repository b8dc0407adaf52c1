"""Input events of the contract as the engine reads them: parsed with orjson, converted
with msgspec into plain records.

`parse_event(raw)` returns a typed event or a `Rejection` with a one-line reason; it never
raises. What it accepts is exactly what the schema of record accepts (triggers.schema,
pydantic: strict types, unknown extra fields ignored), with the same values: orjson judges
the JSON, msgspec converts it (a third of pydantic's time, no model objects), and an event
msgspec refuses is validated by the schema for the reason of its dead letter. `ts` is kept
as sent; `epoch_of(ts)` gives the number for arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import orjson
from msgspec import Meta
from pydantic import ValidationError

from triggers import schema
from triggers.schema import (
    CLICK_TYPES,
    CURRENCY,
    MAX_CONSENTS,
    MAX_ERROR,
    MAX_LINES,
    MAX_MONEY,
    MAX_QTY,
    check_cart_product,
    check_date,
    check_timestamp,
    check_timezone,
    moment_of,
)
from triggers.validation import describe_errors

__all__ = ["CLICK_TYPES", "MAX_LINES", "MAX_MONEY", "MAX_QTY", "check_timestamp"]

EventId = Annotated[str, Meta(min_length=1, max_length=128)]
Id = Annotated[str, Meta(min_length=1, max_length=256)]
Name = Annotated[str, Meta(max_length=256)]
Contact = Annotated[str, Meta(max_length=4096)]
Money = Annotated[float, Meta(ge=0, le=MAX_MONEY)]
Balance = Annotated[float, Meta(ge=-MAX_MONEY, le=MAX_MONEY)]
Lines = Annotated[list["ReceiptLine"], Meta(max_length=MAX_LINES)]
Currency = Annotated[str, Meta(min_length=3, max_length=3, pattern=CURRENCY)]
"""three capital letters (the length also refuses ``"RUB\\n"``, which Python's ``$``
would let through and the schema's regex does not)"""


class _Record(msgspec.Struct, frozen=True, gc=False):
    """An immutable record of plain values (never in a reference cycle: not tracked by the
    garbage collector). Required fields come first (a record's order is not the JSON's)."""


class ReceiptLine(_Record, frozen=True):
    sku: Id
    qty: Annotated[float, Meta(gt=0, le=MAX_QTY)]
    price: Money
    amount: Money
    category: Name | None = None


class Bonus(_Record, frozen=True):
    earned: Money
    spent: Money
    balance: Balance | None = None
    """the balance after the receipt, as the POS computed it (may be negative: a debt)"""


class Receipt(_Record, frozen=True):
    """A POS or online receipt (``type: receipt``) or a return (``type: return``)."""

    event_id: EventId
    ts: str
    type: Literal["receipt", "return"]
    receipt_id: Id
    store_id: Id
    total: Money
    customer_id: Id | None = None
    channel: Literal["pos", "online"] = "pos"
    currency: Currency = "RUB"
    lines: Lines = []
    bonus: Bonus | None = None


class Click(_Record, frozen=True):
    """Web or app behaviour; ``anonymous_id`` always, ``customer_id`` when logged in."""

    event_id: EventId
    ts: str
    type: Literal[
        "page_view",
        "product_view",
        "add_to_cart",
        "remove_from_cart",
        "checkout_start",
        "order",
        "login",
    ]
    anonymous_id: Id
    customer_id: Id | None = None
    session_id: Name | None = None
    sku: Name | None = None
    category: Name | None = None
    qty: Annotated[int, Meta(gt=0, le=MAX_QTY)] = 1
    price: Money | None = None
    order_id: Name | None = None
    total: Money | None = None
    lines: Lines | None = None


class Contacts(_Record, frozen=True):
    push_token: Contact | None = None
    web_push: Contact | None = None
    telegram_chat_id: Contact | None = None
    viber_id: Contact | None = None
    whatsapp: Contact | None = None
    phone: Contact | None = None
    email: Contact | None = None

    def given(self) -> dict[str, str]:
        """The contacts the update carries (an empty string: remove that contact)."""
        fields = ((name, getattr(self, name)) for name in self.__struct_fields__)
        return {name: value for name, value in fields if value is not None}


class CustomerUpdate(_Record, frozen=True):
    """Profile, contacts and consents; absent fields keep their old value."""

    event_id: EventId
    ts: str
    type: Literal["customer"]
    customer_id: Id
    first_name: Name | None = None
    timezone: str | None = None
    birthday: str | None = None
    registered_at: str | None = None
    contacts: Contacts | None = None
    consents: Annotated[dict[Name, bool], Meta(max_length=MAX_CONSENTS)] | None = None
    """keys are channel names (contract); a key of a channel we do not know (a source that
    evolves ahead of us) is ignored, like an unknown field"""


class Delivery(_Record, frozen=True):
    """A delivery receipt from a channel gateway."""

    event_id: EventId
    ts: str
    type: Literal["delivery"]
    notice_id: Id
    customer_id: Id
    channel: Literal["push", "web_push", "telegram", "viber", "whatsapp", "sms", "email"]
    status: Literal["sent", "delivered", "failed", "opened", "clicked"]
    error: Annotated[str, Meta(max_length=MAX_ERROR)] | None = None


Event = Receipt | Click | CustomerUpdate | Delivery

CONTACT_CHANNEL: dict[str, str] = {
    "push_token": "push",
    "web_push": "web_push",
    "telegram_chat_id": "telegram",
    "viber_id": "viber",
    "whatsapp": "whatsapp",
    "phone": "sms",
    "email": "email",
}
"""Which channel each contact enables (contract)."""


def _checked_customer(update: CustomerUpdate) -> None:
    """What the schema checks beyond types: a known timezone, a date, a timestamp."""
    if update.timezone is not None:
        check_timezone(update.timezone)
    if update.birthday is not None:
        check_date(update.birthday)
    if update.registered_at is not None:
        check_timestamp(update.registered_at)


RECORD_OF: dict[str, type[Event]] = {
    "receipt": Receipt,
    "return": Receipt,
    "customer": CustomerUpdate,
    "delivery": Delivery,
    **{kind: Click for kind in CLICK_TYPES},
}
"""the record of each event type"""
_CHECKS: dict[type[Event], Callable[[Any], None]] = {
    CustomerUpdate: _checked_customer,
    Click: lambda click: check_cart_product(click.type, click.sku),
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """Input that cannot be applied: the original bytes, a one-line reason and its kind
    (a short fixed label for counting: not_json, not_object, unknown_type, invalid)."""

    raw: bytes
    reason: str
    kind: str


def parse_event(raw: bytes) -> Event | Rejection:
    """Parse one input message; never raises."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejection(raw, f"not JSON: {exc}", "not_json")
    if not isinstance(data, dict):
        return Rejection(raw, "not a JSON object", "not_object")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in RECORD_OF:  # [] or {} are not hashable
        reason = "missing field 'type'" if kind is None else f"unknown type {kind!r:.100}"
        return Rejection(raw, reason[:200], "unknown_type")
    try:
        return convert_event(data)
    except (msgspec.ValidationError, ValueError):
        return _by_schema(raw, data, RECORD_OF[kind])


def convert_event(data: dict[str, Any]) -> Event:
    """The record of a JSON object of a known ``type``; msgspec.ValidationError or
    ValueError where the schema would refuse it."""
    record = RECORD_OF[data["type"]]
    event = msgspec.convert(data, record)
    check_timestamp(event.ts)
    check = _CHECKS.get(record)
    if check is not None:
        check(event)
    return event


def _by_schema(raw: bytes, data: dict[str, Any], record: type[Event]) -> Event | Rejection:
    """The schema's verdict on an event the record refused: its reason (or, should the two
    ever disagree, the event as the schema reads it)."""
    try:
        model = schema.EVENT_SCHEMA.validate_python(data)
    except ValidationError as exc:
        text = describe_errors(exc, sep="; ")
        return Rejection(raw, text if len(text) <= 500 else text[:497] + "...", "invalid")
    try:
        return msgspec.convert(model.model_dump(), record)
    except msgspec.ValidationError as exc:  # a disagreement the tests would have found
        return Rejection(raw, str(exc)[:500], "invalid")


def as_json(event: Event) -> bytes:
    """The event as JSON (what a dead letter carries when its input bytes are unknown)."""
    return msgspec.json.encode(event)


def epoch_of(ts: str) -> float:
    """Epoch seconds of an RFC 3339 timestamp (already validated)."""
    return moment_of(ts).timestamp()


def subject_of(event: Event) -> str:
    """Whose state the event belongs to: ``c:<customer_id>``, ``a:<anonymous_id>`` or ``-``.

    ``-`` marks an anonymous receipt: it has no loyalty state to touch.
    """
    customer_id = getattr(event, "customer_id", None)
    if customer_id is not None:
        return "c:" + customer_id
    if isinstance(event, Click):
        return "a:" + event.anonymous_id
    return "-"

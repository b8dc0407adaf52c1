"""Input events of the contract, validated with pydantic, parsed with orjson.

`parse_event(raw)` returns a typed event or a `Rejection` with a one-line reason; it never
raises. Types are strict (a number where a string is due is a wrong type), unknown extra
fields are ignored (the original bytes are what dead letters keep). `ts` is kept as sent;
`epoch_of(ts)` gives the number for arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from triggers.validation import describe_errors

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
Money = Annotated[float, Field(ge=0, le=MAX_MONEY, allow_inf_nan=False)]
Balance = Annotated[float, Field(ge=-MAX_MONEY, le=MAX_MONEY, allow_inf_nan=False)]


def check_timestamp(value: str) -> str:
    """The value if it is an RFC 3339 timestamp with an offset; ValueError otherwise."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None or "T" not in value.upper():
        raise ValueError("timestamp needs a date, a time and an offset")
    return value  # any such time has an epoch time: `epoch_of` cannot fail on it


def _iana_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {value!r}") from None
    return value


def _iso_date(value: str) -> str:
    date.fromisoformat(value)
    return value


Timestamp = Annotated[str, AfterValidator(check_timestamp)]


def epoch_of(ts: str) -> float:
    """Epoch seconds of an RFC 3339 timestamp (already validated)."""
    return datetime.fromisoformat(ts).timestamp()


class _Event(BaseModel):
    # No computed attributes here: a private attribute set after validation costs more than
    # the validation itself; the engine converts `ts` once, where it needs the number.
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
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "RUB"
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


class Contacts(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    push_token: Contact | None = None
    web_push: Contact | None = None
    telegram_chat_id: Contact | None = None
    viber_id: Contact | None = None
    whatsapp: Contact | None = None
    phone: Contact | None = None
    email: Contact | None = None


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


class CustomerUpdate(_Event):
    """Profile, contacts and consents; absent fields keep their old value."""

    type: Literal["customer"]
    customer_id: Id
    first_name: Name | None = None
    timezone: Annotated[str, AfterValidator(_iana_timezone)] | None = None
    birthday: Annotated[str, AfterValidator(_iso_date)] | None = None
    registered_at: Timestamp | None = None
    contacts: Contacts | None = None
    consents: Annotated[dict[Name, bool], Field(max_length=64)] | None = None
    """keys are channel names (contract); a key of a channel we do not know (a source that
    evolves ahead of us) is ignored, like an unknown field"""


class Delivery(_Event):
    """A delivery receipt from a channel gateway."""

    type: Literal["delivery"]
    notice_id: Id
    customer_id: Id
    channel: Channel
    status: Literal["sent", "delivered", "failed", "opened", "clicked"]
    error: Annotated[str, StringConstraints(max_length=2000)] | None = None


Event = Receipt | Click | CustomerUpdate | Delivery

_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Annotated[Event, Field(discriminator="type")])
_KNOWN_TYPES = frozenset(("receipt", "return", "customer", "delivery", *CLICK_TYPES))


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
    if not isinstance(kind, str) or kind not in _KNOWN_TYPES:  # [] or {} are not hashable
        reason = "missing field 'type'" if kind is None else f"unknown type {kind!r:.100}"
        return Rejection(raw, reason[:200], "unknown_type")
    try:
        return _EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        return Rejection(raw, _one_line(exc), "invalid")


def _one_line(exc: ValidationError) -> str:
    text = describe_errors(exc, sep="; ")
    return text if len(text) <= 500 else text[:497] + "..."


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

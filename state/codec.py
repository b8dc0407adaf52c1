"""How a `CustomerState` is stored: compact JSON with short keys, defaults left out.

The document is the bulk of Redis memory (10^7 customers), so every byte counts: field
names are one or two letters and empty or default fields are not written. ``"v"`` marks
the format; a document without it is the earlier long-name format and still reads.
Unknown keys (written by a newer version) are ignored.
"""

from __future__ import annotations

from typing import Any

import orjson

from triggers.customer import CustomerState

FORMAT = 1
STORED_AS: dict[str, str] = {
    "first_name": "n",
    "timezone": "z",
    "birthday": "b",
    "registered_at": "r",
    "contacts": "c",
    "consents": "o",
    "balance": "B",
    "last_purchase_at": "p",
    "purchase_days": "d",
    "category_spend": "g",
    "seen": "s",
    "last_purchase_event": "pe",
    "last_purchase_ts": "pt",
    "cart": "k",
    "cart_changed_at": "ka",
    "cart_cause": "kc",
    "cart_changed_ts": "kt",
    "timers": "t",
    "held": "h",
    "sent": "x",
}
"""field -> key in the stored document (every field of CustomerState; a test checks it)"""

_FIELD_OF = {key: name for name, key in STORED_AS.items()}
_EMPTY = CustomerState()
_DEFAULTS: dict[str, Any] = {name: getattr(_EMPTY, name) for name in STORED_AS}
_ENCODE = tuple((name, key, _DEFAULTS[name]) for name, key in STORED_AS.items())


def encode_state(state: CustomerState) -> bytes:
    """The stored document of ``state``."""
    doc: dict[str, Any] = {"v": FORMAT}
    for name, key, default in _ENCODE:
        value = getattr(state, name)
        if value != default:
            doc[key] = value
    return orjson.dumps(doc)


def decode_state(raw: bytes) -> CustomerState:
    """The state of a stored document (either format)."""
    doc: dict[str, Any] = orjson.loads(raw)
    if doc.pop("v", None) is not None:
        return CustomerState(**{_FIELD_OF[k]: v for k, v in doc.items() if k in _FIELD_OF})
    return CustomerState(**{k: v for k, v in doc.items() if k in STORED_AS})

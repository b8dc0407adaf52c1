"""How a `CustomerState` is stored: compact JSON, compressed with a trained dictionary.

The document is the bulk of Redis memory (10^7 customers), so every byte counts:

- field names are one or two letters and empty or default fields are not written;
- category names are stored as ids of a shared table (state.categories);
- the JSON is compressed with zstd and a dictionary trained on the document structure
  (``documents-v2.zdict``, made by ``bench/train_dictionary.py``): ~3 µs to compress and
  ~1.5 µs to decompress a document, for a third of its size.

Formats (the first byte tells them apart; every earlier one still reads):

- ``0x02`` + magicless zstd frame of the compact JSON, categories by id (written now);
- ``{"v":1,...}``: the compact JSON uncompressed, categories by name;
- ``{...}`` without ``"v"``: the first, long-name format.

The dictionary is part of format 2: it must never change. A better one is format 3.
Unknown keys (written by a newer version) are ignored.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson
import zstandard

from triggers.customer import CustomerState
from triggers.scenarios.legacy import LEGACY_FIELDS, upgrade

FORMAT_2 = b"\x02"
LEVEL = 3
STORED_AS: dict[str, str] = {
    "first_name": "n",
    "timezone": "z",
    "birthday": "b",
    "registered_at": "r",
    "contacts": "c",
    "consents": "o",
    "balance": "B",
    "last_purchase_at": "p",
    "purchases": "d",
    "category_spend": "g",
    "seen": "s",
    "cart": "k",
    "cart_changed_at": "ka",
    "cart_cause": "kc",
    "cart_changed_ts": "kt",
    "timers": "t",
    "held": "h",
    "sent": "x",
    "log": "l",
    "instances": "i",
    "viewed": "w",
    "bought": "u",
    "rfm": "R",
    "tier": "T",
    "lots": "L",
    "sketched": "K",
}
"""field -> key in the stored document (every field of CustomerState; a test checks it)"""

_FIELD_OF = {key: name for name, key in STORED_AS.items()}
_EMPTY = CustomerState()
_DEFAULTS: dict[str, Any] = {name: getattr(_EMPTY, name) for name in STORED_AS}
_ENCODE = tuple((name, key, _DEFAULTS[name]) for name, key in STORED_AS.items())

DICTIONARY = zstandard.ZstdCompressionDict(
    resources.files("state").joinpath("documents-v2.zdict").read_bytes()
)
_PARAMETERS = zstandard.ZstdCompressionParameters.from_level(
    LEVEL, format=zstandard.FORMAT_ZSTD1_MAGICLESS, write_checksum=0, write_dict_id=0
)
_local = threading.local()  # zstd (de)compressors are not thread-safe; Bytewax workers are


def _zstd() -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    pair = getattr(_local, "zstd", None)
    if pair is None:
        pair = (
            zstandard.ZstdCompressor(dict_data=DICTIONARY, compression_params=_PARAMETERS),
            zstandard.ZstdDecompressor(
                dict_data=DICTIONARY, format=zstandard.FORMAT_ZSTD1_MAGICLESS
            ),
        )
        _local.zstd = pair
    return pair


def compact_json(state: CustomerState, category_ids: Mapping[str, str]) -> bytes:
    """The uncompressed document: short keys, defaults left out, categories by id."""
    doc: dict[str, Any] = {}
    for name, key, default in _ENCODE:
        value = getattr(state, name)
        if value != default:
            doc[key] = value
    if state.category_spend:
        doc["g"] = {category_ids[cat]: spend for cat, spend in state.category_spend.items()}
    return orjson.dumps(doc)


def encode_state(state: CustomerState, category_ids: Mapping[str, str]) -> bytes:
    """The stored document of ``state`` (format 2); ``category_ids`` has every category of
    the state (state.categories)."""
    return FORMAT_2 + _zstd()[0].compress(compact_json(state, category_ids))


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A stored document read, before its category ids are resolved to names."""

    fields: dict[str, Any]
    """field name -> value"""
    category_ids: bool
    """whether ``category_spend`` is keyed by category id (format 2) or by name"""

    def ids(self) -> list[str]:
        """The category ids the document refers to."""
        return list(self.fields.get("category_spend", ())) if self.category_ids else []

    def state(self, category_names: Mapping[str, str]) -> CustomerState:
        """The state, with categories by name (``category_names``: id -> name)."""
        fields = self.fields
        if self.category_ids and "category_spend" in fields:
            fields["category_spend"] = {
                category_names.get(i, f"#{i}"): spend
                for i, spend in fields["category_spend"].items()
            }
        return CustomerState(**fields)


def read_document(raw: bytes) -> StoredDocument:
    """A stored document of any format (a state from before scenarios is upgraded:
    triggers.scenarios.legacy)."""
    if raw[:1] == FORMAT_2:
        doc = orjson.loads(_zstd()[1].decompress(raw[1:]))
        return StoredDocument(upgrade(_from_compact(doc)), True)
    doc = orjson.loads(raw)
    if doc.pop("v", None) is not None:
        return StoredDocument(upgrade(_from_compact(doc)), False)
    return StoredDocument(upgrade({k: v for k, v in doc.items() if k in _READ}), False)


_NAMES = {**_FIELD_OF, "pe": "last_purchase_event", "pt": "last_purchase_ts"}
"""key -> field, with the keys of fields no longer kept (read for the upgrade)"""
_READ = frozenset((*STORED_AS, *LEGACY_FIELDS))


def _from_compact(doc: dict[str, Any]) -> dict[str, Any]:
    return {_NAMES[k]: v for k, v in doc.items() if k in _NAMES}

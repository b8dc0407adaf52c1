"""How a `CustomerState` is stored: compact JSON, compressed with a trained dictionary.

The document is the bulk of Redis memory (10^7 customers), so every byte counts:

- field names are one or two letters and empty or default fields are not written (the
  state's JSON form: triggers.customer.JSON_KEYS, made and read by msgspec in C);
- category names are stored as ids of a shared table (state.categories);
- the JSON is compressed with zstd and a dictionary trained on the document structure
  (``documents-v2.zdict``, made by ``bench/train_dictionary.py``): ~3 µs to compress and
  ~1.5 µs to decompress a document, for a third of its size.

Formats (the first byte tells them apart; every earlier one still reads):

- ``0x02`` + magicless zstd frame of the compact JSON, categories by id (written now);
- ``{"v":1,...}``: the compact JSON uncompressed, categories by name;
- ``{...}`` without ``"v"``: the first, long-name format.

The dictionary is part of format 2: it must never change. A better one is format 3.
Unknown keys (written by a newer version) are ignored. Numbers of 1e16 and beyond are
written ``1e16`` since msgspec writes the JSON (orjson wrote ``1e+16``): the same value.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import msgspec
import orjson
import zstandard

from triggers.customer import JSON_KEYS, CustomerState, from_bytes, to_bytes
from triggers.scenarios.legacy import LEGACY_FIELDS, needs_upgrade, upgrade

FORMAT_2 = b"\x02"
LEVEL = 3
STORED_AS = JSON_KEYS
"""field -> key in the stored document (every field of CustomerState; a test checks it)"""

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
    if state.category_spend:
        by_id = {category_ids[cat]: spend for cat, spend in state.category_spend.items()}
        state = msgspec.structs.replace(state, category_spend=by_id)
    return to_bytes(state)


def encode_state(state: CustomerState, category_ids: Mapping[str, str]) -> bytes:
    """The stored document of ``state`` (format 2); ``category_ids`` has every category of
    the state (state.categories)."""
    return FORMAT_2 + _zstd()[0].compress(compact_json(state, category_ids))


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A stored document read, before its category ids are resolved to names."""

    read: CustomerState
    """the state as stored (``category_spend`` keyed as the format keeps it)"""
    category_ids: bool
    """whether ``category_spend`` is keyed by category id (format 2) or by name"""

    def ids(self) -> list[str]:
        """The category ids the document refers to."""
        return list(self.read.category_spend) if self.category_ids else []

    def state(self, category_names: Mapping[str, str]) -> CustomerState:
        """The state, with categories by name (``category_names``: id -> name)."""
        state = self.read
        if self.category_ids and state.category_spend:
            state.category_spend = {
                category_names.get(i, f"#{i}"): spend for i, spend in state.category_spend.items()
            }
        return state


def read_document(raw: bytes) -> StoredDocument:
    """A stored document of any format (a state from before scenarios is upgraded:
    triggers.scenarios.legacy)."""
    if raw[:1] == FORMAT_2:
        text = _zstd()[1].decompress(raw[1:])
        try:
            state = from_bytes(text)
        except msgspec.ValidationError:  # a value of another type than its field's
            state = None
        if state is None or needs_upgrade(state):
            state = _state_of(upgrade(_from_compact(orjson.loads(text))))
        return StoredDocument(state, True)
    doc = orjson.loads(raw)
    if doc.pop("v", None) is not None:
        return StoredDocument(_state_of(upgrade(_from_compact(doc))), False)
    return StoredDocument(_state_of(upgrade({k: v for k, v in doc.items() if k in _READ})), False)


def _state_of(fields: dict[str, Any]) -> CustomerState:
    """A state from its fields by name, read as `from_bytes` reads its JSON form (the
    decision log's entries kept as JSON); a field of another type than its own (written
    by a version that had it so) is kept as it is."""
    try:
        return from_bytes(msgspec.json.encode({STORED_AS[name]: v for name, v in fields.items()}))
    except msgspec.ValidationError:
        state = CustomerState(**fields)
        state.log = [msgspec.Raw(msgspec.json.encode(entry)) for entry in state.log]
        return state


_NAMES = {**{key: name for name, key in STORED_AS.items()}, "pe": "last_purchase_event"}
_NAMES["pt"] = "last_purchase_ts"
"""key -> field, with the keys of fields no longer kept (read for the upgrade)"""
_READ = frozenset((*STORED_AS, *LEGACY_FIELDS))


def _from_compact(doc: dict[str, Any]) -> dict[str, Any]:
    return {_NAMES[k]: v for k, v in doc.items() if k in _NAMES}


def document_parts(raw: bytes) -> dict[str, Any]:
    """A stored document's fields as plain values, by field name (bench/memory.py)."""
    fields = msgspec.structs.asdict(read_document(raw).read)
    return {name: value for name, value in fields.items() if value != _DEFAULTS[name]}


_DEFAULTS = msgspec.structs.asdict(CustomerState())

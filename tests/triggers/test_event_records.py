"""The hot path's event records (triggers.events, msgspec) against the schema of record
(triggers.schema, pydantic): the same fields, and on any input the same verdict and the
same values, so dead letters and the engine see exactly what the schema defines."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from tests.events import customer, receipt
from triggers import events, schema

PAIRS: list[tuple[type[msgspec.Struct], type[BaseModel]]] = [
    (events.Receipt, schema.Receipt),
    (events.ReceiptLine, schema.ReceiptLine),
    (events.Bonus, schema.Bonus),
    (events.Click, schema.Click),
    (events.Contacts, schema.Contacts),
    (events.CustomerUpdate, schema.CustomerUpdate),
    (events.Delivery, schema.Delivery),
]
TS = "2026-11-22T10:15:03.120+03:00"
GOOD: list[dict[str, Any]] = [
    receipt("r1", "C1", 1990.0, bonus={"earned": 10, "spent": 0, "balance": -5.5}),
    receipt("r2", None, 0, type="return", channel="online", currency="USD", lines=[]),
    customer(
        "C1",
        first_name="Анна",
        timezone="Europe/Moscow",
        birthday="1990-02-28",
        registered_at="2026-11-22T09:00:00Z",
        contacts={"phone": "+79990001122", "email": "", "web_push": None},
        consents={"sms": True, "pigeon": False},
    ),
    {
        "event_id": "k1",
        "type": "add_to_cart",
        "ts": TS,
        "anonymous_id": "D1",
        "sku": "A",
        "category": "c",
        "qty": 2,
        "price": 10,
        "session_id": "s",
    },
    {
        "event_id": "k2",
        "type": "order",
        "ts": TS,
        "anonymous_id": "D1",
        "customer_id": "C1",
        "order_id": "O1",
        "total": 5.5,
        "lines": [{"sku": "A", "qty": 0.5, "price": 11, "amount": 5.5}],
    },
    {
        "event_id": "d1",
        "type": "delivery",
        "ts": TS,
        "notice_id": "n",
        "customer_id": "C1",
        "channel": "sms",
        "status": "failed",
        "error": "x",
    },
]
INTERESTING: list[Any] = [
    None,
    True,
    False,
    [],
    {},
    [1],
    {"x": 1},
    0,
    1,
    -1,
    2,
    10**6,
    10**6 + 1,
    10**12,
    10**12 + 1,
    -(10**12),
    -(10**12) - 1,
    2**53 + 1,
    2**63,
    2**64,
    10**30,
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    0.5,
    1.0,
    1e6,
    1e6 + 0.5,
    1e12,
    1e12 + 0.001,
    -1e12,
    -1e12 - 0.001,
    1e300,
    -1e300,
    "",
    "x",
    "RUB",
    "RUB\n",
    "rub",
    "RU",
    "RUBL",
    "ÄBC",
    "USD",
    "2026-02-30",
    "2026-02-28",
    "20260228",
    "Europe/Moscow",
    "europe/moscow",
    "Mars/Base",
    "UTC",
    "2026-11-22T10:00:00Z",
    "2026-11-22T10:00:00+03:00",
    "2026-11-22 10:00:00+03:00",
    "2026-11-22T10:00:00",
    "2026-11-22",
    "receipt",
    "return",
    "customer",
    "delivery",
    "page_view",
    "order",
    "pos",
    "online",
    "push",
    "sms",
    "pigeon",
    "opened",
    "sent",
    *["я" * n for n in (127, 128, 129, 255, 256, 257, 1999, 2000, 2001, 4096, 4097)],
    "😀" * 256,
    "😀" * 257,
]
"""values at and around every bound of the schema, and of every wrong type"""
SCALARS = (
    st.sampled_from(INTERESTING)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5)
)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "sku",
                    "qty",
                    "price",
                    "amount",
                    "earned",
                    "spent",
                    "balance",
                    "push",
                    "phone",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=8,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (keys of objects, indexes of arrays)."""
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


@st.composite
def inputs(draw: st.DrawFn) -> dict[str, Any]:
    """A good event with a few places replaced by anything, removed, or added."""
    event = msgspec.json.decode(msgspec.json.encode(draw(st.sampled_from(GOOD))))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(event)))
        parent = event
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace" or (action == "remove" and path[:1] == ("type",)):
            parent[path[-1]] = copy.deepcopy(draw(VALUES))
        elif action == "remove":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            key = draw(st.sampled_from(["zz", "bonus", "lines", "contacts", "consents"]))
            parent[key] = copy.deepcopy(draw(VALUES))
    return event


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value) if isinstance(value, msgspec.Struct) else value


def _verdicts(data: dict[str, Any]) -> tuple[Any, Any]:
    """(what the records make of ``data``, what the schema makes of it): plain values, or
    None where it is refused."""
    try:
        expected = schema.EVENT_SCHEMA.validate_python(data).model_dump()
    except ValidationError:
        expected = None
    try:
        got = msgspec.to_builtins(events.convert_event(data))
    except (msgspec.ValidationError, ValueError):
        got = None
    return _typed(got), _typed(expected)


def _typed(value: Any) -> bytes:
    """A value as JSON with sorted keys: 1, 1.0, true and -0.0 all differ."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _agree(data: dict[str, Any]) -> None:
    kind = data.get("type")
    if isinstance(kind, str) and kind in events.RECORD_OF:  # else refused before either
        got, expected = _verdicts(data)
        assert got == expected, data


def test_records_and_schema_agree_on_every_value_in_every_place() -> None:
    for key in [value for value in INTERESTING if isinstance(value, str)]:
        event = msgspec.json.decode(msgspec.json.encode(GOOD[2]))
        event["consents"][key] = True  # every key of a mapping too
        _agree(event)
    for good in GOOD:
        for path in _paths(good):
            for value in INTERESTING:
                event = msgspec.json.decode(msgspec.json.encode(good))
                parent = event
                for step in path[:-1]:
                    parent = parent[step]
                parent[path[-1]] = value
                _agree(event)


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(inputs())
def test_records_and_schema_agree_on_any_event(data: dict[str, Any]) -> None:
    _agree(data)


@pytest.mark.parametrize("good", GOOD)
def test_good_events_are_the_same_records(good: dict[str, Any]) -> None:
    assert _verdicts(good)[0] == _typed(schema.EVENT_SCHEMA.validate_python(good).model_dump())


@pytest.mark.parametrize(("record", "model"), PAIRS)
def test_every_record_has_the_fields_and_defaults_of_its_model(
    record: type[msgspec.Struct], model: type[BaseModel]
) -> None:
    fields = {f.name: f for f in msgspec.structs.fields(record)}
    assert sorted(fields) == sorted(model.model_fields)
    for name, info in model.model_fields.items():
        if info.is_required():
            assert fields[name].required, name
        else:
            field = fields[name]
            default = (
                field.default_factory() if field.default is msgspec.NODEFAULT else field.default
            )
            assert _plain(default) == info.default, name

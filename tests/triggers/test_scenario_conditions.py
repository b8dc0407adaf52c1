"""Conditions: every key, combinators and comparisons, compiled at load."""

from __future__ import annotations

from typing import Any

import pytest

from triggers.customer import DAY, CustomerState
from triggers.scenarios.conditions import (
    ConditionError,
    Facts,
    Scope,
    compile_condition,
)
from triggers.scenarios.instances import Instance
from triggers.scenarios.signals import TRIGGER_EVENTS, Signal

NOW = 1_800_000_000.0
STATE = CustomerState(
    contacts={"phone": "+7", "email": "a@b.ru"},
    consents={"email": True},
    balance=-5.0,
    last_purchase_at=NOW - 10 * DAY,
    purchases=[[NOW - 100 * DAY, 2.0, 900.0], [NOW - 10 * DAY, 1.0, 500.0]],
    cart={"tea": [2, 100.0, "чай"], "mug": [1, 50.0, None]},
)
INSTANCE = Instance.start("e1", NOW - DAY, "ts", "a")
INSTANCE.decided("a", "s", NOW - DAY)
INSTANCE.mark("a", "o")
INSTANCE.count_purchase(1, 300.0)
SIGNAL = Signal(
    "purchase",
    "e2",
    NOW,
    "ts",
    {
        "category": {"чай", "хлеб"},
        "sku": {"tea"},
        "total": 1500.0,
        "store_id": "S1",
        "latest": True,
    },
)


def holds(condition: Any, kind: str = "marketing", **scope: Any) -> bool:
    scope = {"event_fields": TRIGGER_EVENTS["purchase"].fields, "steps": {"a", "b"}, **scope}
    predicate = compile_condition(condition, Scope(**scope))
    return predicate(Facts(STATE, NOW, kind, INSTANCE, SIGNAL))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({}, True),
        ({"purchases_since_entry": 1}, True),
        ({"spend_since_entry": {"gt": 299}}, True),
        ({"purchases_30d": 1, "purchases_365d": 3}, True),
        ({"spend_90d": {"lt": 600}}, True),
        ({"spend_365d": 1400}, True),
        ({"days_since_purchase": {"gte": 10}}, True),
        ({"days_since_purchase": {"gt": 10}}, False),
        ({"balance": 0}, True),  # what a customer reads: never below zero
        ({"cart_total": 250}, True),
        ({"cart_items": {"in": [1, 2]}}, True),
        ({"sent": "a"}, True),
        ({"sent": "b"}, False),
        ({"delivered": "a", "opened": "a"}, True),  # an opening implies the delivery
        ({"clicked": "a"}, False),
        ({"has_channel": "email"}, True),
        ({"has_channel": "sms"}, False),  # no consent: marketing cannot use it
        ({"category": "чай"}, True),  # any of the event's products
        ({"category": {"in": ["кофе", "хлеб"]}}, True),
        ({"sku": "mug"}, False),
        ({"total": {"gte": 1500}, "store_id": "S1", "latest": True}, True),
        ({"all": [{"sent": "a"}, {"cart_items": 2}]}, True),
        ({"any": [{"sent": "b"}, {"clicked": "a"}]}, False),
        ({"not": {"sent": "b"}}, True),
        ({"not": {"any": [{"sent": "a"}]}}, False),
    ],
)
def test_keys_and_combinators(condition: dict, expected: bool) -> None:
    assert holds(condition) is expected


def test_transactional_channels_need_no_consent() -> None:
    assert holds({"has_channel": "sms"}, kind="transactional")


def test_a_missing_value_satisfies_only_ne_and_eq_null() -> None:
    never_bought = CustomerState()
    facts = Facts(never_bought, NOW, "marketing")
    for condition, expected in [
        ({"days_since_purchase": {"gte": 0}}, False),
        ({"days_since_purchase": {"lt": 1000}}, False),
        ({"days_since_purchase": {"in": [1]}}, False),
        ({"days_since_purchase": {"ne": 3}}, True),
        ({"days_since_purchase": None}, True),
    ]:
        assert compile_condition(condition, Scope())(facts) is expected, condition


def _nested(depth: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"balance": 1}
    for level in range(depth):
        condition = {"not": condition} if level % 2 else {"any": [condition]}
    return condition


def test_conditions_nest_sixteen_deep() -> None:
    facts = Facts(CustomerState(), NOW, "marketing")  # balance 0: not 1
    assert compile_condition(_nested(15), Scope())(facts) is True  # seven nots
    assert compile_condition(_nested(16), Scope())(facts) is False  # eight


@pytest.mark.parametrize(
    ("condition", "scope", "message"),
    [
        ({"purchase_30d": 1}, {}, "purchase_30d: unknown condition"),
        ({"purchases_30d": "many"}, {}, "purchases_30d: 'many' is not a number"),
        ({"purchases_30d": True}, {}, "not a number"),
        ({"balance": {"around": 5}}, {}, "unknown comparison 'around'"),
        ({"balance": {"gt": 1, "lt": 5}}, {}, "one comparison per key"),
        ({"balance": {"in": 5}}, {}, "balance.in: takes a list"),
        ({"balance": {"gt": None}}, {}, "balance.gt: None is not a number"),
        ({"segment": "hibernatin"}, {}, "segment: 'hibernatin' is none of ["),
        ({"segment": {"in": ["loyal", "champion"]}}, {}, "segment: 'champion' is none of"),
        ({"direction": "upward"}, {"event_fields": {"direction"}}, "'upward' is none of"),
        ({"balance": {"lte": float("nan")}}, {}, "balance.lte: nan is not a number"),
        ({"balance": float("nan")}, {}, "balance: nan is not a number"),
        ({"sent": "zz"}, {"steps": {"a"}}, "sent: no step ['zz']"),
        ({"has_channel": "pigeon"}, {}, "has_channel: no channel ['pigeon']"),
        ({"total": 5}, {}, "total: not a field of this trigger event"),
        ({"sent": "a"}, {"steps": {"a"}, "instance": False}, "no instance yet"),
        ({"any": []}, {}, "any: takes a non-empty list"),
        ({"all": [{"nope": 1}]}, {}, "all.0.nope: unknown condition"),
        ([1], {}, "must be a mapping"),
        (_nested(17), {}, "all/any/not nest at most 16 deep"),  # 300: a RecursionError
    ],
)
def test_bad_conditions_fail_at_compile_time_naming_the_key(
    condition: Any, scope: dict, message: str
) -> None:
    with pytest.raises(ConditionError) as err:
        compile_condition(condition, Scope(**scope))
    assert message in str(err.value)

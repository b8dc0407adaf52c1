"""Conditions of scenarios (a step's ``if``, an entry's or exit's ``where``), compiled once
at start into plain functions of the customer's facts.

A condition is a mapping whose every key must hold; ``all: [...]``, ``any: [...]`` and
``not: {...}`` combine conditions. A key's value is a scalar (equality) or one comparison
``{eq|ne|lt|lte|gt|gte: value}`` or ``{in: [values]}``. A fact that has no value (no
purchase yet: ``days_since_purchase``) satisfies no comparison but ``ne`` and ``eq: null``.
Keys about products (``category``, ``sku``) hold when any of the event's values does; keys
about steps (``sent: d1``) and channels (``has_channel: email``) name the step or channel.

The registry `FACTS` is the list of keys: a new condition is one entry there.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from triggers.customer import DAY, CustomerState, purchase_totals, shown_balance
from triggers.events import CONTACT_CHANNEL
from triggers.rfm import SEGMENT_NAMES, segment_of
from triggers.scenarios.instances import Instance
from triggers.scenarios.signals import TRIGGER_EVENTS, Signal

CHANNELS = frozenset(CONTACT_CHANNEL.values())


class Facts(msgspec.Struct, gc=False):
    """What a condition is checked against."""

    state: CustomerState
    now: float
    """event time of the check (a step's due time, an event's time)"""
    kind: str
    """the scenario's kind: marketing needs consents for ``has_channel``"""
    instance: Instance | None = None
    signal: Signal | None = None


Predicate = Callable[[Facts], bool]
Getter = Callable[[Facts], Any]


class ConditionError(ValueError):
    """A condition that cannot be compiled; the message names the key and why."""


@dataclass(frozen=True, slots=True)
class Fact:
    """One condition key: how to read it and what its values are."""

    read: Getter
    type: type | tuple[type, ...]
    """the type of the values it compares with"""
    scope: str = "state"
    """state: anywhere; instance: a running instance's (``if``, ``exit_on``); event: the
    trigger event's own fields (``where``)"""
    named: str | None = None
    """the key names a step (``step``) or a channel (``channel``) instead of comparing"""
    values: tuple[str, ...] = ()
    """the only values it can have (none: any); another can never hold: a typo"""


def _rolling(days: int, spend: bool) -> Getter:
    index = 1 if spend else 0
    return lambda f: purchase_totals(f.state, f.now, days)[index]


def _days_since_purchase(facts: Facts) -> float | None:
    last = facts.state.last_purchase_at
    return None if last is None else (facts.now - last) / DAY


def _cart_total(facts: Facts) -> float:
    return round(sum(qty * price for qty, price, _category in facts.state.cart.values()), 2)


def _event_field(name: str) -> Getter:
    return lambda f: None if f.signal is None else f.signal.fields.get(name)


def _instance_field(name: str) -> Getter:
    return lambda f: None if f.instance is None else getattr(f.instance, name)


def _step_has(flag: str) -> Getter:
    """The set of steps of the instance whose notice has ``flag`` (s sent, d delivered...)."""
    return lambda f: set() if f.instance is None else f.instance.steps_with(flag)


def _channels(facts: Facts) -> set[str]:
    reachable = facts.state.reachable_channels()
    if facts.kind == "marketing":
        return {c for c in reachable if facts.state.consents.get(c) is True}
    return reachable


NUMBER = (int, float)
FACTS: dict[str, Fact] = {
    "purchases_since_entry": Fact(_instance_field("purchases"), NUMBER, "instance"),
    "spend_since_entry": Fact(_instance_field("spend"), NUMBER, "instance"),
    **{
        f"{what}_{days}d": Fact(_rolling(days, what == "spend"), NUMBER)
        for what in ("purchases", "spend")
        for days in (30, 90, 365)
    },
    "days_since_purchase": Fact(_days_since_purchase, NUMBER),
    "balance": Fact(lambda f: shown_balance(f.state), NUMBER),
    "cart_total": Fact(_cart_total, NUMBER),
    "cart_items": Fact(lambda f: len(f.state.cart), NUMBER),
    "sent": Fact(_step_has("s"), str, "instance", "step"),
    "delivered": Fact(_step_has("d"), str, "instance", "step"),
    "opened": Fact(_step_has("o"), str, "instance", "step"),
    "clicked": Fact(_step_has("c"), str, "instance", "step"),
    "has_channel": Fact(_channels, str, "state", "channel"),
    "segment": Fact(lambda f: segment_of(f.state.rfm), str, values=SEGMENT_NAMES),
    "tier": Fact(lambda f: f.state.tier, str),
    "rfm": Fact(lambda f: f.state.rfm, str),
    # the trigger event's own fields (signals.TRIGGER_EVENTS says which event has which)
    "category": Fact(_event_field("category"), str, "event"),
    "sku": Fact(_event_field("sku"), str, "event"),
    "total": Fact(_event_field("total"), NUMBER, "event"),
    "store_id": Fact(_event_field("store_id"), str, "event"),
    "channel": Fact(_event_field("channel"), str, "event"),
    "from": Fact(_event_field("from"), str, "event"),
    "to": Fact(_event_field("to"), str, "event"),
    "direction": Fact(_event_field("direction"), str, "event", values=("up", "down")),
    "earned": Fact(_event_field("earned"), NUMBER, "event"),
    "spent": Fact(_event_field("spent"), NUMBER, "event"),
    "latest": Fact(_event_field("latest"), bool, "event"),
    "scenario": Fact(_event_field("scenario"), str, "event"),
    "step": Fact(_event_field("step"), str, "event"),
}
"""Every condition key."""

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
COMBINATORS = ("all", "any", "not")
MAX_NESTING = 16
"""how deep ``all``/``any``/``not`` may nest (deeper is no condition a marketer writes, and
compiling it would exhaust the interpreter's stack)"""


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a condition stands: which keys it may use."""

    event_fields: Collection[str] = ()
    """the trigger event's fields (``where``); none in a step's ``if``"""
    instance: bool = True
    """whether a running instance is at hand (not in an entry's ``where``)"""
    steps: Collection[str] = ()
    """the scenario's step ids (for ``sent: d1`` and the like)"""
    event_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """the trigger event's fields that can have only these values"""


def event_scope(on: str, instance: bool = True, steps: Collection[str] = ()) -> Scope:
    """The scope of a ``where`` on trigger event ``on``."""
    event = TRIGGER_EVENTS[on]
    return Scope(event.fields, instance, steps, event.values)


def compile_condition(condition: Any, scope: Scope, path: str = "") -> Predicate:
    """A predicate for ``condition`` (`always` for none); `ConditionError` naming the key
    otherwise."""
    if condition is None:
        return always
    if not isinstance(condition, Mapping):
        raise ConditionError(f"{path or 'condition'}: must be a mapping of conditions")
    parts = [
        _compile_key(str(key), value, scope, _join(path, key)) for key, value in condition.items()
    ]
    if not parts:
        return always
    return _every(parts)


def keys_of(condition: Any) -> set[str]:
    """Every condition key a (valid) condition uses, inside ``all``/``any``/``not`` too."""
    if not isinstance(condition, Mapping):
        return set()
    keys: set[str] = set()
    for key, value in condition.items():
        if key == "not":
            keys |= keys_of(value)
        elif key in COMBINATORS:
            keys = keys.union(*(keys_of(c) for c in value))
        else:
            keys.add(str(key))
    return keys


def values_compared(condition: Any, key: str) -> list[Any]:
    """Every value a (valid) condition compares ``key`` with: a scalar, a comparison's
    operand, ``in``'s items; inside ``all``/``any``/``not`` too."""
    if not isinstance(condition, Mapping):
        return []
    found: list[Any] = []
    for name, value in condition.items():
        if name == "not":
            found += values_compared(value, key)
        elif name in COMBINATORS:
            for inner in value:
                found += values_compared(inner, key)
        elif name == key:
            _operands_into(value, found)
    return found


def _operands_into(value: Any, found: list[Any]) -> None:
    """Add what a key's ``value`` names: itself, or its comparison's operand(s)."""
    if isinstance(value, Mapping) and len(value) == 1:
        [operand] = value.values()
        found += operand if isinstance(operand, list) else [operand]
    else:
        found.append(value)


def always(_facts: Facts) -> bool:
    """The empty condition."""
    return True


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _compile_key(key: str, value: Any, scope: Scope, path: str) -> Predicate:
    if key in COMBINATORS:
        return _combine(key, value, scope, path)
    fact = FACTS.get(key)
    if fact is None:
        raise ConditionError(f"{path}: unknown condition; known: {sorted([*FACTS, *COMBINATORS])}")
    if fact.scope == "event" and key not in scope.event_fields:
        known = sorted(scope.event_fields) or "none"
        raise ConditionError(f"{path}: not a field of this trigger event (its fields: {known})")
    if fact.scope == "instance" and not scope.instance:
        raise ConditionError(f"{path}: an entry has no instance yet to ask this of")
    if fact.named is not None:
        return _named(fact, value, scope, path)
    values = fact.values or scope.event_values.get(key, ())
    if values:
        _check_values(value, values, path)
    compare = _comparison(value, fact.type, path)
    if key in ("category", "sku"):  # any of the event's products
        return lambda facts: any(compare(v) for v in (facts.signal.fields.get(key) or ()))  # type: ignore[union-attr]
    if fact.scope == "event":  # read directly: these are the most checked (every entry)
        return lambda facts: compare(facts.signal.fields.get(key))  # type: ignore[union-attr]
    read = fact.read
    return lambda facts: compare(read(facts))


def _combine(key: str, value: Any, scope: Scope, path: str) -> Predicate:
    if sum(part in COMBINATORS for part in path.split(".")) > MAX_NESTING:
        raise ConditionError(f"{path}: all/any/not nest at most {MAX_NESTING} deep")
    if key == "not":
        inner = compile_condition(value, scope, path)
        return lambda facts: not inner(facts)
    if not isinstance(value, list) or not value:
        raise ConditionError(f"{path}: takes a non-empty list of conditions")
    parts = [compile_condition(c, scope, f"{path}.{n}") for n, c in enumerate(value)]
    return _every(parts) if key == "all" else _some(parts)


def _every(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]

    def every(facts: Facts) -> bool:
        for part in parts:  # noqa: SIM110 (a loop: all() over a generator is slower)
            if not part(facts):
                return False
        return True

    return every


def _some(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]

    def some(facts: Facts) -> bool:
        for part in parts:  # noqa: SIM110 (a loop: any() over a generator is slower)
            if part(facts):
                return True
        return False

    return some


def _named(fact: Fact, value: Any, scope: Scope, path: str) -> Predicate:
    names = value["in"] if isinstance(value, Mapping) and set(value) == {"in"} else [value]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConditionError(f"{path}: names a {fact.named} (or {{in: [...]}} of them)")
    known = scope.steps if fact.named == "step" else CHANNELS
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConditionError(f"{path}: no {fact.named} {unknown}; known: {sorted(known)}")
    wanted = frozenset(names)
    read = fact.read
    return lambda facts: not wanted.isdisjoint(read(facts))


def _comparison(value: Any, kind: type | tuple[type, ...], path: str) -> Callable[[Any], bool]:
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise ConditionError(f"{path}: one comparison per key ({'|'.join(COMPARISONS)}|in)")
        [(op, operand)] = value.items()
        if op == "in":
            if not isinstance(operand, list):
                raise ConditionError(f"{path}.in: takes a list")
            for item in operand:
                _check_type(item, kind, f"{path}.in")
            allowed = list(operand)
            return lambda actual: actual is not None and actual in allowed
        if op not in COMPARISONS:
            raise ConditionError(
                f"{path}: unknown comparison {op!r}; known: {[*COMPARISONS, 'in']}"
            )
        if operand is not None or op not in ("eq", "ne"):  # null orders against nothing
            _check_type(operand, kind, f"{path}.{op}")
        return _compare(COMPARISONS[op], op, operand)
    if value is not None:
        _check_type(value, kind, path)
    return _compare(operator.eq, "eq", value)


def _compare(test: Callable[[Any, Any], bool], op: str, operand: Any) -> Callable[[Any], bool]:
    if op == "eq":
        return lambda actual: actual == operand
    if op == "ne":
        return lambda actual: actual != operand
    if op == "gt":
        return lambda actual: actual is not None and actual > operand
    return lambda actual: actual is not None and test(actual, operand)


def _check_values(value: Any, values: tuple[str, ...], path: str) -> None:
    """Every string ``value`` names (itself, a comparison's operand, ``in``'s items) is one
    of ``values``."""
    named: list[Any] = []
    _operands_into(value, named)
    unknown = [v for v in named if isinstance(v, str) and v not in values]
    if unknown:
        raise ConditionError(f"{path}: {unknown[0]!r} is none of {list(values)}")


def _check_type(value: Any, kind: type | tuple[type, ...], path: str) -> None:
    ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
    if not ok or (isinstance(value, float) and math.isnan(value)):  # NaN compares false
        expected = "a number" if kind == NUMBER else f"a {getattr(kind, '__name__', kind)}"
        raise ConditionError(f"{path}: {value!r} is not {expected}")

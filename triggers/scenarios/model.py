"""Scenario definitions as the configuration writes them (``scenarios:``), validated by
pydantic: every field path in an error, conditions compiled at load (triggers.scenarios.
conditions), durations read by triggers.durations."""

from __future__ import annotations

import json
from datetime import time
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    field_validator,
    model_validator,
)

from triggers.durations import LONGEST_DAYS, Duration
from triggers.scenarios.conditions import (
    ConditionError,
    Scope,
    compile_condition,
    event_scope,
    keys_of,
    values_compared,
)
from triggers.scenarios.signals import TRIGGER_EVENTS
from triggers.schema import Channel

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]
"""a scenario, step or variant id"""
TemplateName = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _hh_mm(value: object) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)  # YAML 1.1 reads 10:00 as 600
    if isinstance(value, str) and len(value) == 5 and value[2] == ":":
        try:
            return time(int(value[:2]), int(value[3:]))
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a time of day: write HH:MM, 00:00-23:59")


LocalTime = Annotated[
    time, PlainValidator(_hh_mm), PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)
]


class _Spec(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


def _trigger_event(value: str, entry: bool) -> str:
    event = TRIGGER_EVENTS.get(value)
    if event is None:
        raise ValueError(f"unknown trigger event {value!r}; known: {sorted(TRIGGER_EVENTS)}")
    if entry and not event.entry:
        raise ValueError(f"{value!r} cannot start a scenario")
    return value


def _where(on: str, where: dict[str, Any], instance: bool) -> None:
    """Compile a ``where`` now, so a bad one fails at load."""
    try:
        compile_condition(where, event_scope(on, instance=instance))
    except ConditionError as exc:
        raise ValueError(f"where.{exc}") from None


def _yaml_on(data: object) -> object:
    """YAML 1.1 reads an unquoted ``on:`` key as the boolean true."""
    if isinstance(data, dict) and True in data and "on" not in data:
        data = {("on" if key is True else key): value for key, value in data.items()}
    return data


class _OnSpec(_Spec):
    """A trigger event (``on``) and a condition on it (``where``)."""

    @model_validator(mode="before")
    @classmethod
    def _key_on(cls, data: object) -> object:
        return _yaml_on(data)

    on: str
    where: dict[str, Any] = {}


class EntrySpec(_OnSpec):
    """What starts an instance."""

    days_before: Annotated[int, Field(ge=0, le=366)] | None = None
    """birthday only: the entry comes this many days before the birthday"""

    @model_validator(mode="after")
    def _valid(self) -> EntrySpec:
        _trigger_event(self.on, entry=True)
        if self.days_before is not None and self.on != "birthday":
            raise ValueError("days_before is for entry: {on: birthday} only")
        _where(self.on, self.where, instance=False)
        return self


class ExitSpec(_OnSpec):
    """An event that ends a running instance at once."""

    @model_validator(mode="after")
    def _valid(self) -> ExitSpec:
        _trigger_event(self.on, entry=False)
        _where(self.on, self.where, instance=True)
        return self


def _exit(value: object) -> object:
    return {"on": value} if isinstance(value, str) else value


class StepSpec(_Spec):
    """One message of a chain."""

    id: Name
    after: Duration = 0.0
    """time after the entry"""
    at_local: LocalTime | None = None
    """the first moment at or after ``after`` with this local time (customer timezone)"""
    if_: dict[str, Any] = Field(default={}, alias="if")
    channels: Annotated[list[Channel], Field(min_length=1)] | None = None
    """this step's cascade order; None: the global order"""
    template: TemplateName | dict[Name, TemplateName]
    """a template name, or one per variant"""
    vars: dict[str, Any] = {}

    @field_validator("channels")
    @classmethod
    def _once_each(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value

    @field_validator("vars")
    @classmethod
    def _as_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:  # what a notice cannot carry would fail every event that reaches the step
            orjson.dumps(value)
        except TypeError as exc:
            raise ValueError(f"not JSON a notice can carry: {exc}") from None
        try:  # JSON has no NaN (orjson writes null): the notice's text would say "nan"
            json.dumps(value, allow_nan=False)
        except ValueError:
            raise ValueError("not JSON a notice can carry: NaN or infinity") from None
        return value


class VariantSpec(_Spec):
    id: Name
    weight: Annotated[float, Field(gt=0, le=1_000_000)] = 1.0
    """relative to the others' (their sum must stay a finite number for the draw)"""


class ScenarioSpec(_Spec):
    """One scenario (a chain of messages), as the configuration defines it."""

    enabled: bool = True
    kind: Literal["marketing", "transactional"] = "marketing"
    entry: EntrySpec
    restart: bool = False
    """a new entry while an instance runs: ends it and starts a new one (else: ignored)"""
    reentry_days: Annotated[float, Field(ge=0, le=LONGEST_DAYS)] | None = None
    """after an instance ended: None never again, 0 at once, N not before N days after
    its entry"""
    exit_on: list[Annotated[ExitSpec, BeforeValidator(_exit)]] = []
    """trigger events (names or ``{on, where}``) that end a running instance at once"""
    control_percent: Annotated[float, Field(ge=0, le=100)] = 0.0
    variants: list[VariantSpec] = []
    attribution_days: Annotated[float, Field(ge=0, le=LONGEST_DAYS)] = 7.0
    steps: Annotated[list[StepSpec], Field(min_length=1)]
    notice_vars: list[str] | None = None
    """the vars its notices carry, in this order (default: every var the contract lists
    for the scenario); the built-ins keep their notices' vars exactly as they were"""

    @model_validator(mode="after")
    def _consistent(self) -> ScenarioSpec:
        ids = [step.id for step in self.steps]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"steps: duplicate step id(s) {twice}")
        variants = {v.id for v in self.variants}
        if len(variants) != len(self.variants):
            raise ValueError("variants: a variant id is listed twice")
        for index, step in enumerate(self.steps):
            self._check_step(step, set(ids[:index]), variants)
        return self

    def _check_step(self, step: StepSpec, earlier: set[str], variants: set[str]) -> None:
        where = f"steps.{step.id}"
        try:  # a step is decided before any later one is sent: it asks of earlier ones
            compile_condition(step.if_, Scope(steps=earlier))
        except ConditionError as exc:
            raise ValueError(f"{where}.if.{exc}") from None
        if isinstance(step.template, dict):
            if not variants:
                raise ValueError(f"{where}.template: a map by variant needs variants")
            missing = sorted(variants - set(step.template))
            unknown = sorted(set(step.template) - variants)
            if missing or unknown:
                raise ValueError(
                    f"{where}.template: variants without a template {missing}, "
                    f"templates of no variant {unknown}"
                )

    def templates(self) -> dict[str, list[str]]:
        """Template name -> the steps that use it."""
        used: dict[str, list[str]] = {}
        for step in self.steps:
            names = step.template.values() if isinstance(step.template, dict) else [step.template]
            for name in names:
                used.setdefault(name, []).append(step.id)
        return used

    def _conditions(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        """Every condition, with where it stands and its trigger event (None: a step's)."""
        conditions: list[tuple[str, str | None, dict[str, Any]]] = [
            ("entry.where", self.entry.on, self.entry.where)
        ]
        conditions += [(f"exit_on.{n}.where", e.on, e.where) for n, e in enumerate(self.exit_on)]
        conditions += [(f"steps.{step.id}.if", None, step.if_) for step in self.steps]
        return conditions

    def tiers_named(self) -> dict[str, list[Any]]:
        """The values its conditions compare a tier with (``tier``; ``from``/``to`` of
        ``tier_changed``), by where they stand; checked against the configured tiers."""
        named = {}
        for where, on, condition in self._conditions():
            for key in ("tier", "from", "to") if on == "tier_changed" else ("tier",):
                values = values_compared(condition, key)
                if values:
                    named[f"{where}.{key}"] = values
        return named

    def names_used(self) -> set[str]:
        """Every trigger event and condition key it uses."""
        used = {self.entry.on, *(e.on for e in self.exit_on)}
        return used.union(*(keys_of(condition) for _, _, condition in self._conditions()))

"""The configured scenarios compiled for the interpreter: conditions as functions, steps
linked in order, scenarios indexed by the trigger events they enter and exit on, and
what the customer's state must keep for them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from triggers.customer import DAY
from triggers.notices import Entered
from triggers.scenarios.conditions import (
    Predicate,
    Scope,
    compile_condition,
    event_scope,
    keys_of,
)
from triggers.scenarios.experiments import Experiment
from triggers.scenarios.model import ScenarioSpec
from triggers.scenarios.signals import ENGAGEMENT

ENTRY_VARS: dict[str, tuple[str, ...]] = {
    "purchase": ("total", "lines", "store_id"),
    "cart_changed": ("lines", "total", "items"),
    "points_expiring": ("points", "expires_at", "expires_on"),
    "segment_changed": ("from", "to"),
    "tier_changed": ("from", "to"),
}
"""the vars each trigger event gives its instances' notices (contract: "Template vars")"""
ALWAYS_VARS = ("first_name", "balance", "days_since_purchase", "tier", "segment")
CART_VARS = frozenset(ENTRY_VARS["cart_changed"])
"""cart vars are the cart as it is when the step falls due, not as it was at entry"""
KEPT_LINES = 100
"""later steps of a purchase-entered scenario see the first 100 lines of the entry purchase
(the instance keeps them in the customer's document for its whole life: bounded, and more
than a supermarket receipt has; the step at once sees them all)"""


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    after: float
    at_local: time | None
    check: Predicate
    channels: tuple[str, ...] | None
    template: str | Mapping[str, str]
    vars: Mapping[str, Any]
    next: str | None
    """the step after this one (None: the last)"""
    recommends: bool
    """its notices carry ``recommendations`` (the engine looks them up)"""

    @property
    def immediate(self) -> bool:
        """Due at the entry itself."""
        return self.after == 0 and self.at_local is None


@dataclass(frozen=True, slots=True)
class Scenario:
    id: str
    kind: str
    entry_on: str
    entry_where: Predicate
    days_before: int
    restart: bool
    reentry_s: float | None
    """None: never again; else how long after an instance's entry a new one may start"""
    exits: tuple[tuple[str, Predicate], ...]
    steps: Mapping[str, Step]
    first: str
    shown: tuple[str, ...]
    """the vars its notices carry, in order (a step's own vars come after them): the
    configured ``notice_vars``, else the contract's (``viewed`` where views matter)"""
    only_shown: bool
    """``notice_vars`` was given: a step's own vars are shown only when listed"""
    entry_vars: tuple[str, ...]
    keeps_entry: bool
    """later steps need the entry event's vars (kept in the instance)"""
    keeps_ended: bool
    """an ended instance is kept (for re-entry: ``reentry_days`` other than 0)"""
    attribution_s: float
    """the conversion window after each notice (``attribution_days``); an ended instance
    stays whole this long where receipts or conversions can still come"""
    converts: bool
    """purchases are attributed to its instances: a marketing scenario with a window
    (a transactional notice, the bonus message after checkout, is a purchase's effect,
    not the cause of the next one)"""
    recommends: bool
    """some step shows recommendations (the entry's products are kept)"""
    entered: Entered
    """the note of an entry without an experiment (one for all: nothing changes it)"""
    experiment: Experiment | None
    """its variants and control groups (None: everyone gets the one version)"""


@dataclass(frozen=True)
class Program:
    """Every enabled scenario, indexed for the interpreter, and what they need kept."""

    scenarios: Mapping[str, Scenario] = field(default_factory=dict)
    entered_on: Mapping[str, tuple[Scenario, ...]] = field(default_factory=dict)
    exited_on: Mapping[str, tuple[tuple[Scenario, Predicate], ...]] = field(default_factory=dict)
    birthdays: tuple[Scenario, ...] = ()
    engagement: bool = False
    """delivery receipts matter: an engagement condition or trigger event is used"""
    views: bool = False
    """product views are kept (``viewed``, scenarios on product views)"""
    recommends: bool = False
    """some step shows recommendations: co-purchases are counted"""
    asked: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """trigger event -> the keys the ``where`` of its entries and exits use (an event's
    fields that nobody asks about are not worked out)"""
    lines_for: frozenset[str] = frozenset()
    """trigger events whose instances show the event's ``lines``"""

    def uses(self, trigger_event: str) -> bool:
        """Whether any scenario enters or exits on ``trigger_event``."""
        return trigger_event in self.entered_on or trigger_event in self.exited_on

    def asks(self, trigger_event: str, *keys: str) -> bool:
        """Whether a ``where`` on ``trigger_event`` uses any of ``keys``."""
        asked = self.asked.get(trigger_event)
        return asked is not None and not asked.isdisjoint(keys)


def compile_program(
    specs: Mapping[str, ScenarioSpec],
    template_vars: Callable[[str], Collection[str]],
    global_control_percent: float = 0.0,
) -> Program:
    """Compile the enabled scenarios; ``template_vars(template)`` names the vars a
    template uses (channels.templates), so that only steps that show recommendations
    look them up. ``global_control_percent`` of customers are a control group of every
    marketing scenario."""
    scenarios = {
        sid: _scenario(sid, spec, template_vars, global_control_percent)
        for sid, spec in specs.items()
        if spec.enabled
    }
    entered: dict[str, list[Scenario]] = {}
    exited: dict[str, list[tuple[Scenario, Predicate]]] = {}
    for scenario in scenarios.values():
        entered.setdefault(scenario.entry_on, []).append(scenario)
        for on, where in scenario.exits:
            exited.setdefault(on, []).append((scenario, where))
    used_events = set(entered) | set(exited)
    enabled = [spec for sid, spec in specs.items() if sid in scenarios]
    asked = set().union(*(keys_of(c) for spec in enabled for c in _conditions(spec)))
    wheres = [(s.entry.on, s.entry.where) for s in enabled]
    wheres += [(e.on, e.where) for s in enabled for e in s.exit_on]
    return Program(
        scenarios,
        {k: tuple(v) for k, v in entered.items()},
        {k: tuple(v) for k, v in exited.items()},
        tuple(entered.get("birthday", ())),
        engagement=bool(used_events & set(ENGAGEMENT.values()) or asked & RECEIPT_FACTS),
        views="product_view" in used_events or any("viewed" in s.shown for s in scenarios.values()),
        recommends=any(st.recommends for s in scenarios.values() for st in s.steps.values()),
        asked=_asked(wheres),
        lines_for=frozenset(s.entry_on for s in scenarios.values() if "lines" in s.shown),
    )


def _asked(wheres: list[tuple[str, Any]]) -> dict[str, frozenset[str]]:
    asked: dict[str, set[str]] = {}
    for on, where in wheres:
        asked.setdefault(on, set()).update(keys_of(where))
    return {on: frozenset(keys) for on, keys in asked.items()}


RECEIPT_FACTS = frozenset(("delivered", "opened", "clicked"))
"""condition keys that need delivery receipts"""


def _conditions(spec: ScenarioSpec) -> list[Any]:
    return [spec.entry.where, *(e.where for e in spec.exit_on), *(s.if_ for s in spec.steps)]


def _scenario(
    sid: str,
    spec: ScenarioSpec,
    template_vars: Callable[[str], Collection[str]],
    global_control_percent: float,
) -> Scenario:
    ids = [step.id for step in spec.steps]
    on = spec.entry.on
    entry_vars = ENTRY_VARS.get(on, ())
    used_by = {
        step.id: set().union(*(template_vars(t) for t in _templates(step.template)))
        for step in spec.steps
    }
    if spec.notice_vars is not None:
        shown = tuple(spec.notice_vars)
    else:
        views = on == "product_view" or any("viewed" in used for used in used_by.values())
        shown = (*ALWAYS_VARS, *entry_vars, *(("viewed",) if views else ()))
    steps = {}
    for index, step in enumerate(spec.steps):
        steps[step.id] = Step(
            step.id,
            step.after,
            step.at_local,
            compile_condition(step.if_, Scope(steps=ids[:index])),  # earlier steps only
            tuple(step.channels) if step.channels else None,
            step.template,
            dict(step.vars),
            ids[index + 1] if index + 1 < len(ids) else None,
            "recommendations" in used_by[step.id] or "recommendations" in shown,
        )
    exits = tuple(
        (e.on, compile_condition(e.where, event_scope(e.on, steps=ids))) for e in spec.exit_on
    )
    # a step decided after the entry (a later one; a marketing one held by quiet hours)
    later = spec.kind == "marketing" or any(not s.immediate for s in steps.values())
    keeps = later and any(v in shown and v not in CART_VARS for v in entry_vars)
    return Scenario(
        sid,
        spec.kind,
        on,
        compile_condition(spec.entry.where, event_scope(on, instance=False)),
        spec.entry.days_before or 0,
        spec.restart,
        None if spec.reentry_days is None else spec.reentry_days * DAY,
        exits,
        steps,
        ids[0],
        shown,
        spec.notice_vars is not None,
        entry_vars,
        keeps,
        spec.reentry_days != 0,
        spec.attribution_days * DAY,
        spec.kind == "marketing" and spec.attribution_days > 0,
        any(step.recommends for step in steps.values()),
        Entered(sid),
        Experiment.of(
            sid,
            [(v.id, v.weight) for v in spec.variants],
            spec.control_percent,
            global_control_percent if spec.kind == "marketing" else 0.0,
        ),
    )


def step_templates(step: Step) -> list[str]:
    """The templates a step may use (one per variant)."""
    return _templates(step.template)


def _templates(template: str | Mapping[str, str]) -> list[str]:
    return list(template.values()) if isinstance(template, Mapping) else [template]

"""A pure driver of the scenario engine for unit tests: one customer's state, events and due
timers in event-time order, every candidate decided by a stand-in policy (no Redis, no
Bytewax; the real processor does the same against Redis: flows.processor)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from smartcomms.config import Settings
from smartcomms.standing_settings import loyalty_of
from triggers.customer import CustomerState
from triggers.engine import Rules, apply_event, conclude, fire_timer
from triggers.events import Event, epoch_of, parse_event
from triggers.notices import (
    WITHHELD,
    Candidate,
    Converted,
    Decision,
    Emit,
    Entered,
    Exited,
    Skipped,
    Suppression,
)
from triggers.timers import due_timers

Policy = Callable[[Candidate], Decision]


def rules(scenarios: dict[str, Any], **settings: Any) -> Rules:
    """Rules of a configuration with these scenarios (built-ins off unless asked for)."""
    off = {sid: {"enabled": False} for sid in ("bonus_earned", "abandoned_cart", "win_back")}
    validated = Settings.model_validate({"scenarios": {**off, **scenarios}, **settings})
    return Rules(
        accrual_percent=validated.bonus.accrual_percent,
        scenarios=validated.scenarios,
        template_vars=_template_vars,
        global_control_percent=validated.experiments.global_control_percent,
        loyalty=loyalty_of(validated.segments, validated.loyalty),
    )


def _template_vars(template: str) -> set[str]:
    return {"recommendations"} if "recommend" in template else set()


def emit_all(candidate: Candidate) -> Decision:
    return Emit(list(candidate.channels or ["sms"]))


class Customer:
    """One customer through the engine: ``event`` and ``until`` return what was sent."""

    def __init__(self, rules: Rules, policy: Policy = emit_all, customer_id: str = "C1") -> None:
        self.rules = rules
        self.policy = policy
        self.customer_id = customer_id
        self.state = CustomerState()
        self.now = float("-inf")
        self.sent: list[Candidate] = []
        self.notes: list[Entered | Exited | Skipped | Converted] = []
        self.suppressed: list[Suppression] = []
        self.withheld: list[Candidate] = []
        """candidates of a control customer the policy would have sent"""
        self._ids = 0

    def event(self, kind: str, ts: str, **fields: Any) -> list[Candidate]:
        """Apply one event (customer_id and event_id filled in) after the timers it passes."""
        self._ids += 1
        raw: dict[str, Any] = {"event_id": f"e{self._ids}", "type": kind, "ts": ts, **fields}
        raw.setdefault("customer_id", self.customer_id)
        if kind in ("receipt", "return"):
            raw.setdefault("receipt_id", f"R{self._ids}")
            raw.setdefault("store_id", "S1")
            raw.setdefault("total", 100.0)
        elif kind not in ("customer", "delivery"):
            raw.setdefault("anonymous_id", "D1")
        event = parse_event(orjson.dumps(raw))
        assert isinstance(event, Event), event
        return self.apply(event)

    def apply(self, event: Event) -> list[Candidate]:
        at = epoch_of(event.ts)
        before = len(self.sent)
        self.until_epoch(max(self.now, at))
        notes: list[Entered | Exited | Skipped | Converted] = []
        self._settle(apply_event(self.state, event, at, self.rules, None, notes), notes)
        self.until_epoch(self.now)
        return self.sent[before:]

    @property
    def converted(self) -> list[Converted]:
        return [note for note in self.notes if isinstance(note, Converted)]

    def until(self, ts: str) -> list[Candidate]:
        before = len(self.sent)
        self.until_epoch(epoch_of(ts))
        return self.sent[before:]

    def until_epoch(self, now: float) -> None:
        self.now = max(self.now, now)
        while True:
            due = due_timers(self.state, self.now)
            if not due:
                return
            at, name = due[0]
            notes: list[Entered | Exited | Skipped | Converted] = []
            actions = fire_timer(self.state, name, at, self.customer_id, self.rules, notes)
            self._settle(actions, notes)

    def _settle(self, actions: list, notes: list) -> None:
        self.notes += notes
        work = list(actions)
        while work:
            outcome = work.pop(0)
            if isinstance(outcome, Candidate):
                decision = self.policy(outcome)
                if isinstance(decision, Emit) and outcome.control:
                    decision = WITHHELD  # as flows.processor does
                    self.withheld.append(outcome)
                elif isinstance(decision, Emit):
                    self.sent.append(outcome)
                more: list[Entered | Exited | Skipped | Converted] = []
                work += conclude(self.state, outcome, decision, self.rules, more)
                self.notes += more
            elif isinstance(outcome, Suppression):
                self.suppressed.append(outcome)

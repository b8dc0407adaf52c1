"""The scenario interpreter: trigger events start and end instances, due timers and
decisions move them along their steps. Pure: state in, state changed and outcomes out.

The engine asks three questions:

- `Interpreter.signal`: a trigger event happened (exits first, then entries and restarts);
- `Interpreter.fire`: a timer of the customer came due (a step, or a birthday entry);
- `Interpreter.conclude`: what the delivery policy decided about a step's candidate
  (emitted, held for quiet hours, suppressed); the chain goes on to its next step.

Each returns outcomes: candidate notices to decide, and what to count and log. A step
whose time has come with the event that caused it (``after: 0``) is decided at once, so
its notice comes out with the event; later ones wait on the customer's timers (one per
running instance, named by the scenario), which are event time like everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from triggers.customer import CustomerState
from triggers.notices import (
    Candidate,
    Decision,
    Emit,
    Entered,
    Exited,
    Hold,
    Skipped,
    Suppression,
    rfc3339_utc,
)
from triggers.scenarios.conditions import Facts
from triggers.scenarios.instances import (
    EXIT_ON,
    RESTART,
    SENT,
    SKIPPED,
    SUPPRESSED,
    Instance,
    at_local,
    birthday_moment,
)
from triggers.scenarios.program import Program, Scenario, Step
from triggers.scenarios.signals import Signal
from triggers.scenarios.vars import entry_snapshot, recommendation_seeds, step_vars
from triggers.timers import QUIET_HOURS_THEN_CANCELLED, arm, hold, take

Outcome = Candidate | Suppression | Skipped | Entered | Exited
BIRTHDAY = "birthday:"
"""prefix of the timer of a birthday scenario's next entry"""
KEPT_SKUS = 10


class Interpreter:
    """Runs a `Program` over customers' states."""

    def __init__(self, program: Program, default_timezone: str = "Europe/Moscow") -> None:
        self.program = program
        self._default_timezone = default_timezone

    def signal(self, state: CustomerState, customer_id: str, signal: Signal) -> list[Outcome]:
        """A trigger event of the customer: running instances it ends, then instances it
        starts (or restarts), with the steps due at once."""
        out: list[Outcome] = []
        for scenario, where in self.program.exited_on.get(signal.name, ()):
            instance = self.running(state, scenario.id)
            if instance is not None and where(
                Facts(state, signal.at, scenario.kind, instance, signal)
            ):
                out += self._end(state, customer_id, scenario.id, instance, EXIT_ON, signal.at)
        for scenario in self.program.entered_on.get(signal.name, ()):
            out += self._enter(state, customer_id, scenario, signal)
        return out

    def fire(self, state: CustomerState, customer_id: str, name: str, due: float) -> list[Outcome]:
        """A due timer (already due at ``due``): the step it stands for, decided now."""
        take(state, name)
        if name.startswith(BIRTHDAY):
            return self._birthday(state, customer_id, name.removeprefix(BIRTHDAY), due)
        scenario = self.program.scenarios.get(name)
        instance = self.running(state, name)
        if scenario is None or instance is None:
            return []  # the scenario is no longer configured, or the instance ended
        step = scenario.steps.get(instance.next_step or "")
        if step is None:  # the configuration no longer has that step
            instance.advance(None)
            return []
        return self._decide(state, customer_id, scenario, instance, step, due, None)

    def conclude(
        self, state: CustomerState, candidate: Candidate, decision: Decision
    ) -> list[Outcome]:
        """What the policy decided about ``candidate``: held (its timer moves to the end of
        quiet hours, its condition is checked again then), or emitted or suppressed (the
        chain goes on to its next step)."""
        scenario = self.program.scenarios[candidate.trigger]
        instance = self.running(state, scenario.id)
        if instance is None or instance.next_step != candidate.step:
            return []
        if isinstance(decision, Hold):
            hold(state, scenario.id, decision.release)
            return []
        code = SENT if isinstance(decision, Emit) else f"{SUPPRESSED}:{decision.reason}"
        instance.decided(candidate.step, code, candidate.due)
        return self._advance(
            state, candidate.customer_id, scenario, instance, candidate.step, candidate.due
        )

    def running(self, state: CustomerState, scenario_id: str) -> Instance | None:
        """The customer's running instance of a scenario, if any."""
        raw = state.instances.get(scenario_id)
        if raw is None:
            return None
        instance = Instance(raw)
        return instance if instance.running else None

    def count_purchase(self, state: CustomerState, sign: int, total: float, at: float) -> None:
        """A purchase (+1) or return (-1) at ``at`` counts for every instance entered before."""
        for raw in state.instances.values():
            instance = Instance(raw)
            if instance.running and instance.entry_at <= at:
                instance.count_purchase(sign, total)

    def arm_birthdays(self, state: CustomerState, now: float, again: bool = False) -> None:
        """Make sure every birthday scenario has its next entry armed (``again``: the
        birthday or timezone changed, so every one is computed anew)."""
        if not state.birthday:
            return
        for scenario in self.program.birthdays:
            name = BIRTHDAY + scenario.id
            if again or name not in state.timers:
                arm(state, name, self._next_birthday(state, scenario, now))

    def _timezone(self, state: CustomerState) -> str:
        return state.timezone or self._default_timezone

    def _next_birthday(self, state: CustomerState, scenario: Scenario, after: float) -> float:
        assert state.birthday is not None
        year = int(rfc3339_utc(after)[:4])
        for candidate in (year - 1, year, year + 1):
            moment = birthday_moment(
                state.birthday, candidate, scenario.days_before, self._timezone(state)
            )
            if moment > after:
                return moment
        raise AssertionError("a birthday comes every year")

    def _birthday(
        self, state: CustomerState, customer_id: str, scenario_id: str, due: float
    ) -> list[Outcome]:
        scenario = self.program.scenarios.get(scenario_id)
        if scenario is None or not state.birthday:
            return []
        arm(state, BIRTHDAY + scenario_id, self._next_birthday(state, scenario, due))
        year = rfc3339_utc(due)[:4]
        entry = Signal("birthday", f"birthday:{year}", due, rfc3339_utc(due))
        return self._enter(state, customer_id, scenario, entry)

    def _enter(
        self, state: CustomerState, customer_id: str, scenario: Scenario, signal: Signal
    ) -> list[Outcome]:
        if not scenario.entry_where(Facts(state, signal.at, scenario.kind, None, signal)):
            return []
        out: list[Outcome] = []
        raw = state.instances.get(scenario.id)
        if raw is not None:
            last = Instance(raw)
            if last.running:
                if (
                    not scenario.restart
                    or last.entry_id == signal.event_id
                    or signal.at < last.entry_at
                ):
                    return []
                out += self._end(state, customer_id, scenario.id, last, RESTART, signal.at)
            elif scenario.reentry_s is None or signal.at < last.entry_at + scenario.reentry_s:
                return []
        instance = Instance.start(signal.event_id, signal.at, signal.ts, scenario.first)
        if scenario.keeps_entry:
            instance.extra["ev"] = entry_snapshot(scenario, signal.vars)
        if signal.skus and any(s.recommends for s in scenario.steps.values()):
            instance.extra["sk"] = list(signal.skus[:KEPT_SKUS])
        state.instances[scenario.id] = instance.raw
        out.append(Entered(scenario.id))
        first = scenario.steps[scenario.first]
        due = self._due(state, instance, first, signal.at)
        if due <= signal.at:
            return out + self._decide(
                state, customer_id, scenario, instance, first, due, signal.vars
            )
        arm(state, scenario.id, due)
        return out

    def _due(
        self, state: CustomerState, instance: Instance, step: Step, not_before: float
    ) -> float:
        due = instance.entry_at + step.after
        if step.at_local is not None:
            due = at_local(due, step.at_local, self._timezone(state))
        return max(due, not_before)

    def _decide(
        self,
        state: CustomerState,
        customer_id: str,
        scenario: Scenario,
        instance: Instance,
        step: Step,
        due: float,
        entry_vars: Mapping[str, Any] | None,
    ) -> list[Outcome]:
        if not step.check(Facts(state, due, scenario.kind, instance, None)):
            instance.decided(step.id, SKIPPED, due)
            return [
                Skipped(scenario.id, step.id, due),
                *self._advance(state, customer_id, scenario, instance, step.id, due),
            ]
        return [
            Candidate(
                trigger=scenario.id,
                kind=scenario.kind,  # type: ignore[arg-type]
                customer_id=customer_id,
                template=_template(step),
                vars=step_vars(scenario, step, state, instance, due, entry_vars),
                caused_by=instance.entry_id,
                event_ts=instance.entry_ts,
                due_ts=instance.entry_ts if due == instance.entry_at else rfc3339_utc(due),
                step=step.id,
                first_step=step.id == scenario.first,
                due=due,
                channels=step.channels,
                recommend_from=recommendation_seeds(state, instance) if step.recommends else None,
            )
        ]

    def _advance(
        self,
        state: CustomerState,
        customer_id: str,
        scenario: Scenario,
        instance: Instance,
        decided: str,
        at: float,
    ) -> list[Outcome]:
        """On to the step after ``decided`` (decided at ``at``): at once when it is due by
        then, else on its timer; after the last step the instance is done."""
        following = scenario.steps[decided].next
        instance.advance(following)
        if following is None:
            return []
        step = scenario.steps[following]
        due = self._due(state, instance, step, at)
        if due <= at:
            return self._decide(state, customer_id, scenario, instance, step, due, None)
        arm(state, scenario.id, due)
        return []

    def _end(
        self,
        state: CustomerState,
        customer_id: str,
        scenario_id: str,
        instance: Instance,
        reason: str,
        at: float,
    ) -> list[Outcome]:
        was_held = take(state, scenario_id)
        instance.end(reason)
        notable = reason == EXIT_ON or bool(instance.outcomes) or was_held
        out: list[Outcome] = [Exited(scenario_id, reason, at, notable)]
        if was_held:
            out.append(Suppression(scenario_id, customer_id, QUIET_HOURS_THEN_CANCELLED, at))
        return out


def _template(step: Step) -> str:
    """The step's template (a map by variant: experiments pick one; see its docs)."""
    if isinstance(step.template, str):
        return step.template
    return next(iter(step.template.values()))

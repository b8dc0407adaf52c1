"""The scenario interpreter: trigger events start and end instances, due timers and
decisions move them along their steps. Pure: state in, state changed and outcomes out.

The engine asks three questions:

- `Interpreter.signal`: a trigger event happened (exits first, then entries and restarts);
- `Interpreter.fire`: a timer of the customer came due (a step, or a birthday entry);
- `Interpreter.conclude`: what the delivery policy decided about a step's candidate
  (emitted, held for quiet hours, suppressed, withheld from a control customer); the
  chain goes on to its next step.

Each returns what to act on (candidate notices to decide, notices that will not be sent)
and adds to ``notes`` how instances went (entered, skipped a step, exited: counted and
logged). A step whose time has come with the event that caused it (``after: 0``) is
decided at once, so its notice comes out with the event; later ones wait on the
customer's timers (one per running instance, named by the scenario), which are event time
like everything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from triggers.customer import CustomerState
from triggers.notices import (
    Candidate,
    Converted,
    Decision,
    Emit,
    Entered,
    Exited,
    Hold,
    Skipped,
    Suppression,
    Withhold,
    rfc3339_utc,
)
from triggers.rfm_quantiles import Sketched
from triggers.scenarios.conditions import Facts, always
from triggers.scenarios.instances import (
    CONTROL,
    ENDED,
    ENTRY_AT,
    ENTRY_ID,
    EXIT_ON,
    EXTRA,
    NEXT,
    OUTCOMES,
    REMOVED,
    RESTART,
    SENT,
    SKIPPED,
    SUPPRESSED,
    Instance,
    at_local,
    birthday_year,
    next_birthday,
)
from triggers.scenarios.program import Program, Scenario, Step
from triggers.scenarios.signals import Signal
from triggers.scenarios.vars import entry_snapshot, recommendation_seeds, step_vars
from triggers.timers import QUIET_HOURS_THEN_CANCELLED, arm, hold, take

Action = Candidate | Suppression
"""what the engine acts on: a notice to decide, a notice that will not be sent"""
Note = Entered | Exited | Skipped | Converted | Sketched
"""how an instance went: counted and logged (and a move in the RFM histograms: counted)"""
BIRTHDAY = "birthday:"
"""prefix of the timer of a birthday scenario's next entry"""
HELD_SINCE = "hs"
"""an instance's extra: when its step held by quiet hours fell due (a purchase after it
cancels the notice at the release)"""
KEPT_SKUS = 10
WINDOW_END_S = 0.001
"""an ended instance is tidied this long after its window (a purchase at the window's
very end still converts it: event times have milliseconds)"""


class _Run:
    """One question about one customer, and its answer so far."""

    __slots__ = ("actions", "customer_id", "notes", "state")

    def __init__(self, state: CustomerState, customer_id: str, notes: list[Note]) -> None:
        self.state = state
        self.customer_id = customer_id
        self.actions: list[Action] = []
        self.notes = notes


class Interpreter:
    """Runs a `Program` over customers' states."""

    def __init__(self, program: Program, default_timezone: str = "Europe/Moscow") -> None:
        self.program = program
        self._default_timezone = default_timezone

    def signals(
        self,
        state: CustomerState,
        customer_id: str,
        signals: Sequence[Signal],
        notes: list[Note],
    ) -> list[Action]:
        """The trigger events one event makes (an online order: a purchase and an emptied
        cart): first the running instances they end, then the instances they start (or
        restart), with the steps due at once. An event that starts an instance does not
        also end it: its exits act on what ran before it."""
        run = _Run(state, customer_id, notes)
        for signal in signals:
            for scenario, where in self.program.exited_on.get(signal.name, ()):
                raw = state.instances.get(scenario.id)
                if raw is None or raw[ENDED] is not None or signal.at < raw[ENTRY_AT]:
                    continue  # a late event older than the entry did not happen while it ran
                instance = Instance(raw)
                facts = Facts(state, signal.at, scenario.kind, instance, signal)
                if where is always or where(facts):
                    self._end(run, scenario, instance, EXIT_ON, signal.at)
        for signal in signals:
            for scenario in self.program.entered_on.get(signal.name, ()):
                self._enter(run, scenario, signal)
        return run.actions

    def fire(
        self, state: CustomerState, customer_id: str, name: str, due: float, notes: list[Note]
    ) -> list[Action]:
        """A due timer (already due at ``due``): the step it stands for, decided now."""
        run = _Run(state, customer_id, notes)
        released = take(state, name)
        if name.startswith(BIRTHDAY):
            self._birthday(run, name.removeprefix(BIRTHDAY), due)
            return run.actions
        scenario = self.program.scenarios.get(name)
        raw = state.instances.get(name)
        if raw is None:
            return run.actions
        if raw[ENDED] is not None:  # the end of its attribution window
            self._tidy(state, name, scenario, due)
            return run.actions
        instance = Instance(raw)
        step = scenario.steps.get(instance.next_step or "") if scenario is not None else None
        if scenario is None or step is None:  # no longer configured: the instance ends
            instance.end(REMOVED)
            self._tidy(state, name, scenario, due)
        else:
            held_since = instance.extra.pop(HELD_SINCE, None) if released else None
            self._decide(run, scenario, instance, step, due, None, held_since)
        return run.actions

    def conclude(
        self, state: CustomerState, candidate: Candidate, decision: Decision, notes: list[Note]
    ) -> list[Action]:
        """What the policy decided about ``candidate``: held (its timer moves to the end of
        quiet hours, its condition is checked again then), or emitted or suppressed (the
        chain goes on to its next step)."""
        run = _Run(state, candidate.customer_id, notes)
        scenario = self.program.scenarios[candidate.trigger]
        raw = state.instances.get(scenario.id)
        if raw is None or raw[ENDED] is not None or raw[NEXT] != candidate.step:
            return run.actions
        if isinstance(decision, Hold):
            hold(state, scenario.id, decision.release)
            raw[EXTRA][HELD_SINCE] = candidate.due
            return run.actions
        instance = Instance(raw)
        if isinstance(decision, Emit):
            code = SENT
        elif isinstance(decision, Withhold):
            code = CONTROL
        else:
            code = f"{SUPPRESSED}:{decision.reason}"
        instance.decided(candidate.step, code, candidate.due)
        self._advance(run, scenario, instance, candidate.step, candidate.due)
        return run.actions

    def running(self, state: CustomerState, scenario_id: str) -> Instance | None:
        """The customer's running instance of a scenario, if any."""
        raw = state.instances.get(scenario_id)
        if raw is None or raw[ENDED] is not None:
            return None
        return Instance(raw)

    def count_purchase(
        self, state: CustomerState, sign: int, total: float, at: float, notes: list[Note]
    ) -> None:
        """A purchase (+1) or return (-1) at ``at`` counts for every instance entered
        before; a purchase converts each instance it comes within the attribution window
        of (before it starts or ends any: a purchase that restarts a chain converts the
        instance it ends)."""
        scenarios = self.program.scenarios
        for sid, raw in state.instances.items():
            if raw[ENDED] is None and raw[ENTRY_AT] <= at:
                Instance(raw).count_purchase(sign, total)
            if sign < 0 or not (raw[OUTCOMES] or raw[EXTRA]):
                continue  # nothing it could convert on
            scenario = scenarios.get(sid)
            if scenario is not None and scenario.converts:
                self._attribute(scenario, Instance(raw), total, at, notes)

    def _attribute(
        self, scenario: Scenario, instance: Instance, total: float, at: float, notes: list[Note]
    ) -> None:
        for step in instance.convert(at, scenario.attribution_s):
            notes.append(Converted(scenario.id, step, instance.variant, instance.control, total))

    def arm_birthdays(self, state: CustomerState, now: float, again: bool = False) -> None:
        """Make sure every birthday scenario has its next entry armed (``again``: the
        birthday or timezone changed, so every one is computed anew)."""
        if not state.birthday:
            return
        for scenario in self.program.birthdays:
            name = BIRTHDAY + scenario.id
            armed = state.timers.get(name)
            if armed is None or again:
                due = self._next_birthday(state, scenario, now)
                if armed is not None:  # one entry a birthday year: its notice ids name it
                    due = self._not_before_year_of(state, scenario, due, armed)
                arm(state, name, due)

    def _timezone(self, state: CustomerState) -> str:
        return state.timezone or self._default_timezone

    def _next_birthday(self, state: CustomerState, scenario: Scenario, after: float) -> float:
        assert state.birthday is not None
        return next_birthday(state.birthday, after, scenario.days_before, self._timezone(state))

    def _not_before_year_of(
        self, state: CustomerState, scenario: Scenario, due: float, armed: float
    ) -> float:
        """``due``, or the first entry after it in the birthday year of ``armed`` or later: a
        birthday or timezone changed after this year's entry waits for the next year (as
        does one changed to a later date by a customer who joined after its birthday)."""
        zone, before = self._timezone(state), scenario.days_before
        while birthday_year(due, before, zone) < birthday_year(armed, before, zone):
            due = self._next_birthday(state, scenario, due)
        return due

    def _birthday(self, run: _Run, scenario_id: str, due: float) -> None:
        scenario = self.program.scenarios.get(scenario_id)
        state = run.state
        if scenario is None or not state.birthday:
            return
        arm(state, BIRTHDAY + scenario_id, self._next_birthday(state, scenario, due))
        year = birthday_year(due, scenario.days_before, self._timezone(state))
        self._enter(run, scenario, Signal("birthday", f"birthday:{year}", due, rfc3339_utc(due)))

    def _enter(self, run: _Run, scenario: Scenario, signal: Signal) -> None:
        state = run.state
        where = scenario.entry_where
        if where is not always and not where(Facts(state, signal.at, scenario.kind, None, signal)):
            return
        raw = state.instances.get(scenario.id)
        if raw is not None:
            if raw[ENDED] is None:  # running
                if (
                    not scenario.restart
                    or raw[ENTRY_ID] == signal.event_id
                    or signal.at < raw[ENTRY_AT]
                ):
                    return
                self._end(run, scenario, Instance(raw), RESTART, signal.at)
            elif scenario.reentry_s is None or signal.at < raw[ENTRY_AT] + scenario.reentry_s:
                return
            else:  # the ended one's window goes on in the new one (`Instance.carry`)
                take(state, scenario.id)
        instance = Instance.start(signal.event_id, signal.at, signal.ts, scenario.first)
        if raw is not None and scenario.converts:
            instance.carry(Instance(raw), signal.at, scenario.attribution_s)
        if scenario.keeps_entry:
            instance.extra["ev"] = entry_snapshot(scenario, signal.vars)
        if signal.skus and scenario.recommends:
            instance.extra["sk"] = list(signal.skus[:KEPT_SKUS])
        state.instances[scenario.id] = instance.raw
        experiment = scenario.experiment
        if experiment is None:
            run.notes.append(scenario.entered)
        else:
            assigned = experiment.assign(run.customer_id)
            instance.assign(assigned.variant, assigned.control)
            run.notes.append(Entered(scenario.id, assigned.variant, assigned.control))
        first = scenario.steps[scenario.first]
        due = self._due(state, instance, first, max(signal.at, signal.learned_at))
        if due <= signal.at:
            self._decide(run, scenario, instance, first, due, signal.vars)
        else:
            arm(state, scenario.id, due)

    def _due(
        self, state: CustomerState, instance: Instance, step: Step, not_before: float
    ) -> float:
        due = instance.entry_at + step.after
        if step.at_local is not None:
            due = at_local(due, step.at_local, self._timezone(state))
        return due if due > not_before else not_before

    def _decide(
        self,
        run: _Run,
        scenario: Scenario,
        instance: Instance,
        step: Step,
        due: float,
        entry_vars: Mapping[str, Any] | None,
        held_since: float | None = None,
    ) -> None:
        """Decide a step falling due at ``due``: its ``if`` (false: skipped), then, at the
        release of a step held by quiet hours since ``held_since``, whether a purchase came
        meanwhile (its notice is cancelled), else a candidate for the delivery policy."""
        state = run.state
        check = step.check
        if check is not always and not check(Facts(state, due, scenario.kind, instance, None)):
            instance.decided(step.id, SKIPPED, due)
            run.notes.append(Skipped(scenario.id, step.id, due))
            self._advance(run, scenario, instance, step.id, due)
            return
        last_purchase = state.last_purchase_at
        if held_since is not None and last_purchase is not None and last_purchase > held_since:
            self._suppress(run, scenario, instance, step.id, QUIET_HOURS_THEN_CANCELLED, due)
            return
        entry_ts = instance.entry_ts
        variant = _variant(scenario, instance, run.customer_id)
        run.actions.append(
            Candidate(
                trigger=scenario.id,
                kind=scenario.kind,  # type: ignore[arg-type]
                customer_id=run.customer_id,
                template=_template(step, variant),
                vars=step_vars(scenario, step, state, instance, due, entry_vars),
                caused_by=instance.entry_id,
                event_ts=entry_ts,
                due_ts=entry_ts if due == instance.entry_at else rfc3339_utc(due),
                step=step.id,
                first_step=step.id == scenario.first,
                due=due,
                channels=step.channels,
                recommend_from=recommendation_seeds(state, instance) if step.recommends else None,
                variant=variant,
                control=instance.control,
            )
        )

    def _advance(
        self, run: _Run, scenario: Scenario, instance: Instance, decided: str, at: float
    ) -> None:
        """On to the step after ``decided`` (decided at ``at``): at once when it is due by
        then, else on its timer; after the last step the instance is done."""
        following = scenario.steps[decided].next
        instance.advance(following)
        if following is None:
            self._ended(run.state, scenario, instance, at)
            return
        step = scenario.steps[following]
        due = self._due(run.state, instance, step, at)
        if due <= at:
            self._decide(run, scenario, instance, step, due, None)
        else:
            arm(run.state, scenario.id, due)

    def _suppress(
        self, run: _Run, scenario: Scenario, instance: Instance, step: str, reason: str, at: float
    ) -> None:
        """The step's notice is not sent (``reason``): counted, and the chain goes on."""
        instance.decided(step, f"{SUPPRESSED}:{reason}", at)
        run.actions.append(Suppression(scenario.id, run.customer_id, reason, at, step))
        self._advance(run, scenario, instance, step, at)

    def _ended(
        self, state: CustomerState, scenario: Scenario, instance: Instance, at: float
    ) -> None:
        """An instance ended at ``at`` (its last step, or exit_on). Where delivery receipts
        matter, or a purchase may still convert it, it stays whole for the scenario's
        ``attribution_days`` (its notices' late receipts still find their steps), on the
        scenario's own timer; else it is tidied at once."""
        window = scenario.attribution_s
        if window > 0 and (
            self.program.engagement or (scenario.converts and instance.may_convert())
        ):
            arm(state, scenario.id, at + window + WINDOW_END_S)
        else:
            self._tidy(state, scenario.id, scenario, at)

    def _tidy(
        self, state: CustomerState, scenario_id: str, scenario: Scenario | None, at: float
    ) -> None:
        """Keep of an ended instance only what its re-entry rule needs (its entry and why
        it ended, see `Instance.prune`); nothing when no rule needs it (any more)."""
        raw = state.instances[scenario_id]
        if (
            scenario is None
            or not scenario.keeps_ended
            or (scenario.reentry_s is not None and at >= raw[ENTRY_AT] + scenario.reentry_s)
        ):
            del state.instances[scenario_id]
        else:
            Instance(raw).prune()

    def _end(
        self, run: _Run, scenario: Scenario, instance: Instance, reason: str, at: float
    ) -> None:
        """End a running instance early (exit_on, or a restart, which starts another)."""
        was_held = take(run.state, scenario.id)
        instance.extra.pop(HELD_SINCE, None)
        held_step = instance.next_step or ""
        instance.end(reason)
        notable = reason == EXIT_ON or bool(instance.outcomes) or was_held
        run.notes.append(Exited(scenario.id, reason, at, notable))
        if was_held:
            run.actions.append(
                Suppression(scenario.id, run.customer_id, QUIET_HOURS_THEN_CANCELLED, at, held_step)
            )
        if reason == EXIT_ON:
            self._ended(run.state, scenario, instance, at)


def _variant(scenario: Scenario, instance: Instance, customer_id: str) -> str | None:
    """The instance's variant; when the scenario's variants changed since its entry, the
    customer's draw among the current ones (a removed variant has no templates left)."""
    variant = instance.variant
    experiment = scenario.experiment
    if experiment is None or not experiment.variants:
        return None
    if variant not in experiment.variants:
        variant = experiment.assign(customer_id).variant
    return variant


def _template(step: Step, variant: str | None) -> str:
    """The step's template: its own, or the customer's variant's."""
    if isinstance(step.template, str):
        return step.template
    return step.template[variant or ""]

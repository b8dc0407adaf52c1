"""The scenario report: what the engine counts about instances, steps and variants, and the
contract's JSON made from those counts (with the uplift over the control group).

The engine counts facts, each under a key ``(scenario, figure, step, variant)`` (empty
strings where a dimension does not apply), in the same write as the state change that
causes them (flows.processor; state.report keeps them). Figures:

    entered         an instance of a treatment customer started (by variant)
    control         a control customer's instance started (step ""), or a step of one
                    that would have sent (by step)
    exited:<why>    an instance ended early (exit_on, restart)
    sent            a step's notice was emitted (by step and variant)
    skipped         a step's ``if`` was false
    suppressed:<why>  a step's notice was suppressed (capped, unreachable, cancelled)
    converted, revenue                  a treatment instance converted (by its step and
                                        variant); revenue in cents (exact sums)
    control_converted, control_revenue  the same for a control instance

Variant figures are of the treatment group: a control customer has a variant (the draws
are independent) but gets nothing, so counting them would dilute every variant alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from triggers.scenarios.model import ScenarioSpec

ReportKey = tuple[str, str, str, str]
"""(scenario, figure, step, variant)"""
SEPARATOR = "|"
"""between a key's parts in storage (ids are [a-z0-9_], reasons have no "|")"""
EXITS = ("exit_on", "restart")
"""early ends every report lists (others only when they happened)"""
Z_95 = 1.959963984540054


def encode_key(key: ReportKey) -> str:
    return SEPARATOR.join(key)


def decode_key(field: str) -> ReportKey | None:
    """A stored field's key (None: not a report field)."""
    parts = field.split(SEPARATOR)
    if len(parts) != 4:
        return None
    return parts[0], parts[1], parts[2], parts[3]


def cents(amount: float) -> int:
    return round(amount * 100)


def build_report(
    counts: Mapping[str, int], scenarios: Mapping[str, ScenarioSpec]
) -> dict[str, Any]:
    """The contract's report from stored ``counts`` (field -> count, see `encode_key`).
    The enabled ``scenarios`` are listed even when nothing was counted yet, with all
    their steps and variants; a scenario only the counts know (since removed) is listed
    with what it counted."""
    report: dict[str, dict[str, Any]] = {}
    for sid, spec in scenarios.items():
        if spec.enabled:
            report[sid] = _empty([s.id for s in spec.steps], [v.id for v in spec.variants])
    for field, count in sorted(counts.items()):
        key = decode_key(field)
        if key is None or not count:
            continue
        sid, figure, step, variant = key
        _add(report.setdefault(sid, _empty((), ())), figure, step, variant, count)
    for figures in report.values():
        _finish(figures)
    return {"scenarios": report}


def _empty(steps: Iterable[str], variants: Iterable[str]) -> dict[str, Any]:
    return {
        "entered": 0,
        "control": 0,
        "exited": dict.fromkeys(EXITS, 0),
        "steps": {step: _empty_step() for step in steps},
        "converted": 0,
        "revenue": 0,
        "control_converted": 0,
        "control_revenue": 0,
        "variants": {variant: _empty_variant() for variant in variants},
    }


def _empty_step() -> dict[str, Any]:
    return {
        "sent": 0,
        "skipped": 0,
        "suppressed": {},
        "control": 0,
        "converted": 0,
        "revenue": 0,
    }


def _empty_variant() -> dict[str, Any]:
    return {"entered": 0, "sent": 0, "converted": 0, "revenue": 0}


def _add(figures: dict[str, Any], figure: str, step: str, variant: str, count: int) -> None:
    name, _, reason = figure.partition(":")
    if name == "exited":
        exited = figures["exited"]
        exited[reason] = exited.get(reason, 0) + count
        return
    if name in ("entered", "control") and not step:
        figures["entered"] += count
        if name == "control":
            figures["control"] += count
        elif variant:
            _variant(figures, variant)["entered"] += count
        return
    if name in ("converted", "revenue", "control_converted", "control_revenue"):
        figures[name] += count
        if name in ("converted", "revenue"):
            _step(figures, step)[name] += count
            if variant:
                _variant(figures, variant)[name] += count
        return
    step_figures = _step(figures, step)
    if name == "suppressed":
        suppressed = step_figures["suppressed"]
        suppressed[reason] = suppressed.get(reason, 0) + count
    else:  # sent, skipped, a control customer's step
        step_figures[name] += count
        if name == "sent" and variant:
            _variant(figures, variant)["sent"] += count


def _step(figures: dict[str, Any], step: str) -> dict[str, Any]:
    steps: dict[str, Any] = figures["steps"]
    return steps.setdefault(step, _empty_step())


def _variant(figures: dict[str, Any], variant: str) -> dict[str, Any]:
    variants: dict[str, Any] = figures["variants"]
    return variants.setdefault(variant, _empty_variant())


def _finish(figures: dict[str, Any]) -> None:
    """Revenue from cents to money; the uplift where there is a control group."""
    for holder in (figures, *figures["steps"].values(), *figures["variants"].values()):
        for name in ("revenue", "control_revenue"):
            if name in holder:
                holder[name] = holder[name] / 100
    treated = figures["entered"] - figures["control"]
    if figures["control"] and treated:
        figures["uplift"] = uplift(
            figures["converted"], treated, figures["control_converted"], figures["control"]
        )


def uplift(converted: int, treated: int, control_converted: int, control: int) -> dict[str, Any]:
    """Treatment conversion rate minus the control's, with its 95 % confidence interval
    (normal approximation of the difference of two proportions)."""
    p1, p0 = converted / treated, control_converted / control
    margin = Z_95 * math.sqrt(p1 * (1 - p1) / treated + p0 * (1 - p0) / control)
    difference = p1 - p0
    return {
        "treatment_rate": round(p1, 6),
        "control_rate": round(p0, 6),
        "uplift": round(difference, 6),
        "ci95": [round(difference - margin, 6), round(difference + margin, 6)],
    }


def uplift_lines(report: Mapping[str, Any]) -> list[str]:
    """One human line per scenario with a control group (for stderr and the console)."""
    lines = []
    for sid, figures in report["scenarios"].items():
        lift = figures.get("uplift")
        if lift is None:
            continue
        low, high = lift["ci95"]
        lines.append(
            f"{sid}: uplift {lift['uplift'] * 100:+.2f} pp (95 % CI {low * 100:+.2f} .. "
            f"{high * 100:+.2f}; treatment {lift['treatment_rate'] * 100:.2f} %, "
            f"control {lift['control_rate'] * 100:.2f} %)"
        )
    return lines

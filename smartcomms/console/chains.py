"""The configured scenarios as chains a marketer reads: entry, each step's wait,
condition, channels and template, exits, variants and the control group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from triggers.durations import format_duration
from triggers.scenarios.conditions import FACTS
from triggers.scenarios.model import ScenarioSpec

SIGNS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥", "in": "∈"}


def condition_text(condition: Mapping[str, Any]) -> str:
    """``{purchases_since_entry: {gte: 1}, opened: d1}`` as
    ``purchases_since_entry ≥ 1 and opened d1`` ("" when there is none)."""
    parts = []
    for key, value in condition.items():
        if key in ("all", "any"):
            joined = f" {'and' if key == 'all' else 'or'} ".join(
                condition_text(inner) for inner in value
            )
            parts.append(f"({joined})")
        elif key == "not":
            parts.append(f"not ({condition_text(value)})")
        elif isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in SIGNS:
            ((op, operand),) = value.items()
            parts.append(f"{key} {SIGNS[op]} {_scalar(operand)}")
        elif key in FACTS and FACTS[key].named:  # names a step or channel: "opened d1"
            parts.append(f"{key} {_scalar(value)}")
        else:
            parts.append(f"{key} = {_scalar(value)}")
    return " and ".join(parts)


def _scalar(value: object) -> str:
    if isinstance(value, list):
        return "{" + ", ".join(_scalar(v) for v in value) + "}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def chain_of(spec: ScenarioSpec, order: Sequence[str]) -> dict[str, Any]:
    """One scenario as the console shows it (``order``: the global cascade)."""
    steps = []
    for step in spec.steps:
        template = step.template
        steps.append(
            {
                "id": step.id,
                "after": format_duration(step.after),
                "at_local": step.at_local.strftime("%H:%M") if step.at_local else None,
                "condition": condition_text(step.if_),
                "channels": list(step.channels or order),
                "template": template if isinstance(template, str) else dict(template),
            }
        )
    return {
        "enabled": spec.enabled,
        "kind": spec.kind,
        "entry": spec.entry.on,
        "entry_condition": condition_text(spec.entry.where),
        "days_before": spec.entry.days_before,
        "exits": [
            (exit_.on + (f" ({condition_text(exit_.where)})" if exit_.where else ""))
            for exit_ in spec.exit_on
        ],
        "restart": spec.restart,
        "reentry_days": spec.reentry_days,
        "control_percent": spec.control_percent,
        "variants": [(v.id, v.weight) for v in spec.variants],
        "attribution_days": spec.attribution_days,
        "steps": steps,
    }

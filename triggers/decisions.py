"""A customer's recent decisions (emitted, held, suppressed, skipped, exited and why), kept
in the state.

Support asks "why did Anna get no cart nudge?"; `smartcomms trace --customer` answers from
this log. It lives in the customer's own document (one key per customer, compressed with
it) and is bounded by count and age, so it costs a few dozen bytes per customer. The
engine only ever appends to it: each decision is kept as its JSON, encoded once and copied
as it is into every later document (the log is a third of a live document).
"""

from __future__ import annotations

from typing import Any

import msgspec

from triggers.customer import DAY, CustomerState
from triggers.notices import rfc3339_utc

KEEP = 20
"""at most this many decisions per customer"""
KEEP_S = 30 * DAY
"""and by default none older than this, counted back from the newest"""

EMITTED, HELD, SUPPRESSED = "emitted", "held", "suppressed"
SKIPPED, EXITED, DROPPED, CONTROL = "skipped", "exited", "dropped", "control"
"""a step whose ``if`` was false; an instance ended early (exit_on, restart); a due timer
the engine failed on; a step a control customer would have been sent"""
REASONED = frozenset((SUPPRESSED, SKIPPED, EXITED, DROPPED))


def record(
    state: CustomerState,
    at: float,
    trigger: str,
    outcome: str,
    notice_id: str | None = None,
    detail: Any = None,
    keep_s: float = KEEP_S,
    step: str | None = None,
) -> None:
    """Append a decision taken at event time ``at`` (epoch s) about ``trigger`` (a
    scenario) and its ``step``. ``detail``: the channels (emitted), the reason
    (suppressed, skipped, exited, dropped) or the release time (held, epoch s). Decisions
    more than ``keep_s`` older than this one are dropped."""
    log = state.log
    entry = [round(at, 3), trigger, outcome, notice_id, detail]
    if step is not None and step != trigger:
        entry.append(step)
    log.append(msgspec.Raw(msgspec.json.encode(entry)))
    del log[: max(0, len(log) - KEEP)]
    cutoff = at - keep_s
    while log and _at(log[0]) < cutoff:
        del log[0]


def entries(state: CustomerState) -> list[list[Any]]:
    """The decisions as kept, oldest first: ``[at, trigger, outcome, notice_id, detail]``,
    and the step where it is not the scenario's own."""
    return [msgspec.json.decode(entry, type=list[Any]) for entry in state.log]


def _at(entry: msgspec.Raw) -> float:
    """When a kept decision was taken: its JSON starts ``[<at>,`` (`record` writes it)."""
    text = bytes(entry)
    return float(text[1 : text.index(b",")])


def recent(state: CustomerState) -> list[dict[str, Any]]:
    """The decisions as readable records, newest first."""
    out = []
    for at, trigger, outcome, notice_id, detail, *step in reversed(entries(state)):
        entry: dict[str, Any] = {"at": rfc3339_utc(at), "trigger": trigger, "outcome": outcome}
        if step:
            entry["step"] = step[0]
        if notice_id is not None:
            entry["notice_id"] = notice_id
        if outcome == EMITTED:
            entry["channels"] = detail
        elif outcome == HELD:
            entry["until"] = rfc3339_utc(detail)
        elif outcome in REASONED:
            entry["reason"] = detail
        out.append(entry)
    return out

"""A customer's recent decisions (emitted, held, suppressed and why), kept in the state.

Support asks "why did Anna get no cart nudge?"; `smartcomms trace --customer` answers from
this log. It lives in the customer's own document (one key per customer, compressed with
it) and is bounded by count and age, so it costs a few dozen bytes per customer.
"""

from __future__ import annotations

from typing import Any

from triggers.customer import DAY, CustomerState
from triggers.notices import rfc3339_utc

KEEP = 20
"""at most this many decisions per customer"""
KEEP_S = 30 * DAY
"""and by default none older than this, counted back from the newest"""

EMITTED, HELD, SUPPRESSED = "emitted", "held", "suppressed"


def record(
    state: CustomerState,
    at: float,
    trigger: str,
    outcome: str,
    notice_id: str | None = None,
    detail: Any = None,
    keep_s: float = KEEP_S,
) -> None:
    """Append a decision taken at event time ``at`` (epoch s). ``detail``: the channels
    (emitted), the reason (suppressed) or the release time (held, epoch s). Decisions more
    than ``keep_s`` older than this one are dropped."""
    log = state.log
    log.append([round(at, 3), trigger, outcome, notice_id, detail])
    cutoff = at - keep_s
    while log and (len(log) > KEEP or log[0][0] < cutoff):
        log.pop(0)


def recent(state: CustomerState) -> list[dict[str, Any]]:
    """The decisions as readable records, newest first."""
    out = []
    for at, trigger, outcome, notice_id, detail in reversed(state.log):
        entry: dict[str, Any] = {"at": rfc3339_utc(at), "trigger": trigger, "outcome": outcome}
        if notice_id is not None:
            entry["notice_id"] = notice_id
        if outcome == EMITTED:
            entry["channels"] = detail
        elif outcome == HELD:
            entry["until"] = rfc3339_utc(detail)
        elif outcome == SUPPRESSED:
            entry["reason"] = detail
        out.append(entry)
    return out

"""Named timers of one customer: arm, hold, take, find the earliest.

A timer's name is the scenario whose running instance's next step it stands for (after
the instance ended: the end of its attribution window, when it is tidied), or
``birthday:<scenario>`` for a birthday entry. Its due time is event time; the engine
fires it when its clock passes the due time. A timer moved to the end of quiet hours is
"held".
"""

from __future__ import annotations

from triggers.customer import CustomerState

QUIET_HOURS_THEN_CANCELLED = "quiet_hours_then_cancelled"


def arm(state: CustomerState, name: str, due: float) -> None:
    """Set (or move) a timer; an armed timer is no longer held."""
    state.timers[name] = due
    if name in state.held:
        state.held.remove(name)


def hold(state: CustomerState, name: str, release: float) -> None:
    """Move a due timer to ``release`` (end of quiet hours)."""
    state.timers[name] = release
    if name not in state.held:
        state.held.append(name)


def take(state: CustomerState, name: str) -> bool:
    """Remove a timer that fires now; True when it was held by quiet hours."""
    state.timers.pop(name, None)
    if name in state.held:
        state.held.remove(name)
        return True
    return False


def earliest_due(state: CustomerState) -> float | None:
    """The next due time of any of the customer's timers."""
    return min(state.timers.values()) if state.timers else None


def due_timers(state: CustomerState, now: float) -> list[tuple[float, str]]:
    """Timers due at ``now``, earliest first."""
    return sorted((due, name) for name, due in state.timers.items() if due <= now)

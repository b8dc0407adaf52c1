"""Customer states written before scenarios: their pending built-in timers become instances.

Up to the scenario engine, a pending win-back or cart nudge was a timer named by its
trigger with its cause kept in the state (the latest purchase's event id and ts; the
cart's last change). An upgraded engine must not lose them: the timer keeps its name
(the built-in's id) and due time, and gets the instance it now belongs to.
"""

from __future__ import annotations

from typing import Any

from triggers.customer import DAY, CustomerState
from triggers.scenarios.builtin import ABANDONED_CART, WIN_BACK
from triggers.scenarios.instances import Instance

LEGACY_FIELDS = ("last_purchase_event", "last_purchase_ts", "purchase_days")
"""fields of the old state that are no longer kept (or kept under a new name)"""
DAY_NUMBERS_BELOW = 10_000_000
"""purchase history entries of day buckets (day numbers) rather than times (epoch s)"""
_CAUSES = {
    WIN_BACK: ("last_purchase_event", "last_purchase_ts", "last_purchase_at"),
    ABANDONED_CART: ("cart_cause", "cart_changed_ts", "cart_changed_at"),
}


def upgrade(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields of a stored state, with legacy timers turned into instances and a
    purchase history of day buckets turned into times (each day's start)."""
    _purchase_times(fields)
    if "instances" in fields or "timers" not in fields:  # written by now, or nothing pending
        for name in LEGACY_FIELDS:
            fields.pop(name, None)
        return fields
    legacy = {name: fields.pop(name, None) for name in LEGACY_FIELDS}
    known = {**fields, **legacy}
    instances = {}
    for scenario, (event_id, ts, at) in _CAUSES.items():
        if scenario in fields.get("timers", {}) and known.get(event_id) and known.get(at):
            entry_ts = known.get(ts) or ""
            instances[scenario] = Instance.start(known[event_id], known[at], entry_ts, scenario).raw
    if instances:
        fields["instances"] = instances
    return fields


def needs_upgrade(state: CustomerState) -> bool:
    """Whether a state read without its legacy fields may lack what `upgrade` would make
    of them: a pending built-in timer without its instance, a history of day buckets."""
    history = state.purchases
    pending = not state.instances and any(name in state.timers for name in _CAUSES)
    return pending or (bool(history) and history[0][0] < DAY_NUMBERS_BELOW)


def _purchase_times(fields: dict[str, Any]) -> None:
    history = fields.pop("purchase_days", None) or fields.get("purchases")
    if history and history[0][0] < DAY_NUMBERS_BELOW:
        history = [[day * DAY, count, spend] for day, count, spend in history]
    if history:
        fields["purchases"] = history

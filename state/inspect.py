"""A readable view of one customer's state, for operators and support."""

from __future__ import annotations

from typing import Any

from state.customers import CustomerStore
from triggers.customer import purchase_totals
from triggers.notices import rfc3339_utc

WINDOWS_DAYS = (30, 90, 365)


def describe_customer(store: CustomerStore, customer_id: str, now: float) -> dict[str, Any] | None:
    """Profile, balance, rolling purchase aggregates, timers and cap window; None if unknown."""
    subject = "c:" + customer_id
    if not store.exists(subject):
        return None
    state = store.load([subject])[subject]
    purchases = {}
    for days in WINDOWS_DAYS:
        count, spend = purchase_totals(state, now, days)
        purchases[f"{days}d"] = {"count": count, "spend": spend}
    return {
        "customer_id": customer_id,
        "first_name": state.first_name,
        "timezone": state.timezone,
        "channels": sorted(state.reachable_channels()),
        "consents": state.consents,
        "balance": state.balance,
        "last_purchase": state.last_purchase_ts,
        "purchases": purchases,
        "top_categories": dict(sorted(state.category_spend.items(), key=lambda kv: -kv[1])[:5]),
        "cart": state.cart,
        "timers": {name: rfc3339_utc(due) for name, due in state.timers.items()},
        "held_for_quiet_hours": state.held,
        "marketing_sent_7d": [[rfc3339_utc(due), trigger, ch] for due, trigger, ch in state.sent],
    }

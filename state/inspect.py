"""A readable view of one customer's state, for operators and support."""

from __future__ import annotations

from typing import Any

from channels.caps import WEEK
from state.customers import CustomerStore
from triggers.customer import CustomerState, purchase_totals
from triggers.notices import plain_number, rfc3339_utc
from triggers.rfm import segment_of
from triggers.scenarios.instances import CONTROL, SENT, SKIPPED, SUPPRESSED, Instance
from triggers.standing import NEXT_CHANGE, Loyalty

WINDOWS_DAYS = (30, 90, 365)


def describe_customer(
    store: CustomerStore, customer_id: str, now: float, loyalty: Loyalty | None = None
) -> dict[str, Any] | None:
    """Profile, balance, standing, rolling purchase aggregates, timers and cap window; None
    if unknown. ``loyalty``: the configured programme (the lots' expiry dates)."""
    subject = "c:" + customer_id
    if not store.exists(subject):
        return None
    return describe_state(customer_id, store.load([subject])[subject], now, loyalty)


def describe_state(
    customer_id: str, state: CustomerState, now: float, loyalty: Loyalty | None = None
) -> dict[str, Any]:
    """`describe_customer` of a state loaded already."""
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
        **describe_standing(state, loyalty or Loyalty()),
        "last_purchase": None
        if state.last_purchase_at is None
        else rfc3339_utc(state.last_purchase_at),
        "purchases": purchases,
        "top_categories": dict(sorted(state.category_spend.items(), key=lambda kv: -kv[1])[:5]),
        "cart": state.cart,
        "timers": {name: rfc3339_utc(due) for name, due in state.timers.items()},
        "held_for_quiet_hours": state.held,
        "marketing_sent_7d": [
            [rfc3339_utc(due), trigger, ch] for due, trigger, ch in state.sent if due > now - WEEK
        ],
        "scenarios": {name: describe_instance(raw) for name, raw in state.instances.items()},
    }


def describe_standing(state: CustomerState, loyalty: Loyalty) -> dict[str, Any]:
    """R, F, M, segment and tier as last scored, the bonus lots and the next change."""
    view: dict[str, Any] = {}
    if state.rfm is not None:
        r, f, m = (int(digit) for digit in state.rfm)
        view.update(rfm=state.rfm, r=r, f=f, m=m, segment=segment_of(state.rfm))
    if state.tier is not None:
        view["tier"] = state.tier
    if state.lots:
        view["lots"] = [_lot(lot, loyalty) for lot in state.lots]
    if NEXT_CHANGE in state.timers:
        view["next_change"] = rfc3339_utc(state.timers[NEXT_CHANGE])
    return view


def _lot(lot: list[float], loyalty: Loyalty) -> dict[str, Any]:
    view: dict[str, Any] = {"earned_at": rfc3339_utc(lot[0]), "points": plain_number(lot[1])}
    if loyalty.expiry_s is not None:
        view["expires_at"] = rfc3339_utc(lot[0] + loyalty.expiry_s)
    if len(lot) > 2:
        view["warned"] = True
    return view


def describe_instance(raw: list[Any]) -> dict[str, Any]:
    """One scenario instance: its entry, where it stands, each decided step."""
    instance = Instance(raw)
    steps = []
    for step, code, at in instance.outcomes:
        outcome, _, reason = code.partition(":")
        entry = {"step": step, "at": rfc3339_utc(at), "outcome": OUTCOME_NAMES[outcome[0]]}
        if reason:
            entry["reason"] = reason
        if outcome[1:]:
            entry["receipts"] = [RECEIPT_NAMES[flag] for flag in outcome[1:]]
        steps.append(entry)
    view: dict[str, Any] = {
        "entered": rfc3339_utc(instance.entry_at),
        "caused_by": instance.entry_id,
        "steps": steps,
        "purchases_since_entry": instance.purchases,
    }
    if instance.variant is not None:
        view["variant"] = instance.variant
    if instance.control:
        view["control_group"] = True
    if "cv" in instance.extra:
        view["converted"] = True
    if instance.running:
        view["next_step"] = instance.next_step
    else:
        view["ended"] = instance.ended
    return view


OUTCOME_NAMES = {SENT: "sent", SKIPPED: "skipped", SUPPRESSED: "suppressed", CONTROL: "control"}
RECEIPT_NAMES = {"d": "delivered", "o": "opened", "c": "clicked", "f": "failed"}

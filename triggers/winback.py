"""The ``win_back`` trigger: a customer who bought nothing for a while gets an offer."""

from __future__ import annotations

from triggers.customer import DAY, CustomerState
from triggers.notices import Candidate
from triggers.timers import arm

WIN_BACK = "win_back"


def rearm_win_back(state: CustomerState, after_s: float | None) -> None:
    """After a purchase: the offer comes ``after_s`` after it unless another purchase comes."""
    if after_s is not None and state.last_purchase_at is not None:
        arm(state, WIN_BACK, state.last_purchase_at + after_s)


def win_back_notice(
    state: CustomerState, customer_id: str, template: str, offer: str, due: float, due_ts: str
) -> Candidate | None:
    """The win-back notice, or None when there is no purchase to come back from."""
    if state.last_purchase_at is None or state.last_purchase_event is None:
        return None
    return Candidate(
        trigger=WIN_BACK,
        kind="marketing",
        customer_id=customer_id,
        template=template,
        vars={
            "first_name": state.first_name,
            "offer": offer,
            "days_since_purchase": int((due - state.last_purchase_at) // DAY),
        },
        caused_by=state.last_purchase_event,
        event_ts=state.last_purchase_ts or due_ts,
        due_ts=due_ts,
    )

"""Engagement: delivery receipts reach the state of the customer they are about.

A receipt names a notice; the notice is a sent step of one of the customer's instances
(running or the last one of a scenario): the step gets the receipt's flag (``sent: d1``,
``opened: d1`` conditions read them), and ``failed``/``opened``/``clicked`` receipts are
trigger events. A receipt for a notice that is not the customer's (any more) changes
nothing.
"""

from __future__ import annotations

from triggers.customer import CustomerState
from triggers.events import Delivery
from triggers.notices import Anomaly, step_notice_id
from triggers.scenarios.instances import SENT, Instance
from triggers.scenarios.signals import ENGAGEMENT, Signal

FLAGS = {"delivered": "d", "opened": "o", "clicked": "c", "failed": "f"}
UNKNOWN_NOTICE = "unknown_notice"
"""the kind of anomaly a receipt for a notice the customer does not have is counted as"""


def find_step(
    state: CustomerState, customer_id: str, notice_id: str
) -> tuple[str, Instance, str] | None:
    """(scenario, instance, step) of the customer's notice ``notice_id``."""
    for scenario, raw in state.instances.items():
        instance = Instance(raw)
        sent = [o[0] for o in instance.outcomes if o[1][0] == SENT]
        for index, (step, *_rest) in enumerate(instance.outcomes):
            if (
                step in sent
                and step_notice_id(scenario, customer_id, instance.entry_id, step, index == 0)
                == notice_id
            ):
                return scenario, instance, step
    return None


def record_receipt(state: CustomerState, delivery: Delivery, at: float) -> Signal | Anomaly | None:
    """Record a delivery receipt on its step; the trigger event it is, if any. A receipt
    for a notice the customer does not have changes nothing: an `Anomaly` to count."""
    found = find_step(state, delivery.customer_id, delivery.notice_id)
    if found is None:
        return Anomaly(UNKNOWN_NOTICE)
    scenario, instance, step = found
    flag = FLAGS.get(delivery.status)
    if flag is not None:
        instance.mark(step, flag)
    name = ENGAGEMENT.get(delivery.status)
    if name is None:
        return None
    fields = {"channel": delivery.channel, "scenario": scenario, "step": step}
    return Signal(name, delivery.event_id, at, delivery.ts, fields)

"""Marketing frequency caps over rolling windows, kept in the customer's state."""

from __future__ import annotations

from collections.abc import Iterable

from smartcomms.config import CapWindow
from triggers.customer import DAY, CustomerState

WEEK = 7 * DAY


def _count(sent: list[list], since: float, match: object = None, channel: str | None = None) -> int:
    return sum(
        1
        for due, trigger, channels in sent
        if due > since
        and (match is None or trigger == match)
        and (channel is None or channel in channels)
    )


def over_cap(
    sent: list[list],
    due: float,
    cap: CapWindow,
    trigger: str | None = None,
    channel: str | None = None,
) -> bool:
    """Whether one more notice at ``due`` would exceed ``cap`` in a rolling day or week.

    Counts the recorded notices of the last 24 h / 7 days before ``due`` (and any recorded
    after it), of ``trigger`` and through ``channel`` when given.
    """
    if cap.per_day is not None and _count(sent, due - DAY, trigger, channel) >= cap.per_day:
        return True
    return cap.per_week is not None and _count(sent, due - WEEK, trigger, channel) >= cap.per_week


def record_sent(state: CustomerState, due: float, trigger: str, channels: Iterable[str]) -> None:
    """Count a marketing notice into the cap windows; forget what is older than a week."""
    state.sent.append([due, trigger, list(channels)])
    horizon = due - WEEK
    if state.sent[0][0] <= horizon:
        state.sent = [entry for entry in state.sent if entry[0] > horizon]

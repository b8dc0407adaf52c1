"""One notice's way down its cascade: try a channel, wait for its receipt, move on.

Pure state and transitions, no I/O. A channel is left for the next one when its gateway
refuses the message, a ``failed`` receipt arrives, or no ending receipt (``delivered``, or
``opened`` where reads are reported: configurable) arrives within the channel's timeout.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pending", "sending", "waiting", "done", "exhausted"]


@dataclass(slots=True)
class Dispatch:
    """The delivery of one notice, as stored."""

    notice_id: str
    customer_id: str
    channels: list[str]
    template: str
    vars: dict[str, Any]
    step: int = 0
    """index in ``channels`` of the channel being tried"""
    status: Status = "pending"
    deadline: float | None = None
    """when the channel being tried times out (while ``waiting``)"""
    attempts: list[list[Any]] = field(default_factory=list)
    """``[channel, status, at, error]`` per channel tried, in order"""

    @classmethod
    def of_notice(cls, notice: dict[str, Any]) -> Dispatch:
        """A new dispatch for a notice of the contract."""
        return cls(
            notice["notice_id"],
            notice["customer_id"],
            list(notice["channels"]),
            notice["template"],
            notice["vars"],
        )

    def copy(self) -> Dispatch:
        """A copy that the transitions below can change without changing this one."""
        return dataclasses.replace(self, attempts=[list(a) for a in self.attempts])

    @property
    def channel(self) -> str | None:
        """The channel being tried, None when the cascade ended."""
        return self.channels[self.step] if self.status not in ("done", "exhausted") else None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "exhausted")

    @property
    def wake_at(self) -> float | None:
        """When the clock must look at this dispatch: the channel's timeout while waiting,
        and at once for a claimed send, which only a process that died leaves behind (a
        live one answers the claim in the same batch), so it is not forgotten."""
        if self.status == "waiting":
            return self.deadline
        if self.status == "sending":
            return float(self.attempts[-1][2])
        return None


def begin_send(dispatch: Dispatch, now: float) -> str:
    """Claim the send to the current channel (stored before the gateway is called)."""
    channel = dispatch.channels[dispatch.step]
    dispatch.status = "sending"
    dispatch.attempts.append([channel, "sending", now, None])
    return channel


def gateway_answered(
    dispatch: Dispatch, sent: bool, error: str | None, now: float, timeout_s: float
) -> None:
    """The gateway accepted the message (wait for a receipt) or refused it (move on)."""
    attempt = dispatch.attempts[-1]
    if sent:
        attempt[1] = "sent"
        dispatch.status, dispatch.deadline = "waiting", now + timeout_s
    else:
        attempt[1], attempt[3] = "failed", error
        _next_channel(dispatch)


IMPLIED = {
    "clicked": ("clicked", "opened", "delivered"),
    "opened": ("opened", "delivered"),
}
"""what a receipt's status tells besides itself (the contract: a click is an opening, an
opening a delivery): a click ends a cascade that ends on ``opened``"""


def receipt(
    dispatch: Dispatch, channel: str, status: str, now: float, ending: Collection[str]
) -> bool:
    """Apply a delivery receipt; True when it changed anything.

    Receipts for a channel the cascade already left, or after it ended, are ignored.
    """
    if dispatch.finished or channel != dispatch.channels[dispatch.step] or not dispatch.attempts:
        return False
    attempt = dispatch.attempts[-1]
    if any(told in ending for told in IMPLIED.get(status, (status,))):
        attempt[1] = status
        dispatch.status, dispatch.deadline = "done", None
    elif status == "failed":
        attempt[1] = "failed"
        _next_channel(dispatch)
    else:
        attempt[1] = status  # sent / delivered where only opened ends it / clicked ...
    return True


def timed_out(dispatch: Dispatch, now: float) -> bool:
    """Move on when the channel being waited for is past its timeout."""
    if dispatch.status != "waiting" or dispatch.deadline is None or dispatch.deadline > now:
        return False
    dispatch.attempts[-1][1] = "timed_out"
    _next_channel(dispatch)
    return True


def resume_after_crash(dispatch: Dispatch, now: float, idempotent: bool, timeout_s: float) -> None:
    """A send claimed but never answered (the worker died in between).

    With an idempotent gateway the send is repeated under the same key (the provider drops
    the duplicate); otherwise the message may have gone out, so it is not sent to that
    channel again: the cascade waits for its receipt or timeout as if it had been sent.
    """
    if dispatch.status != "sending":
        return
    if idempotent:
        dispatch.attempts.pop()
        dispatch.status = "pending"
    else:
        dispatch.attempts[-1][1] = "unknown"
        dispatch.status, dispatch.deadline = "waiting", dispatch.attempts[-1][2] + timeout_s


def outcome_counts(finished: Iterable[Dispatch]) -> Counter[str]:
    """The console's delivery figures of cascades that just ended: ``delivered|<n>|<channel>``
    (on the n-th channel of the cascade, from 1) or ``unreachable``, and ``sends|<channel>``
    for every attempt a gateway took (what the channel bills: a refusal is free, a failed
    receipt is not). Opens often come after the cascade ended: the engine counts them
    (flows.stats.activity_counts)."""
    counts: Counter[str] = Counter()
    for dispatch in finished:
        if dispatch.status == "done":
            channel = dispatch.channels[dispatch.step]
            counts[f"delivered|{dispatch.step + 1}|{channel}"] += 1
        else:
            counts["unreachable"] += 1
        for channel, status, _at, error in dispatch.attempts:
            if not (status == "failed" and error is not None):
                counts[f"sends|{channel}"] += 1
    return counts


def _next_channel(dispatch: Dispatch) -> None:
    dispatch.deadline = None
    dispatch.step += 1
    if dispatch.step < len(dispatch.channels):
        dispatch.status = "pending"
    else:
        dispatch.step = len(dispatch.channels) - 1
        dispatch.status = "exhausted"

"""The engine's clock: wall time live, event time in replay."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from triggers.durations import format_duration
from triggers.notices import rfc3339_utc


@dataclass(frozen=True, slots=True)
class ClockTick:
    """An input item that only moves the engine clock (replay's ``--until``)."""

    at: float
    shard: str = "0"


class Clock(Protocol):
    """Tells the engine what time it is, given the event time of the item at hand."""

    ticking: bool
    """True: idle customers' due timers are looked up on clock ticks only (live, where a
    ticker feeds every shard); False: on every batch (replay: event-time order matters)."""

    def current(self) -> float:
        """Engine time now, before the next item (-inf in replay before the first event)."""
        ...

    def observe(self, event_at: float) -> float:
        """Engine time (epoch s) while handling an item with event time ``event_at``."""
        ...

    def horizon(self, event_ats: Iterable[float]) -> float:
        """The latest engine time a batch with these event times can reach."""
        ...

    def rewind(self, to: float) -> None:
        """Go back to `current` as it was (a batch computed again sees the same times)."""
        ...


class WallClock:
    """Live mode: the engine's time is the machine's."""

    ticking = True

    def current(self) -> float:
        return time.time()

    def observe(self, event_at: float) -> float:
        return time.time()

    def horizon(self, event_ats: Iterable[float]) -> float:
        return time.time()

    def rewind(self, to: float) -> None:
        """The wall clock does not go back."""


class EventTimeClock:
    """Replay mode: time is the latest event time seen; late events do not move it back."""

    ticking = False

    def __init__(self) -> None:
        self.now = float("-inf")

    def current(self) -> float:
        return self.now

    def observe(self, event_at: float) -> float:
        if event_at > self.now:
            self.now = event_at
        return self.now

    def horizon(self, event_ats: Iterable[float]) -> float:
        return max(self.now, max(event_ats, default=self.now))

    def rewind(self, to: float) -> None:
        self.now = to


@dataclass(frozen=True, slots=True)
class AdmissionWindow:
    """Event times the engine accepts (epoch s): not before ``earliest``, not after
    ``latest``, not more than ``max_ahead`` ahead of the engine clock."""

    earliest: float = float("-inf")
    latest: float = float("inf")
    max_ahead: float = float("inf")

    def refuses(self, event_at: float, now: float) -> str | None:
        """Why an event at ``event_at`` is refused at engine time ``now``; None: accepted."""
        if event_at < self.earliest:
            return f"before the earliest accepted time {rfc3339_utc(self.earliest)}"
        if event_at >= self.latest:
            return f"not before the latest accepted time {rfc3339_utc(self.latest)}"
        if now > float("-inf") and event_at > now + self.max_ahead:
            ahead = format_duration(self.max_ahead)
            return f"more than {ahead} ahead of the engine clock ({rfc3339_utc(now)})"
        return None

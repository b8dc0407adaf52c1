"""The engine's clock: wall time live, event time in replay."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


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

    def observe(self, event_at: float) -> float:
        """Engine time (epoch s) while handling an item with event time ``event_at``."""
        ...

    def horizon(self, event_ats: Iterable[float]) -> float:
        """The latest engine time a batch with these event times can reach."""
        ...


class WallClock:
    """Live mode: the engine's time is the machine's."""

    ticking = True

    def observe(self, event_at: float) -> float:
        return time.time()

    def horizon(self, event_ats: Iterable[float]) -> float:
        return time.time()


class EventTimeClock:
    """Replay mode: time is the latest event time seen; late events do not move it back."""

    ticking = False

    def __init__(self) -> None:
        self.now = float("-inf")

    def observe(self, event_at: float) -> float:
        if event_at > self.now:
            self.now = event_at
        return self.now

    def horizon(self, event_ats: Iterable[float]) -> float:
        return max(self.now, max(event_ats, default=self.now))

"""Replay's guard of its event-time clock: one typo'd timestamp must not move it.

Replay's clock is the latest event time seen, so a single event dated 2036 in a 2026 file
would fire every customer's timers at once. An event that lies more than ``max_jump``
(``engine.event_time.replay_max_jump``, half a year) ahead of the clock is therefore held
back until the next event shows whether the stream really moved on (a gap in the data: it
is applied, then the next one) or went on where it was (the held event is an outlier: a
dead letter). At the end of the input (or a clock tick) a held event is applied. Held or
not, every event reaches the engine in file order, so the notices are the same as without
the guard whenever there is no outlier.

Live needs none of this: its clock is the wall clock, and the engine refuses events more
than ``engine.event_time.max_ahead`` ahead of it (flows.processor).
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.clock import ClockTick
from flows.inputs import DeadLetter, RawInput
from triggers.durations import format_duration
from triggers.events import Event, epoch_of
from triggers.notices import rfc3339_utc

Item = tuple[Event, RawInput] | ClockTick
"""an event with its input as received, or a clock tick"""


@dataclass(slots=True)
class _Held:
    item: tuple[Event, RawInput]
    at: float
    clock: float
    """the clock when it was held: where the stream was"""


class OutlierGuard:
    """Passes items on in order, holding back at most one event that jumps ahead."""

    def __init__(self, max_jump: float) -> None:
        self._max_jump = max_jump
        self._clock = float("-inf")
        self._held: _Held | None = None

    def feed(self, items: list[Item]) -> list[Item | DeadLetter]:
        """The items that may go on now (and the outliers found), in input order."""
        out: list[Item | DeadLetter] = []
        for item in items:
            if isinstance(item, ClockTick):
                out += self.flush()
                out.append(item)
                continue
            at = epoch_of(item[0].ts)
            if self._held is not None:
                out.append(self._resolve(self._held, at))
                self._held = None
            if self._clock > float("-inf") and at > self._clock + self._max_jump:
                self._held = _Held(item, at, self._clock)
            else:
                out.append(item)
                self._clock = max(self._clock, at)
        return out

    def flush(self) -> list[Item]:
        """The held event, if any: the end of the input shows nothing against it."""
        held, self._held = self._held, None
        if held is None:
            return []
        self._clock = max(self._clock, held.at)
        return [held.item]

    def _resolve(self, held: _Held, next_at: float) -> Item | DeadLetter:
        if next_at <= held.clock + self._max_jump:  # the stream went on where it was
            event, raw = held.item
            reason = (
                f"engine admission: ts {event.ts} lies more than "
                f"{format_duration(self._max_jump)} ahead of the stream's clock "
                f"({rfc3339_utc(held.clock)}) and the next event went on from there"
            )
            return DeadLetter(raw.value, raw.origin, reason, "engine_admission")
        self._clock = max(self._clock, held.at)
        return held.item

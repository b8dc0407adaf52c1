"""Scenario instances: one customer's run through one scenario, as kept in the state.

At most one instance per scenario and customer. After it ended, where delivery receipts
matter or a purchase may still convert it, it stays whole for the scenario's
``attribution_days`` (late receipts still find its notices); then only what its
re-entry rule reads is kept (`Instance.prune`: the entry and why it ended; nothing at
all for ``reentry_days: 0``), so a customer's document does not grow with every chain
they went through. Stored as a plain list (the customer document is JSON and counted in
bytes), read through `Instance`:

    [entry_id, entry_at, entry_ts, next_step, ended, purchases, spend, outcomes, extra]

``outcomes`` has one ``[step_id, code, at]`` per decided step: code ``s`` (sent) followed by
the receipts it got (``d`` delivered, ``o`` opened, ``c`` clicked, ``f`` a failed
channel), ``k`` (skipped: its ``if`` was false), ``x:<reason>`` (suppressed), ``n``
(control: it would have sent). ``extra`` holds what only some scenarios need (``sk``: the
entry's products, ``ev``: the entry's vars for later steps; ``v``: the customer's
variant, ``ctl``: in a control group, ``cv``: converted, ``pw``: ``[[at, step], ...]`` the
latest notice of each instance this one replaced while it may still convert: see
`convert`; ``hs``: when the step held by quiet hours fell due).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

ENTRY_ID, ENTRY_AT, ENTRY_TS, NEXT, ENDED, PURCHASES, SPEND, OUTCOMES, EXTRA = range(9)
SENT, SKIPPED, SUPPRESSED, CONTROL = "s", "k", "x", "n"
TOUCHES = frozenset((SENT, CONTROL))
"""outcomes a purchase can be attributed to: a notice, or a step that would have sent"""
DONE, EXIT_ON, RESTART, REMOVED = "done", "exit_on", "restart", "removed"
"""why an instance ended: its last step was decided, an exit_on event, a new entry, its
scenario (or its next step) is no longer configured"""
CARRIED = 32
"""open attribution windows of replaced instances an instance keeps (marketing caps allow
far fewer notices in any window; beyond, the oldest are let go)"""
IMPLIED = {"c": "cod", "o": "od", "d": "d", "f": "f"}
"""a receipt's flag and the flags it implies (a click was opened, an opening delivered)"""


class Instance:
    """A view of one stored instance (changes write through to the state)."""

    __slots__ = ("raw",)

    def __init__(self, raw: list[Any]) -> None:
        self.raw = raw

    @classmethod
    def start(cls, entry_id: str, entry_at: float, entry_ts: str, first_step: str) -> Instance:
        """A new instance waiting for its first step."""
        return cls([entry_id, entry_at, entry_ts, first_step, None, 0, 0.0, [], {}])

    @property
    def entry_id(self) -> str:
        return str(self.raw[ENTRY_ID])

    @property
    def entry_at(self) -> float:
        return float(self.raw[ENTRY_AT])

    @property
    def entry_ts(self) -> str:
        return str(self.raw[ENTRY_TS])

    @property
    def next_step(self) -> str | None:
        """The step to decide next (None once ended)."""
        return self.raw[NEXT]

    @property
    def ended(self) -> str | None:
        """Why the instance ended (None while it runs)."""
        return self.raw[ENDED]

    @property
    def running(self) -> bool:
        return self.raw[ENDED] is None

    @property
    def purchases(self) -> int:
        """Purchases since entry, net of returns."""
        return int(self.raw[PURCHASES])

    @property
    def spend(self) -> float:
        """Spend since entry, net of returns."""
        return float(self.raw[SPEND])

    @property
    def outcomes(self) -> list[list[Any]]:
        return self.raw[OUTCOMES]

    @property
    def extra(self) -> dict[str, Any]:
        return self.raw[EXTRA]

    @property
    def variant(self) -> str | None:
        return self.raw[EXTRA].get("v")

    @property
    def control(self) -> bool:
        return "ctl" in self.raw[EXTRA]

    def assign(self, variant: str | None, control: bool) -> None:
        """Keep the customer's variant and control group with the instance."""
        extra = self.raw[EXTRA]
        if variant is not None:
            extra["v"] = variant
        if control:
            extra["ctl"] = 1

    def latest_touch(self) -> tuple[float, str] | None:
        """(when, step) of the instance's latest notice or control step while it has not
        converted; None when there is none (or it converted)."""
        if "cv" not in self.raw[EXTRA]:
            for step, code, at in reversed(self.outcomes):
                if code[0] in TOUCHES:
                    return float(at), str(step)
        return None

    @property
    def carried(self) -> list[list[Any]]:
        """The open windows of the instances this one replaced, ``[[when, step], ...]``
        (each their latest touch, not converted yet), oldest first."""
        windows = self.raw[EXTRA].get("pw")
        if not windows:
            return []
        return windows if isinstance(windows[0], list) else [windows]  # one, as kept before

    def may_convert(self) -> bool:
        """Whether a later purchase may still convert it, or one it replaced."""
        return self.latest_touch() is not None or bool(self.carried)

    def convert(self, at: float, window_s: float) -> list[str]:
        """Attribute a purchase at ``at``: the steps it converts, each for one instance.
        The instance's own is the step of its latest notice (or control step) released
        before the purchase, when the purchase comes within ``window_s`` after it (the
        window's end included); the instance then converted, and no later purchase
        converts it again. Each window carried over from a replaced instance converts
        that instance the same way, once."""
        extra = self.raw[EXTRA]
        steps = []
        if "cv" not in extra:
            touched = None
            for step, code, when in self.outcomes:
                if code[0] in TOUCHES and when < at <= when + window_s:
                    touched = str(step)
            if touched is not None:
                extra["cv"] = 1
                steps.append(touched)
        carried = self.carried
        if carried:
            left = []
            for window in carried:
                when, step = window
                if when < at <= when + window_s:
                    steps.append(str(step))
                else:
                    left.append(window)
            if left:
                extra["pw"] = left
            else:
                del extra["pw"]
        return steps

    def carry(self, predecessor: Instance, at: float, window_s: float) -> None:
        """Take over, at ``at``, the attribution windows still open of the instance this
        one replaces: its own, and those it carried (at most `CARRIED` of the latest)."""
        windows = [list(w) for w in predecessor.carried if at <= w[0] + window_s]
        touch = predecessor.latest_touch()
        if touch is not None:
            windows.append([touch[0], touch[1]])
        if windows:
            self.raw[EXTRA]["pw"] = windows[-CARRIED:]

    def advance(self, next_step: str | None) -> None:
        """Go on to ``next_step``; None: the last step was decided, the instance is done."""
        self.raw[NEXT] = next_step
        if next_step is None:
            self.raw[ENDED] = DONE

    def end(self, reason: str) -> None:
        self.raw[NEXT], self.raw[ENDED] = None, reason

    def prune(self) -> None:
        """Keep only what a re-entry rule reads (the entry's id and time, why it ended):
        its steps, notices and extras are gone."""
        raw = self.raw
        raw[ENTRY_TS], raw[PURCHASES], raw[SPEND], raw[OUTCOMES], raw[EXTRA] = "", 0, 0.0, [], {}

    def decided(self, step: str, code: str, at: float) -> None:
        self.outcomes.append([step, code, round(at, 3)])

    def count_purchase(self, sign: int, total: float) -> None:
        self.raw[PURCHASES] += sign
        self.raw[SPEND] = round(self.raw[SPEND] + sign * total, 2)

    def steps_with(self, flag: str) -> set[str]:
        """Steps whose notice was sent (``s``) or got the receipt ``flag`` (d, o, c, f)."""
        return {
            step
            for step, code, _at in self.outcomes
            if code[0] == SENT and (flag == SENT or flag in code[1:])
        }

    def sent_at(self, step: str) -> float | None:
        """When ``step``'s notice was released, if it was sent."""
        for decided, code, at in self.outcomes:
            if decided == step and code[0] == SENT:
                return float(at)
        return None

    def mark(self, step: str, flag: str) -> bool:
        """Record a receipt (``flag``) for ``step``'s notice; False when it was not sent."""
        for outcome in self.outcomes:
            if outcome[0] == step and outcome[1][0] == SENT:
                flags = set(outcome[1][1:]) | set(IMPLIED[flag])
                outcome[1] = SENT + "".join(f for f in "docf" if f in flags)
                return True
        return False


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_date(at: float, timezone: str) -> str:
    """The date (``YYYY-MM-DD``) of the moment ``at`` (epoch s) in ``timezone``."""
    return datetime.fromtimestamp(at, _zone(timezone)).date().isoformat()


def at_local(after: float, local: time, timezone: str) -> float:
    """The first moment at or after ``after`` (epoch s) whose local time in ``timezone`` is
    ``local``. On a day the clocks jump over it, the moment of the jump; on a day it comes
    twice (clocks turned back), the first of the two at or after ``after``."""
    zone = _zone(timezone)
    day = datetime.fromtimestamp(after, zone).date()
    for offset in range(3):
        wall = datetime.combine(day + timedelta(days=offset), local)
        moment = _local_moment(wall.date(), local, zone)
        if moment >= after:
            return moment
        again = wall.replace(tzinfo=zone, fold=1).timestamp()  # the hour the clocks repeat
        if again >= after and datetime.fromtimestamp(again, zone).replace(tzinfo=None) == wall:
            return again
    raise AssertionError("a local time comes back within three days")


def _local_moment(day: date, local: time, zone: ZoneInfo) -> float:
    wall = datetime.combine(day, local)
    first = wall.replace(tzinfo=zone, fold=0).timestamp()
    if datetime.fromtimestamp(first, zone).replace(tzinfo=None) == wall:
        return first
    # in a gap: the first moment whose wall clock reads ``local`` or later is the jump
    low, high = sorted((first, wall.replace(tzinfo=zone, fold=1).timestamp()))
    while high - low > 0.5:
        middle = (low + high) / 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return float(round(high))


def next_birthday(birthday: str, after: float, days_before: int, timezone: str) -> float:
    """The first birthday entry moment (see `birthday_moment`) after ``after``."""
    year = datetime.fromtimestamp(after, _zone(timezone)).year
    # days_before ≤ 366: the entry of year + 3 is on 31 December of year + 1 or later
    for candidate in (year, year + 1, year + 2, year + 3):
        moment = birthday_moment(birthday, candidate, days_before, timezone)
        if moment > after:
            return moment
    raise AssertionError("a birthday comes every year")


def birthday_year(moment: float, days_before: int, timezone: str) -> int:
    """The year of the birthday whose entry moment is ``moment`` (local time)."""
    return (datetime.fromtimestamp(moment, _zone(timezone)) + timedelta(days=days_before)).year


def birthday_moment(birthday: str, year: int, days_before: int, timezone: str) -> float:
    """00:00 local time ``days_before`` days before the birthday (``YYYY-MM-DD``) of
    ``year``; a 29 February birthday is kept on 28 February in other years."""
    born = date.fromisoformat(birthday)
    try:
        day = born.replace(year=year)
    except ValueError:
        day = date(year, 2, 28)
    return _local_moment(day - timedelta(days=days_before), time(0, 0), _zone(timezone))

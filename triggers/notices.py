"""Candidate notices as the trigger rules produce them, their deterministic identity, and
what else the rules report. The records made per event (several per receipt) are msgspec
structs: made in C, a tenth of a dataclass's time, and not tracked by the garbage
collector (they hold plain values, never themselves); nothing changes them once made."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from hashlib import sha1
from typing import Any, Literal

import msgspec

_NOTICE_NAMESPACE = uuid.UUID("6f0c55a2-3f0e-5a7c-9a57-5c0ad4b7e3a1").bytes

Kind = Literal["transactional", "marketing"]

MAX_NOTICE_BYTES = 900_000
"""the largest notice (its JSON) the engine emits. A notice is one Kafka message, and
librdkafka refuses a message over its ``message.max.bytes`` (1,000,000 by default; the
broker's own limit is 1,048,588): the rest is room for the key and the headers."""
TOO_LARGE = "too_large"
"""why a larger notice (a template or var grown with a bot's data) is suppressed: the
event stays applied and the chain goes on, as for any suppression (flows.processor)"""


def notice_id(trigger: str, customer_id: str, cause: str) -> str:
    """UUIDv5 of (trigger, customer, cause): the same cause always yields the same id."""
    return uuid5(_NOTICE_NAMESPACE, f"{trigger}\x1f{customer_id}\x1f{cause}")


def uuid5(namespace: bytes, name: str) -> str:
    """``str(uuid.uuid5(UUID(bytes=namespace), name))`` without the UUID objects (a third
    of the time; one per notice)."""
    digest = bytearray(sha1(namespace + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def step_notice_id(scenario: str, customer_id: str, entry: str, step: str, first: bool) -> str:
    """The notice id of a step of the instance entered by event ``entry``: the first
    step's is the instance's (for the built-ins: trigger, customer, cause, as it always
    was), every later step's adds its step id.

    Scenario and step ids have no separator (``\x1f``) in them; a customer or event id
    that has one is spelled out as a JSON array instead, so that no two instances' parts
    run together into one id (an event ``e\x1fs2`` is not step ``s2`` of event ``e``). A
    name of that form starts with ``[``, which no scenario id does."""
    if "\x1f" in customer_id or "\x1f" in entry:
        parts = [scenario, customer_id, entry, None if first else step]
        return uuid5(_NOTICE_NAMESPACE, msgspec.json.encode(parts).decode())
    return notice_id(scenario, customer_id, entry if first else f"{entry}\x1f{step}")


class _Record(msgspec.Struct, gc=False):
    """A record made per event (see the module's docstring)."""


class Candidate(_Record):
    """A notice a scenario's step wants to send, before the delivery policy decides."""

    trigger: str
    """the scenario"""
    kind: Kind
    customer_id: str
    template: str
    vars: dict[str, Any]
    caused_by: str
    """the entry event of the instance"""
    event_ts: str
    due_ts: str
    step: str = ""
    first_step: bool = True
    """the instance's first step: its notice id is the instance's own"""
    due: float = 0.0
    """when the step fell due (epoch s)"""
    channels: tuple[str, ...] | None = None
    """the step's own cascade order (None: the global one)"""
    recommend_from: tuple[str, ...] | None = None
    """products to recommend others for (None: the notice shows no recommendations)"""
    variant: str | None = None
    """the customer's A/B variant of the scenario (None: it has no variants)"""
    control: bool = False
    """the customer is in a control group: what would be sent is only counted"""

    @property
    def notice_id(self) -> str:
        """Deterministic id of this notice (`step_notice_id`)."""
        return step_notice_id(
            self.trigger, self.customer_id, self.caused_by, self.step, self.first_step
        )


class Emit(msgspec.Struct, frozen=True, gc=False):
    """The policy's answer: send over these channels, in this order."""

    channels: list[str]


class Hold(msgspec.Struct, frozen=True, gc=False):
    """The policy's answer: not now, at the end of quiet hours."""

    release: float
    """epoch s"""


class Suppress(msgspec.Struct, frozen=True, gc=False):
    """The policy's answer: not at all, and why."""

    reason: str


class Withhold(msgspec.Struct, frozen=True, gc=False):
    """The engine's answer for a control customer: the policy would send, nothing is."""


WITHHELD = Withhold()

Decision = Emit | Hold | Suppress | Withhold


class Suppression(_Record):
    """A notice that will not be emitted, and why (counted and logged)."""

    trigger: str
    customer_id: str
    reason: str
    at: float
    step: str = ""


class Skipped(_Record):
    """A step whose condition was false when it fell due (counted; the chain goes on)."""

    trigger: str
    step: str
    at: float


class Entered(_Record):
    """An instance of a scenario started (its customer's variant and control group)."""

    trigger: str
    variant: str | None = None
    control: bool = False


class Converted(_Record):
    """A purchase converted an instance: it came within the attribution window after
    ``step``'s notice (or, for a control customer, after the step would have sent)."""

    trigger: str
    step: str
    variant: str | None
    control: bool
    revenue: float


class Exited(_Record):
    """A running instance ended early: ``exit_on`` or a restart. ``notable``: it had
    decided or held a step (a restart of an instance still waiting for its first step is
    a re-arm, not worth a line in the decision log)."""

    trigger: str
    reason: str
    at: float
    notable: bool


class Anomaly(_Record):
    """Data a rule corrected on the way, counted by kind (never an error)."""

    kind: str


BALANCE_BELOW_ZERO = "balance_below_zero"
"""a return (or a POS figure) took the bonus balance below zero (customers read 0)"""


def rfc3339_utc(epoch: float) -> str:
    """RFC 3339 in UTC with milliseconds: ``2026-11-22T07:15:03.120+00:00``.

    ``datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")``, the same
    text, without a datetime per call (a notice has two or three of these times): the
    text of the last whole second is kept while the seconds stay the same, and a day's
    date is formatted once; outside 1970-2514 (and for NaN) it is that expression itself,
    errors included."""
    global _second  # one tuple, swapped whole: safe across worker threads
    if not 0.0 <= epoch < _FAST_UNTIL:
        return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    fraction, whole = math.modf(epoch)
    micros = round(fraction * 1e6)  # as datetime rounds: half to even, to microseconds
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    cached = _second
    if cached[0] != whole:
        day, second = divmod(int(whole), 86_400)
        date = _dates.get(day)
        if date is None:
            if len(_dates) >= _DATES_KEPT:
                _dates.clear()
            date = _dates[day] = datetime.fromtimestamp(day * 86_400, UTC).date().isoformat()
        hour, second = divmod(second, 3600)
        minute, second = divmod(second, 60)
        cached = _second = (whole, f"{date}T{hour:02d}:{minute:02d}:{second:02d}")
    return f"{cached[1]}.{micros // 1000:03d}+00:00"


_FAST_UNTIL = 2.0**34
"""epochs below this (year 2514) take `rfc3339_utc`'s fast way"""
_second: tuple[float, str] = (-1.0, "")
"""the whole second `rfc3339_utc` formatted last, and its text"""
_dates: dict[int, str] = {}
"""day number (days since 1970-01-01) -> its ISO date"""
_DATES_KEPT = 4096


EXACT_INTEGERS = 2.0**53
"""floats beyond this are not exact integers (and JSON integers stop at 2**63)"""


def plain_number(value: float) -> int | float:
    """50.0 -> 50, 12.5 -> 12.5: amounts as a person writes them, for template vars."""
    if not -EXACT_INTEGERS < value < EXACT_INTEGERS:
        return value
    as_int = int(value)
    return as_int if as_int == value else round(value, 2)

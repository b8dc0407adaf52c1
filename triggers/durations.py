"""Durations as marketers write them in the configuration: ``90s``, ``30m``, ``2h``, ``3d``, 0.

A pydantic type (`Duration`) that reads them to seconds, so every setting that is a span
of time is written the same way and fails at load with the field path when it is not one.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
LONGEST_DAYS = 36_500
"""the longest duration (100 years): a step due past the calendar's end (year 9999) would
fail every customer who entered it, and one far beyond could never fire anyway"""
_PATTERN = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def parse_duration(value: object) -> float:
    """Seconds of ``90s`` / ``30m`` / ``2h`` / ``3d`` / ``0``; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a duration is written like 90s, 30m, 2h or 3d")
    if isinstance(value, int | float) and value == 0:
        return 0.0
    if isinstance(value, str):
        text = value.strip()
        if text == "0":
            return 0.0
        match = _PATTERN.match(text)
        if match:
            seconds = float(match.group(1)) * UNITS[match.group(2)]
            if seconds > LONGEST_DAYS * UNITS["d"]:
                raise ValueError(f"{value!r} is longer than {LONGEST_DAYS}d (100 years)")
            return seconds
    raise ValueError(f"{value!r} is not a duration: write 90s, 30m, 2h, 3d or 0")


def format_duration(seconds: float) -> str | int:
    """The shortest way to write ``seconds`` back (``3d``, ``90m``, 0)."""
    if seconds == 0:
        return 0
    for unit in ("d", "h", "m"):
        count = seconds / UNITS[unit]
        if count == int(count) and int(count) * UNITS[unit] == seconds:  # not an underflow
            return f"{int(count)}{unit}"
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return format(Decimal(repr(seconds)), "f").rstrip("0") + "s"  # every digit, no exponent


Duration = Annotated[
    float, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=object)
]
"""Seconds, read from ``90s`` / ``30m`` / ``2h`` / ``3d`` / ``0`` and written back the same way."""

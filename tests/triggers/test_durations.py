"""Durations as the configuration writes them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triggers.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("3d", 259_200), (0, 0), ("0", 0), ("1.5h", 5400)],
)
def test_units(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "3", 3, "3 d", "-1d", "1w", "d", True, None, [1]])
def test_anything_else_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize("too_long", ["36501d", "99999999999999999999d", "1" + "0" * 400 + "d"])
def test_no_duration_is_longer_than_100_years(too_long: str) -> None:
    assert parse_duration("36500d") == 36_500 * 86_400
    with pytest.raises(ValueError, match="is longer than 36500d"):
        parse_duration(too_long)


@given(st.integers(0, 10**7))
def test_written_back_as_read(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.floats(min_value=0, max_value=36_500 * 86_400, allow_nan=False))
def test_any_duration_is_written_back_as_read(seconds: float) -> None:
    """`scenarios show` prints what the configuration takes back (1e-07 s was '0.s')."""
    assert parse_duration(format_duration(seconds)) == seconds

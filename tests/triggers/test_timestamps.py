"""`rfc3339_utc` writes exactly what datetime writes, on its fast way and off it."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from triggers.notices import rfc3339_utc


def by_datetime(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


@given(st.floats(min_value=-1e10, max_value=2.5e11, allow_nan=False))
@example(1796264453.9999995)  # rounds up into the next second
@example(1796264453.0004995)
@example(0.0)
@example(2.0**34 - 1e-6)
@example(2.0**34)
def test_the_same_text_as_datetime(epoch: float) -> None:
    assert rfc3339_utc(epoch) == by_datetime(epoch)


@given(st.lists(st.floats(min_value=1.7e9, max_value=1.7e9 + 5), min_size=2, max_size=50))
def test_seconds_in_any_order(epochs: list[float]) -> None:
    """The kept second is replaced, never reused for another one."""
    assert [rfc3339_utc(e) for e in epochs] == [by_datetime(e) for e in epochs]


@pytest.mark.parametrize("epoch", [math.nan, math.inf, 1e20])
def test_out_of_range_fails_as_datetime_does(epoch: float) -> None:
    with pytest.raises((ValueError, OverflowError, OSError)) as expected:
        by_datetime(epoch)
    with pytest.raises(expected.type):
        rfc3339_utc(epoch)


def test_more_days_than_are_kept() -> None:
    """The kept dates are let go when there are too many; every text stays right."""
    epochs = [day * 86_400.0 + 3723.5 for day in range(0, 5000 * 7, 7)]
    assert [rfc3339_utc(e) for e in epochs] == [by_datetime(e) for e in epochs]

"""at_local: the first moment at or after the step's time with that local time, in the
customer's timezone, across DST."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from triggers.scenarios.instances import at_local


def utc(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


@pytest.mark.parametrize(
    ("after", "local", "zone", "expected"),
    [
        # later the same day, the next day, exactly at it
        ("2026-11-22T07:00:00+00:00", "10:00", "Europe/Moscow", "2026-11-22T07:00:00+00:00"),
        ("2026-11-22T07:00:01+00:00", "10:00", "Europe/Moscow", "2026-11-23T07:00:00+00:00"),
        ("2026-11-22T05:00:00+00:00", "10:00", "Asia/Vladivostok", "2026-11-23T00:00:00+00:00"),
        ("2026-11-22T23:30:00+00:00", "10:00", "Asia/Vladivostok", "2026-11-23T00:00:00+00:00"),
        # Berlin, spring forward on 29 March 2026: 02:00 -> 03:00, so 02:30 never happens
        ("2026-03-29T00:00:00+00:00", "02:30", "Europe/Berlin", "2026-03-29T01:00:00+00:00"),
        ("2026-03-28T12:00:00+00:00", "10:00", "Europe/Berlin", "2026-03-29T08:00:00+00:00"),
        # Berlin, fall back on 25 October 2026: 02:30 happens twice, the first counts
        ("2026-10-25T00:00:00+00:00", "02:30", "Europe/Berlin", "2026-10-25T00:30:00+00:00"),
        # ... and after the first, the second (02:30 CET) is the first at or after it
        ("2026-10-25T00:45:00+00:00", "02:30", "Europe/Berlin", "2026-10-25T01:30:00+00:00"),
        ("2026-10-25T01:30:01+00:00", "02:30", "Europe/Berlin", "2026-10-26T01:30:00+00:00"),
        ("2026-10-24T12:00:00+00:00", "10:00", "Europe/Berlin", "2026-10-25T09:00:00+00:00"),
        # a zone 5:45 from UTC
        ("2026-11-22T00:00:00+00:00", "10:00", "Asia/Kathmandu", "2026-11-22T04:15:00+00:00"),
    ],
)
def test_first_moment_with_that_local_time(
    after: str, local: str, zone: str, expected: str
) -> None:
    hour, minute = map(int, local.split(":"))
    moment = at_local(utc(after), time(hour, minute), zone)
    assert datetime.fromtimestamp(moment, UTC) == datetime.fromisoformat(expected)

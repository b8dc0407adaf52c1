"""Replay's clock guard (pure): outliers are dead letters, gaps in the data are not."""

from __future__ import annotations

import orjson

from flows.clock import ClockTick
from flows.inputs import DeadLetter, RawInput
from flows.outliers import OutlierGuard
from triggers.events import Event, parse_event

DAY = 86_400.0


def item(n: int, ts: str) -> tuple[Event, RawInput]:
    raw = orjson.dumps({"event_id": f"e{n}", "type": "customer", "ts": ts, "customer_id": "C"})
    event = parse_event(raw)
    assert not isinstance(event, type(None))
    return event, RawInput(raw, f"line {n}")  # type: ignore[return-value]


def ids(out: list) -> list[str]:
    return [o.origin if isinstance(o, DeadLetter) else o[0].event_id for o in out]


def test_a_lone_jump_ahead_is_an_outlier() -> None:
    guard = OutlierGuard(DAY)
    out = guard.feed(
        [
            item(1, "2026-11-22T10:00:00+00:00"),
            item(2, "2036-11-22T10:01:00+00:00"),
            item(3, "2026-11-22T10:02:00+00:00"),
        ]
    )
    assert ids(out) == ["e1", "line 2", "e3"]
    assert "ahead of the stream's clock" in out[1].reason  # type: ignore[union-attr]


def test_a_confirmed_jump_is_a_gap_and_order_is_kept() -> None:
    guard = OutlierGuard(DAY)
    first = guard.feed([item(1, "2026-09-01T10:00:00+00:00"), item(2, "2026-11-20T12:00:00+00:00")])
    assert ids(first) == ["e1"]  # e2 held across the batch boundary ...
    second = guard.feed([item(3, "2026-11-20T12:30:00+00:00")])
    assert ids(second) == ["e2", "e3"]  # ... and confirmed by e3


def test_a_late_event_after_a_gap_confirms_the_gap() -> None:
    guard = OutlierGuard(DAY)
    out = guard.feed(
        [
            item(1, "2026-09-01T10:00:00+00:00"),
            item(2, "2026-10-01T10:00:00+00:00"),
            item(3, "2026-09-15T10:00:00+00:00"),  # late, but not where the stream was
        ]
    )
    assert ids(out) == ["e1", "e2", "e3"]


def test_the_end_of_input_and_ticks_release_a_held_event() -> None:
    guard = OutlierGuard(DAY)
    assert ids(guard.feed([item(1, "2026-09-01T10:00:00+00:00")])) == ["e1"]
    assert ids(guard.feed([item(2, "2026-12-01T10:00:00+00:00")])) == []
    assert ids(guard.flush()) == ["e2"]
    assert guard.flush() == []
    guard.feed([item(3, "2027-01-01T10:00:00+00:00")])
    tick = ClockTick(0.0)
    out = guard.feed([tick])
    assert out[0][0].event_id == "e3" and out[1] is tick  # type: ignore[index]

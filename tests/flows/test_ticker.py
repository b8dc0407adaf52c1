"""The live clock is a partition of the one input (flows.ticker explains why)."""

from __future__ import annotations

from typing import Any

from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from flows.dispatch import build_flow as build_dispatch_flow
from flows.live import build_flow as build_live_flow
from flows.ticker import CLOCK_PART, WithClock
from smartcomms.config import Settings

SETTINGS = Settings.model_validate(
    {"redis": {"url": "redis://127.0.0.1:1/0"}, "engine": {"shards": 4}}
)


class _Letters(StatefulSourcePartition[str, int]):
    def __init__(self, name: str, resume_state: int | None) -> None:
        self.name, self.read = name, resume_state or 0

    def next_batch(self) -> list[str]:
        self.read += 1
        return [f"{self.name}{self.read}"]

    def snapshot(self) -> int:
        return self.read


class _TwoLetters(FixedPartitionedSource[str, int]):
    def list_parts(self) -> list[str]:
        return ["a", "b"]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _Letters:
        return _Letters(for_part, resume_state)


def test_the_clock_is_one_more_partition_and_ticks_every_shard() -> None:
    source = WithClock(_TwoLetters(), shards=3, interval_s=60)
    assert source.list_parts() == ["a", "b", CLOCK_PART]
    resumed = source.build_part("input", "b", 4)
    assert resumed.next_batch() == ["b5"] and resumed.snapshot() == 5
    clock = source.build_part("input", CLOCK_PART, None)
    ticks = clock.next_batch()
    assert [tick.shard for tick in ticks] == ["0", "1", "2"]
    assert len({tick.at for tick in ticks}) == 1
    assert clock.snapshot() is None
    awake = clock.next_awake()
    assert awake is not None and awake.timestamp() - ticks[0].at >= 59


def _inputs(flow: Dataflow) -> list[Any]:
    return [step.source for step in flow.substeps if hasattr(step, "source")]


def test_live_and_dispatch_flows_read_events_and_clock_through_one_input() -> None:
    for flow in (build_live_flow(SETTINGS), build_dispatch_flow(SETTINGS)):
        [source] = _inputs(flow)
        assert isinstance(source, WithClock)


def test_a_catch_up_run_has_no_clock() -> None:
    [source] = _inputs(build_live_flow(SETTINGS, stop_at_end=True))
    assert not isinstance(source, WithClock)

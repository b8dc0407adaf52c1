"""Replay: the same engine over a JSONL file, in file order, with event time as the clock."""

from __future__ import annotations

import codecs
import math
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import run_main

from flows.clock import ClockTick, EventTimeClock
from flows.dataflow import build_flow
from flows.fatal import RedisLoss
from flows.inputs import DeadLetter, RawInput
from flows.processor import EmittedNotice
from flows.stats import Stats
from flows.wiring import processor_factory, tally_dead_letters
from smartcomms.config import Settings
from state.activity import keep_replay_clock
from state.connection import connect

BATCH_LINES = 1000
X = TypeVar("X")


class OutputFailed(OSError):
    """Notices could not be written (a full disk, a closed pipe): the replay stopped."""


class _LinesPartition(StatefulSourcePartition[RawInput | ClockTick, int]):
    def __init__(
        self, path: Path, start_line: int, until: float | None, stop: threading.Event
    ) -> None:
        self._file = path.open("rb")
        self._until = until
        self._stop = stop
        self._line_no = 0
        if self._file.read(3) != codecs.BOM_UTF8:  # some editors and exports begin with one
            self._file.seek(0)
        for _ in range(start_line):
            self._file.readline()
            self._line_no += 1

    def next_batch(self) -> list[RawInput | ClockTick]:
        if self._stop.is_set():
            raise StopIteration
        batch: list[RawInput | ClockTick] = []
        for line in self._file:
            self._line_no += 1
            body = line.strip()
            if body:
                batch.append(RawInput(body, f"line {self._line_no}"))
            if len(batch) >= BATCH_LINES:
                return batch
        if not batch:
            if self._until is None:
                raise StopIteration
            batch.append(ClockTick(self._until))  # end of input: the clock moves on
            self._until = None
        return batch

    def snapshot(self) -> int:
        return self._line_no

    def close(self) -> None:
        self._file.close()


class JsonLinesSource(FixedPartitionedSource[RawInput | ClockTick, int]):
    """A JSONL file as one ordered partition (blank lines skipped), then a tick to ``until``;
    it ends early once ``stop`` is set."""

    def __init__(
        self, path: Path, until: float | None = None, stop: threading.Event | None = None
    ) -> None:
        self._path = path
        self._until = until
        self._stop = stop or threading.Event()

    def list_parts(self) -> list[str]:
        return ["file"]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _LinesPartition:
        return _LinesPartition(self._path, resume_state or 0, self._until, self._stop)


class _Writer:
    """Writes to a stream; the first failure is kept and stops the replay (an exception
    inside a Bytewax sink would print a Rust panic instead of a message)."""

    def __init__(self, stream: IO[bytes], stop: threading.Event) -> None:
        self._stream = stream
        self._stop = stop
        self.failure: OSError | None = None

    def write(self, data: bytes) -> None:
        if self.failure is not None:
            return
        try:
            self._stream.write(data)
            self._stream.flush()
        except OSError as exc:
            self.failure = exc
            self._stop.set()


class _CallbackPartition(StatelessSinkPartition[X]):
    def __init__(self, write: Callable[[list[X]], None]) -> None:
        self._write = write

    def write_batch(self, items: list[X]) -> None:
        self._write(items)


class BatchCallbackSink(DynamicSink[X]):
    """Hands every batch to ``write`` (in-process sinks: files, streams, counters)."""

    def __init__(self, write: Callable[[list[X]], None]) -> None:
        self._write = write

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _CallbackPartition[X]:
        return _CallbackPartition(self._write)


SHOWN_BYTES = 2000
"""of a dead letter's input on stderr (the whole of it goes to the dead-letters topic live)"""
_ESCAPED = {c: f"\\x{c:02x}" for c in [*range(32), 127]}


def _dead_letter_line(letter: DeadLetter) -> bytes:
    """One line for a person: the input's first `SHOWN_BYTES`, control characters escaped
    (a terminal must not act on them)."""
    raw = letter.raw
    shown = raw[:SHOWN_BYTES].decode("utf-8", "backslashreplace")
    shown = shown.translate(_ESCAPED)
    more = f" … ({len(raw):,} bytes)" if len(raw) > SHOWN_BYTES else ""
    return f"dead letter at {letter.origin}: {letter.reason}: {shown}{more}".encode()


def replay(
    settings: Settings,
    events: Path,
    redis_url: str | None,
    out: IO[bytes],
    err: IO[bytes],
    until: float | None = None,
    report: Counter[str] | None = None,
    stop: threading.Event | None = None,
) -> Stats:
    """Run the engine over ``events``; notices to ``out``, dead letters to ``err``;
    ``report``, when given, gets the scenario report's counts at the end
    (triggers.scenarios.report).

    At the end of the input the event-time clock moves on to ``until`` (epoch s), if given.
    ``redis_url`` None: the state lives in this process's memory and goes with it. Given a
    Redis, the run keeps its state there under the prefix `replay_prefix` names, which it
    empties first (a second run gives the same result; one replay at a time per Redis and
    prefix); the live prefix is never touched. ``stop``: set, the input ends at its next
    read (what was read is processed and written; the CLI sets it on Ctrl-C).
    """
    stats = Stats()
    run_settings = settings
    if redis_url is not None:
        namespace = replay_prefix(settings)
        _delete_namespace(redis_url, namespace)
        run_settings = settings.model_copy(
            update={"redis": settings.redis.model_copy(update={"prefix": namespace})}
        )
    stop = stop or threading.Event()
    notices, dead_letters = _Writer(out, stop), _Writer(err, stop)

    def write_notices(items: list[tuple[str, EmittedNotice]]) -> None:
        notices.write(b"".join(notice + b"\n" for _key, (_customer, notice) in items))

    tally = (
        tally_dead_letters(run_settings, redis_url, redelivered=False)
        if redis_url is not None
        else None
    )

    loss = RedisLoss(stop)

    def write_dead_letters(items: list[DeadLetter]) -> None:
        stats.dead_letters.update(letter.kind for letter in items)
        if tally is not None:  # for the console over the replay's Redis
            loss.guard(lambda: tally(items), None)
        dead_letters.write(b"".join(_dead_letter_line(letter) + b"\n" for letter in items))

    clock = EventTimeClock()
    processor = processor_factory(run_settings, redis_url, clock, stats, live=False)
    flow = build_flow(
        "smartcomms_replay",
        JsonLinesSource(events, until, stop),
        lambda item: item,
        processor,
        1,  # one shard: notices come out in input order, timers fire in event-time order
        BatchCallbackSink(write_notices),
        BatchCallbackSink(write_dead_letters),
        guard_clock=settings.engine.event_time.replay_max_jump,
        redis_loss=loss,
    )
    run_main(flow)
    loss.raise_error()
    ended_at = clock.current()  # -inf: no event admitted, no --until
    if redis_url is not None and math.isfinite(ended_at):  # its state is read then
        with connect(redis_url) as client:
            keep_replay_clock(client, run_settings.redis.prefix, ended_at)
    if report is not None:
        report.update(processor().report_counts())
    for what, writer in (("notices", notices), ("dead letters", dead_letters)):
        if writer.failure is not None:
            raise OutputFailed(
                f"cannot write {what}: {writer.failure.strerror}"
            ) from writer.failure
    return stats


def replay_prefix(settings: Settings) -> str:
    """The key prefix of a replay's state in Redis: ``<redis.prefix>-replay``."""
    return f"{settings.redis.prefix}-replay"


def _delete_namespace(redis_url: str, namespace: str) -> None:
    with connect(redis_url) as client:
        pipe = client.pipeline(transaction=False)  # keys of many slots on a Cluster
        for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            pipe.unlink(key)
            if len(pipe) >= 1000:
                pipe.execute()
        pipe.execute()

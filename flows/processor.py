"""One shard's batch: load states, fire due timers and apply events in time order, route
the notices through the policy, save everything in one transaction, emit.

Framework-free glue between `triggers/` (decisions), `channels/` (policy) and `state/`
(Redis): the Bytewax step in `flows.dataflow` hands it whole batches.

No poison pills: an event the engine fails on (while applying, deciding, rendering or
encoding) never stops the batch. A batch is first computed the fast way; when anything
in it fails on data, the whole batch is computed again carefully: each event and each due
timer from a restore point of the states it touches, the state checked to be storable
after it. A failing event is then rolled back, remembered as applied (a replay does not
retry it forever) and returned as a dead letter naming the stage; a failing timer is
dropped with a decision-log entry. The rest of the batch commits as usual. Errors of
Redis itself are not data: they keep their retry behaviour.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
import redis
import structlog

from channels.caps import record_sent
from channels.policy import Policy, build_notice, decide
from flows.clock import AdmissionWindow, Clock, ClockTick
from flows.crashpoints import crash_point
from flows.flowtime import FLOW_TIMES
from flows.inputs import DeadLetter, RawInput
from flows.recommendations import CoPurchaseBatch
from flows.stats import Stats, activity_counts
from smartcomms.logs import Throttled
from smartcomms.observability import (
    BATCH_SIZE,
    HEALTH,
    RECEIPT_TO_NOTICE,
    REDIS_SECONDS,
    SCENARIO_FIGURES,
    TIMER_LATENESS,
)
from state.activity import ActivityCounters
from state.backend import CoPurchaseTable, Documents, DueIndex, ReportStore
from state.cache import StateCache
from state.connection import REFUSED
from state.fence import LostWrites
from state.outbox import Outbox
from triggers import decisions
from triggers.customer import DAY, CustomerState, from_bytes, to_bytes
from triggers.dedup import already_applied, dedup_keys, forget_before, remember
from triggers.engine import (
    Action,
    Note,
    Rules,
    apply_event,
    changes_state,
    conclude,
    fire_timer,
    linked_subject,
)
from triggers.events import Delivery, Event, Receipt, as_json, epoch_of, subject_of
from triggers.notices import (
    MAX_NOTICE_BYTES,
    TOO_LARGE,
    WITHHELD,
    Anomaly,
    Candidate,
    Converted,
    Decision,
    Emit,
    Entered,
    Exited,
    Hold,
    Skipped,
    Suppress,
    Suppression,
    rfc3339_utc,
)
from triggers.rfm_quantiles import Sketched, quintile_bounds
from triggers.scenarios.report import ReportKey, cents, encode_key
from triggers.timers import due_timers, earliest_due, take

EmittedNotice = tuple[str, bytes]
"""(customer_id, notice as JSON bytes)"""
Output = EmittedNotice | DeadLetter

log = structlog.get_logger()
RETRIED = (redis.ConnectionError, redis.TimeoutError, redis.WatchError)
"""Errors after which a batch is read and computed again (the connection was lost)."""
INFRASTRUCTURE = (redis.RedisError, OSError, LostWrites)
"""Errors that are not caused by the data: a careful second pass would not help."""
REASON_CHARS = 300


def _customer_of(notice: bytes) -> EmittedNotice:
    return orjson.loads(notice)["customer_id"], notice


class _FailedOnData(Exception):
    """A fast pass failed on the data: the batch is computed again, carefully."""


class _Batch:
    """Working set of one batch: loaded states, timers in due order, changes, notices."""

    def __init__(
        self, shard: str, states: dict[str, CustomerState], horizon: float, careful: bool
    ) -> None:
        self.shard = shard
        self.states = states
        self.careful = careful
        """each event and timer from a restore point (see the module's docstring)"""
        self.timers_before = {s: earliest_due(st) for s, st in states.items()}
        self.heap = [
            (due, s) for s, due in self.timers_before.items() if due is not None and due <= horizon
        ]
        heapq.heapify(self.heap)
        self.touched: dict[str, CustomerState] = {}
        self.emitted: list[EmittedNotice] = []
        self.rejected: list[DeadLetter] = []
        self.stats = Stats()
        """this batch's counts, added to the process's once it is committed"""
        self.report: Counter[ReportKey] = Counter()
        """this batch's scenario report counts (triggers.scenarios.report), written with it"""
        self.sketch: Counter[str] = Counter()
        """this batch's moves in the RFM histograms (triggers.rfm_quantiles)"""
        self.lateness: list[float] = []
        self.latency: list[float] = []
        self.consumed_at = 0.0
        """when the event at hand was consumed (live; 0: unknown)"""
        self.flow_times: list[tuple[bytes, float]] = []
        """(notice, when its event was consumed), for flows.flowtime once committed"""
        self.copurchases: CoPurchaseBatch | None = None
        """co-purchases counted and read (where steps show recommendations)"""
        self.horizon = horizon
        self.indexed: list[str] = []
        """subjects loaded because the timer index had them due by the horizon"""
        self.marks: dict[str, int] = {}
        """input partition -> highest offset of a stateless event counted (the shard's
        stored marks, then this batch's)"""
        self.marked: dict[str, int] = {}
        """the marks this batch moved"""
        self.newest_at = 0.0
        """the newest event time the batch admitted (for the console's lag; 0: none)"""

    def touch(self, subject: str, state: CustomerState) -> None:
        """Mark a state changed and queue its next timer (stale entries are skipped)."""
        self.touched[subject] = state
        due = earliest_due(state)
        if due is not None:
            heapq.heappush(self.heap, (due, subject))

    def restore_point(self, subjects: Iterable[str]) -> _RestorePoint:
        """What to go back to when the next item fails (careful passes only)."""
        return _RestorePoint(
            {s: (to_bytes(self.states[s]), s in self.touched) for s in subjects},
            (len(self.emitted), len(self.flow_times), len(self.lateness)),
            self.stats.copy(),
            self.report.copy(),
            self.sketch.copy(),
        )

    def restore(self, point: _RestorePoint) -> None:
        """Undo everything since ``point``: states, notices, counts."""
        for subject, (saved, was_touched) in point.states.items():
            state = from_bytes(saved)
            self.states[subject] = state
            if was_touched:
                self.touch(subject, state)
            else:
                self.touched.pop(subject, None)
        emitted, timed, fired = point.emitted
        del self.emitted[emitted:]
        del self.flow_times[timed:]
        del self.lateness[fired:]
        self.stats = point.stats
        self.report = point.report
        self.sketch = point.sketch

    def timer_changes(self) -> dict[str, float | None]:
        """New earliest dues to index: of the states changed, and of those the index had
        due whose document says otherwise (an entry that outlived its timer)."""
        changes = {}
        for subject, state in self.touched.items():
            due = earliest_due(state)
            if due != self.timers_before.get(subject) and subject.startswith("c:"):
                changes[subject] = due
        for subject in self.indexed:
            if subject not in self.touched and subject.startswith("c:"):
                due = earliest_due(self.states[subject])
                if due is None or due > self.horizon:
                    changes[subject] = due
        return changes


class _RestorePoint:
    __slots__ = ("emitted", "report", "sketch", "states", "stats")

    def __init__(
        self,
        states: dict[str, tuple[bytes, bool]],
        emitted: tuple[int, int, int],
        stats: Stats,
        report: Counter[ReportKey],
        sketch: Counter[str],
    ) -> None:
        self.states = states
        self.emitted = emitted
        """how many notices, flow times of notices and timer latenesses the batch had"""
        self.stats = stats
        self.report = report
        self.sketch = sketch


class BatchProcessor:
    """Applies batches of events of one shard, in order, exactly once per event id."""

    def __init__(
        self,
        store: Documents,
        timers: DueIndex,
        rules: Rules,
        policy: Policy,
        dedup_window_s: float,
        clock: Clock,
        stats: Stats,
        outbox: Outbox | None = None,
        keep_decisions_s: float = 0.0,
        retry_for_s: float = 120.0,
        timers_per_tick: int | None = None,
        window: AdmissionWindow | None = None,
        copurchases: CoPurchaseTable | None = None,
        cache: StateCache | None = None,
        report: ReportStore | None = None,
        sketches: ReportStore | None = None,
        activity: ActivityCounters | None = None,
    ) -> None:
        """``outbox`` None: notices (and the dead letters of events that failed) are not
        tracked until Kafka confirms them (replay).
        ``keep_decisions_s``: keep each customer's decisions of this long in its state for
        `smartcomms trace` (live); 0: they are only counted and logged (replay).
        ``retry_for_s``: how long a batch is tried again while Redis is unreachable.
        ``timers_per_tick``: a batch loads the due timers of at most this many customers
        of the shard, earliest first (None: all). Live, the rest wait for the next ticks;
        on event time, a batch with more due splits, down to one item preceded by ticks
        that fire the mass in chunks (a 10:00-local step of a million customers must not
        load them all at once).
        ``window``: the event times accepted (others are dead letters; None: all).
        ``copurchases``: where co-purchases are counted (steps show recommendations).
        ``cache``: decoded states kept between batches (state.cache; None: read every time).
        ``report``: where the scenario report is counted (None: it is not).
        ``sketches``: where the RFM histograms are counted (quantile bounds; None: not).
        ``activity``: where the console's counts are kept (state.activity; None: not)."""
        self._store = store
        self._timers = timers
        self._rules = rules
        self._policy = policy
        self._dedup_window_s = dedup_window_s
        self._clock = clock
        self._stats = stats
        self._outbox = outbox
        self._keep_decisions_s = keep_decisions_s
        self._fence = store.fence
        self._retry_for_s = retry_for_s
        self._timers_per_tick = timers_per_tick
        self._window = window or AdmissionWindow()
        self._copurchases = copurchases
        self._cache = cache
        self._report = report
        self._sketches = sketches
        self._activity = activity
        self._marks: dict[str, dict[str, int]] = {}
        """shard -> its stored marks (state.activity), read once and kept with each commit"""
        self._daily = rules.loyalty.daily if sketches is not None else None
        self._started = time.time()
        self._swept: set[str] = set()
        self._unanswered: dict[str, list[Output]] = {}
        """shard -> notices of an attempt whose commit went unanswered (state.fence)"""
        self._stage = ""
        """what the engine is doing to the item at hand (named in a dead letter's reason)"""
        self._failures = Throttled(log, 60.0)

    def report_counts(self) -> Counter[str]:
        """The scenario report's counts so far, every shard's (none when not counted)."""
        return self._report.totals() if self._report is not None else Counter()

    def process(
        self,
        shard: str,
        items: Sequence[Event | ClockTick],
        sources: Sequence[RawInput | None] | None = None,
    ) -> list[Output]:
        """Apply one shard's items in order; return the notices they cause, in order, and
        the dead letters of events the engine refused or failed on.

        ``sources``: each item's input as received (the bytes a dead letter carries; None
        for ticks; no ``sources``: the event's JSON). Before each item, every timer that
        is due by then fires, earliest first. The first batch of a shard in this process
        also returns the notices an earlier process wrote but Kafka never confirmed (see
        state.outbox).

        A batch whose Redis connection drops is read and computed again (state.fence),
        for up to ``retry_for_s``; `LostWrites` when Redis lost what this process wrote.
        """
        ats = [item.at if isinstance(item, ClockTick) else epoch_of(item.ts) for item in items]
        return self._bounded(shard, items, ats, sources)

    def _process(
        self,
        shard: str,
        items: Sequence[Event | ClockTick],
        ats: list[float],
        sources: Sequence[RawInput | None] | None,
        due: list[str] | None = None,
    ) -> list[Output]:
        """One batch, tried again as long as Redis drops the connection. ``due``: the
        subjects with timers due by its horizon, when `_due_by` read them already."""
        gave_up_at = time.monotonic() + self._retry_for_s
        clock_at_start = self._clock.current()
        careful = False
        for attempt in itertools.count():
            try:
                emitted = self._attempt(shard, items, ats, sources, careful, due)
                break
            except RETRIED as exc:
                if isinstance(exc, REFUSED) or time.monotonic() > gave_up_at:
                    raise
                log.warning("Redis connection lost; batch read again", shard=shard, error=str(exc))
                time.sleep(min(2.0, 0.05 * 2**attempt))
            except _FailedOnData:
                careful = True
            self._clock.rewind(clock_at_start)
        BATCH_SIZE.labels("engine").observe(len(items))
        HEALTH.beat()
        return [*self._unconfirmed_of_earlier_run(shard), *emitted]

    def _due_by(self, shard: str, ats: list[float]) -> list[str] | None:
        """On event time: the subjects with timers due by the horizon of a batch with event
        times ``ats``, one more than a batch may load at most (more: it is overfull); None
        where the batch asks itself (the wall clock, or no bound)."""
        bound = self._timers_per_tick
        if self._clock.ticking or bound is None:
            return None
        return self._timers.due(shard, self._clock.horizon(ats), bound + 1)

    def _overfull(self, due: list[str] | None) -> bool:
        bound = self._timers_per_tick
        return due is not None and bound is not None and len(due) > bound

    def _bounded(
        self,
        shard: str,
        items: Sequence[Event | ClockTick],
        ats: list[float],
        sources: Sequence[RawInput | None] | None,
    ) -> list[Output]:
        """The batch as it is, unless it is overfull: then in halves, and a single item
        after clock ticks that fire the timers due before it, ``timers_per_tick`` customers
        at a time, earliest first. A single event's ticks stop short of its time: the
        timers due at that very time fire after it (more ticks), as they do in a batch.
        An event the admission window refuses moves no clock: it goes as it is."""
        due = self._due_by(shard, ats)
        if not self._overfull(due):
            return self._process(shard, items, ats, sources, due)
        if len(items) > 1:
            h = len(items) // 2
            first = self._bounded(shard, items[:h], ats[:h], sources[:h] if sources else None)
            last = self._bounded(shard, items[h:], ats[h:], sources[h:] if sources else None)
            return [*first, *last]
        [item], [at] = items, ats
        if isinstance(item, ClockTick):
            ticked, due = self._ticks(shard, at, due, self._overfull)
            return [*ticked, *self._process(shard, items, ats, sources, due)]
        if self._window.refuses(at, self._clock.current()) is not None:
            return self._process(shard, items, ats, sources)  # loads what it asks for itself
        just_before = math.nextafter(at, -math.inf)
        before, due = self._ticks(
            shard, just_before, self._due_by(shard, [just_before]), self._overfull
        )
        applied = self._process(shard, items, ats, sources, due)
        after, _ = self._ticks(shard, at, self._due_by(shard, ats), bool)
        return [*before, *applied, *after]

    def _ticks(
        self, shard: str, at: float, due: list[str] | None, more: Callable[[list[str] | None], bool]
    ) -> tuple[list[Output], list[str] | None]:
        """Clock ticks at ``at`` as long as ``more(due)``, each firing the due timers of at
        most ``timers_per_tick`` customers; their outputs, and what is still due after."""
        outputs: list[Output] = []
        while more(due):
            outputs += self._process(shard, [ClockTick(at, shard)], [at], None)
            due = self._due_by(shard, [at])
        return outputs, due

    def _attempt(
        self,
        shard: str,
        items: Sequence[Event | ClockTick],
        ats: list[float],
        sources: Sequence[RawInput | None] | None,
        careful: bool,
        due: list[str] | None,
    ) -> list[Output]:
        fenced = self._fence.open(shard)
        try:
            if fenced.already_applied:  # the answer to our last attempt's commit was lost
                self._marks.pop(shard, None)  # they were written: read them again
                return self._unanswered.pop(shard)
            batch = self._load(shard, items, ats, careful, due)
            now = self._clock.current()
            try:
                for index, (item, at) in enumerate(zip(items, ats, strict=True)):
                    if isinstance(item, ClockTick):
                        now = self._clock.observe(at)
                        self._take_daily_bounds(batch, now)
                        self._fire_due_timers(batch, now)
                        continue
                    source = sources[index] if sources is not None else None
                    refused = self._window.refuses(at, self._clock.current())
                    if refused is not None:
                        batch.rejected.append(_letter(item, source, "admission", f"ts {refused}"))
                        batch.stats.poisoned["admission"] += 1
                        continue
                    now = self._clock.observe(at)
                    batch.newest_at = max(batch.newest_at, at)
                    self._take_daily_bounds(batch, now)
                    # a timer due at the event's own time fires after it: an order at the
                    # very second its cart's nudge falls due came first
                    self._fire_due_timers(batch, now, before=True)
                    self._apply(batch, item, at, now, source)
                    self._fire_due_timers(batch, now)  # and steps a late event armed in the past
                for state in batch.touched.values():
                    forget_before(state, now - self._dedup_window_s)
                writer = self._writer(shard, batch)
                documents = self._store.encode(batch.touched)
            except INFRASTRUCTURE:
                raise
            except Exception as exc:
                if careful:  # not the data: a careful pass already isolated every item
                    raise
                log.info("batch failed on its data; computed again item by item", error=exc)
                raise _FailedOnData from exc
            started = time.perf_counter()
            outputs: list[Output] = [*batch.emitted, *batch.rejected]
            self._unanswered[shard] = outputs
            if self._store.write(documents, writer, fenced):
                self._fence.committed(fenced, shard)
                if batch.emitted:
                    crash_point("after_state_write")
            del self._unanswered[shard]
            if self._cache is not None:
                self._cache.written(shard, batch.touched)
            if self._activity is not None:
                self._marks[shard] = batch.marks
            REDIS_SECONDS.labels("save").observe(time.perf_counter() - started)
            self._committed(batch)
            return outputs
        finally:
            fenced.close()

    def _take_daily_bounds(self, batch: _Batch, now: float) -> None:
        """Quantile RFM bounds: when the clock enters a new day (event time, UTC), the
        quintiles of every shard's histograms as they are then, this batch's moves
        included (triggers.rfm_quantiles). Each process takes them itself: processes
        that cross midnight a moment apart may differ by what was counted in between."""
        daily = self._daily
        if daily is None or now < daily.next_day_at or not math.isfinite(now):
            return
        day_start = now // DAY * DAY
        assert self._sketches is not None  # daily is only kept with them
        counts = self._sketches.totals()
        counts.update(batch.sketch)
        daily.taken(day_start, quintile_bounds(counts, day_start))
        log.debug("RFM quantile bounds taken", day=rfc3339_utc(day_start), bounds=daily.bounds)

    def _committed(self, batch: _Batch) -> None:
        self._stats.add(batch.stats)
        for (scenario, figure, step, variant), count in batch.report.items():
            amount = count / 100 if figure.endswith("revenue") else count
            SCENARIO_FIGURES.labels(scenario, step, variant, figure).inc(amount)
        for notice, consumed_at in batch.flow_times:
            FLOW_TIMES.emitted(notice, consumed_at)
        for lateness in batch.lateness:
            TIMER_LATENESS.observe(lateness)
        for latency in batch.latency:
            RECEIPT_TO_NOTICE.observe(latency)

    def _load(
        self,
        shard: str,
        items: Sequence[Event | ClockTick],
        ats: list[float],
        careful: bool,
        due: list[str] | None,
    ) -> _Batch:
        """The states the batch needs: its subjects' and those with timers due by then
        (``due``, when `_due_by` read them already)."""
        horizon = self._clock.horizon(ats)
        started = time.perf_counter()
        # event time: every timer the batch passes, in order (`process` bounds how many);
        # live: idle customers' timers on clock ticks only
        if due is not None:
            due_subjects = due
        elif not self._clock.ticking or any(isinstance(item, ClockTick) for item in items):
            due_subjects = self._timers.due(shard, horizon, self._timers_per_tick)
        else:
            due_subjects = []
        subjects = set(due_subjects)
        for item in items:
            if not isinstance(item, ClockTick) and changes_state(item, self._rules):
                subjects.add(subject_of(item))
                linked = linked_subject(item)
                if linked is not None:
                    subjects.add(linked)
        if self._cache is not None:
            states = self._cache.take(shard, subjects, self._store.load)
        else:
            states = self._store.load(subjects)
        batch = _Batch(shard, states, horizon, careful)
        batch.indexed = due_subjects
        if self._activity is not None:
            if shard not in self._marks:
                self._marks[shard] = self._activity.marks(shard)
            batch.marks = dict(self._marks[shard])
        if self._copurchases is not None:
            events = [item for item in items if not isinstance(item, ClockTick)]
            window_days = int(self._dedup_window_s // DAY) + 1
            batch.copurchases = CoPurchaseBatch(
                self._copurchases, shard, events, int(horizon // DAY), window_days
            )
        REDIS_SECONDS.labels("load").observe(time.perf_counter() - started)
        return batch

    def _apply(
        self, batch: _Batch, event: Event, at: float, now: float, source: RawInput | None
    ) -> None:
        if not changes_state(event, self._rules):  # page views and such: counted, nothing more
            if source is not None and self._activity is not None and _seen(batch, source):
                batch.stats.duplicates += 1
                return
            _count(batch.stats, event)
            if batch.copurchases is not None and isinstance(event, Receipt):
                batch.copurchases.count_anonymous(event)
            return
        subject = subject_of(event)
        state = batch.states[subject]  # loaded for every event that can change state
        digest, old_digest = dedup_keys(event)
        if already_applied(state, digest, old_digest):
            batch.stats.duplicates += 1
            return
        linked_key = linked_subject(event)
        subjects = [subject] if linked_key is None else [subject, linked_key]
        point = batch.restore_point(subjects) if batch.careful else None
        batch.consumed_at = source.consumed_at if source is not None else 0.0
        try:
            self._apply_one(batch, event, at, state, subject, linked_key)
            if point is not None:
                self._check_storable(batch, subjects)
        except INFRASTRUCTURE:
            raise
        except Exception as exc:
            if point is None:
                raise
            batch.restore(point)
            state = batch.states[subject]
            remember(state, digest, now)  # never tried again: a replay skips it
            batch.touch(subject, state)
            kept_in = batch.shard if self._outbox is not None else None  # never made again
            batch.rejected.append(_letter(event, source, self._stage, _error(exc), kept_in))
            batch.stats.poisoned[self._stage] += 1
            self._failures.warning(
                "event failed; sent to dead letters", stage=self._stage, error=_error(exc)
            )
        else:
            remember(state, digest, now)
            if batch.copurchases is not None:
                batch.copurchases.count(event)

    def _apply_one(
        self,
        batch: _Batch,
        event: Event,
        at: float,
        state: CustomerState,
        subject: str,
        linked_key: str | None,
    ) -> None:
        self._stage = "apply"
        _count(batch.stats, event)
        linked = batch.states.get(linked_key) if linked_key else None
        linked_moves = linked is not None and bool(linked.cart or linked.viewed)
        notes: list[Note] = []
        actions = apply_event(state, event, at, self._rules, linked, notes)
        if linked_key is not None and linked is not None and linked_moves:
            batch.touch(linked_key, linked)  # its cart and views moved to the customer
        if notes or actions:
            self._settle(batch, state, actions, notes, instant=True)
        batch.touch(subject, state)

    def _check_storable(self, batch: _Batch, subjects: Iterable[str]) -> None:
        self._stage = "state"
        for subject in subjects:  # raises when a value cannot be stored and read back
            from_bytes(to_bytes(batch.states[subject]))

    def _fire_due_timers(self, batch: _Batch, now: float, before: bool = False) -> None:
        """Fire the loaded timers due by ``now`` (``before``: due before it), earliest first."""
        heap = batch.heap
        while heap and (heap[0][0] < now if before else heap[0][0] <= now):
            queued_due, subject = heapq.heappop(heap)
            due_now = due_timers(batch.states[subject], now)
            if not due_now or due_now[0][0] != queued_due:
                continue  # stale entry: the timer moved; its new time is queued already
            due, name = due_now[0]
            point = batch.restore_point([subject]) if batch.careful else None
            try:
                self._fire(batch, subject, name, due)
                if point is not None:
                    self._check_storable(batch, [subject])
            except INFRASTRUCTURE:
                raise
            except Exception as exc:
                if point is None:
                    raise
                self._drop_timer(batch, point, subject, name, due, exc)

    def _fire(self, batch: _Batch, subject: str, name: str, due: float) -> None:
        self._stage = "timer"
        state = batch.states[subject]
        batch.stats.timers_fired += 1
        if self._clock.ticking:
            batch.lateness.append(time.time() - due)
        notes: list[Note] = []
        actions = fire_timer(state, name, due, subject[2:], self._rules, notes)
        if self._settle(batch, state, actions, notes, instant=False):
            crash_point("while_timers_fire")
        batch.touch(subject, state)

    def _settle(
        self,
        batch: _Batch,
        state: CustomerState,
        actions: list[Action],
        notes: list[Note],
        instant: bool,
    ) -> bool:
        """Count and log what the rules say; route each candidate through the policy and
        tell the rules what was decided, which can make the next step fall due at once.
        ``instant``: caused by an event as it came (its latency is measured). Whether
        anything was decided."""
        decided = False
        counted = self._count_notes(batch, state, notes, 0)
        work = deque(actions)
        while work:
            action = work.popleft()
            if isinstance(action, Candidate):
                decision = self._route(batch, action, state, instant)
                self._stage = "apply"
                work.extend(conclude(state, action, decision, self._rules, notes))
                counted = self._count_notes(batch, state, notes, counted)
                decided = True
            else:
                self._count(batch, state, action)
        return decided

    def _count_notes(
        self, batch: _Batch, state: CustomerState, notes: list[Note], counted: int
    ) -> int:
        """Count (and log) the notes after the first ``counted``; how many are counted."""
        for note in notes[counted:]:
            self._count(batch, state, note)
        return len(notes)

    def _count(self, batch: _Batch, state: CustomerState, outcome: Action | Note) -> None:
        stats, report = batch.stats, batch.report
        if isinstance(outcome, Entered):
            stats.entered[outcome.trigger] += 1
            group = "control" if outcome.control else "entered"
            report[outcome.trigger, group, "", outcome.variant or ""] += 1
        elif isinstance(outcome, Converted):
            self._converted(report, outcome)
        elif isinstance(outcome, Sketched):
            outcome.count_into(batch.sketch)
        elif isinstance(outcome, Suppression):
            self._suppressed(batch, state, outcome)
        elif isinstance(outcome, Anomaly):
            stats.anomalies[outcome.kind] += 1
        elif isinstance(outcome, Skipped):
            stats.skipped[outcome.trigger, outcome.step] += 1
            report[outcome.trigger, "skipped", outcome.step, ""] += 1
            self._decided(
                state, outcome.at, outcome.trigger, decisions.SKIPPED, None, "if", outcome.step
            )
        elif isinstance(outcome, Exited):
            stats.exited[outcome.trigger, outcome.reason] += 1
            report[outcome.trigger, f"exited:{outcome.reason}", "", ""] += 1
            if outcome.notable:
                self._decided(
                    state, outcome.at, outcome.trigger, decisions.EXITED, None, outcome.reason
                )

    @staticmethod
    def _converted(report: Counter[ReportKey], outcome: Converted) -> None:
        trigger, step = outcome.trigger, outcome.step
        if outcome.control:
            report[trigger, "control_converted", step, ""] += 1
            report[trigger, "control_revenue", step, ""] += cents(outcome.revenue)
        else:
            variant = outcome.variant or ""
            report[trigger, "converted", step, variant] += 1
            report[trigger, "revenue", step, variant] += cents(outcome.revenue)

    def _drop_timer(
        self,
        batch: _Batch,
        point: _RestorePoint,
        subject: str,
        name: str,
        due: float,
        exc: Exception,
    ) -> None:
        """A due timer the engine failed on: gone, with a decision-log entry and a count."""
        stage, error = self._stage, _error(exc)
        batch.restore(point)
        state = batch.states[subject]
        take(state, name)
        self._decided(state, due, name, decisions.DROPPED, None, f"{stage}: {error}")
        batch.touch(subject, state)
        batch.stats.dropped_timers[stage] += 1
        self._failures.warning("timer failed; dropped", trigger=name, stage=stage, error=error)

    def _route(
        self, batch: _Batch, candidate: Candidate, state: CustomerState, instant: bool
    ) -> Decision:
        """Decide a candidate (emit, hold, suppress), emit its notice, count and log it. A
        control customer's candidate the policy would send is withheld (counted only); a
        notice larger than a Kafka message takes is suppressed (`TOO_LARGE`)."""
        self._stage = "decide"
        due = candidate.due
        decision = decide(candidate, state, due, self._policy)
        trigger, step = candidate.trigger, candidate.step
        notice: dict[str, Any] = {}
        encoded = b""
        if isinstance(decision, Emit) and not candidate.control:
            notice, encoded = self._notice(batch, candidate, decision, state)
            if len(encoded) > MAX_NOTICE_BYTES:
                decision = Suppress(TOO_LARGE)
                self._failures.warning("notice too large; suppressed", size=len(encoded))
        if isinstance(decision, Hold):
            batch.stats.held += 1
            self._decided(state, due, trigger, decisions.HELD, None, decision.release, step)
        elif isinstance(decision, Suppress):
            batch.stats.suppressed[decision.reason] += 1
            batch.report[trigger, f"suppressed:{decision.reason}", step, ""] += 1
            self._decided(
                state,
                due,
                trigger,
                decisions.SUPPRESSED,
                candidate.notice_id,
                decision.reason,
                step,
            )
        elif candidate.control:  # the policy would send: counted, nothing emitted
            batch.report[trigger, "control", step, ""] += 1
            self._decided(state, due, trigger, decisions.CONTROL, None, None, step)
            return WITHHELD
        elif isinstance(decision, Emit):
            if candidate.kind == "marketing":
                record_sent(state, due, trigger, decision.channels)
            batch.emitted.append((candidate.customer_id, encoded))
            if instant and self._clock.ticking:
                batch.latency.append(time.time() - due)
                if batch.consumed_at:
                    batch.flow_times.append((encoded, batch.consumed_at))
            batch.stats.notices[trigger, candidate.kind, decision.channels[0]] += 1
            batch.report[trigger, "sent", step, candidate.variant or ""] += 1
            self._decided(
                state,
                due,
                trigger,
                decisions.EMITTED,
                notice["notice_id"],
                list(decision.channels),
                step,
            )
        return decision

    def _notice(
        self, batch: _Batch, candidate: Candidate, decision: Emit, state: CustomerState
    ) -> tuple[dict[str, Any], bytes]:
        """The notice of a candidate the policy emits, and its JSON."""
        if candidate.recommend_from is not None and batch.copurchases is not None:
            candidate.vars["recommendations"] = batch.copurchases.recommend(
                candidate.recommend_from, state.bought
            )
        self._stage = "render"
        notice = build_notice(
            candidate, decision.channels, rfc3339_utc(time.time()), self._policy.templates
        )
        self._stage = "encode"
        return notice, orjson.dumps(notice)

    def _suppressed(self, batch: _Batch, state: CustomerState, outcome: Suppression) -> None:
        batch.stats.suppressed[outcome.reason] += 1
        batch.report[outcome.trigger, f"suppressed:{outcome.reason}", outcome.step, ""] += 1
        log.debug(
            "notice suppressed",
            trigger=outcome.trigger,
            customer_id=outcome.customer_id,
            reason=outcome.reason,
        )
        self._decided(
            state, outcome.at, outcome.trigger, decisions.SUPPRESSED, None, outcome.reason
        )

    def _decided(
        self,
        state: CustomerState,
        at: float,
        trigger: str,
        outcome: str,
        notice_id: str | None,
        detail: object,
        step: str | None = None,
    ) -> None:
        if self._keep_decisions_s:
            decisions.record(
                state, at, trigger, outcome, notice_id, detail, self._keep_decisions_s, step
            )

    def _unconfirmed_of_earlier_run(self, shard: str) -> list[Output]:
        if self._outbox is None or shard in self._swept:
            return []
        self._swept.add(shard)
        left_over = self._outbox.written_before(shard, self._started)
        too_large = [entry for entry in left_over if _too_large(entry)]
        if too_large:  # kept by a version before the bound: Kafka refuses them at every start
            self._outbox.confirm({shard: too_large})
            log.warning("notices too large for Kafka left the outbox", count=len(too_large))
            left_over = [entry for entry in left_over if not _too_large(entry)]
        if left_over:
            log.info("re-emitting notices Kafka never confirmed", shard=shard, count=len(left_over))
        self._stats.reemitted += len(left_over)
        return [
            _customer_of(entry) if entry[:1] == b"{" else DeadLetter.from_outbox(entry, shard)
            for entry in left_over
        ]

    def _writer(self, shard: str, batch: _Batch) -> Callable[[Any], None] | None:
        timer_changes = batch.timer_changes()
        new = batch.emitted if self._outbox is not None else []
        letters = [
            letter.outbox_entry() for letter in batch.rejected if letter.outbox_shard is not None
        ]
        copurchases = batch.copurchases if batch.copurchases and batch.copurchases.changed else None
        report, sketches = self._report, self._sketches
        counts = {encode_key(k): n for k, n in batch.report.items() if n} if report else {}
        moves = {cell: n for cell, n in batch.sketch.items() if n} if sketches else {}
        activity = self._activity
        done = activity_counts(batch.stats, batch.lateness) if activity is not None else {}
        clocked = activity is not None and batch.newest_at > 0
        changed = timer_changes or new or letters or counts or moves or done or clocked
        if not changed and copurchases is None:
            return None
        outbox, timers = self._outbox, self._timers
        written_at = time.time()
        event_ms = int(batch.newest_at * 1000) if math.isfinite(batch.newest_at) else 0

        def write(writes: Any) -> None:
            timers.update(writes, shard, timer_changes)
            if outbox is not None:
                outbox.add(writes, shard, [*(n for _c, n in new), *letters], written_at)
            if copurchases is not None:
                copurchases.write(writes)
            if counts and report is not None:
                report.add(writes, shard, counts)
            if moves and sketches is not None:
                sketches.add(writes, shard, moves)
            if activity is not None:
                activity.add_batch(writes, shard, done, event_ms, int(written_at * 1000))
                activity.add_marks(writes, shard, batch.marked)

        return write


def _too_large(entry: bytes) -> bool:
    """An outbox entry that is a notice over `MAX_NOTICE_BYTES` (a letter is an array)."""
    return entry[:1] == b"{" and len(entry) > MAX_NOTICE_BYTES


def _seen(batch: _Batch, source: RawInput) -> bool:
    """Whether the shard counted this Kafka message before (a redelivery); else marks it.
    A partition's messages reach a shard in offset order (one reader per partition, no
    reordering on the way), so one offset per partition tells. File input has none."""
    partition, at, offset = source.origin.rpartition("@")
    if not at or not offset.isdigit():
        return False
    number = int(offset)
    if number <= batch.marks.get(partition, -1):
        return True
    batch.marks[partition] = batch.marked[partition] = number
    return False


def _count(stats: Stats, event: Event) -> None:
    """An applied event in the batch's counts (a delivery receipt also by its status)."""
    stats.events[event.type] += 1
    if isinstance(event, Delivery):
        stats.receipts[event.status, event.channel] += 1


def _error(exc: Exception) -> str:
    """The exception in one bounded line: ``TypeError: Integer exceeds 64-bit range``."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."


def _letter(
    event: Event,
    source: RawInput | None,
    stage: str,
    error: str,
    outbox_shard: str | None = None,
) -> DeadLetter:
    """A dead letter of an event the engine refused (``admission``) or failed on."""
    raw = source.value if source is not None else as_json(event)
    origin = source.origin if source is not None else f"event {event.event_id}"
    reason, kind = f"engine {stage}: {error}", f"engine_{stage}"
    return DeadLetter(raw, origin, reason, kind, outbox_shard)

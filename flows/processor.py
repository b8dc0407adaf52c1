"""One shard's batch: load states, fire due timers and apply events in time order, route
the notices through the policy, save everything in one transaction, emit.

Framework-free glue between `triggers/` (decisions), `channels/` (policy) and `state/`
(Redis): the Bytewax step in `flows.dataflow` hands it whole batches.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Sequence

import orjson
import redis
import structlog

from channels.caps import record_sent
from channels.policy import Emit, Hold, Policy, Suppress, build_notice, decide
from flows.clock import Clock, ClockTick
from flows.crashpoints import crash_point
from flows.stats import Stats
from smartcomms.observability import (
    BATCH_SIZE,
    HEALTH,
    RECEIPT_TO_NOTICE,
    REDIS_SECONDS,
    TIMER_LATENESS,
)
from state.batch import BatchWrite
from state.connection import REFUSED
from state.customers import CustomerStore
from state.outbox import Outbox
from state.timers import TimerIndex
from triggers import decisions
from triggers.customer import CustomerState
from triggers.dedup import already_applied, event_digest, forget_before, remember
from triggers.engine import Rules, apply_event, changes_state, fire_timer, linked_subject
from triggers.events import Event, epoch_of, subject_of
from triggers.notices import Candidate, rfc3339_utc
from triggers.timers import Suppression, due_timers, earliest_due, hold, take

EmittedNotice = tuple[str, bytes]
"""(customer_id, notice as JSON bytes)"""

log = structlog.get_logger()
RETRIED = (redis.ConnectionError, redis.TimeoutError, redis.WatchError)
"""Errors after which a batch is read and computed again (the connection was lost)."""


def _customer_of(notice: bytes) -> EmittedNotice:
    return orjson.loads(notice)["customer_id"], notice


class _Batch:
    """Working set of one batch: loaded states, timers in due order, changes, notices."""

    def __init__(self, states: dict[str, CustomerState], horizon: float) -> None:
        self.states = states
        self.timers_before = {s: earliest_due(st) for s, st in states.items()}
        self.heap = [
            (due, s) for s, due in self.timers_before.items() if due is not None and due <= horizon
        ]
        heapq.heapify(self.heap)
        self.touched: dict[str, CustomerState] = {}
        self.emitted: list[EmittedNotice] = []

    def touch(self, subject: str, state: CustomerState) -> None:
        """Mark a state changed and queue its next timer (stale entries are skipped)."""
        self.touched[subject] = state
        due = earliest_due(state)
        if due is not None:
            heapq.heappush(self.heap, (due, subject))

    def timer_changes(self) -> dict[str, float | None]:
        changes = {}
        for subject, state in self.touched.items():
            due = earliest_due(state)
            if due != self.timers_before.get(subject) and subject.startswith("c:"):
                changes[subject] = due
        return changes


class BatchProcessor:
    """Applies batches of events of one shard, in order, exactly once per event id."""

    def __init__(
        self,
        store: CustomerStore,
        timers: TimerIndex,
        rules: Rules,
        policy: Policy,
        dedup_window_s: float,
        clock: Clock,
        stats: Stats,
        outbox: Outbox | None = None,
        keep_decisions_s: float = 0.0,
        retry_for_s: float = 120.0,
        timers_per_tick: int | None = None,
    ) -> None:
        """``outbox`` None: notices are not tracked until Kafka confirms them (replay).
        ``keep_decisions_s``: keep each customer's decisions of this long in its state for
        `smartcomms trace` (live); 0: they are only counted and logged (replay).
        ``retry_for_s``: how long a batch is tried again while Redis is unreachable.
        ``timers_per_tick``: a clock tick fires the timers of at most this many customers
        of the shard, earliest first; the rest wait for the next ticks (None: all)."""
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
        self._started = time.time()
        self._swept: set[str] = set()
        self._unanswered: dict[str, list[EmittedNotice]] = {}
        """shard -> notices of an attempt whose commit went unanswered (state.fence)"""

    def process(self, shard: str, items: Sequence[Event | ClockTick]) -> list[EmittedNotice]:
        """Apply one shard's items in order; return the notices they cause, in order.

        Before each item, every timer that is due by then fires, earliest first. The first
        batch of a shard in this process also returns the notices an earlier process wrote
        but Kafka never confirmed (see state.outbox).

        A batch whose Redis connection drops is read and computed again (state.fence),
        for up to ``retry_for_s``; `LostWrites` when Redis lost what this process wrote.
        """
        gave_up_at = time.monotonic() + self._retry_for_s
        for attempt in itertools.count():
            try:
                emitted = self._attempt(shard, items)
                break
            except RETRIED as exc:
                if isinstance(exc, REFUSED) or time.monotonic() > gave_up_at:
                    raise
                log.warning("Redis connection lost; batch read again", shard=shard, error=str(exc))
                time.sleep(min(2.0, 0.05 * 2**attempt))
        BATCH_SIZE.labels("engine").observe(len(items))
        HEALTH.beat()
        return self._unconfirmed_of_earlier_run(shard) + emitted

    def _attempt(self, shard: str, items: Sequence[Event | ClockTick]) -> list[EmittedNotice]:
        fenced = self._fence.open(shard)
        try:
            if fenced.already_applied:  # the answer to our last attempt's commit was lost
                return self._unanswered.pop(shard)
            ats = [item.at if isinstance(item, ClockTick) else epoch_of(item.ts) for item in items]
            batch = self._load(shard, items, ats)
            now = float("-inf")
            for item, at in zip(items, ats, strict=True):
                now = self._clock.observe(at)
                self._fire_due_timers(batch, now)
                if not isinstance(item, ClockTick):
                    self._apply(batch, item, at, now)
            for state in batch.touched.values():
                forget_before(state, now - self._dedup_window_s)
            started = time.perf_counter()
            self._unanswered[shard] = batch.emitted
            if self._store.save(batch.touched, self._writer(shard, batch), fenced):
                self._fence.committed(fenced, shard)
                if batch.emitted:
                    crash_point("after_state_write")
            del self._unanswered[shard]
            REDIS_SECONDS.labels("save").observe(time.perf_counter() - started)
            return batch.emitted
        finally:
            fenced.close()

    def _load(self, shard: str, items: Sequence[Event | ClockTick], ats: list[float]) -> _Batch:
        """The states the batch needs: its subjects' and those with timers due by then."""
        horizon = self._clock.horizon(ats)
        clock_ticks = any(isinstance(item, ClockTick) for item in items)
        started = time.perf_counter()
        if not self._clock.ticking:  # event time: every timer the batch passes, in order
            due_subjects = self._timers.due(shard, horizon)
        elif clock_ticks:
            due_subjects = self._timers.due(shard, horizon, self._timers_per_tick)
        else:
            due_subjects = []
        subjects = set(due_subjects)
        for item in items:
            if not isinstance(item, ClockTick) and changes_state(item):
                subjects.add(subject_of(item))
                linked = linked_subject(item)
                if linked is not None:
                    subjects.add(linked)
        batch = _Batch(self._store.load(subjects), horizon)
        REDIS_SECONDS.labels("load").observe(time.perf_counter() - started)
        return batch

    def _apply(self, batch: _Batch, event: Event, at: float, now: float) -> None:
        stats = self._stats
        if not changes_state(event):  # page views and the like: counted, nothing to apply
            stats.events[event.type] += 1
            return
        subject = subject_of(event)
        state = batch.states[subject]  # loaded for every event that can change state
        digest = event_digest(event.event_id)
        if already_applied(state, digest):
            stats.duplicates += 1
            return
        stats.events[event.type] += 1
        linked_key = linked_subject(event)
        linked = batch.states.get(linked_key) if linked_key else None
        linked_had_cart = linked is not None and bool(linked.cart)
        outcomes = apply_event(state, event, at, self._rules, linked)
        remember(state, digest, now)
        batch.touch(subject, state)
        if linked_key is not None and linked is not None and linked_had_cart:
            batch.touch(linked_key, linked)  # its cart moved to the customer
        for outcome in outcomes:
            if isinstance(outcome, Suppression):
                self._suppressed(state, at, outcome.trigger, outcome.customer_id, outcome.reason)
            else:
                self._route(batch, outcome, state, at, timer=None)

    def _fire_due_timers(self, batch: _Batch, now: float) -> None:
        heap = batch.heap
        while heap and heap[0][0] <= now:
            queued_due, subject = heapq.heappop(heap)
            state = batch.states[subject]
            due_now = due_timers(state, now)
            if not due_now or due_now[0][0] != queued_due:
                continue  # stale entry: the timer moved; its new time is queued already
            due, name = due_now[0]
            take(state, name)
            if self._clock.ticking:
                TIMER_LATENESS.observe(time.time() - due)
            customer_id = subject[2:]
            candidate = fire_timer(state, name, due, rfc3339_utc(due), customer_id, self._rules)
            if candidate is not None:
                self._route(batch, candidate, state, due, timer=name)
                crash_point("while_timers_fire")
            batch.touch(subject, state)

    def _route(
        self,
        batch: _Batch,
        candidate: Candidate,
        state: CustomerState,
        due: float,
        timer: str | None,
    ) -> None:
        decision = decide(candidate, state, due, self._policy)
        customer_id = candidate.customer_id
        if isinstance(decision, Hold) and timer is not None:
            hold(state, timer, decision.release)
            self._stats.held += 1
            self._decided(state, due, candidate.trigger, decisions.HELD, None, decision.release)
        elif isinstance(decision, Suppress):
            self._suppressed(
                state, due, candidate.trigger, customer_id, decision.reason, candidate.notice_id
            )
        elif isinstance(decision, Emit):
            if candidate.kind == "marketing":
                record_sent(state, due, candidate.trigger, decision.channels)
            notice = build_notice(
                candidate, decision.channels, rfc3339_utc(time.time()), self._policy.templates
            )
            batch.emitted.append((customer_id, orjson.dumps(notice)))
            if timer is None and self._clock.ticking:
                RECEIPT_TO_NOTICE.observe(time.time() - due)
            self._stats.notices[candidate.trigger, candidate.kind, decision.channels[0]] += 1
            self._decided(
                state,
                due,
                candidate.trigger,
                decisions.EMITTED,
                candidate.notice_id,
                list(decision.channels),
            )

    def _suppressed(
        self,
        state: CustomerState,
        at: float,
        trigger: str,
        customer_id: str,
        reason: str,
        notice_id: str | None = None,
    ) -> None:
        self._stats.suppressed[reason] += 1
        log.debug("notice suppressed", trigger=trigger, customer_id=customer_id, reason=reason)
        self._decided(state, at, trigger, decisions.SUPPRESSED, notice_id, reason)

    def _decided(
        self,
        state: CustomerState,
        at: float,
        trigger: str,
        outcome: str,
        notice_id: str | None,
        detail: object,
    ) -> None:
        if self._keep_decisions_s:
            decisions.record(state, at, trigger, outcome, notice_id, detail, self._keep_decisions_s)

    def _unconfirmed_of_earlier_run(self, shard: str) -> list[EmittedNotice]:
        if self._outbox is None or shard in self._swept:
            return []
        self._swept.add(shard)
        left_over = self._outbox.written_before(shard, self._started)
        if left_over:
            log.info("re-emitting notices Kafka never confirmed", shard=shard, count=len(left_over))
        self._stats.reemitted += len(left_over)
        return [_customer_of(notice) for notice in left_over]

    def _writer(self, shard: str, batch: _Batch) -> Callable[[BatchWrite], None] | None:
        timer_changes = batch.timer_changes()
        new = batch.emitted if self._outbox is not None else []
        if not timer_changes and not new:
            return None
        outbox, timers = self._outbox, self._timers
        written_at = time.time()

        def write(writes: BatchWrite) -> None:
            timers.update(writes, shard, timer_changes)
            if outbox is not None:
                outbox.add(writes, shard, (n for _c, n in new), written_at)

        return write

"""One shard's batch of events: load states, apply triggers and policy, save, emit notices.

Framework-free glue between `triggers/` (decisions), `state/` (Redis) and `channels/`
(policy): the Bytewax step in `flows.dataflow` hands it whole batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import orjson
from redis.client import Pipeline

from channels.policy import build_notice, cascade
from flows.clock import Clock, ClockTick, utc_timestamp
from flows.stats import Stats
from state.customers import CustomerStore
from state.outbox import Outbox
from triggers.dedup import already_applied, event_digest, forget_before, remember
from triggers.engine import Rules, apply_event, changes_state
from triggers.events import Event, epoch_of, subject_of

EmittedNotice = tuple[str, bytes]
"""(customer_id, notice as JSON bytes)"""


def _customer_of(notice: bytes) -> EmittedNotice:
    return orjson.loads(notice)["customer_id"], notice


class BatchProcessor:
    """Applies batches of events of one shard, in order, exactly once per event id."""

    def __init__(
        self,
        store: CustomerStore,
        rules: Rules,
        channel_order: Sequence[str],
        dedup_window_s: float,
        clock: Clock,
        stats: Stats,
        outbox: Outbox | None = None,
    ) -> None:
        """``outbox`` None: notices are not tracked until Kafka confirms them (replay)."""
        self._store = store
        self._outbox = outbox
        self._started = time.time()
        self._swept: set[str] = set()
        self._rules = rules
        self._channel_order = tuple(channel_order)
        self._dedup_window_s = dedup_window_s
        self._clock = clock
        self._stats = stats

    def process(self, shard: str, items: Sequence[Event | ClockTick]) -> list[EmittedNotice]:
        """Apply one shard's events in order; return the notices they cause, in order.

        The first batch of a shard in this process also returns the notices an earlier
        process wrote but Kafka never confirmed (see state.outbox).
        """
        events: list[Event] = []
        for item in items:
            if isinstance(item, ClockTick):
                self._clock.observe(item.at)
            else:
                events.append(item)
        subjects = {subject_of(e) for e in events if changes_state(e)}
        states = self._store.load(subjects)
        touched = {}
        emitted = self._unconfirmed_of_earlier_run(shard)
        first_new = len(emitted)
        stats = self._stats
        now = 0.0
        for event in events:
            at = epoch_of(event.ts)
            now = self._clock.observe(at)
            subject = subject_of(event)
            state = states.get(subject)
            if state is None:  # the event cannot change any state: nothing to apply
                stats.events[event.type] += 1
                continue
            digest = event_digest(event.event_id)
            if already_applied(state, digest):
                stats.duplicates += 1
                continue
            stats.events[event.type] += 1
            candidates = apply_event(state, event, at, self._rules)
            remember(state, digest, now)
            touched[subject] = state
            for candidate in candidates:
                channels = cascade(candidate.kind, state, self._channel_order)
                if not channels:
                    stats.suppressed["unreachable"] += 1
                    continue
                notice = build_notice(candidate, channels, utc_timestamp(time.time()))
                emitted.append((candidate.customer_id, orjson.dumps(notice)))
                stats.notices[candidate.trigger] += 1
        for state in touched.values():
            forget_before(state, now - self._dedup_window_s)
        self._store.save(touched, self._outbox_writer(shard, emitted[first_new:]))
        return emitted

    def _unconfirmed_of_earlier_run(self, shard: str) -> list[EmittedNotice]:
        if self._outbox is None or shard in self._swept:
            return []
        self._swept.add(shard)
        left_over = self._outbox.written_before(shard, self._started)
        self._stats.reemitted += len(left_over)
        return [_customer_of(notice) for notice in left_over]

    def _outbox_writer(
        self, shard: str, new: list[EmittedNotice]
    ) -> Callable[[Pipeline], None] | None:
        outbox = self._outbox
        if outbox is None or not new:
            return None
        written_at = time.time()
        return lambda pipe: outbox.add(pipe, shard, (n for _c, n in new), written_at)

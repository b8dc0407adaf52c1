"""What the console shows, read from Redis: counters per shard and single customers, never
a scan, so a page costs the same with a thousand customers or ten million."""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smartcomms.config import CHANNELS, Settings
from smartcomms.logs import mask, mask_text
from smartcomms.standing_settings import loyalty_of
from state.activity import ActivityCounters, DeadLetterTally, delivery_counters, state_time
from state.connection import RedisClient
from state.customers import CustomerStore
from state.dispatches import DispatchStore
from state.inspect import describe_state
from state.report import ReportCounters
from state.timers import TimerIndex
from triggers.decisions import recent
from triggers.notices import rfc3339_utc
from triggers.scenarios.report import build_report

RATE_WINDOW_S = 60.0
"""rates are the change of the counters over about this long"""
MIN_SPACING_S = 0.1
"""samples closer than this are not kept (rates from milliseconds apart are noise)"""
HISTORY = 120
"""samples kept for the sparkline of events per second"""


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    counts: Counter[str]


class Readings:
    """The console's figures, from one Redis and one configuration."""

    def __init__(self, client: RedisClient, settings: Settings) -> None:
        prefix = settings.redis.prefix
        self.settings = settings
        self._client = client
        self._activity = ActivityCounters(client, prefix)
        self._letters = DeadLetterTally(client, prefix)
        self._report = ReportCounters(client, prefix)
        self._delivery = delivery_counters(client, prefix)
        self._timers = TimerIndex(client, prefix)
        self._customers = CustomerStore(client, prefix, 0)
        self._dispatches = DispatchStore(client, prefix)
        self._loyalty = loyalty_of(settings.segments, settings.loyalty)
        self._samples: collections.deque[Sample] = collections.deque(maxlen=HISTORY)
        self._lock = threading.Lock()

    def sample(self) -> Counter[str]:
        """Read the activity counters now; remember them for the rates unless the last
        sample is younger than MIN_SPACING_S (a page opened in between)."""
        at = time.time()
        counts = self._activity.totals()
        with self._lock:
            if not self._samples or at - self._samples[-1].at >= MIN_SPACING_S:
                self._samples.append(Sample(at, counts))
        return counts

    def overview(self) -> dict[str, Any]:
        """Events and notices (totals and per second), suppressions, dead letters, timers
        and how far behind the engine is."""
        counts = self.sample()
        rates = self._rates()
        now = time.time()
        events = _group(counts, "events")
        notices = _group(counts, "notices")
        by_scenario: Counter[str] = Counter()
        by_channel: Counter[str] = Counter()
        for key, count in notices.items():
            scenario, _, channel = key.partition("|")
            by_scenario[scenario] += count
            by_channel[channel] += count
        fired, late_ms = rates["timers_fired"], rates["timers_late_ms"]
        if not fired:  # nothing fired within the window: the mean since the start
            fired, late_ms = counts["timers_fired"], counts["timers_late_ms"]
        clocks = self._activity.clocks()
        newest_event = max((event for event, _at in clocks.values()), default=0)
        last_commit = max((at for _event, at in clocks.values()), default=0)
        return {
            "events": _rows(events, _group(rates, "events")),
            "events_total": sum(events.values()),
            "events_rate": sum(_group(rates, "events").values()),
            "notices": _rows(by_scenario, _rate_by(rates, "notices", 0)),
            "notices_by_channel": _rows(by_channel, _rate_by(rates, "notices", 1)),
            "notices_matrix": _matrix(notices),
            "notices_total": sum(by_scenario.values()),
            "suppressed": _rows(_group(counts, "suppressed"), _group(rates, "suppressed")),
            "dead_letters": self._dead_letters(counts),
            "duplicates": counts["duplicates"],
            "held": counts["held"],
            "timers_fired": counts["timers_fired"],
            "timer_lateness_ms": late_ms / fired if fired and late_ms else None,  # replay: none
            "timers_overdue": self._overdue(sorted(clocks), now),
            "lag_s": max(now - newest_event / 1000, 0.0) if newest_event else None,
            "last_commit_s": now - last_commit / 1000 if last_commit else None,
            "history": self._history(),
        }

    def report(self) -> dict[str, Any]:
        """The contract's report (what `smartcomms report` prints)."""
        return build_report(self._report.totals(), self.settings.scenarios)

    def delivery(self) -> dict[str, Any]:
        """Cascade outcomes by channel and position, sends and their cost."""
        counts = self._delivery.totals()
        opened = _group(self._activity.totals(), "receipts|opened")
        prices = self.settings.console.prices
        channels = [c for c in CHANNELS if any(f.endswith("|" + c) for f in [*counts, *opened])]
        positions = sorted({int(f.split("|")[1]) for f in counts if f.startswith("delivered|")})
        rows: list[dict[str, Any]] = []
        for channel in channels:
            delivered = {p: counts[f"delivered|{p}|{channel}"] for p in positions}
            sends = counts[f"sends|{channel}"]
            rows.append(
                {
                    "channel": channel,
                    "delivered": delivered,
                    "delivered_total": sum(delivered.values()),
                    "opened": opened[channel],
                    "sends": sends,
                    "price": prices.get(channel, 0.0),
                    "spend": sends * prices.get(channel, 0.0),
                }
            )
        delivered_total = sum(row["delivered_total"] for row in rows)
        spend = sum(row["spend"] for row in rows)
        by_position = {p: sum(row["delivered"][p] for row in rows) for p in positions}
        return {
            "rows": rows,
            "positions": positions,
            "by_position": by_position,
            "delivered": delivered_total,
            "unreachable": counts["unreachable"],
            "spend": spend,
            "cost_per_delivered": spend / delivered_total if delivered_total else None,
            "currency": self.settings.console.currency,
        }

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        """What `profile` and `trace` show of one customer, contacts masked; None if
        unknown."""
        subject = "c:" + customer_id
        if not self._customers.exists(subject):
            return None
        state = self._customers.load([subject])[subject]
        now = state_time(self._client, self.settings.redis.prefix, time.time())
        view = describe_state(customer_id, state, now, self._loyalty)
        decisions = recent(state)
        refs = [(customer_id, d["notice_id"]) for d in decisions if d.get("notice_id")]
        cascades = self._dispatches.load(refs)
        for decision in decisions:
            dispatch = cascades.get((customer_id, decision.get("notice_id", "")))
            if dispatch is not None:
                decision["cascade"] = [
                    {
                        "channel": channel,
                        "status": status,
                        "at": rfc3339_utc(at),
                        "error": mask_text(error) if error else None,
                    }
                    for channel, status, at, error in dispatch.attempts
                ]
        view["first_name"] = mask(view["first_name"] or "")
        view["contacts"] = {kind: mask(value) for kind, value in sorted(state.contacts.items())}
        view["decisions"] = decisions
        return view

    def _dead_letters(self, counts: Mapping[str, int]) -> dict[str, Any]:
        by_kind = self._letters.totals()
        dropped = _group(counts, "dropped_timers")
        return {
            "rows": sorted(by_kind.items(), key=lambda kv: -kv[1]),
            "total": sum(by_kind.values()),
            "dropped_timers": sum(dropped.values()),
        }

    def _overdue(self, shards: list[str], now: float) -> dict[str, Any]:
        """Customers whose timer is due and not yet fired, and the oldest one's delay."""
        pipe = self._client.pipeline(transaction=False)
        for shard in shards:
            pipe.zcount(self._timers.key(shard), "-inf", now)
            pipe.zrange(self._timers.key(shard), 0, 0, withscores=True)
        answers = pipe.execute() if shards else []
        count = sum(answers[0::2])
        oldest = [entry[0][1] for entry in answers[1::2] if entry]
        earliest = min(oldest, default=None)
        return {
            "count": count,
            "oldest_s": now - earliest if earliest is not None and earliest <= now else 0.0,
        }

    def _rates(self) -> Counter[str]:
        """Per second, from the oldest sample in the window to the newest."""
        with self._lock:
            if len(self._samples) < 2:
                return Counter()
            newest = self._samples[-1]
            oldest = next(s for s in self._samples if newest.at - s.at <= RATE_WINDOW_S)
        elapsed = newest.at - oldest.at
        if elapsed <= 0:
            return Counter()
        return Counter(
            {
                key: (count - oldest.counts[key]) / elapsed
                for key, count in newest.counts.items()
                if count != oldest.counts[key]
            }
        )

    def _history(self) -> list[float]:
        """Events per second between consecutive samples (the sparkline)."""
        with self._lock:
            samples = list(self._samples)
        points = []
        for before, after in itertools.pairwise(samples):
            elapsed = after.at - before.at
            if elapsed > 0:
                moved = _events(after.counts) - _events(before.counts)
                points.append(moved / elapsed)
        return points


def _events(counts: Mapping[str, int]) -> int:
    return sum(_group(counts, "events").values())


def _group(counts: Mapping[str, float], kind: str) -> Counter[str]:
    """``kind|rest`` fields as {rest: count}."""
    head = kind + "|"
    return Counter({f[len(head) :]: n for f, n in counts.items() if f.startswith(head)})


def _rate_by(rates: Mapping[str, float], kind: str, part: int) -> Counter[str]:
    """Rates of ``kind|a|b`` fields summed by their ``part``-th name."""
    summed: Counter[str] = Counter()
    for key, rate in _group(rates, kind).items():
        summed[key.split("|")[part]] += rate
    return summed


def _rows(counts: Mapping[str, int], rates: Mapping[str, float]) -> list[dict[str, Any]]:
    """Table rows, largest first, each with its share of the largest (for the bar)."""
    top = max(counts.values(), default=0)
    return [
        {"name": name, "count": count, "rate": rates.get(name, 0.0), "share": count / top}
        for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if top
    ]


def _matrix(notices: Mapping[str, int]) -> dict[str, Any]:
    """Notices by scenario (rows) and first channel (columns)."""
    cells: dict[str, dict[str, int]] = {}
    channels: set[str] = set()
    for key, count in notices.items():
        scenario, _, channel = key.partition("|")
        cells.setdefault(scenario, {})[channel] = count
        channels.add(channel)
    return {
        "channels": [c for c in CHANNELS if c in channels],
        "cells": dict(sorted(cells.items())),
    }

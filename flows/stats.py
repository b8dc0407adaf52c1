"""Counters of one process: what came in, what went out, what was dropped and why."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


@dataclass
class Stats:
    """Running totals; the replay summary and the demo display read them."""

    events: Counter[str] = field(default_factory=Counter)
    """events applied, by type"""
    receipts: Counter[tuple[str, str]] = field(default_factory=Counter)
    """delivery receipts applied, by (status, channel)"""
    duplicates: int = 0
    notices: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """notices emitted, by (trigger, kind, first channel of the cascade)"""
    suppressed: Counter[str] = field(default_factory=Counter)
    """candidate notices not emitted, by reason"""
    dead_letters: Counter[str] = field(default_factory=Counter)
    """rejected input, by kind of reason"""
    held: int = 0
    """marketing notices moved to the end of quiet hours"""
    timers_fired: int = 0
    """due timers fired (steps, releases from quiet hours, standing changes)"""
    reemitted: int = 0
    """notices (and engine dead letters) an earlier process left unconfirmed, emitted again"""
    poisoned: Counter[str] = field(default_factory=Counter)
    """valid events the engine failed on and sent to dead-letters, by stage"""
    dropped_timers: Counter[str] = field(default_factory=Counter)
    """due timers the engine failed on and dropped, by stage"""
    anomalies: Counter[str] = field(default_factory=Counter)
    """data the engine corrected on the way (a balance that would go below zero), by kind"""
    entered: Counter[str] = field(default_factory=Counter)
    """scenario instances started, by scenario"""
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    """steps whose condition was false, by (scenario, step)"""
    exited: Counter[tuple[str, str]] = field(default_factory=Counter)
    """instances ended early, by (scenario, reason: exit_on, restart)"""

    def add(self, other: Stats) -> None:
        """Add ``other``'s totals to these (a batch's, once it is committed)."""
        for name in _FIELDS:
            mine = getattr(self, name)
            if isinstance(mine, Counter):
                mine.update(getattr(other, name))
            else:
                setattr(self, name, mine + getattr(other, name))

    def copy(self) -> Stats:
        """Totals that change independently of these."""
        fresh = Stats()
        fresh.add(self)
        return fresh

    def summary(self) -> dict[str, object]:
        """A JSON-ready view of the totals."""
        by_trigger: Counter[str] = Counter()
        for (trigger, _kind, _channel), count in self.notices.items():
            by_trigger[trigger] += count
        return {
            "events": sum(self.events.values()),
            "events_by_type": dict(sorted(self.events.items())),
            "duplicates": self.duplicates,
            "dead_letters": sum(self.dead_letters.values()),
            "notices": sum(self.notices.values()),
            "notices_by_trigger": dict(sorted(by_trigger.items())),
            "suppressed": dict(sorted(self.suppressed.items())),
            "held_for_quiet_hours": self.held,
            "timers_fired": self.timers_fired,
            "reemitted": self.reemitted,
            "poisoned": dict(sorted(self.poisoned.items())),
            "dropped_timers": dict(sorted(self.dropped_timers.items())),
            "anomalies": dict(sorted(self.anomalies.items())),
            "entered": dict(sorted(self.entered.items())),
            "skipped": _nested(self.skipped),
            "exited": _nested(self.exited),
        }


_FIELDS = tuple(f.name for f in fields(Stats))
SEP = "|"
"""between the parts of an activity field: ``notices|welcome|sms``"""


def activity_counts(stats: Stats, lateness: list[float]) -> dict[str, int]:
    """A batch's counts as the console's fields (state.activity): events by type, notices
    by scenario and first channel, suppressions by reason, timers dropped by stage, delivery
    receipts by status and channel, timers fired, and the summed lateness in ms of those
    fired on the wall clock (``lateness``: seconds each; live only). Dead letters are
    counted by their sinks."""
    counts: Counter[str] = Counter()
    for kind, by in (
        ("events", stats.events),
        ("suppressed", stats.suppressed),
        ("dropped_timers", stats.dropped_timers),
    ):
        for name, count in by.items():
            counts[f"{kind}{SEP}{name}"] += count
    for (status, channel), count in stats.receipts.items():
        counts[f"receipts{SEP}{status}{SEP}{channel}"] += count
    for (trigger, _kind, channel), count in stats.notices.items():
        counts[f"notices{SEP}{trigger}{SEP}{channel}"] += count
    for name, count in (
        ("duplicates", stats.duplicates),
        ("held", stats.held),
        ("timers_fired", stats.timers_fired),
    ):
        counts[name] += count
    if lateness:
        counts["timers_late_ms"] += int(sum(max(late, 0.0) for late in lateness) * 1000)
    return {field: count for field, count in counts.items() if count}


def _nested(counts: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """{(a, b): n} as {a: {b: n}}."""
    nested: dict[str, dict[str, int]] = {}
    for (outer, inner), count in sorted(counts.items()):
        nested.setdefault(outer, {})[inner] = count
    return nested


class StatsCollector(Collector):
    """Exports a `Stats` at scrape time (no Prometheus call on the per-event path)."""

    def __init__(self, stats: Stats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily]:
        stats = self._stats
        yield _family("smartcomms_events", "Events applied, by type", ["type"], stats.events)
        yield _family(
            "smartcomms_dead_letters",
            "Input sent to dead-letters, by kind of reason",
            ["kind"],
            stats.dead_letters,
        )
        yield _family(
            "smartcomms_notices",
            "Notices emitted, by trigger, kind and first channel",
            ["trigger", "kind", "channel"],
            stats.notices,
        )
        yield _family(
            "smartcomms_suppressions",
            "Candidate notices not emitted, by reason",
            ["reason"],
            stats.suppressed,
        )
        yield _family(
            "smartcomms_poison_events",
            "Valid events the engine failed on (sent to dead-letters), by stage",
            ["stage"],
            stats.poisoned,
        )
        yield _family(
            "smartcomms_dropped_timers",
            "Due timers the engine failed on and dropped, by stage",
            ["stage"],
            stats.dropped_timers,
        )
        yield _family(
            "smartcomms_scenario_entries",
            "Scenario instances started, by scenario",
            ["scenario"],
            stats.entered,
        )
        yield _family(
            "smartcomms_scenario_steps_skipped",
            "Scenario steps whose condition was false, by scenario and step",
            ["scenario", "step"],
            stats.skipped,
        )
        yield _family(
            "smartcomms_scenario_exits",
            "Scenario instances ended early, by scenario and reason",
            ["scenario", "reason"],
            stats.exited,
        )
        yield _family(
            "smartcomms_anomalies",
            "Data the engine corrected on the way, by kind",
            ["kind"],
            stats.anomalies,
        )
        for name, text, value in (
            (
                "smartcomms_duplicate_events",
                "Events seen before (redelivery, replay)",
                stats.duplicates,
            ),
            ("smartcomms_held_notices", "Marketing notices held for quiet hours", stats.held),
            (
                "smartcomms_reemitted_notices",
                "Notices (and engine dead letters) re-emitted from the outbox",
                stats.reemitted,
            ),
        ):
            family = CounterMetricFamily(name, text)
            family.add_metric([], value)
            yield family


def _family(name: str, text: str, labels: list[str], counts: Any) -> CounterMetricFamily:
    family = CounterMetricFamily(name, text, labels=labels)
    for key, count in sorted(counts.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], count)
    return family

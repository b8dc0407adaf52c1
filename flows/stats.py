"""Counters of one process: what came in, what went out, what was dropped and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stats:
    """Running totals; the replay summary and the demo display read them."""

    events: Counter[str] = field(default_factory=Counter)
    """events applied, by type"""
    duplicates: int = 0
    notices: Counter[str] = field(default_factory=Counter)
    """notices emitted, by trigger"""
    suppressed: Counter[str] = field(default_factory=Counter)
    """candidate notices not emitted, by reason"""
    dead_letters: int = 0
    held: int = 0
    """marketing notices moved to the end of quiet hours"""
    reemitted: int = 0
    """notices an earlier process left unconfirmed, emitted again"""

    def summary(self) -> dict[str, object]:
        """A JSON-ready view of the totals."""
        return {
            "events": sum(self.events.values()),
            "events_by_type": dict(sorted(self.events.items())),
            "duplicates": self.duplicates,
            "dead_letters": self.dead_letters,
            "notices": sum(self.notices.values()),
            "notices_by_trigger": dict(sorted(self.notices.items())),
            "suppressed": dict(sorted(self.suppressed.items())),
            "held_for_quiet_hours": self.held,
            "reemitted": self.reemitted,
        }

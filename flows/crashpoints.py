"""Named points where the fault suite makes a worker die, at a moment a random SIGKILL
seldom hits.

``SMARTCOMMS_CRASH_AT=after_state_write@3`` makes this process SIGKILL itself the third
time it passes that point. Points: ``after_state_write`` (a batch's state and outbox are
in Redis, its notices not yet in Kafka), ``while_timers_fire`` (a due timer has been
turned into a notice, nothing is saved yet). Unset (production): a dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter

_PLAN: dict[str, int] = {}
for _entry in filter(None, os.environ.get("SMARTCOMMS_CRASH_AT", "").split(",")):
    _name, _, _count = _entry.partition("@")
    _PLAN[_name] = int(_count or 1)
_PASSED: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Die here if the plan says this is the time."""
    if name in _PLAN:
        _PASSED[name] += 1
        if _PASSED[name] == _PLAN[name]:
            sys.stderr.write(f"crash point {name}\n")  # the one trace the suite can see
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)

"""Quiet hours in the customer's own timezone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def quiet_release(due: float, timezone: str, start: time, end: time) -> float | None:
    """End of the quiet period ``due`` falls in (epoch s), or None when it is not quiet.

    ``start > end`` wraps midnight (21:00–09:00); ``start == end`` means never quiet.
    """
    zone = _zone(timezone)
    local = datetime.fromtimestamp(due, zone)
    now = local.time().replace(tzinfo=None)
    if start > end:
        inside = now >= start or now < end
    else:
        inside = start <= now < end
    if not inside:
        return None
    day = local.date() if now < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).timestamp()

"""The per-shard index of customers' next due timers (the timers themselves live in the
customer documents).

    <prefix>:timers:{<shard>}          sorted set: member = subject, score = its earliest due
    <prefix>:later:{<shard>}:<day>     list: "<due> <subject>" of subjects whose earliest due
                                       is on that (UTC epoch) day, two days or more ahead
    <prefix>:later-days:{<shard>}      sorted set: the days that have such a list

Most timers of a large base are far ahead (a win-back in 30 days, a segment change in 90,
a birthday next year): a sorted-set entry costs ~100 B, a list entry ~27 B. So a due two
or more days ahead of what this process has promoted goes to its day's list; each `due`
first promotes the lists of the days up to the day after ``until`` into the sorted set
(ZADD LT: a stale entry never delays a nearer due), so the set holds every due up to then.

Written with the documents (state.batch: additions before them, removals after), so a
timer survives any restart and any change in the number of workers (shards, not workers,
own the index). An entry that outlived its timer (the due moved, or a crash between the
phases) is harmless: the processor checks the document and indexes it again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import cast

from state.batch import BatchWrite
from state.connection import RedisClient

DAY = 86_400.0
PROMOTE_CHUNK = 1000
_PROMOTE = """
local entries = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
for _, entry in ipairs(entries) do
  local space = string.find(entry, ' ', 1, true)
  redis.call('ZADD', KEYS[2], 'LT', string.sub(entry, 1, space - 1), string.sub(entry, space + 1))
end
redis.call('LTRIM', KEYS[1], #entries, -1)
local left = redis.call('LLEN', KEYS[1])
if left == 0 then redis.call('ZREM', KEYS[3], ARGV[1]) end
return left
"""
"""move a day's list (a chunk of it) into the sorted set; how many entries are left"""


class TimerIndex:
    """Which subjects of a shard have a timer due by a given time."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._promote = client.register_script(_PROMOTE)
        self._promoted: dict[str, float] = {}
        """shard -> the last day (epoch day) this process promoted the lists through"""

    def key(self, shard: str) -> str:
        """Redis key of a shard's timer index."""
        return f"{self._prefix}:timers:{{{shard}}}"

    def later_key(self, shard: str, day: int) -> str:
        """Redis key of a shard's list of dues on ``day``."""
        return f"{self._prefix}:later:{{{shard}}}:{day}"

    def days_key(self, shard: str) -> str:
        return f"{self._prefix}:later-days:{{{shard}}}"

    def due(self, shard: str, until: float, limit: int | None = None) -> list[str]:
        """Subjects whose earliest timer is due at or before ``until``, earliest first; at
        most ``limit`` of them (None: all). The lists of the days up to the day after
        ``until`` are promoted first."""
        through = until // DAY + 1 if math.isfinite(until) else until
        key = self.key(shard)
        start, num = (0, limit) if limit else (None, None)
        pipe = self._client.pipeline(transaction=False)
        pipe.zrangebyscore(self.days_key(shard), "-inf", through)
        pipe.zrangebyscore(key, "-inf", until, start=start, num=num)
        days, members = cast(tuple[list[bytes], list[bytes]], pipe.execute())
        if days:
            for day in days:
                keys = [self.later_key(shard, int(day)), key, self.days_key(shard)]
                while self._promote(keys=keys, args=[int(day), PROMOTE_CHUNK]):
                    pass
            members = cast(
                list[bytes], self._client.zrangebyscore(key, "-inf", until, start=start, num=num)
            )
        self._promoted[shard] = max(self._promoted.get(shard, through), through)
        return [member.decode() for member in members]

    def update(self, writes: BatchWrite, shard: str, changes: Mapping[str, float | None]) -> None:
        """Queue new earliest due times (None: the subject has no timer left)."""
        key = self.key(shard)
        promoted = self._promoted.get(shard, float("inf"))  # nothing promoted: all near
        near: dict[str, float] = {}
        later: dict[int, list[str]] = {}
        removed = []
        for subject, due in changes.items():
            if due is None:
                removed.append(subject)
            elif due // DAY <= promoted:
                near[subject] = due
            else:
                later.setdefault(int(due // DAY), []).append(f"{due!r} {subject}")
                removed.append(subject)  # a nearer entry it had
        for day, entries in later.items():  # one command per day, not per subject
            writes.before.rpush(self.later_key(shard, day), *entries)
        if later:
            writes.before.zadd(self.days_key(shard), {str(day): day for day in later})
        if near:
            writes.before.zadd(key, near)
        if removed:
            writes.after.zrem(key, *removed)

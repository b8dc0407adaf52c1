"""The Redis timer index's writes: what a batch queues (state.timers)."""

from __future__ import annotations

from collections import Counter

import redis

from state.batch import BatchWrite
from state.timers import DAY, TimerIndex


def test_far_dues_of_a_batch_cost_one_command_per_day_not_per_customer(
    redis_client: redis.Redis,
) -> None:
    timers = TimerIndex(redis_client, "t")
    assert timers.due("0", 0.0) == []  # promoted through day 1: days 10 and 11 are far
    changes: dict[str, float | None] = {f"c:{n:02}": (10 + n % 2) * DAY + n for n in range(40)}
    writes = BatchWrite(redis_client)
    timers.update(writes, "0", changes)
    queued = Counter(command[0][0] for command in writes.main.command_stack)
    assert queued == {"RPUSH": 2, "ZADD": 1, "ZREM": 1}
    writes.execute()
    assert redis_client.llen("t:later:{0}:10") == redis_client.llen("t:later:{0}:11") == 20
    assert timers.due("0", 12 * DAY) == sorted(changes, key=lambda s: changes[s] or 0.0)

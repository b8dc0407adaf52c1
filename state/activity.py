"""What the engine and the dispatcher did, counted in Redis for the console.

    <prefix>:activity:{<shard>}        hash: the engine's counts (flows.stats.activity_counts)
    <prefix>:activity-clock:{<shard>}  hash: event_ms (newest event time applied),
                                       at_ms (wall time of that batch's commit)
    <prefix>:activity-marks:{<shard>}  hash: "<topic>:<partition>" -> the highest offset
                                       of a stateless event the shard counted
    <prefix>:delivery:{<shard>}        hash: the dispatcher's cascade outcomes
                                       (channels.cascade.outcome_counts)
    <prefix>:replay-clock              where a replay's event-time clock ended (epoch s;
                                       none live): its state is read at that time

Counted like the scenario report (state.report): in the batch's own transaction, so a
figure is applied exactly when its batch is, and read with one HGETALL per shard. Events
that change no state (page views nobody's scenario uses) leave no dedup record in a
document; the marks tell a redelivered one (flows.processor)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from state.batch import BatchWrite
from state.connection import RedisClient
from state.report import ReportCounters


class ActivityCounters(ReportCounters):
    """The engine's counts per shard, and how far in event time each shard has got."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        super().__init__(client, prefix, "activity")
        self._clock = f"{prefix}:activity-clock"

    def add_batch(
        self, writes: BatchWrite, shard: str, counts: Mapping[str, int], event_ms: int, at_ms: int
    ) -> None:
        """Queue a batch's counts and its clock (``event_ms`` 0: no event in it)."""
        if counts:
            self.add(writes, shard, counts)
        if event_ms:
            writes.after.hset(
                f"{self._clock}:{{{shard}}}", mapping={"event_ms": event_ms, "at_ms": at_ms}
            )

    def marks(self, shard: str) -> dict[str, int]:
        """The shard's highest counted offset per input partition."""
        stored = cast(dict[bytes, bytes], self._client.hgetall(self._marks_key(shard)))
        return {source.decode(): int(offset) for source, offset in stored.items()}

    def add_marks(self, writes: BatchWrite, shard: str, marks: Mapping[str, int]) -> None:
        """Queue the batch's new marks."""
        if marks:
            writes.after.hset(self._marks_key(shard), mapping=dict(marks))

    def _marks_key(self, shard: str) -> str:
        return f"{self._prefix}:activity-marks:{{{shard}}}"

    def clocks(self) -> dict[str, tuple[int, int]]:
        """shard -> (newest event time applied, when), in epoch ms."""
        shards = self.shards()
        pipe = self._client.pipeline(transaction=False)
        for shard in shards:
            pipe.hmget(f"{self._clock}:{{{shard}}}", ["event_ms", "at_ms"])
        return {
            shard: (int(event_ms), int(at_ms))
            for shard, (event_ms, at_ms) in zip(shards, pipe.execute(), strict=True)
            if event_ms is not None and at_ms is not None
        }


def delivery_counters(client: RedisClient, prefix: str) -> ReportCounters:
    """The dispatcher's cascade outcomes per shard."""
    return ReportCounters(client, prefix, "delivery")


_TALLY = """
local counted = 0
for i = 2, #ARGV, 2 do
  local origin, kind = ARGV[i], ARGV[i + 1]
  if origin == '' or redis.call('SET', KEYS[2] .. origin, 1, 'NX', 'EX', ARGV[1]) then
    redis.call('HINCRBY', KEYS[1], kind, 1)
    counted = counted + 1
  end
end
return counted
"""


class DeadLetterTally:
    """Input dead letters by kind, each counted once: a letter is known by its origin
    (``topic:partition@offset``), remembered for ``remember_s``, so the same message
    rejected again after a redelivery is not counted twice. One slot for all its keys
    (dead letters are rare), so the script runs on a Cluster too."""

    def __init__(self, client: RedisClient, prefix: str, remember_s: int = 2 * 86_400) -> None:
        self._client = client
        self._script = client.register_script(_TALLY)
        self._counts = f"{prefix}:dead-letters:{{dl}}"
        self._seen = f"{prefix}:dl-seen:{{dl}}:"
        self._remember_s = remember_s

    def count(self, letters: list[tuple[str, str]]) -> int:
        """Count ``(origin, kind)`` pairs (origin "": always counted); how many counted."""
        if not letters:
            return 0
        args: list[str | int] = [self._remember_s, *(p for letter in letters for p in letter)]
        return int(cast(int, self._script(keys=[self._counts, self._seen], args=args)))

    def totals(self) -> dict[str, int]:
        """kind -> count."""
        counts = cast(dict[bytes, bytes], self._client.hgetall(self._counts))
        return {kind.decode(): int(n) for kind, n in counts.items()}


def keep_replay_clock(client: RedisClient, prefix: str, at: float) -> None:
    """A replay over Redis ended with its event-time clock at ``at``."""
    client.set(f"{prefix}:replay-clock", repr(at))


def state_time(client: RedisClient, prefix: str, wall: float) -> float:
    """The time the state under ``prefix`` is read at (rolling windows, elapsed days): a
    replay's where it ended, else ``wall`` (the live engine's clock is the wall clock)."""
    at = client.get(f"{prefix}:replay-clock")
    return float(at) if at is not None else wall

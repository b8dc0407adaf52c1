"""The Redis writes of one batch, in three ordered phases.

- ``before``: index entries that must exist before the documents they point at (a timer
  index addition, a notice in the outbox): after a crash an extra entry is harmless (a
  fired timer is checked against the document; an outbox notice is re-emitted with its
  own id), a missing one would lose a timer or a notice;
- ``main``: the documents (and what lives in their slot, like the decision log);
- ``after``: index removals, safe only once the documents no longer need them.

On one Redis server all three go into one MULTI/EXEC, in this order: the batch is applied
whole or not at all. A Redis Cluster has no transaction across slots, so each phase is a
pipeline of its own, executed in order: a crash between phases leaves only harmless extra
index entries, and the Kafka replay of the batch applies the rest (each customer's
document is written by one SET, with its dedup window, so nothing is applied twice).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redis.commands.core import Script

from state.connection import RedisClient, is_cluster


class BatchWrite:
    """Collects a batch's writes; `execute` sends them."""

    def __init__(self, client: RedisClient, watching: Any = None) -> None:
        """``watching``: a transaction pipeline that WATCHes keys (state.fence) to use."""
        self._cluster = is_cluster(client)
        if self._cluster:
            self.before: Any = client.pipeline(transaction=False)
            self.main: Any = client.pipeline(transaction=False)
            self.after: Any = client.pipeline(transaction=False)
        elif watching is not None:
            watching.multi()
            self.before = self.main = self.after = watching
        else:
            self.before = self.main = self.after = client.pipeline(transaction=True)

    def script(
        self, pipe: Any, script: Script, keys: Sequence[str], args: Sequence[str | int]
    ) -> None:
        """Queue a Lua script on one of the phases: by its digest (EVALSHA; the pipeline
        loads it first), or on a Cluster, whose pipelines refuse EVALSHA, by its text."""
        if self._cluster:
            pipe.execute_command("EVAL", script.script, len(keys), *keys, *args)
        else:
            script(keys=keys, args=args, client=pipe)

    def set_many(self, values: Mapping[str, bytes]) -> None:
        """Queue plain SETs in ``main`` (one MSET on a single server)."""
        if not values:
            return
        if self._cluster:
            for key, value in values.items():
                self.main.set(key, value)
        else:
            self.main.mset(values)

    def execute(self) -> None:
        """Send the phases in order (one transaction on a single server)."""
        phases = [self.before, self.main, self.after] if self._cluster else [self.main]
        for pipe in phases:
            if len(pipe):
                pipe.execute()

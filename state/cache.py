"""Decoded customer states of the shards this process owns, kept between batches so a
customer seen again skips the read and the decoding (write-through: what is cached is what
the last committed batch wrote).

A customer's state is only ever used by its own shard (the engine's stateful step is
keyed by the subject's shard). A shard is worked on by one worker at a time, and the
fence (state.fence) makes sure no other process wrote it meanwhile (an engine that finds
a foreign token stops), so a cached state is the stored one. A batch takes the states it
uses out of the cache: when it fails (bad data, a lost connection) nothing it changed is
left behind, and the retry reads the store. Only the states a committed batch wrote come
back. Anonymous devices are not kept (a login reads them from the customer's shard, and
their documents expire in Redis: a cached copy could outlive its key).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

from triggers.customer import CustomerState


class StateCache:
    """At most ``per_shard`` states per shard, the least recently written dropped first."""

    def __init__(self, per_shard: int) -> None:
        self._per_shard = per_shard
        self._shards: dict[str, OrderedDict[str, CustomerState]] = {}
        self.hits = 0
        self.misses = 0

    def take(
        self,
        shard: str,
        subjects: Iterable[str],
        load: Callable[[list[str]], dict[str, CustomerState]],
    ) -> dict[str, CustomerState]:
        """The states of ``subjects``, in their order: cached ones taken out of the cache,
        the others from ``load``."""
        cached = self._shards.setdefault(shard, OrderedDict())
        subjects = list(subjects)
        found = {s: state for s in subjects if (state := cached.pop(s, None)) is not None}
        missing = [s for s in subjects if s not in found]
        self.hits += len(found)
        self.misses += len(missing)
        if not missing:
            return found
        loaded = load(missing)
        return {s: found[s] if s in found else loaded[s] for s in subjects}

    def written(self, shard: str, states: Mapping[str, CustomerState]) -> None:
        """A committed batch of ``shard`` wrote ``states``: keep them."""
        cached = self._shards.setdefault(shard, OrderedDict())
        for subject, state in states.items():
            if subject.startswith("c:"):
                cached.pop(subject, None)
                cached[subject] = state  # the most recent last
        while len(cached) > self._per_shard:
            cached.popitem(last=False)

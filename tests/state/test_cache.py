"""The cache of decoded states between batches (state.cache)."""

from __future__ import annotations

from state.cache import StateCache
from triggers.customer import CustomerState


def loader(calls: list[list[str]]):  # type: ignore[no-untyped-def]
    def load(subjects: list[str]) -> dict[str, CustomerState]:
        calls.append(subjects)
        return {s: CustomerState(first_name=f"loaded {s}") for s in subjects}

    return load


def test_a_batch_takes_its_states_out_and_gets_back_only_what_it_wrote() -> None:
    cache, calls = StateCache(10), []
    written = {"c:1": CustomerState(balance=1.0), "c:2": CustomerState(balance=2.0)}
    cache.written("0", written)
    taken = cache.take("0", ["c:3", "c:1", "c:2"], loader(calls))
    assert list(taken) == ["c:3", "c:1", "c:2"]  # the subjects' order
    assert taken["c:1"] is written["c:1"] and calls == [["c:3"]]
    # the batch failed: what it took is gone, the next one reads the store
    again = cache.take("0", ["c:1"], loader(calls))
    assert again["c:1"].first_name == "loaded c:1" and calls[-1] == ["c:1"]
    assert (cache.hits, cache.misses) == (2, 2)


def test_each_shard_keeps_its_most_recently_written_states_and_no_anonymous_ones() -> None:
    cache, calls = StateCache(2), []
    for n in range(4):
        cache.written("0", {f"c:{n}": CustomerState(), "a:D": CustomerState()})
    cache.written("1", {"c:9": CustomerState()})
    cache.take("0", ["c:0", "c:1", "c:2", "c:3", "a:D"], loader(calls))
    assert calls == [["c:0", "c:1", "a:D"]]
    cache.take("1", ["c:9"], loader(calls))
    assert len(calls) == 1

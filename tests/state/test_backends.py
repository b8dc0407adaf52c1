"""What the engine asks of its store, over both backends (a real Redis, memory): the same
answers from each."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from state.copurchases import PARTNERS
from state.report import COUNT_MAX
from tests.backends import Backend
from triggers.customer import CustomerState

FULL = CustomerState(
    first_name="Анна",
    balance=12.5,
    contacts={"phone": "+7999"},
    consents={"sms": True},
    category_spend={"молочные продукты": 120.0, "хлеб": 30.5},
    seen={"abc": 1.0},
    cart={"kettle": [1, 1990.0, "техника"]},
    timers={"win_back": 1e9},
    instances={"welcome": ["e1", 1.0, "s1", 0, None]},
)


def save(backend: Backend, states: dict[str, CustomerState], also: Any = None) -> None:
    store = backend.documents()
    store.write(store.encode(states), also)


def test_states_round_trip_and_unknown_subjects_are_new(backend: Backend) -> None:
    save(backend, {"c:C1": FULL, "a:D1": CustomerState(balance=1.0)})
    loaded = backend.documents().load(["c:C1", "a:D1", "c:C2"])
    assert loaded == {"c:C1": FULL, "a:D1": CustomerState(balance=1.0), "c:C2": CustomerState()}


def test_a_loaded_state_shares_nothing_with_what_is_stored(backend: Backend) -> None:
    save(backend, {"c:C1": FULL})
    first = backend.documents().load(["c:C1"])["c:C1"]
    first.cart["kettle"][0] = 99
    first.seen["new"] = 2.0
    assert backend.documents().load(["c:C1"])["c:C1"] == FULL


def test_writes_queued_with_the_documents_apply_with_them(backend: Backend) -> None:
    timers = backend.timers()
    save(backend, {"c:C1": FULL}, lambda writes: timers.update(writes, "0", {"c:C1": 5.0}))
    assert timers.due("0", 5.0) == ["c:C1"]
    assert backend.documents().load(["c:C1"])["c:C1"] == FULL


def update_timers(backend: Backend, shard: str, changes: dict[str, float | None]) -> None:
    timers = backend.timers()
    backend.documents().write({}, lambda writes: timers.update(writes, shard, changes))


def test_due_subjects_come_earliest_first_ties_by_subject_at_most_limit(backend: Backend) -> None:
    update_timers(backend, "0", {"c:B": 20.0, "c:A": 20.0, "c:C": 10.0, "c:D": 40.0})
    update_timers(backend, "1", {"c:E": 1.0})
    timers = backend.timers()
    assert timers.due("0", 30.0) == ["c:C", "c:A", "c:B"]
    assert timers.due("0", 30.0, 2) == ["c:C", "c:A"]
    assert timers.due("0", 9.0) == []
    assert timers.due("1", 30.0) == ["c:E"]
    assert timers.due("2", 30.0) == []


def test_a_moved_timer_is_listed_at_its_new_time_a_removed_one_no_more(backend: Backend) -> None:
    update_timers(backend, "0", {"c:A": 10.0, "c:B": 20.0, "c:C": 30.0})
    update_timers(backend, "0", {"c:A": 50.0, "c:B": None})
    update_timers(backend, "0", {"c:A": 10.0})  # back where it was: listed once
    update_timers(backend, "0", {"c:A": 10.0})
    assert backend.timers().due("0", 100.0) == ["c:A", "c:C"]
    update_timers(backend, "0", {"c:A": 60.0})
    assert backend.timers().due("0", 100.0) == ["c:C", "c:A"]


def test_many_timer_moves_keep_the_answers_exact(backend: Backend) -> None:
    expected: dict[str, float] = {}
    for round_ in range(30):
        changes: dict[str, float | None] = {}
        for n in range(100):
            subject = f"c:{n:03}"
            due = None if (n + round_) % 7 == 0 else float((n * 37 + round_ * 11) % 500)
            changes[subject] = due
            if due is None:
                expected.pop(subject, None)
            else:
                expected[subject] = due
        update_timers(backend, "0", changes)
    by_due = sorted(expected, key=lambda s: (expected[s], s))
    assert backend.timers().due("0", 250.0) == [s for s in by_due if expected[s] <= 250.0]
    assert backend.timers().due("0", 1e9, 10) == by_due[:10]


def add_pairs(backend: Backend, pairs: dict[str, Counter[str]], **kw: Any) -> None:
    table = backend.copurchases()
    categories = kw.pop("categories", {})
    backend.documents().write({}, lambda writes: table.add(writes, pairs, categories, **kw))


def test_co_purchases_count_and_keep_the_top_partners(backend: Backend) -> None:
    add_pairs(backend, {"a": Counter({f"p{n:02}": n + 1 for n in range(PARTNERS)})})
    add_pairs(backend, {"a": Counter({"p00": 5})}, categories={"p00": "хлеб"})
    # full: a new partner takes the place and count of the weakest (p01: 2), plus its own
    add_pairs(backend, {"a": Counter({"new": 1})})
    partners = backend.copurchases().partners(["a", "b"])
    assert partners["a"]["p00"] == 6 and partners["a"]["new"] == 3
    assert "p01" not in partners["a"] and len(partners["a"]) == PARTNERS
    assert partners["b"] == {}
    assert backend.copurchases().categories(["p00", "p01"]) == {"p00": "хлеб"}


def test_weakest_partners_tie_on_the_greater_name(backend: Backend) -> None:
    add_pairs(backend, {"a": Counter({f"p{n:02}": 1 for n in range(PARTNERS)})})
    add_pairs(backend, {"a": Counter({"new": 1})})
    assert "p19" not in backend.copurchases().partners(["a"])["a"]


def test_anonymous_receipts_are_seen_within_the_dedup_window(backend: Backend) -> None:
    add_pairs(backend, {}, anonymous=("0", 100, ["d1", "d2"], 8 * 86400.0))
    table = backend.copurchases()
    assert table.seen_anonymous("0", ["d1", "d3"], 100, 7) == {"d1"}
    assert table.seen_anonymous("0", ["d1"], 107, 7) == {"d1"}
    assert table.seen_anonymous("0", ["d1"], 108, 7) == set()
    assert table.seen_anonymous("1", ["d1"], 100, 7) == set()


def test_far_dues_wait_in_day_lists_and_come_back_in_time(backend: Backend) -> None:
    """Dues two or more days past the promoted day go to their day's list (Redis; memory
    keeps one heap), and come back before they are due: `due` lists every subject due by
    then. A subject whose timer moved later may be listed too, from an entry it left
    behind (never one due later than it is); indexed again, it is not listed again."""
    timers = backend.timers()
    day = 86_400.0
    expected: dict[str, float] = {}
    rng = random.Random(5)

    def write(changes: dict[str, float | None]) -> None:
        backend.documents().write({}, lambda writes: timers.update(writes, "0", changes))
        for subject, due in changes.items():
            if due is None:
                expected.pop(subject, None)
            else:
                expected[subject] = due

    def due_by(until: float) -> list[str]:
        return [s for _d, s in sorted((d, s) for s, d in expected.items() if d <= until)]

    assert timers.due("0", 0.0) == []  # the process has promoted through day 1
    for today in range(40):
        now = today * day
        changes: dict[str, float | None] = {}
        for _ in range(30):
            subject = f"c:{rng.randrange(60):02}"
            changes[subject] = None if rng.random() < 0.15 else now + rng.uniform(0, 20 * day)
        write(changes)
        listed = timers.due("0", now + day)
        truly = due_by(now + day)
        assert set(truly) <= set(listed)
        stale = [s for s in listed if s not in truly]
        write({s: expected.get(s) for s in stale})  # indexed again, as the processor does
        assert timers.due("0", now + day) == truly
        write({s: now + rng.uniform(day, 25 * day) for s in truly})  # they fired
    if backend.client is not None:  # most dues are far: in the lists, not the sorted set
        assert backend.client.zcard("t:timers:{0}") < len(expected) / 2
        assert backend.client.keys("t:later:{0}:*")
    listed = timers.due("0", float("inf"))
    assert set(due_by(float("inf"))) <= set(listed)


def test_report_counts_add_up_and_stop_at_the_largest_count(backend: Backend) -> None:
    """Revenue in cents of a bot's receipts at the largest total would pass what a Redis
    integer holds: the count stops there, and the batch (and every one after) is stored."""
    report = backend.report()

    def add(counts: dict[str, int]) -> None:
        backend.documents().write({}, lambda writes: report.add(writes, "3", counts))

    add({"s|revenue||": COUNT_MAX - 5, "s|converted||": 1})
    add({"s|revenue||": 10, "s|converted||": 1, "s|delta||": -1})
    add({"s|revenue||": 10, "s|converted||": 1, "s|delta||": -(2**63)})
    assert report.totals() == {
        "s|revenue||": COUNT_MAX,
        "s|converted||": 3,
        "s|delta||": -(2**63),
    }

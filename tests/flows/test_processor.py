"""The batch processor over both store backends (a real Redis, memory): exactly-once
application and routing; the outbox on Redis."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import orjson
import redis

from channels.policy import Policy
from flows.clock import ClockTick, EventTimeClock
from flows.processor import BatchProcessor
from flows.stats import Stats
from smartcomms.config import CHANNELS
from state.backend import Documents
from state.cache import StateCache
from state.outbox import Outbox
from tests.backends import Backend
from tests.events import customer, receipt
from triggers.customer import CustomerState
from triggers.dedup import event_digest
from triggers.engine import Rules
from triggers.events import Event, epoch_of, parse_event
from triggers.notices import MAX_NOTICE_BYTES

WEEK = 7 * 86_400.0


def events(*raw: dict) -> list[Event]:
    return [parse_event(orjson.dumps(e)) for e in raw]  # type: ignore[misc]


class _TickingEventClock(EventTimeClock):
    """Event time, but timers are looked up on clock ticks only, as live."""

    ticking = True


def processor(
    backend: Backend,
    stats: Stats,
    outbox: bool = False,
    clock: EventTimeClock | None = None,
    timers_per_tick: int | None = None,
    store: Documents | None = None,
    cache: StateCache | None = None,
) -> BatchProcessor:
    """``outbox``: notices tracked until Kafka confirms them (live, Redis only)."""
    return BatchProcessor(
        store or backend.documents(),
        backend.timers(),
        Rules(),
        Policy(CHANNELS),
        WEEK,
        clock or EventTimeClock(),
        stats,
        Outbox(backend.client, "t") if outbox and backend.client else None,
        timers_per_tick=timers_per_tick,
        cache=cache,
    )


def on_redis(client: redis.Redis) -> Backend:
    return Backend("redis", client, None)


def test_redelivered_events_are_applied_once_across_batches(backend: Backend) -> None:
    stats = Stats()
    first = processor(backend, stats)
    batch = events(customer("C1", contacts={"phone": "+7999"}), receipt("r1", "C1", 1000))
    assert len(first.process("0", batch)) == 1
    # a restarted worker (new processor, same Redis) sees the same batch again
    again = processor(backend, stats).process("0", batch + events(receipt("r1", "C1", 1000)))
    assert again == []
    assert stats.duplicates == 3
    state = backend.documents().load(["c:C1"])["c:C1"]
    assert state.balance == 50


def test_duplicate_inside_one_batch_is_applied_once(backend: Backend) -> None:
    stats = Stats()
    out = processor(backend, stats).process(
        "0",
        events(
            customer("C1", contacts={"phone": "+7999"}),
            receipt("r1", "C1", 1000),
            receipt("r1", "C1", 1000),
        ),
    )
    assert len(out) == 1 and stats.duplicates == 1


def test_an_event_id_is_unique_per_source_only(backend: Backend) -> None:
    """A profile update and a receipt of one customer that share an id (two systems'
    counters) are both applied; the receipt once. ("18"'s digest starts with a letter
    that could name a source: the key of one must not be the digest of the other.)"""
    for shared_id in ("1001", "18"):
        stats = Stats()
        shared = customer(shared_id, contacts={"phone": "+7999"}) | {"event_id": shared_id}
        out = processor(backend, stats).process(
            "0",
            events(shared, receipt(shared_id, shared_id, 1000), receipt(shared_id, shared_id, 1)),
        )
        assert len(out) == 1 and stats.duplicates == 1, shared_id


def test_ids_remembered_by_an_earlier_version_are_still_applied_once(backend: Backend) -> None:
    """Before sources were part of the key the id alone was kept: a redelivery after the
    upgrade finds it."""
    state = CustomerState(contacts={"phone": "+7999"}, seen={event_digest("r1"): 1_795_000_000})
    backend.documents().write(backend.documents().encode({"c:C1": state}))
    stats = Stats()
    assert processor(backend, stats).process("0", events(receipt("r1", "C1", 1000))) == []
    assert stats.duplicates == 1


def test_notice_without_a_contact_is_counted_unreachable(backend: Backend) -> None:
    stats = Stats()
    out = processor(backend, stats).process("0", events(receipt("r1", "C1", 1000)))
    assert out == []
    assert stats.suppressed["unreachable_no_channel"] == 1
    assert stats.events["receipt"] == 1


def test_notice_is_keyed_by_customer_and_has_the_contract_fields(backend: Backend) -> None:
    out = processor(backend, Stats()).process(
        "0",
        events(
            customer("C1", first_name="Анна", contacts={"email": "a@b.ru", "phone": "+7"}),
            receipt("r1", "C1", 1000),
        ),
    )
    [(key, body)] = out
    notice = orjson.loads(body)
    assert key == "C1"
    assert set(notice) == {
        "notice_id",
        "trigger",
        "kind",
        "customer_id",
        "channels",
        "template",
        "vars",
        "text",
        "caused_by",
        "event_ts",
        "due_ts",
        "created_at",
        "step",  # the scenario step that sent it (a built-in has one, named like it)
    }
    assert notice["step"] == "bonus_earned"
    assert notice["channels"] == ["sms", "email"]
    assert notice["text"] == "Анна, начислено 50 бонусов, на счёте 50."


def test_dedup_window_forgets_old_ids_on_the_engine_clock(backend: Backend) -> None:
    stats = Stats()
    proc = processor(backend, stats)
    proc.process("0", events(receipt("r1", "C1", 100, ts="2026-11-01T10:00:00+03:00")))
    proc.process("0", events(receipt("r2", "C1", 100, ts="2026-11-22T10:00:00+03:00")))
    state = backend.documents().load(["c:C1"])["c:C1"]
    assert len(state.seen) == 1  # r1 was applied more than a week of engine time ago


CRASH_BATCH = (customer("C1", contacts={"phone": "+7999"}), receipt("r1", "C1", 1000))


def test_notices_left_unconfirmed_by_a_crashed_run_are_emitted_again(
    redis_client: redis.Redis,
) -> None:
    # run 1 applies the batch and writes the notice, then dies before Kafka confirms it
    crashed = processor(on_redis(redis_client), Stats(), outbox=True)
    [(customer_id, notice)] = crashed.process("0", events(*CRASH_BATCH))
    # run 2 gets the same batch again from the last snapshot: all duplicates, yet the
    # notice comes out again, byte for byte (same notice_id)
    stats = Stats()
    restarted = processor(on_redis(redis_client), stats, outbox=True)
    assert restarted.process("0", events(*CRASH_BATCH)) == [(customer_id, notice)]
    assert stats.duplicates == 2 and stats.reemitted == 1
    # ... once per process, and not at all for another shard
    assert restarted.process("0", events(*CRASH_BATCH)) == []
    assert restarted.process("1", events(receipt("x", "C9", 1))) == []


def test_a_notice_too_large_for_kafka_left_by_an_earlier_version_leaves_the_outbox(
    redis_client: redis.Redis,
) -> None:
    crashed = processor(on_redis(redis_client), Stats(), outbox=True)
    [(_customer, notice)] = crashed.process("0", events(*CRASH_BATCH))
    huge = orjson.dumps({**orjson.loads(notice), "text": "x" * MAX_NOTICE_BYTES})
    redis_client.zadd("t:outbox:{0}", {huge: 1.0})  # as a version without the bound kept it
    restarted = processor(on_redis(redis_client), Stats(), outbox=True)
    assert restarted.process("0", events(*CRASH_BATCH)) == [("C1", notice)]
    assert redis_client.zrange("t:outbox:{0}", 0, -1) == [notice]


def test_confirmed_notices_are_not_emitted_again(redis_client: redis.Redis) -> None:
    first = processor(on_redis(redis_client), Stats(), outbox=True)
    [(_customer, notice)] = first.process("0", events(*CRASH_BATCH))
    Outbox(redis_client, "t").confirm({"0": [notice]})
    assert (
        processor(on_redis(redis_client), Stats(), outbox=True).process("0", events(*CRASH_BATCH))
        == []
    )


def test_notices_of_the_running_process_are_not_swept(redis_client: redis.Redis) -> None:
    proc = processor(on_redis(redis_client), Stats(), outbox=True)
    assert proc.process("0", events(CRASH_BATCH[0])) == []
    assert len(proc.process("0", events(CRASH_BATCH[1]))) == 1
    assert redis_client.zcard("t:outbox:{0}") == 1  # in flight, waiting for Kafka


def test_events_that_change_nothing_leave_the_state_alone(backend: Backend) -> None:
    # the customer's state is loaded for the receipt; the page view must still not be
    # applied (no dedup entry, no write) just because the state happens to be at hand
    view = {
        "event_id": "v1",
        "type": "page_view",
        "ts": "2026-11-22T10:16:00+03:00",
        "anonymous_id": "D1",
        "customer_id": "C1",
    }
    processor(backend, Stats()).process("0", events(receipt("r1", "C1", 1000), view))
    state = backend.documents().load(["c:C1"])["c:C1"]
    assert len(state.seen) == 1


def test_a_tick_fires_a_bounded_number_of_due_timers_earliest_first(backend: Backend) -> None:
    customers = [f"C{n}" for n in range(5)]
    setup = [customer(c, contacts={"phone": "+7999"}) for c in customers] + [
        receipt(f"r{n}", c, 1000, ts=f"2026-11-22T10:0{n}:00+03:00")
        for n, c in enumerate(customers)
    ]
    processor(backend, Stats()).process("0", events(*setup))  # five win-backs pending
    index = backend.timers()
    pending = index.due("0", float("inf"))
    assert pending == [f"c:{c}" for c in customers]
    live = processor(backend, Stats(), clock=_TickingEventClock(), timers_per_tick=2)
    month_later = ClockTick(epoch_of("2026-12-23T10:00:00+03:00"), "0")
    left = []
    for _tick in range(4):
        live.process("0", [month_later])
        left.append(index.due("0", float("inf")))
    assert left == [pending[2:], pending[4:], [], []]


class _CountingStore:
    """A backend's store, remembering how many subjects each batch loaded."""

    def __init__(self, store: Documents) -> None:
        self.store = store
        self.fence = store.fence
        self.encode = store.encode
        self.write = store.write
        self.loads: list[int] = []

    def load(self, subjects: Iterable[str]) -> dict[str, CustomerState]:
        subjects = list(subjects)
        self.loads.append(len(subjects))
        return self.store.load(subjects)


def test_on_event_time_a_mass_of_due_timers_fires_in_bounded_chunks_in_order(
    backend: Backend,
) -> None:
    customers = [f"C{n}" for n in range(5)]
    reachable = {"contacts": {"phone": "+7999"}, "consents": {"sms": True}}
    setup = [customer(c, **reachable) for c in [*customers, "C7", "C8"]] + [
        receipt(f"r{n}", c, 1000, ts=f"2026-11-22T10:0{n}:00+03:00")
        for n, c in enumerate(customers)
    ]
    processor(backend, Stats()).process("0", events(*setup))  # five win-backs pending
    store = _CountingStore(backend.documents())
    bounded = processor(backend, Stats(), timers_per_tick=2, store=store)
    later = [receipt(f"s{c}", c, 1000, ts="2026-12-23T10:00:00+03:00") for c in ("C7", "C8")]
    out = bounded.process("0", events(*later))
    notices = [orjson.loads(notice) for _customer, notice in out]
    assert [(n["trigger"], n["customer_id"]) for n in notices] == [
        *(("win_back", c) for c in customers),  # due first, earliest first
        ("bonus_earned", "C7"),
        ("bonus_earned", "C8"),
    ]
    assert max(store.loads) <= 2


def test_an_index_entry_that_outlived_its_timer_is_indexed_again(backend: Backend) -> None:
    """The index says a customer is due (an entry its timer left behind: a far day's list,
    a crash between a batch's phases), its document says later: nothing fires, and the
    index gets the document's due, so the customer is not loaded again until then."""
    setup = events(customer("C1", contacts={"phone": "+7999"}), receipt("r1", "C1", 1000))
    processor(backend, Stats()).process("0", setup)  # a win-back 30 days on
    real = backend.documents().load(["c:C1"])["c:C1"].timers["win_back"]
    early = epoch_of("2026-11-23T10:00:00+03:00")
    index = backend.timers()
    backend.documents().write({}, lambda writes: index.update(writes, "0", {"c:C1": early}))
    assert index.due("0", early) == ["c:C1"]
    out = processor(backend, Stats()).process("0", [ClockTick(early + 60, "0")])
    assert out == []
    assert index.due("0", real - 1) == [] and index.due("0", real) == ["c:C1"]


def test_an_order_at_the_second_its_cart_nudge_falls_due_comes_first(backend: Backend) -> None:
    """A timer due at an event's own time fires after that event: an order at exactly an
    hour after the cart changed cancels the nudge; a second later it no longer can."""
    reachable = {"contacts": {"push_token": "t"}, "consents": {"push": True}}
    later = ClockTick(epoch_of("2026-11-23T10:00:00+03:00"), "0")
    for n, (order_ts, batch_size) in enumerate(itertools.product(("11:00:00", "11:00:01"), (1, 4))):
        cid = f"C{n}"  # a customer of its own per case, a clock of its own
        run = processor(backend, Stats())
        click = {"customer_id": cid, "anonymous_id": f"D{n}"}
        cart = {"event_id": f"a{n}", "type": "add_to_cart", **click}
        cart |= {"ts": "2026-11-22T10:00:00+03:00", "sku": "s", "price": 10.0}
        order = {"event_id": f"o{n}", "type": "order", **click}
        order |= {"ts": f"2026-11-22T{order_ts}+03:00", "order_id": f"O{n}", "total": 10.0}
        items = [*events(customer(cid, **reachable), cart, order), later]
        out = []
        for first in range(0, len(items), batch_size):
            out += run.process("0", items[first : first + batch_size])
        sent = [orjson.loads(notice)["trigger"] for _customer, notice in out]
        expected = [] if order_ts == "11:00:00" else ["abandoned_cart"]
        assert sent == expected, (order_ts, batch_size)


def test_an_order_at_the_second_a_mass_of_nudges_falls_due_comes_first(backend: Backend) -> None:
    """The same when more timers are due than a batch may load, fired in bounded ticks:
    the customer who orders at the very second the nudges fall due (first of them in the
    index's order) gets none, every other customer gets theirs."""
    reachable = {"contacts": {"push_token": "t"}, "consents": {"push": True}}
    for shard, batch_size in (("1", 1), ("2", 20)):  # a shard of its own per case
        buyer, others = f"A{shard}", [f"C{n}-{shard}" for n in range(3)]
        items: list[Event | ClockTick] = []
        for n, cid in enumerate([buyer, *others]):
            cart = {"event_id": f"a{n}", "type": "add_to_cart", "customer_id": cid}
            cart |= {"anonymous_id": f"D{cid}", "ts": "2026-11-22T10:00:00+03:00"}
            items += events(customer(cid, **reachable), cart | {"sku": "s", "price": 10.0})
        order = {"event_id": "o", "type": "order", "customer_id": buyer, "anonymous_id": "DA"}
        order |= {"ts": "2026-11-22T11:00:00+03:00", "order_id": "O", "total": 10.0}
        items += [*events(order), ClockTick(epoch_of("2026-11-23T10:00:00+03:00"), shard)]
        run = processor(backend, Stats(), timers_per_tick=2)
        out = []
        for first in range(0, len(items), batch_size):
            out += run.process(shard, items[first : first + batch_size])
        sent = [orjson.loads(notice) for _customer, notice in out]
        assert [(n["trigger"], n["customer_id"]) for n in sent] == [
            ("abandoned_cart", cid) for cid in others
        ], batch_size

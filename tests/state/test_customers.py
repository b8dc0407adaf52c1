from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import orjson
import pytest
import redis
import zstandard
from msgspec.structs import asdict, fields

from state.categories import CategoryTable
from state.codec import DICTIONARY, FORMAT_2, STORED_AS, compact_json
from state.customers import CustomerStore
from triggers import decisions
from triggers.customer import CustomerState


def test_keys_carry_the_subject_as_cluster_hash_tag(redis_client: redis.Redis) -> None:
    store = CustomerStore(redis_client, "t", anonymous_ttl_s=3600)
    store.save({"c:C1": CustomerState(), "a:D1": CustomerState()})
    assert sorted(redis_client.keys("t:*")) == [b"t:a:{D1}", b"t:c:{C1}"]


def test_anonymous_devices_expire_customers_do_not(redis_client: redis.Redis) -> None:
    store = CustomerStore(redis_client, "t", anonymous_ttl_s=3600)
    store.save({"c:C1": CustomerState(), "a:D1": CustomerState()})
    assert redis_client.ttl("t:c:{C1}") == -1
    assert 3590 <= redis_client.ttl("t:a:{D1}") <= 3600


def test_a_stored_field_this_version_does_not_know_is_ignored(
    redis_client: redis.Redis,
) -> None:
    store = CustomerStore(redis_client, "t", anonymous_ttl_s=3600)
    redis_client.set("t:c:{C1}", b'{"balance": 5, "future_field": [1]}')
    assert store.load(["c:C1"])["c:C1"].balance == 5


FULL = CustomerState(
    first_name="Анна",
    timezone="Asia/Yekaterinburg",
    birthday="1990-05-01",
    registered_at="2024-03-01T12:00:00+03:00",
    contacts={"phone": "+79990001122"},
    consents={"sms": True, "email": False},
    balance=120.5,
    last_purchase_at=1795358706.342,
    purchases=[[1795358706.342, 2.0, 1990.0]],
    category_spend={"чай": 1990.0, "посуда": 10.5},
    seen={"jQm5hf2HTe/O": 1795358706},
    cart={"kettle": [1, 1990.0, "кухня"]},
    cart_changed_at=1795358706.0,
    cart_cause="add-1",
    cart_changed_ts="2026-11-22T10:15:03+03:00",
    timers={"abandoned_cart": 1795362306.0},
    held=["abandoned_cart"],
    sent=[[1795358706.0, "win_back", ["sms"]]],
    log=[msgspec.Raw(b'[1795358706.0,"win_back","emitted","n-1",["sms"]]')],
    instances={
        "abandoned_cart": [
            *("add-1", 1795358706.0, "2026-11-22T10:15:03+03:00", "abandoned_cart"),
            *(None, 0, 0.0, [], {}),
        ]
    },
    viewed=[["kettle", "кухня", 1795358000.0]],
    bought=["kettle"],
    rfm="543",
    tier="silver",
    sketched=[498710, 2, 1520],
    consents_at={"sms": 1795358706, "email": 1795300000},
    lots=[[1795358706.342, 99.0, 1.0], [1795458706.0, 12.0]],
)


def test_documents_are_compact_compressed_and_round_trip(redis_client: redis.Redis) -> None:
    assert STORED_AS.keys() == {f.name for f in fields(CustomerState)}
    assert len(set(STORED_AS.values())) == len(STORED_AS)
    assert all(value != getattr(CustomerState(), name) for name, value in asdict(FULL).items())
    assert orjson.loads(compact_json(CustomerState(), {})) == {}  # defaults are not stored
    store = CustomerStore(redis_client, "t", anonymous_ttl_s=3600)
    store.save({"c:C1": FULL})
    raw = redis_client.get("t:c:{C1}")
    assert raw is not None and raw[:1] == FORMAT_2
    assert len(raw) < len(compact_json(FULL, store.categories.ids(FULL.category_spend))) * 0.8
    assert "посуда".encode() not in zstandard.ZstdDecompressor(
        dict_data=DICTIONARY, format=zstandard.FORMAT_ZSTD1_MAGICLESS
    ).decompress(raw[1:])  # categories are stored by id
    assert store.load(["c:C1"])["c:C1"] == FULL


def test_categories_get_one_id_each_shared_by_every_process(redis_client: redis.Redis) -> None:
    first, second = CategoryTable(redis_client, "t"), CategoryTable(redis_client, "t")
    ids = dict(first.ids(["чай", "кофе"]))
    assert sorted(ids.values()) == ["1", "2"]
    assert second.ids(["кофе", "сахар"])["кофе"] == ids["кофе"]  # another process agrees
    assert second.ids(["сахар"])["сахар"] == "3"
    names = CategoryTable(redis_client, "t").names(["3", ids["чай"]])
    assert (names["3"], names[ids["чай"]]) == ("сахар", "чай")
    # a document written by one process reads with names in another
    CustomerStore(redis_client, "t", 3600).save({"c:C1": FULL})
    assert CustomerStore(redis_client, "t", 3600).load(["c:C1"])["c:C1"].category_spend == {
        "чай": 1990.0,
        "посуда": 10.5,
    }


def test_documents_of_the_earlier_formats_still_read(redis_client: redis.Redis) -> None:
    store = CustomerStore(redis_client, "t", anonymous_ttl_s=3600)
    legacy = {"first_name": "Анна", "balance": 50.0, "category_spend": {"чай": 5.0}}
    compact = {"v": 1, "n": "Анна", "B": 50.0, "g": {"чай": 5.0}, "l": [], "future": 1}
    for n, doc in enumerate((legacy, compact)):
        redis_client.set(f"t:c:{{C{n}}}", orjson.dumps(doc))
    for state in store.load(["c:C0", "c:C1"]).values():
        assert (state.first_name, state.balance, state.category_spend) == (
            "Анна",
            50.0,
            {"чай": 5.0},
        )


def format_2(compact: dict[str, Any]) -> bytes:
    """A compact document as format 2 writes it (categories by id)."""
    compressor = zstandard.ZstdCompressor(
        dict_data=DICTIONARY,
        compression_params=zstandard.ZstdCompressionParameters.from_level(
            3, format=zstandard.FORMAT_ZSTD1_MAGICLESS, write_checksum=0, write_dict_id=0
        ),
    )
    return FORMAT_2 + compressor.compress(orjson.dumps(compact))


def compact_v1(compact: dict[str, Any]) -> bytes:
    return orjson.dumps({"v": 1, **compact})


def test_a_purchase_history_of_day_buckets_reads_as_times(redis_client: redis.Redis) -> None:
    """Up to exact windows, purchases were kept per day (day number); each day reads as
    its start, in every earlier document format."""
    days = [[20779.0, 2.0, 1990.0], [20780.0, -1.0, -10.0]]
    times = [[20779 * 86_400.0, 2.0, 1990.0], [20780 * 86_400.0, -1.0, -10.0]]
    redis_client.set("t:c:{C0}", orjson.dumps({"purchase_days": days, "balance": 1.0}))
    redis_client.set("t:c:{C1}", compact_v1({"d": days}))
    redis_client.set("t:c:{C3}", format_2({"d": days}))
    store = CustomerStore(redis_client, "t", anonymous_ttl_s=3600)
    for state in store.load(["c:C0", "c:C1", "c:C3"]).values():
        assert state.purchases == times
    store.save({"c:C2": CustomerState(purchases=times)})
    assert store.load(["c:C2"])["c:C2"].purchases == times  # times stay times


@pytest.mark.parametrize("written", [compact_v1, format_2])
def test_a_state_from_before_scenarios_keeps_its_pending_timers(
    redis_client: redis.Redis, written: Callable[[dict[str, Any]], bytes]
) -> None:
    """Pending win-backs and cart nudges of an engine upgraded to scenarios are instances of
    the built-ins, with the cause they always had (in format 1, and in format 2, which
    came before scenarios)."""
    legacy = {
        "p": 1795358706.0,
        "pe": "r1",
        "pt": "2026-11-22T10:15:03+03:00",
        "ka": 1795358000.0,
        "kc": "add-1",
        "kt": "2026-11-22T10:03:20+03:00",
        "k": {"kettle": [1, 1990.0, None]},
        "t": {"win_back": 1797950706.0, "abandoned_cart": 1795361600.0},
        "h": ["abandoned_cart"],
        "l": [[1795358706.0, "bonus_earned", "emitted", "n-1", ["sms"]]],
    }
    redis_client.set("t:c:{C1}", written(legacy))
    state = CustomerStore(redis_client, "t", 3600).load(["c:C1"])["c:C1"]
    assert state.timers == legacy["t"] and state.held == ["abandoned_cart"]
    assert state.instances["win_back"][:4] == [
        "r1",
        1795358706.0,
        "2026-11-22T10:15:03+03:00",
        "win_back",
    ]
    assert state.instances["abandoned_cart"][:3] == [
        "add-1",
        1795358000.0,
        "2026-11-22T10:03:20+03:00",
    ]
    decisions.record(state, 1795358800.0, "win_back", decisions.SUPPRESSED, None, "capped")
    assert [entry["trigger"] for entry in decisions.recent(state)] == ["win_back", "bonus_earned"]


def test_a_balance_back_at_zero_is_not_written(redis_client: redis.Redis) -> None:
    """Defaults are left out, a computed zero balance too (as the field's own default)."""
    store = CustomerStore(redis_client, "t", anonymous_ttl_s=3600)
    earned = 12.5
    state = CustomerState(first_name="Анна", balance=round(earned - 12.5, 2))
    assert orjson.loads(compact_json(state, {})) == {"n": "Анна"}
    store.save({"c:C1": state})
    assert store.load(["c:C1"])["c:C1"] == state

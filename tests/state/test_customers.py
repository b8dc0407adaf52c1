from __future__ import annotations

from dataclasses import asdict, fields

import orjson
import redis

from state.codec import STORED_AS, decode_state, encode_state
from state.customers import CustomerStore
from triggers.customer import CustomerState


def test_round_trip_and_unknown_subjects(redis_client: redis.Redis) -> None:
    store = CustomerStore(redis_client, "t", anonymous_ttl_s=3600)
    state = CustomerState(
        first_name="Анна", balance=12.5, contacts={"phone": "+7999"}, seen={"abc": 1.0}
    )
    store.save({"c:C1": state})
    loaded = store.load(["c:C1", "c:C2"])
    assert loaded["c:C1"] == state
    assert loaded["c:C2"] == CustomerState()


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


def test_documents_are_compact_and_round_trip() -> None:
    assert STORED_AS.keys() == {f.name for f in fields(CustomerState)}
    assert len(set(STORED_AS.values())) == len(STORED_AS)
    assert orjson.loads(encode_state(CustomerState())) == {"v": 1}  # defaults are not stored
    full = CustomerState(
        first_name="Анна",
        timezone="Asia/Yekaterinburg",
        birthday="1990-05-01",
        registered_at="2024-03-01T12:00:00+03:00",
        contacts={"phone": "+79990001122"},
        consents={"sms": True, "email": False},
        balance=120.5,
        last_purchase_at=1795358706.342,
        purchase_days=[[20779.0, 2.0, 1990.0]],
        category_spend={"чай": 1990.0},
        seen={"jQm5hf2HTe/O": 1795358706},
        last_purchase_event="r1",
        last_purchase_ts="2026-11-22T10:15:03+03:00",
        cart={"kettle": [1, 1990.0, "кухня"]},
        cart_changed_at=1795358706.0,
        cart_cause="add-1",
        cart_changed_ts="2026-11-22T10:15:03+03:00",
        timers={"abandoned_cart": 1795362306.0},
        held=["abandoned_cart"],
        sent=[[1795358706.0, "win_back", ["sms"]]],
    )
    assert decode_state(encode_state(full)) == full
    assert all(value != getattr(CustomerState(), name) for name, value in asdict(full).items())


def test_documents_of_the_earlier_long_name_format_still_read() -> None:
    legacy = orjson.dumps({"first_name": "Анна", "balance": 50.0, "cart": {}, "held": []})
    state = decode_state(legacy)
    assert (state.first_name, state.balance) == ("Анна", 50.0)

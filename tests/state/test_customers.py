from __future__ import annotations

import redis

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

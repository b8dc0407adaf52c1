"""Scale-out: the live flow as a 2-process Bytewax cluster on loopback (-i/-a) emits the
same notices (ids and content) as one process over the same input, and a cluster stopped
and resumed with another process count (recovery on) loses and doubles nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import redis

from smartcomms.config import TopicNames
from smartcomms.localstack import free_port
from smartcomms.topics import ensure_topics
from state.customers import CustomerStore
from tests.events import receipt
from tests.flows.test_live_timers import SHORT_CART, cart_add, profiles
from tests.live import (
    consume,
    env_for,
    produce,
    recovery_args,
    start_flow,
    stop_flow,
    wait_for_profiles,
)

CUSTOMERS = 40


def own_outputs(kafka_brokers: str, topics: TopicNames) -> TopicNames:
    """The same input topics, outputs of one run's own."""
    tag = uuid.uuid4().hex[:6]
    mine = topics.model_copy(
        update={"notices": f"notices-{tag}", "dead_letters": f"dead-letters-{tag}"}
    )
    ensure_topics(kafka_brokers, [mine.notices, mine.dead_letters], 3, {})
    return mine


def comparable(message: object) -> dict:
    notice = orjson.loads(message.value())  # type: ignore[attr-defined]
    notice.pop("created_at")  # the wall-clock moment of emission, the one field that may differ
    return notice


def test_a_two_process_cluster_emits_what_one_process_emits(
    kafka_brokers: str, redis_url: str, topics: TopicNames, prefix: str
) -> None:
    single_topics, cluster_topics = (
        own_outputs(kafka_brokers, topics),
        own_outputs(kafka_brokers, topics),
    )
    single_env = env_for(kafka_brokers, redis_url, single_topics, prefix + "s", **SHORT_CART)
    cluster_env = env_for(kafka_brokers, redis_url, cluster_topics, prefix + "c", **SHORT_CART)
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    flows = [
        start_flow(single_env, ["-w", "1"]),
        start_flow(cluster_env, ["-i", "0", "-a", addresses]),
        start_flow(cluster_env, ["-i", "1", "-a", addresses]),
    ]
    try:
        produce(kafka_brokers, topics.customers, profiles(CUSTOMERS))
        wait_for_profiles(redis_url, prefix + "s", CUSTOMERS)
        wait_for_profiles(redis_url, prefix + "c", CUSTOMERS)
        produce(
            kafka_brokers,
            topics.receipts,
            [receipt(f"r{n}", f"C{n % CUSTOMERS}", 500 + n) for n in range(120)],
        )
        for outputs in (single_topics, cluster_topics):  # topics are not ordered together:
            consume(kafka_brokers, outputs.notices, 120)  # receipts first, then the carts
        now = datetime.now(UTC)
        produce(
            kafka_brokers,
            topics.clicks,
            [cart_add(n, now - timedelta(seconds=n * 0.1)) for n in range(0, CUSTOMERS, 2)],
        )
        expected = 120 + CUSTOMERS // 2
        single = consume(kafka_brokers, single_topics.notices, expected, settle_s=3)
        cluster = consume(kafka_brokers, cluster_topics.notices, expected, settle_s=3)
    finally:
        stop_flow(*flows)
    by_id_single = {n["notice_id"]: n for n in map(comparable, single)}
    by_id_cluster = {n["notice_id"]: n for n in map(comparable, cluster)}
    assert len(by_id_single) == expected
    assert {n["trigger"] for n in by_id_single.values()} == {"bonus_earned", "abandoned_cart"}
    assert by_id_cluster == by_id_single


def test_a_cluster_stopped_and_resumed_as_one_process_loses_and_doubles_nothing(
    kafka_brokers: str, redis_url: str, topics: TopicNames, prefix: str, tmp_path: Path
) -> None:
    env = env_for(kafka_brokers, redis_url, topics, prefix)
    recovery = recovery_args(tmp_path / "recovery", partitions=4)  # one directory, shared
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    cluster = [start_flow(env, ["-i", str(n), "-a", addresses, *recovery]) for n in (0, 1)]
    try:
        produce(kafka_brokers, topics.customers, profiles(10))
        wait_for_profiles(redis_url, prefix, 10)
        produce(
            kafka_brokers, topics.receipts, [receipt(f"a{n}", f"C{n % 10}", 100) for n in range(30)]
        )
        consume(kafka_brokers, topics.notices, 30)
    finally:
        stop_flow(*cluster)
    single = start_flow(env, ["-w", "1", *recovery])
    try:
        produce(
            kafka_brokers, topics.receipts, [receipt(f"b{n}", f"C{n % 10}", 100) for n in range(10)]
        )
        messages = consume(kafka_brokers, topics.notices, 40)
    finally:
        stop_flow(single)
    causes = [orjson.loads(m.value())["caused_by"] for m in messages]
    assert sorted(causes) == sorted([f"a{n}" for n in range(30)] + [f"b{n}" for n in range(10)])
    client = redis.Redis.from_url(redis_url)
    states = CustomerStore(client, prefix, 0).load(f"c:C{n}" for n in range(10))
    balances = [state.balance for state in states.values()]
    client.close()
    assert balances == [4 * 5] * 10  # 4 receipts of 100 at 5 % each, none applied twice

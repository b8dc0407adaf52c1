"""The live flow end to end: real broker, real Redis, Bytewax's own runner in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import orjson
import pytest
import redis
from confluent_kafka import Consumer, Producer

from smartcomms.config import Settings, TopicNames
from smartcomms.topics import assignments, ensure_topics
from tests.events import customer, receipt

TIMEOUT_S = 60


@pytest.fixture
def topics(kafka_brokers: str) -> TopicNames:
    """Fresh topics for one test (3 partitions each)."""
    tag = uuid.uuid4().hex[:8]
    names = TopicNames(**{field: f"{field}-{tag}" for field in TopicNames.model_fields})
    ensure_topics(kafka_brokers, [*names.inputs(), names.notices, names.dead_letters], 3, {})
    return names


def env_for(brokers: str, redis_url: str, topics: TopicNames, prefix: str) -> dict[str, str]:
    env = {
        **os.environ,
        "SMARTCOMMS_KAFKA__BROKERS": brokers,
        "SMARTCOMMS_REDIS__URL": redis_url,
        "SMARTCOMMS_REDIS__PREFIX": prefix,
        "SMARTCOMMS_ENGINE__SHARDS": "4",
    }
    for field in TopicNames.model_fields:
        env[f"SMARTCOMMS_KAFKA__TOPICS__{field.upper()}"] = getattr(topics, field)
    return env


@pytest.fixture
def live_flow(
    kafka_brokers: str, redis_url: str, topics: TopicNames, request: pytest.FixtureRequest
) -> Iterator[str]:
    """Runs the flow; yields its Redis key prefix."""
    workers = getattr(request, "param", 1)
    prefix = f"t{uuid.uuid4().hex[:6]}"
    env = env_for(kafka_brokers, redis_url, topics, prefix)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", "flows.live:flow", "-w", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    yield prefix
    proc.terminate()
    _, stderr = proc.communicate(timeout=30)
    assert b"Traceback" not in stderr, stderr.decode()


def produce(brokers: str, topic: str, events: list[dict | bytes]) -> None:
    producer = Producer({"bootstrap.servers": brokers})
    for event in events:
        value = event if isinstance(event, bytes) else orjson.dumps(event)
        key = None if isinstance(event, bytes) else str(event.get("customer_id")).encode()
        producer.produce(topic, value, key)
    assert producer.flush(30) == 0


def wait_for_profiles(redis_url: str, prefix: str, count: int) -> None:
    """Topics are not ordered with each other: wait until the flow has stored the profiles."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + TIMEOUT_S
    while len(client.keys(f"{prefix}:c:*")) < count:
        assert time.monotonic() < deadline, "the flow did not store the profiles"
        time.sleep(0.1)
    client.close()


def consume(brokers: str, topic: str, expected: int, settle_s: float = 2.0) -> list:
    """Messages of ``topic`` until ``expected`` arrived and ``settle_s`` passed with no more."""
    consumer = Consumer(
        {"bootstrap.servers": brokers, "group.id": "t", "enable.auto.commit": False}
    )
    consumer.assign(assignments(brokers, [topic]))
    got: list = []
    deadline = time.monotonic() + TIMEOUT_S
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = [m for m in consumer.consume(100, 0.2) if not m.error()]
            if batch:
                got.extend(batch)
                quiet_since = time.monotonic()
            elif len(got) >= expected and time.monotonic() - quiet_since > settle_s:
                break
    finally:
        consumer.close()
    return got


@pytest.mark.parametrize("live_flow", [1, 2], indirect=True, ids=["1-worker", "2-workers"])
def test_receipts_become_notices_once(
    kafka_brokers: str, redis_url: str, topics: TopicNames, live_flow: str
) -> None:
    produce(
        kafka_brokers,
        topics.customers,
        [
            customer(f"C{n}", first_name="Анна", contacts={"phone": f"+7999000{n:04d}"})
            for n in range(20)
        ],
    )
    wait_for_profiles(redis_url, live_flow, 20)
    receipts = [receipt(f"r{n}", f"C{n % 20}", 1000 + n) for n in range(60)]
    produce(kafka_brokers, topics.receipts, receipts + receipts[:10])  # 10 redelivered

    messages = consume(kafka_brokers, topics.notices, expected=60)
    notices = [orjson.loads(m.value()) for m in messages]
    assert sorted(n["caused_by"] for n in notices) == sorted(f"r{n}" for n in range(60))
    assert len({n["notice_id"] for n in notices}) == 60
    for message, notice in zip(messages, notices, strict=True):
        assert message.key() == notice["customer_id"].encode()
        assert notice["channels"] == ["sms"]
    # the balance arithmetic went through Redis: C0 had r0, r20, r40
    by_customer = [n for n in notices if n["customer_id"] == "C0"]
    assert max(n["vars"]["balance"] for n in by_customer) == 50 + 51 + 52


def test_bad_input_goes_to_dead_letters_and_the_flow_goes_on(
    kafka_brokers: str, redis_url: str, topics: TopicNames, live_flow: str
) -> None:
    bad = [
        b"{oops",
        orjson.dumps(
            {"event_id": "x", "type": "receipt", "ts": "2026-11-22T10:00:00+03:00", "total": -1}
        ),
    ]
    produce(kafka_brokers, topics.customers, [customer("C1", contacts={"email": "a@b.ru"})])
    wait_for_profiles(redis_url, live_flow, 1)
    produce(kafka_brokers, topics.receipts, [*bad, receipt("r1", "C1", 2000)])

    letters = consume(kafka_brokers, topics.dead_letters, expected=2)
    assert sorted(m.value() for m in letters) == sorted(bad)
    for message in letters:
        headers = dict(message.headers())
        assert headers["reason"]
        assert headers["origin"].startswith(topics.receipts.encode())
    [notice] = consume(kafka_brokers, topics.notices, expected=1)
    assert orjson.loads(notice.value())["vars"]["earned"] == 100


def test_module_level_flow_needs_a_redis_url() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTCOMMS_")}
    result = subprocess.run(
        [sys.executable, "-c", "import flows.live as m; m.flow"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0 and b"redis.url is required" in result.stderr


def test_settings_object_builds_a_flow() -> None:
    from flows.live import build_flow

    flow = build_flow(Settings.model_validate({"redis": {"url": "redis://127.0.0.1:1/0"}}))
    assert flow.flow_id == "smartcomms_live"

"""No poison pills in the live flow: an event the engine fails on is one dead letter, the
events after it are notified, and a restart with recovery neither dies on it again nor
dead-letters it twice; extreme valid events never stop the flow."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import orjson
import redis
from confluent_kafka import Producer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from smartcomms.config import TopicNames
from state.customers import CustomerStore
from tests.events import customer, receipt
from tests.flows.test_poison import extreme
from tests.live import (
    consume,
    env_for,
    produce,
    recovery_args,
    start_flow,
    stop_flow,
    wait_for_empty_outbox,
    wait_for_profiles,
)
from triggers.dedup import dedup_keys
from triggers.engine import Rules, changes_state
from triggers.events import Rejection, parse_event, subject_of
from triggers.notices import MAX_NOTICE_BYTES

FAILS_FOR_5_BONUSES = {
    # passes the check at start (its sample earns 99); a receipt of 100 earns 5: 1 // 0
    "SMARTCOMMS_TEMPLATES__BONUS_EARNED__SMS": "{text: '{{ 1000 // (earned - 5) }} бонусов'}",
}
PROFILES = [customer(f"C{n}", contacts={"phone": f"+7999000{n:04d}"}) for n in range(3)]


def good_receipts(tag: str) -> list[dict]:
    return [receipt(f"{tag}{n}", f"C{n}", 1000) for n in range(3)]


def caused_by(messages: list) -> set[str]:
    return {orjson.loads(m.value())["caused_by"] for m in messages}


def test_a_poison_event_is_one_dead_letter_also_across_a_restart(
    kafka_brokers: str, redis_url: str, topics: TopicNames, prefix: str, tmp_path: Path
) -> None:
    env = env_for(kafka_brokers, redis_url, topics, prefix, **FAILS_FOR_5_BONUSES)
    recovery = recovery_args(tmp_path / "recovery")
    poison = receipt("poison", "C0", 100)
    first = start_flow(env, recovery)
    produce(kafka_brokers, topics.customers, PROFILES)
    wait_for_profiles(redis_url, prefix, len(PROFILES))  # topics are not ordered
    produce(kafka_brokers, topics.receipts, [poison, *good_receipts("a")])
    [letter] = consume(kafka_brokers, topics.dead_letters, expected=1)
    assert caused_by(consume(kafka_brokers, topics.notices, expected=3)) == {"a0", "a1", "a2"}
    wait_for_empty_outbox(redis_url, prefix)  # Kafka confirmed the notices and the letter
    first.send_signal(signal.SIGKILL)  # the last snapshot is older: the poison is read again
    first.communicate(timeout=30)

    second = start_flow(env, recovery)
    try:
        produce(kafka_brokers, topics.receipts, good_receipts("b"))
        notices = consume(kafka_brokers, topics.notices, expected=6, settle_s=4)
        letters = consume(kafka_brokers, topics.dead_letters, expected=1, settle_s=2)
    finally:
        stop_flow(second)
    assert caused_by(notices) == {"a0", "a1", "a2", "b0", "b1", "b2"}
    assert len(letters) == 1 and letters[0].value() == letter.value() == orjson.dumps(poison)
    reason = dict(letter.headers())["reason"].decode()
    assert reason.startswith("engine render: ZeroDivisionError")
    client = redis.Redis.from_url(redis_url)
    state = CustomerStore(client, prefix, 0).load(["c:C0"])["c:C0"]
    client.close()
    assert state.balance == 100  # a0 and b0; the poison's 5 bonuses were never counted


def test_a_notice_or_a_letter_too_large_for_kafka_does_not_stop_the_flow(
    kafka_brokers: str, redis_url: str, topics: TopicNames, prefix: str
) -> None:
    # a 5-bonus receipt renders a text over what a Kafka message takes; the sample (99) not
    huge = "{text: '{{ \"x\" * (1200000 if earned == 5 else 1) }} бонусов'}"
    env = env_for(
        kafka_brokers, redis_url, topics, prefix, SMARTCOMMS_TEMPLATES__BONUS_EARNED__SMS=huge
    )
    not_json = b"{" + b"x" * 1_000_100  # fits its topic, not a letter with its headers
    proc = start_flow(env)
    try:
        produce(kafka_brokers, topics.customers, PROFILES)
        wait_for_profiles(redis_url, prefix, len(PROFILES))
        big = Producer({"bootstrap.servers": kafka_brokers, "message.max.bytes": 2_000_000})
        big.produce(topics.receipts, not_json)
        assert big.flush(30) == 0
        produce(kafka_brokers, topics.receipts, [receipt("big", "C0", 100), *good_receipts("g")])
        notices = consume(kafka_brokers, topics.notices, expected=3)
        [letter] = consume(kafka_brokers, topics.dead_letters, expected=1)
        assert proc.poll() is None, "the flow stopped"
    finally:
        stop_flow(proc)
    assert caused_by(notices) == {"g0", "g1", "g2"}
    assert letter.value() == not_json[:MAX_NOTICE_BYTES]
    assert dict(letter.headers())["truncated"] == str(len(not_json)).encode()
    client = redis.Redis.from_url(redis_url)
    state = CustomerStore(client, prefix, 0).load(["c:C0"])["c:C0"]
    client.close()
    assert state.balance == 5 + 50  # the receipt was applied; only its notice was not sent
    assert any(b'"too_large"' in bytes(entry) for entry in state.log)


@settings(
    max_examples=2,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(st.data())
def test_extreme_valid_events_never_stop_the_live_flow(
    kafka_brokers: str, redis_url: str, data: st.DataObject
) -> None:
    import uuid

    from smartcomms.topics import ensure_topics

    tag = uuid.uuid4().hex[:8]
    topics = TopicNames(**{field: f"{field}-{tag}" for field in TopicNames.model_fields})
    ensure_topics(kafka_brokers, [*topics.inputs(), topics.notices, topics.dead_letters], 3, {})
    prefix = f"x{tag}"
    bad = [json.dumps(data.draw(extreme(n)), ensure_ascii=False).encode() for n in range(40)]
    proc = start_flow(env_for(kafka_brokers, redis_url, topics, prefix))
    try:
        produce(kafka_brokers, topics.customers, PROFILES)
        wait_for_profiles(redis_url, prefix, len(PROFILES))  # under load, 1 s was not always
        topic_of = {"receipt": topics.receipts, "return": topics.receipts}
        topic_of["customer"] = topics.customers
        for raw in bad:
            produce(kafka_brokers, topic_of.get(orjson.loads(raw)["type"], topics.clicks), [raw])
        produce(kafka_brokers, topics.receipts, good_receipts("g"))
        notices = consume(kafka_brokers, topics.notices, expected=3, settle_s=3)
        letters = consume(kafka_brokers, topics.dead_letters, expected=1, settle_s=1)
        assert proc.poll() is None, "the flow stopped"
    finally:
        stop_flow(proc)
    good = {n["caused_by"] for n in map(orjson.loads, (m.value() for m in notices))}
    assert {"g0", "g1", "g2"} <= good
    dead = {m.value() for m in letters}
    client = redis.Redis.from_url(redis_url)
    store = CustomerStore(client, prefix, 0)
    rules = Rules()  # the flow's: the built-ins
    for raw in bad:  # every event was dead-lettered, or applied (remembered by its id)
        event = parse_event(raw)
        if raw in dead or isinstance(event, Rejection) or not changes_state(event, rules):
            continue
        state = store.load([subject_of(event)])[subject_of(event)]
        assert dedup_keys(event)[0] in state.seen, raw[:200]
    client.close()

"""The dispatcher flow end to end: notices from Kafka through local providers, receipts
back on `deliveries`, state in Redis."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import orjson
import pytest
import redis

from smartcomms.config import TopicNames
from smartcomms.topics import ensure_topics
from state.customers import CustomerStore
from tests.events import receipt
from tests.gateway_server import Answer, Provider, provider
from tests.live import consume, env_for, produce, start_flow, stop_flow
from triggers.customer import CustomerState


@pytest.fixture
def providers() -> Iterator[dict[str, Provider]]:
    with ExitStack() as stack:
        made = {name: stack.enter_context(provider()) for name in ("viber", "push", "sms")}
        made["viber"].default = Answer(400, {"error": "not subscribed"})
        yield made


def notice(notice_id: str, customer_id: str, channels: list[str]) -> dict:
    return {
        "notice_id": notice_id,
        "trigger": "abandoned_cart",
        "kind": "marketing",
        "customer_id": customer_id,
        "channels": channels,
        "template": "abandoned_cart",
        "vars": {"first_name": "Анна", "items": 1, "total": 1990, "lines": []},
        "text": "…",
        "caused_by": "e1",
        "event_ts": "2026-11-22T10:00:00+03:00",
        "due_ts": "2026-11-22T11:00:00+03:00",
        "created_at": "2026-11-22T08:00:00+00:00",
    }


def test_cascades_through_local_gateways(
    kafka_brokers: str,
    redis_url: str,
    topics: TopicNames,
    prefix: str,
    providers: dict[str, Provider],
    tmp_path: Path,
) -> None:
    config = tmp_path / "dispatch.yaml"
    config.write_text(
        "gateways:\n"
        f"  viber: {{kind: webhook, base_url: '{providers['viber'].url}', retry_attempts: 1}}\n"
        f"  push: {{kind: webhook, base_url: '{providers['push'].url}', retry_attempts: 1}}\n"
        f"  sms: {{kind: sms, base_url: '{providers['sms'].url}', retry_attempts: 1}}\n"
        "dispatch: {timeout_minutes: {push: 0.05, viber: 60, sms: 60}}\n"
    )
    client = redis.Redis.from_url(redis_url)
    CustomerStore(client, prefix, 3600).save(
        {
            "c:C1": CustomerState(contacts={"viber_id": "v1", "phone": "+79990000001"}),
            "c:C2": CustomerState(contacts={"push_token": "tok", "phone": "+79990000002"}),
        }
    )
    env = env_for(kafka_brokers, redis_url, topics, prefix, SMARTCOMMS_CONFIG=str(config))
    proc = start_flow(env, flow="flows.dispatch:build_flow()")
    try:
        n1, n2 = notice("n1", "C1", ["viber", "sms"]), notice("n2", "C2", ["push", "sms"])
        produce(kafka_brokers, topics.notices, [n1, n2, n1])  # n1 twice: sent once
        receipts = consume(kafka_brokers, topics.deliveries, expected=4, settle_s=3)
        produce(
            kafka_brokers,
            topics.deliveries,
            [
                {
                    "event_id": "gw-1",
                    "type": "delivery",
                    "ts": "2026-11-22T10:00:05+00:00",
                    "notice_id": "n1",
                    "customer_id": "C1",
                    "channel": "sms",
                    "status": "delivered",
                }
            ],
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            doc = client.get(f"{prefix}:d:{{C1}}:n1")
            if doc and orjson.loads(doc)["status"] == "done":
                break
            time.sleep(0.2)
    finally:
        stop_flow(proc)
    seen = sorted(
        (
            orjson.loads(m.value())["notice_id"],
            orjson.loads(m.value())["channel"],
            orjson.loads(m.value())["status"],
        )
        for m in receipts
    )
    assert seen == [
        ("n1", "sms", "sent"),
        ("n1", "viber", "failed"),
        ("n2", "push", "sent"),
        ("n2", "sms", "sent"),
    ]  # n2: push timed out
    assert len(providers["viber"].requests) == 1
    assert sorted(r.json()["to"] for r in providers["sms"].requests) == [
        "+79990000001",
        "+79990000002",
    ]
    assert orjson.loads(client.get(f"{prefix}:d:{{C1}}:n1"))["status"] == "done"
    attempts = orjson.loads(client.get(f"{prefix}:d:{{C2}}:n2"))["attempts"]
    assert [a[:2] for a in attempts] == [["push", "timed_out"], ["sms", "sent"]]
    client.close()


def test_cascade_through_queue_topics_and_a_sender(
    kafka_brokers: str,
    redis_url: str,
    topics: TopicNames,
    prefix: str,
    providers: dict[str, Provider],
    tmp_path: Path,
) -> None:
    """The split of k8s/: the dispatcher queues on per-channel topics, a sender replica sends
    through the real gateways; its `failed` receipt moves the cascade to the next channel."""
    queues = {channel: f"send-{channel}-{prefix}" for channel in ("viber", "sms")}
    ensure_topics(kafka_brokers, list(queues.values()), 2, {})
    dispatch_config = tmp_path / "dispatch.yaml"
    dispatch_config.write_text(
        "gateways:\n" + "".join(f"  {c}: {{kind: kafka, topic: {t}}}\n" for c, t in queues.items())
    )
    sender_config = tmp_path / "sender.yaml"
    sender_config.write_text(
        "gateways:\n"
        f"  viber: {{kind: webhook, base_url: '{providers['viber'].url}', retry_attempts: 1}}\n"
        f"  sms: {{kind: sms, base_url: '{providers['sms'].url}', retry_attempts: 1}}\n"
        f"sender: {{topics: {orjson.dumps(queues).decode()}, group: g-{prefix}}}\n"
    )
    client = redis.Redis.from_url(redis_url)
    CustomerStore(client, prefix, 3600).save(
        {"c:C1": CustomerState(contacts={"viber_id": "v1", "phone": "+79990000001"})}
    )
    env = env_for(kafka_brokers, redis_url, topics, prefix)
    dispatcher = start_flow(
        {**env, "SMARTCOMMS_CONFIG": str(dispatch_config)}, flow="flows.dispatch:build_flow()"
    )
    sender = subprocess.Popen(
        [sys.executable, "-m", "smartcomms.cli", "send", "--config", str(sender_config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        produce(kafka_brokers, topics.notices, [notice("n1", "C1", ["viber", "sms"])])
        deadline = time.monotonic() + 60
        while not providers["sms"].requests:  # viber refuses (400): the cascade goes on
            assert time.monotonic() < deadline, "the cascade never reached sms"
            time.sleep(0.2)
        time.sleep(2)
    finally:
        stop_flow(dispatcher, sender)
    assert [r.json()["channel"] for r in providers["viber"].requests] == ["viber"]
    assert [r.json()["to"] for r in providers["sms"].requests] == ["+79990000001"]
    attempts = orjson.loads(client.get(f"{prefix}:d:{{C1}}:n1"))["attempts"]
    assert [a[:2] for a in attempts] == [["viber", "failed"], ["sms", "sent"]]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"channels": "sms"}, "channels: Input should be a valid list"),
        ({"channels": ["sms", "pigeon"]}, "channels.1: Input should be"),
        ({"channels": []}, "channels: List should have at least 1 item"),
        ({"vars": None}, "vars: Input should be a valid dictionary"),
        ({"notice_id": 7}, "notice_id: Input should be a valid string"),
    ],
)
def test_a_notice_the_dispatcher_cannot_walk_is_a_dead_letter(change: dict, expected: str) -> None:
    from flows.dispatch import parse_inputs
    from flows.inputs import DeadLetter, RawInput

    notice = {"notice_id": "n", "customer_id": "C1", "channels": ["sms"], "template": "t"}
    raw = orjson.dumps({**notice, "vars": {}, **change})
    letter = parse_inputs(RawInput(raw, "notices:0@7"), "notices")
    assert isinstance(letter, DeadLetter) and letter.raw == raw
    assert letter.kind == "not_a_notice" and expected in letter.reason, letter.reason


@pytest.mark.parametrize(
    "raw",
    [
        b"{oops",  # not JSON
        orjson.dumps({"type": "delivery", "event_id": "d1"}),  # a required field missing
        orjson.dumps(receipt("r1", "C1", 100)),  # valid, but no delivery receipt
    ],
)
def test_the_dispatcher_leaves_what_is_no_delivery_receipt_to_the_live_flow(raw: bytes) -> None:
    """Both read `deliveries`: one verdict per message (applied, or one dead letter)."""
    from flows.dispatch import parse_inputs
    from flows.inputs import RawInput

    assert parse_inputs(RawInput(raw, "deliveries:0@7"), "notices") is None

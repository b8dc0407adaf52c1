"""`smartcomms send`: replicas in one consumer group send each queued message once, even
when the same message is queued twice or a whole topic is read again."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import yaml

from channels.gateways.base import Message
from channels.templates import Rendered
from smartcomms.topics import ensure_topics
from tests.gateway_server import Provider, provider
from tests.live import consume, produce, stop_flow


@pytest.fixture
def server() -> Iterator[Provider]:
    with provider() as state:
        yield state


def queued(n: int) -> dict:
    message = Message(f"n{n}", f"C{n % 7}", "sms", f"+7999{n:07d}", Rendered(f"Текст {n}"))
    return dict(message.as_json())


def start_sender(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "smartcomms.cli", "send", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def write_config(
    path: Path, kafka_brokers: str, redis_url: str, server: Provider, tag: str, group: str
) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "kafka": {
                    "brokers": kafka_brokers,
                    "topics": {"deliveries": f"deliveries-{tag}", "dead_letters": f"dl-{tag}"},
                },
                "redis": {"url": redis_url, "prefix": f"s{tag}"},
                "gateways": {"sms": {"kind": "sms", "base_url": server.url}},
                "sender": {"topics": {"sms": f"send-sms-{tag}"}, "group": group},
                "observability": {"port": 0},
            }
        )
    )
    return path


def wait_for_requests(server: Provider, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(server.requests) < count:
        assert time.monotonic() < deadline, f"{len(server.requests)} of {count} sent"
        time.sleep(0.1)


def test_two_replicas_send_each_message_once(
    kafka_brokers: str, redis_url: str, server: Provider, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    ensure_topics(kafka_brokers, [f"send-sms-{tag}", f"deliveries-{tag}", f"dl-{tag}"], 3, {})
    config = write_config(tmp_path / "a.yaml", kafka_brokers, redis_url, server, tag, "g1")
    messages = [queued(n) for n in range(120)]
    produce(kafka_brokers, f"send-sms-{tag}", [*messages, *messages[:20], b"{oops"])
    replicas = [start_sender(config), start_sender(config)]
    try:
        receipts = consume(kafka_brokers, f"deliveries-{tag}", expected=120)
        [letter] = consume(kafka_brokers, f"dl-{tag}", expected=1)
    finally:
        stop_flow(*replicas)
    keys = [r.headers["Idempotency-Key"] for r in server.requests]
    assert sorted(keys) == sorted(f"n{n}:sms" for n in range(120))  # the 20 duplicates: no
    statuses = {orjson.loads(r.value())["event_id"] for r in receipts}
    assert statuses == {f"n{n}:sms:sent" for n in range(120)}
    assert letter.value() == b"{oops"

    # a new group reads the whole topic again (lost offsets): the claims make it a no-op
    again = start_sender(
        write_config(tmp_path / "b.yaml", kafka_brokers, redis_url, server, tag, "g2")
    )
    time.sleep(5)
    stop_flow(again)
    assert len(server.requests) == 120

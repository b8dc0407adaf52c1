"""The live flow end to end: real broker, real Redis, Bytewax's own runner in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import orjson
import pytest

from smartcomms.config import Settings, TopicNames
from tests.events import customer, receipt
from tests.live import consume, produce, wait_for_profiles


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


@pytest.mark.parametrize("flow", ["flows.live:flow", "flows.dispatch:build_flow()"])
def test_a_flow_whose_redis_is_gone_stops_with_one_line(
    kafka_brokers: str, topics: TopicNames, flow: str
) -> None:
    """Not a panic of Bytewax's runtime and three tracebacks (~100 lines): one error line
    naming Redis, exit 1, and the supervisor restarts the process (flows.fatal)."""
    from tests.live import env_for, start_flow

    dead = "redis://127.0.0.1:1/0"
    env = env_for(kafka_brokers, dead, topics, "gone", SMARTCOMMS_REDIS__RETRY_FOR_S="1")
    env.pop("SMARTCOMMS_TRACEBACK", None)
    proc = start_flow(env, flow=flow)  # clock ticks run the engine without any event
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err[-2000:]
    assert b"Redis is gone; stopping" in err and b"ConnectionError" in err, err[-2000:]
    assert b"Traceback" not in err and b"panicked" not in err, err[-2000:]


@pytest.mark.parametrize("flow", ["flows.live:flow", "flows.dispatch:build_flow()"])
def test_a_flow_whose_metrics_port_is_taken_stops_with_one_line(
    kafka_brokers: str, redis_url: str, topics: TopicNames, flow: str
) -> None:
    """The observability port taken (9100 is node_exporter's too): one line naming it,
    exit 2 as for a bad setting; not Bytewax's panic and a traceback."""
    from tests.live import env_for, start_flow

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = env_for(
            kafka_brokers, redis_url, topics, "taken", SMARTCOMMS_OBSERVABILITY__PORT=port
        )
        env.pop("SMARTCOMMS_TRACEBACK", None)
        proc = start_flow(env, flow=flow)  # clock ticks run the engine without any event
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err[-2000:]
    assert b"cannot listen; stopping" in err and f"observability.port {port}".encode() in err
    assert b"Traceback" not in err and b"panicked" not in err, err[-2000:]

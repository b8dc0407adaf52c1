"""`smartcomms up` and `smartcomms simulate` as an operator runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import orjson
import redis
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from smartcomms.config import TopicNames
from smartcomms.topics import assignments, ensure_topics
from tests.events import customer, receipt
from tests.live import consume, env_for, produce, stop_flow, wait_for_profiles

SMARTCOMMS = [sys.executable, "-m", "smartcomms.cli"]


def test_up_starts_redis_and_broker_with_the_topics() -> None:
    proc = subprocess.Popen(
        [*SMARTCOMMS, "up", "--partitions", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(2))
        with redis.Redis.from_url(printed["SMARTCOMMS_REDIS__URL"]) as client:
            assert client.ping()
        admin = AdminClient({"bootstrap.servers": printed["SMARTCOMMS_KAFKA__BROKERS"]})
        topics = admin.list_topics(timeout=10).topics
        for name in ("receipts", "clicks", "customers", "deliveries", "notices", "dead-letters"):
            assert len(topics[name].partitions) == 2
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
        assert proc.stdout is not None
        proc.stdout.close()


def test_simulate_produces_the_requested_mix(kafka_brokers: str) -> None:
    tag = uuid.uuid4().hex[:6]
    names = {role: f"{role}-{tag}" for role in ("receipts", "clicks", "customers")}
    ensure_topics(kafka_brokers, names.values(), 2, {})
    env_overrides = {
        f"SMARTCOMMS_KAFKA__TOPICS__{role.upper()}": name for role, name in names.items()
    }
    result = subprocess.run(
        [
            *SMARTCOMMS,
            "simulate",
            "--brokers",
            kafka_brokers,
            "--count",
            "3000",
            "--customers",
            "1000",
            "--bad-rate",
            "0",
        ],
        env={**os.environ, **env_overrides},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    consumer = Consumer({"bootstrap.servers": kafka_brokers, "group.id": "t"})
    consumer.assign(assignments(kafka_brokers, names.values()))
    counts = dict.fromkeys(names.values(), 0)
    while sum(counts.values()) < 3000:
        batch = consumer.consume(1000, 5)
        assert batch, f"only {counts} arrived"
        for msg in batch:
            counts[msg.topic()] += 1
    consumer.close()
    assert counts[names["customers"]] >= 1000  # every profile comes first
    assert counts[names["receipts"]] > 100 and counts[names["clicks"]] > 1000


def test_run_starts_the_live_flow(kafka_brokers: str, redis_url: str) -> None:
    tag = uuid.uuid4().hex[:6]
    topics = TopicNames(**{field: f"{field}-{tag}" for field in TopicNames.model_fields})
    ensure_topics(kafka_brokers, [*topics.inputs(), topics.notices, topics.dead_letters], 2, {})
    env = env_for(kafka_brokers, redis_url, topics, f"run{tag}")
    del env["SMARTCOMMS_KAFKA__BROKERS"], env["SMARTCOMMS_REDIS__URL"]  # given as options
    proc = subprocess.Popen(
        [*SMARTCOMMS, "run", "--brokers", kafka_brokers, "--redis-url", redis_url, "--", "-w", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        produce(kafka_brokers, topics.customers, [customer("C1", contacts={"phone": "+7"})])
        wait_for_profiles(redis_url, f"run{tag}", 1)
        produce(kafka_brokers, topics.receipts, [receipt("r1", "C1", 1000)])
        [notice] = consume(kafka_brokers, topics.notices, expected=1)
    finally:
        stop_flow(proc)
    assert orjson.loads(notice.value())["caused_by"] == "r1"


def test_demo_shows_notices_and_stops_cleanly_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [*SMARTCOMMS, "demo", "--rate", "3000", "--customers", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen: list[str] = []

    def shown(text: str) -> bool:
        return any(text in line for line in seen)

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (
        shown("начислено") and shown("dead letters") and shown("cascade: first channel")
    ):
        seen.append(proc.stdout.readline())
    [console] = {word for line in seen for word in line.split() if word.startswith("http://")}
    with urllib.request.urlopen(console + "delivery", timeout=10) as page:  # the console runs
        assert page.status == 200 and b"Cascade outcomes" in page.read()
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, rest
    assert shown("начислено"), "".join(seen)  # a notice text
    assert shown("bonus_earned"), "".join(seen)  # the notices by scenario and channel
    assert "summary" in rest and "cascade: first channel" in rest, rest  # the final screen


def test_profile_shows_rolling_aggregates(redis_client: redis.Redis, redis_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from channels.policy import Policy
    from flows.clock import WallClock
    from flows.processor import BatchProcessor
    from flows.stats import Stats
    from smartcomms.config import CHANNELS
    from state.customers import CustomerStore
    from state.timers import TimerIndex
    from triggers.engine import Rules
    from triggers.events import parse_event

    now = datetime.now(UTC)
    events = [customer("C1", first_name="Анна", contacts={"phone": "+7"})] + [
        receipt(f"r{days}", "C1", 100.0 * days, ts=(now - timedelta(days=days)).isoformat())
        for days in (200, 60, 10, 1)
    ]
    processor = BatchProcessor(
        CustomerStore(redis_client, "prof", 3600),
        TimerIndex(redis_client, "prof"),
        Rules(),
        Policy(CHANNELS),
        86_400.0,
        WallClock(),
        Stats(),
    )
    processor.process("0", [parse_event(orjson.dumps(e)) for e in events])  # type: ignore[misc]
    env = {**os.environ, "SMARTCOMMS_REDIS__PREFIX": "prof"}
    result = subprocess.run(
        [*SMARTCOMMS, "profile", "C1", "--redis-url", redis_url],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    view = orjson.loads(result.stdout)
    assert view["purchases"] == {
        "30d": {"count": 2, "spend": 1100.0},
        "90d": {"count": 3, "spend": 7100.0},
        "365d": {"count": 4, "spend": 27100.0},
    }
    assert view["balance"] == 1000 + 300 + 50 + 5  # 5 % of each total
    assert view["channels"] == ["sms"] and "win_back" in view["timers"]
    missing = subprocess.run(
        [*SMARTCOMMS, "profile", "C404", "--redis-url", redis_url],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1 and b"no customer" in missing.stderr

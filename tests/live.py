"""Helpers for tests of the live flow: run it as Bytewax runs it, feed and read Kafka."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import orjson
import redis
from confluent_kafka import Consumer, Producer

from smartcomms.config import TopicNames
from smartcomms.topics import assignments

TIMEOUT_S = 60


def env_for(
    brokers: str, redis_url: str, topics: TopicNames, prefix: str, **settings: str
) -> dict[str, str]:
    """Environment of a flow process; ``settings`` are extra SMARTCOMMS_* variables."""
    env = {
        **os.environ,
        "SMARTCOMMS_KAFKA__BROKERS": brokers,
        "SMARTCOMMS_REDIS__URL": redis_url,
        "SMARTCOMMS_REDIS__PREFIX": prefix,
        "SMARTCOMMS_ENGINE__SHARDS": "4",
        "SMARTCOMMS_OBSERVABILITY__PORT": "0",  # flows of one test would share a port
        **settings,
    }
    for field in TopicNames.model_fields:
        env[f"SMARTCOMMS_KAFKA__TOPICS__{field.upper()}"] = getattr(topics, field)
    return env


def start_flow(
    env: dict[str, str], bytewax_args: Sequence[str] = (), flow: str = "flows.live:flow"
) -> subprocess.Popen[bytes]:
    """``python -m bytewax.run <flow>`` with the given options."""
    return subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", flow, *bytewax_args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def recovery_args(directory: Path, partitions: int = 2) -> list[str]:
    """bytewax.run options for recovery in a fresh ``directory``: snapshot every second,
    no backup interval (a resume starts from the last snapshot)."""
    directory.mkdir()
    subprocess.run(
        [sys.executable, "-m", "bytewax.recovery", str(directory), str(partitions)], check=True
    )
    return ["-r", str(directory), "-s", "1", "-b", "0"]


def stop_flow(*procs: subprocess.Popen[bytes]) -> None:
    """SIGTERM flow processes (all at once: the processes of a cluster end together); each
    must end cleanly (exit 0, no exception on the way)."""
    for proc in procs:
        proc.terminate()
    try:
        outcomes = [proc.communicate(timeout=30)[1] for proc in procs]
    finally:
        for proc in procs:  # never leave a process behind, whatever went wrong
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for proc, stderr in zip(procs, outcomes, strict=True):
        assert b"Traceback" not in stderr, stderr.decode()
        assert proc.returncode == 0, stderr.decode()


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


def wait_for_empty_outbox(redis_url: str, prefix: str, timeout_s: float = 10.0) -> None:
    """Wait until every shard's outbox is empty: Kafka confirmed all (state.outbox)."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout_s
    while left := sum(client.zcard(key) for key in client.scan_iter(f"{prefix}:outbox:*")):
        assert time.monotonic() < deadline, f"{left} entries left in the outbox"
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

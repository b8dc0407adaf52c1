"""The live flow's Kafka input: settings reach the consumers, not the admin client."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from flows.kafka_io import input_source
from smartcomms.config import KafkaSettings
from smartcomms.topics import ensure_topics


def test_input_polls_at_the_configured_wait_and_lists_partitions_without_it(
    kafka_brokers: str,
) -> None:
    topic = f"input-{uuid.uuid4().hex[:6]}"
    ensure_topics(kafka_brokers, [topic], 2, {})
    kafka = KafkaSettings(
        brokers=kafka_brokers, fetch_wait_max_ms=250, client_config={"client.id": "probe"}
    )
    source = input_source(kafka, [topic], stop_at_end=True)

    consumer_config = source._add_config  # what Bytewax gives every partition's consumer
    assert consumer_config["fetch.wait.max.ms"] == "250"
    assert consumer_config["client.id"] == "probe"  # client settings still win
    assert sorted(source.list_parts()) == [f"0-{topic}", f"1-{topic}"]
    assert source._add_config is consumer_config  # the listing put it back


def test_a_sink_whose_confirmation_finds_redis_gone_stops_with_one_line(
    kafka_brokers: str,
) -> None:
    """The sinks' hooks confirm in Redis (the outbox, the dead-letter tally): a lost Redis
    there ends the flow process as in the engine's step (flows.fatal), not in a panic."""
    topic = f"confirming-{uuid.uuid4().hex[:6]}"
    ensure_topics(kafka_brokers, [topic], 1, {})
    env = {**os.environ, "CONFIRMING_BROKERS": kafka_brokers, "CONFIRMING_TOPIC": topic}
    env.pop("SMARTCOMMS_TRACEBACK", None)
    done = subprocess.run(
        [sys.executable, "-m", "bytewax.run", "tests.flows.confirming_flow:flow"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    err = done.stdout + done.stderr  # unconfigured, structlog prints to stdout
    assert done.returncode == 1, err[-2000:]
    assert b"Redis is gone; stopping" in err and b"sink " + topic.encode() in err, err[-2000:]
    assert b"Traceback" not in err and b"panicked" not in err, err[-2000:]

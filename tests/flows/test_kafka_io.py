"""The live flow's Kafka input: settings reach the consumers, not the admin client."""

from __future__ import annotations

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

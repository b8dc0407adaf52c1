"""Creating the product's Kafka topics (idempotent)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from smartcomms.kafka import client_config as kafka_client_config


def ensure_topics(
    brokers: str, names: Iterable[str], partitions: int, client_config: Mapping[str, str]
) -> None:
    """Create the missing topics; existing ones are left as they are."""
    admin = AdminClient(kafka_client_config(brokers, client_config))
    existing = set(admin.list_topics(timeout=10).topics)
    missing = [NewTopic(n, partitions, 1) for n in names if n not in existing]
    if not missing:
        return
    for name, future in admin.create_topics(missing, operation_timeout=10).items():
        try:
            future.result()
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise RuntimeError(f"cannot create topic {name!r}: {exc}") from exc


def assignments(brokers: str, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of ``topics`` from the beginning (for consumers without a group)."""
    admin = AdminClient(kafka_client_config(brokers, {}))
    metadata = admin.list_topics(timeout=10).topics
    return [
        TopicPartition(topic, part, OFFSET_BEGINNING)
        for topic in topics
        for part in sorted(metadata[topic].partitions)
    ]

"""Kafka producer settings and producing that waits when librdkafka's queue is full."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from confluent_kafka import KafkaError, Message, Producer

Headers = list[tuple[str, str | bytes | None]]


def producer_config(brokers: str, extra: Mapping[str, str]) -> dict[str, object]:
    """Settings of every producer of ours: idempotent, acknowledged by all replicas."""
    return {
        "bootstrap.servers": brokers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.num.messages": 10_000,
        **extra,
    }


def produce_waiting(
    producer: Producer,
    topic: str,
    value: bytes,
    key: bytes | None = None,
    headers: Headers | None = None,
    on_delivery: Callable[[KafkaError | None, Message], None] | None = None,
) -> None:
    """Produce one message; when the local queue is full, let librdkafka send and retry."""
    while True:
        try:
            producer.produce(topic, value, key, headers=headers, on_delivery=on_delivery)
            return
        except BufferError:
            producer.poll(0.05)

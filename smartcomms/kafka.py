"""Kafka client settings, librdkafka's logging, and producing that waits when librdkafka's
queue is full."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient

from smartcomms.logs import Throttled

LOG_EVERY_S = 30.0

Headers = list[tuple[str, str | bytes | None]]


class KafkaUnavailable(Exception):
    """The brokers did not answer (a one-shot command reports it and exits)."""


def check_reachable(brokers: str, extra: Mapping[str, str], timeout_s: float = 5.0) -> None:
    """`KafkaUnavailable` unless the brokers answer a metadata request within ``timeout_s``."""
    config: dict[str, Any] = {"bootstrap.servers": brokers, **extra, "logger": _Silent()}
    admin = AdminClient(config)
    try:
        admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise KafkaUnavailable(
            f"Kafka at {brokers} did not answer within {timeout_s:g} s: "
            f"{exc.args[0].str() if exc.args else exc}"
        ) from None


class KafkaLog:
    """librdkafka's log lines (the ``logger`` of a client), through structlog and each kind
    at most once per ``LOG_EVERY_S``: a broker that is down makes every client log a
    connection failure several times a second, forever."""

    def __init__(self, interval_s: float = LOG_EVERY_S) -> None:
        self._throttled = Throttled(structlog.get_logger("kafka"), interval_s)

    def log(self, level: int, fmt: str, *args: Any) -> None:
        """librdkafka's call: ``fmt % (facility, client name, message)``."""
        facility = str(args[0]) if args else "?"
        message = str(args[-1]) if args else fmt
        if level >= logging.WARNING:
            self._throttled.warning("kafka client", key=facility, facility=facility, said=message)


class _Silent:
    def log(self, level: int, fmt: str, *args: Any) -> None:
        """Says nothing: the caller reports the outcome itself."""


KAFKA_LOG = KafkaLog()
"""the one logger of this process's Kafka clients"""


def client_config(brokers: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """Settings every Kafka client of ours shares: brokers, librdkafka's log, ``extra``."""
    return {"bootstrap.servers": brokers, "logger": KAFKA_LOG, **extra}


def producer_config(brokers: str, extra: Mapping[str, str]) -> dict[str, object]:
    """Settings of every producer of ours: idempotent, acknowledged by all replicas."""
    return client_config(
        brokers,
        {
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "batch.num.messages": 10_000,
            **extra,
        },
    )


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

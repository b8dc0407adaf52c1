"""`smartcomms send`: the consumer loop around `channels.sender.Sender`.

Poll a batch from the per-channel topics (consumer group ``sender.group``), send it,
produce the receipts to ``deliveries`` and wait for the broker, then commit the offsets:
a crash anywhere before the commit redelivers the batch, and the claims make the resend
a no-op. SIGTERM finishes the batch in hand and leaves the group cleanly.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import orjson
import structlog
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka import Message as KafkaMessage

from channels.gateways.factory import build_gateway
from channels.sender import Sender
from flows.inputs import DeadLetter
from flows.kafka_io import encode_dead_letter
from smartcomms.config import ConfigError, Settings
from smartcomms.kafka import client_config, produce_waiting, producer_config
from smartcomms.observability import BATCH_SIZE, HEALTH, serve
from state.connection import connect

QUEUED_FIELDS = ("notice_id", "customer_id", "channel", "address", "text")


def run_sender(settings: Settings, stop: threading.Event | None = None) -> None:
    """Run until SIGTERM (or ``stop``)."""
    config, kafka = settings.sender, settings.kafka
    if not config.topics or not settings.redis.url:
        raise ConfigError("send needs sender.topics and redis.url")
    stop = stop or _stop_on_sigterm()
    gateways = {
        channel: build_gateway(
            channel, settings.gateways[channel], kafka, concurrency=settings.dispatch.concurrency
        )
        for channel in config.topics
        if channel in settings.gateways
    }
    client = connect(settings.redis.url, settings.redis.retry_for_s)
    sender = Sender(client, settings.redis.prefix, gateways)
    consumer = Consumer(
        client_config(
            kafka.brokers,
            {
                "group.id": config.group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                **kafka.client_config,
            },
        )
    )
    producer = Producer(producer_config(kafka.brokers, kafka.client_config))
    if settings.observability.port:
        HEALTH.probes = {"redis": client.ping, "kafka": lambda: consumer.list_topics(timeout=2)}
        serve(settings.observability.port, HEALTH, settings.observability.host)
    consumer.subscribe(list(config.topics.values()))
    structlog.get_logger().info("sender", topics=config.topics, group=config.group)
    try:
        while not stop.is_set():
            batch = consumer.consume(config.batch_size, 0.5)
            if batch:
                _send_batch(batch, sender, producer, settings)
                consumer.commit(asynchronous=False)
                BATCH_SIZE.labels("send").observe(len(batch))
            HEALTH.beat()
    finally:
        consumer.close()
        sender.close()
        client.close()


def _send_batch(
    batch: list[KafkaMessage], sender: Sender, producer: Producer, settings: Settings
) -> None:
    topics = settings.kafka.topics
    queued: list[dict[str, Any]] = []
    failures: list[KafkaError] = []

    def delivered(err: KafkaError | None, _msg: KafkaMessage) -> None:
        if err is not None:
            failures.append(err)

    for message in batch:
        if message.error():
            continue  # partition EOF and the like: nothing to send
        reason = _unreadable(message.value())
        if reason:
            letter = DeadLetter(message.value() or b"", message.topic() or "", reason, "unreadable")
            key, value, headers = encode_dead_letter(letter)  # cut to what Kafka takes
            produce_waiting(producer, topics.dead_letters, value, key, headers)
            continue
        queued.append(orjson.loads(message.value() or b""))
    for receipt in sender.process(queued):
        value = orjson.dumps(receipt)
        key = receipt["customer_id"].encode()
        produce_waiting(producer, topics.deliveries, value, key, on_delivery=delivered)
    if producer.flush(30) or failures:  # not acknowledged: no commit, the batch comes back
        raise RuntimeError(f"receipts not acknowledged by Kafka: {failures[:3]}")


def _unreadable(value: bytes | None) -> str | None:
    try:
        doc = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        return f"not JSON: {exc}"
    missing = [f for f in QUEUED_FIELDS if not isinstance(doc, dict) or f not in doc]
    return f"not a queued message: missing {missing}" if missing else None


def _stop_on_sigterm() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    return stop

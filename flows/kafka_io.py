"""Kafka producing that cannot lose a write silently.

Bytewax's own KafkaSink has no delivery callback and idempotence off; this sink uses an
idempotent producer (acks=all) and fails the batch when the broker reports any failure,
so a lost write turns into a crash and a replay from the last snapshot, not a gap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from bytewax.connectors.kafka import KafkaError as SourceError
from bytewax.connectors.kafka import KafkaSource, KafkaSourceMessage
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import KafkaError, Message, Producer

from flows.fatal import stop_if_redis_is_gone
from flows.inputs import DeadLetter, RawInput
from flows.shutdown import StoppableKafkaSource, stop_on_sigterm
from smartcomms.config import KafkaSettings
from smartcomms.kafka import KAFKA_LOG, Headers, produce_waiting, producer_config
from triggers.notices import MAX_NOTICE_BYTES

X = TypeVar("X")
KafkaRecord = tuple[bytes | None, bytes, Headers | None]
"""(key, value, headers)"""


class DeliveryFailed(RuntimeError):
    """The broker did not accept some messages of a batch."""


class _ProducerPartition(StatelessSinkPartition[X], Generic[X]):
    def __init__(
        self,
        producer: Producer,
        topic: str,
        encode: Callable[[X], KafkaRecord],
        on_written: Callable[[list[X]], None] | None,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._encode = encode
        self._on_written = on_written
        self._errors: list[KafkaError] = []

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._errors.append(err)

    def write_batch(self, items: list[X]) -> None:
        for item in items:
            key, value, headers = self._encode(item)
            produce_waiting(
                self._producer,
                self._topic,
                value,
                key,
                headers=headers,
                on_delivery=self._on_delivery,
            )
        remaining = self._producer.flush(60)
        if remaining or self._errors:
            first = self._errors[0] if self._errors else f"{remaining} still queued after 60 s"
            self._errors.clear()
            raise DeliveryFailed(f"writing to Kafka topic {self._topic!r} failed: {first}")
        on_written = self._on_written
        if on_written is not None:  # the hooks confirm in Redis (the outbox, the tallies)
            stop_if_redis_is_gone(f"sink {self._topic}", lambda: on_written(items))

    def close(self) -> None:
        self._producer.flush(30)


class ReliableKafkaSink(DynamicSink[X]):
    """Produces each item (encoded to key, value, headers) to one topic, reliably.

    ``on_written(items)`` runs after the broker acknowledged the whole batch.
    """

    def __init__(
        self,
        brokers: str,
        topic: str,
        encode: Callable[[X], KafkaRecord],
        client_config: Mapping[str, str] | None = None,
        on_written: Callable[[list[X]], None] | None = None,
    ) -> None:
        self._brokers = brokers
        self._topic = topic
        self._encode = encode
        self._client_config = dict(client_config or {})
        self._on_written = on_written

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ProducerPartition[X]:
        producer = Producer(producer_config(self._brokers, self._client_config))
        return _ProducerPartition(producer, self._topic, self._encode, self._on_written)


KafkaItem = KafkaSourceMessage[bytes | None, bytes | None] | SourceError[bytes | None, bytes | None]


def read_kafka(item: KafkaItem) -> RawInput | DeadLetter:
    """A consumed message as raw input; consumer errors become dead letters."""
    if isinstance(item, SourceError):
        msg = item.msg
        return DeadLetter(
            msg.value or b"", f"{msg.topic}:{msg.partition}", f"kafka: {item.err}", "kafka_error"
        )
    origin = f"{item.topic}:{item.partition}@{item.offset}"
    if item.value is None:
        return DeadLetter(b"", origin, "empty message", "empty")
    return RawInput(item.value, origin, time.time())


def encode_dead_letter(letter: DeadLetter) -> KafkaRecord:
    """The original bytes, unchanged; reason and origin travel as headers. Bytes longer
    than a notice may be (`MAX_NOTICE_BYTES`: what fits in a Kafka message with its
    headers) are cut to that length, with their whole length in a header ``truncated``:
    an input that just fit its topic would otherwise fail the sink on every retry."""
    headers: Headers = [("reason", letter.reason.encode()), ("origin", letter.origin.encode())]
    raw = letter.raw
    if len(raw) > MAX_NOTICE_BYTES:
        headers.append(("truncated", str(len(raw)).encode()))
        raw = raw[:MAX_NOTICE_BYTES]
    return None, raw, headers


def counting_dead_letters(count: Callable[[str], object]) -> Callable[[DeadLetter], KafkaRecord]:
    """`encode_dead_letter` that also counts each letter by its kind (for metrics)."""

    def encode(letter: DeadLetter) -> KafkaRecord:
        count(letter.kind)
        return encode_dead_letter(letter)

    return encode


def input_source(
    kafka: KafkaSettings, topics: list[str], stop_at_end: bool, snapshot_lag_s: float = 0.0
) -> KafkaSource:
    """Bytewax's KafkaSource over ``topics``: consumer errors come through as items (they
    go to dead letters), ``stop_at_end`` ends at the topics' end instead of tailing,
    SIGTERM ends it (see flows.shutdown), and its snapshots stay ``snapshot_lag_s`` behind
    (flows.resume)."""
    stop_on_sigterm()
    return StoppableKafkaSource(
        [kafka.brokers],
        topics,
        snapshot_lag_s=snapshot_lag_s,
        tail=not stop_at_end,
        add_config={
            "fetch.wait.max.ms": str(kafka.fetch_wait_max_ms),
            "logger": KAFKA_LOG,
            **kafka.client_config,
        },
        batch_size=kafka.consumer_batch_size,
        raise_on_errors=False,
    )

"""For retailers whose own gateways read Kafka: each channel's messages go to a topic."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from confluent_kafka import KafkaError, Producer
from confluent_kafka import Message as KafkaMessage

from channels.gateways.base import Message, SendResult
from smartcomms.kafka import produce_waiting, producer_config


class KafkaGateway:
    """Produces the message as JSON, keyed by customer, with an ``idempotency-key`` header;
    sent once the broker acknowledged it."""

    def __init__(
        self, brokers: str, topic: str, client_config: Mapping[str, str], timeout_s: float = 10.0
    ) -> None:
        self._producer = Producer(producer_config(brokers, client_config))
        self._topic = topic
        self._timeout_s = timeout_s

    def send(self, message: Message) -> SendResult:
        value = orjson.dumps(message.as_json())
        outcome: list[KafkaError | None] = []

        def delivered(err: KafkaError | None, _msg: KafkaMessage) -> None:
            outcome.append(err)

        produce_waiting(
            self._producer,
            self._topic,
            value,
            message.customer_id.encode(),
            headers=[("idempotency-key", message.idempotency_key.encode())],
            on_delivery=delivered,
        )
        self._producer.flush(self._timeout_s)
        if not outcome:
            return SendResult("retry", error=f"no acknowledgement within {self._timeout_s} s")
        if outcome[0] is not None:
            return SendResult("retry", error=str(outcome[0]))
        return SendResult("sent")

    def close(self) -> None:
        self._producer.flush(self._timeout_s)

"""For retailers whose own gateways read Kafka: each channel's messages go to a topic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer
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
        """Produce one message and wait for the broker; see `send_many`."""
        return self.send_many([message])[0]

    def send_many(self, messages: Sequence[Message]) -> list[SendResult]:
        """Produce all, then wait (up to the timeout) for the broker to acknowledge them."""
        acknowledged: dict[int, KafkaError | None] = {}
        refused: dict[int, str] = {}
        for index, message in enumerate(messages):
            try:
                produce_waiting(
                    self._producer,
                    self._topic,
                    orjson.dumps(message.as_json()),
                    message.customer_id.encode(),
                    headers=[("idempotency-key", message.idempotency_key.encode())],
                    on_delivery=partial(_record, acknowledged, index),
                )
            except KafkaException as exc:  # too large for the topic, say: this one fails
                refused[index] = str(exc)
        self._producer.flush(self._timeout_s)
        results = []
        for index in range(len(messages)):
            if index in refused:
                results.append(SendResult("failed", error=refused[index]))
            elif index not in acknowledged:
                error = f"no acknowledgement within {self._timeout_s} s"
                results.append(SendResult("retry", error=error))
            elif (err := acknowledged[index]) is not None:
                results.append(SendResult("retry", error=str(err)))
            else:
                results.append(SendResult("sent"))
        return results

    def close(self) -> None:
        self._producer.flush(self._timeout_s)


def _record(
    acknowledged: dict[int, KafkaError | None],
    index: int,
    err: KafkaError | None,
    _msg: KafkaMessage,
) -> None:
    acknowledged[index] = err

"""The sender: messages the dispatcher queued on per-channel Kafka topics, sent through the
real gateways by any number of stateless replicas (a Kafka consumer group; KEDA scales
them on its lag). The cascade stays in the one dispatcher; only the slow part, waiting
for providers, scales out.

Each message is claimed in Redis (``SET NX`` on its idempotency key) before its gateway
is called, so a redelivery after a crash or a rebalance never sends twice; a claim whose
send never happened is covered by the cascade's timeout, as in the dispatcher.

    <prefix>:sent:{<customer_id>}:<notice_id>:<channel>   claim, expires after 14 days
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from channels.dispatcher import delivery_receipt
from channels.gateways.base import Message, SendResult
from channels.gateways.factory import ConfiguredGateway
from channels.templates import Rendered
from smartcomms.observability import SENDS
from state.connection import RedisClient

CLAIM_TTL_S = 14 * 86_400


class Sender:
    """Sends a batch of queued messages (``Message.as_json`` documents) once each."""

    def __init__(
        self, client: RedisClient, prefix: str, gateways: Mapping[str, ConfiguredGateway]
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._gateways = gateways

    def close(self) -> None:
        for gateway in self._gateways.values():
            gateway.close()

    def process(self, queued: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Claim, send (each channel's messages at once), and return the receipts."""
        messages = [_message(doc) for doc in queued]
        pipe = self._client.pipeline(transaction=False)
        for message in messages:
            pipe.set(self._claim_key(message), 1, nx=True, ex=CLAIM_TTL_S)
        claimed = [m for m, won in zip(messages, pipe.execute(), strict=True) if won]
        by_channel: dict[str, list[Message]] = {}
        for message in claimed:
            by_channel.setdefault(message.channel, []).append(message)
        receipts = []
        now = time.time()
        for channel, batch in by_channel.items():
            gateway = self._gateways.get(channel)
            if gateway is None:  # a refusal moves the cascade on, like the dispatcher's
                missing = SendResult("failed", error=f"no gateway configured for {channel}")
                results = [(missing, 0)] * len(batch)
            else:
                results = gateway.deliver_all(batch)
            for message, (result, _attempts) in zip(batch, results, strict=True):
                receipt = delivery_receipt(
                    message.notice_id, message.customer_id, channel, result, now
                )
                SENDS.labels(channel, receipt["status"]).inc()
                receipts.append(receipt)
        return receipts

    def _claim_key(self, message: Message) -> str:
        return (
            f"{self._prefix}:sent:{{{message.customer_id}}}:{message.notice_id}:{message.channel}"
        )


def _message(doc: Mapping[str, Any]) -> Message:
    return Message(
        doc["notice_id"],
        doc["customer_id"],
        doc["channel"],
        doc["address"],
        Rendered(doc["text"], doc.get("subject"), doc.get("html")),
    )

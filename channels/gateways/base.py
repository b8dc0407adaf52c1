"""The gateway interface: a rendered message in, an outcome out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from channels.templates import Rendered

Outcome = Literal["sent", "failed", "retry"]


@dataclass(frozen=True, slots=True)
class Message:
    """One attempt to reach one customer over one channel."""

    notice_id: str
    customer_id: str
    channel: str
    address: str
    """the contact for this channel: chat id, phone, device token, e-mail address, ..."""
    content: Rendered

    @property
    def idempotency_key(self) -> str:
        """Same notice, same channel: same key (for gateways that accept one)."""
        return f"{self.notice_id}:{self.channel}"

    def as_json(self) -> dict[str, str | None]:
        """The whole message for a retailer's own endpoint (webhook, Kafka topic)."""
        content = self.content
        return {
            "notice_id": self.notice_id,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "address": self.address,
            "text": content.text,
            "subject": content.subject,
            "html": content.html,
        }


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider said. ``retry``: transient (5xx, 429, timeout), try again later."""

    outcome: Outcome
    provider_id: str | None = None
    error: str | None = None
    retry_after: float | None = None
    """seconds the provider asked us to wait, when it said"""


class Gateway(Protocol):
    """Sends messages; never raises for a provider's answer, only returns it."""

    def send(self, message: Message) -> SendResult: ...

    def send_many(self, messages: Sequence[Message]) -> list[SendResult]:
        """Send concurrently (as far as the provider allows); one result per message."""
        ...

    def close(self) -> None:
        """Release connections (the gateway is not used afterwards)."""
        ...

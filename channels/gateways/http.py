"""HTTP gateways with the real request shapes of Telegram, Viber, WhatsApp Cloud, FCM,
a generic SMS gateway and a generic webhook.

Every adapter builds one request (method, URL, headers, body) and reads one response;
the transport (`channels.gateways.transport`: concurrent requests over keep-alive
connections, with a timeout) is shared. Base URLs are configurable, so tests run them
against a local server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from string import Template
from typing import Any
from urllib.parse import urlencode

import orjson

from channels.gateways.base import Message, SendResult
from channels.gateways.transport import CurlTransport, Request, Response

Json = dict[str, Any]


class InvalidAddress(ValueError):
    """The customer's contact cannot be sent to (a permanent failure, never retried)."""


def json_request(path: str, payload: Json, headers: Mapping[str, str] | None = None) -> Request:
    """A POST with a JSON body to ``path`` under the gateway's base URL."""
    return Request(
        "POST", path, {"Content-Type": "application/json", **(headers or {})}, orjson.dumps(payload)
    )


def response_json(response: Response) -> Json:
    """The body as a JSON object ({} when it is not one)."""
    try:
        data = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def snippet(response: Response) -> str:
    """The start of the body, for an error message."""
    return response.body[:200].decode(errors="replace")


def retry_after(response: Response) -> float | None:
    """The provider's ``Retry-After`` in seconds, when it sent one."""
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def by_status(response: Response, provider_id: str | None, error: str) -> SendResult:
    """The usual reading of an HTTP answer: 2xx sent, 429/5xx retry, other 4xx failed."""
    if 200 <= response.status < 300:
        return SendResult("sent", provider_id=provider_id)
    if response.status == 429 or response.status >= 500:
        return SendResult(
            "retry", error=f"HTTP {response.status}: {error}", retry_after=retry_after(response)
        )
    return SendResult("failed", error=f"HTTP {response.status}: {error}")


@dataclass
class HttpGateway:
    """Common transport. Subclasses implement ``build`` and ``read``; ``build`` returns a
    request whose URL is a path under ``base_url`` or an absolute ``https://`` URL."""

    base_url: str
    timeout_s: float = 10.0
    concurrency: int = 32
    """requests in flight at once per calling thread"""
    _transport: CurlTransport = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._transport = CurlTransport(self.timeout_s, self.concurrency)
        self.base_url = self.base_url.rstrip("/")

    def build(self, message: Message) -> Request:
        """The provider's request for this message; InvalidAddress if it cannot be sent."""
        raise NotImplementedError

    def read(self, response: Response) -> SendResult:
        raise NotImplementedError

    def send(self, message: Message) -> SendResult:
        """One request; see `send_many`."""
        return self.send_many([message])[0]

    def send_many(self, messages: Sequence[Message]) -> list[SendResult]:
        """All requests concurrently; connection errors and timeouts are transient."""
        results: list[SendResult | None] = [None] * len(messages)
        requests: list[Request] = []
        sent_at: list[int] = []
        for index, message in enumerate(messages):
            try:
                request = self.build(message)
            except InvalidAddress as exc:
                results[index] = SendResult("failed", error=str(exc))
                continue
            except Exception as exc:  # a contact no request can be made of: this one fails
                results[index] = SendResult("failed", error=f"{type(exc).__name__}: {exc}")
                continue
            if "://" not in request.url:
                request = Request(
                    request.method, self.base_url + request.url, request.headers, request.body
                )
            requests.append(request)
            sent_at.append(index)
        for index, answer in zip(sent_at, self._transport.exchange(requests), strict=True):
            results[index] = (
                self._read(answer)
                if isinstance(answer, Response)
                else SendResult("retry", error=answer)
            )
        return [r for r in results if r is not None]

    def _read(self, response: Response) -> SendResult:
        """``read``, and an answer it cannot make sense of (a proxy's error page, a field
        of another shape) read by its status alone: never a crash of the sender."""
        try:
            return self.read(response)
        except Exception as exc:
            reply = f"unreadable reply ({type(exc).__name__}): {snippet(response)}"
            return by_status(response, None, reply)

    def close(self) -> None:
        """Close the connections of every thread that sent through this gateway."""
        self._transport.close()


@dataclass
class TelegramGateway(HttpGateway):
    """Bot API ``sendMessage``: ``POST /bot<token>/sendMessage {chat_id, text}``."""

    token: str = ""

    def build(self, message: Message) -> Request:
        return json_request(
            f"/bot{self.token}/sendMessage",
            {"chat_id": message.address, "text": message.content.text},
        )

    def read(self, response: Response) -> SendResult:
        data = response_json(response)
        if data.get("ok") is True:
            return SendResult("sent", provider_id=str(data.get("result", {}).get("message_id")))
        retry_after = data.get("parameters", {}).get("retry_after")
        result = by_status(response, None, str(data.get("description", "")))
        if result.outcome == "retry" and retry_after is not None:
            return SendResult("retry", error=result.error, retry_after=float(retry_after))
        return result


VIBER_RETRY_STATUSES = frozenset({12})  # tooManyRequests


@dataclass
class ViberGateway(HttpGateway):
    """REST Bot API ``send_message``; the outcome is the ``status`` field of a 200."""

    token: str = ""
    sender_name: str = "Магазин"

    def build(self, message: Message) -> Request:
        return json_request(
            "/pa/send_message",
            {
                "receiver": message.address,
                "min_api_version": 1,
                "sender": {"name": self.sender_name},
                "tracking_data": message.notice_id,
                "type": "text",
                "text": message.content.text,
            },
            {"X-Viber-Auth-Token": self.token},
        )

    def read(self, response: Response) -> SendResult:
        if response.status != 200:
            return by_status(response, None, snippet(response))
        data = response_json(response)
        status = data.get("status")
        if status == 0:
            return SendResult("sent", provider_id=str(data.get("message_token")))
        error = f"viber status {status}: {data.get('status_message')}"
        return SendResult("retry" if status in VIBER_RETRY_STATUSES else "failed", error=error)


@dataclass
class WhatsAppGateway(HttpGateway):
    """Cloud API ``POST /<version>/<phone_number_id>/messages`` with a text body."""

    token: str = ""
    phone_number_id: str = ""
    api_version: str = "v21.0"

    def build(self, message: Message) -> Request:
        return json_request(
            f"/{self.api_version}/{self.phone_number_id}/messages",
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": message.address,
                "type": "text",
                "text": {"preview_url": False, "body": message.content.text},
            },
            {"Authorization": f"Bearer {self.token}"},
        )

    def read(self, response: Response) -> SendResult:
        data = response_json(response)
        messages = data.get("messages") or [{}]
        error = data.get("error", {}).get("message", "")
        return by_status(response, messages[0].get("id"), str(error))


@dataclass
class FcmGateway(HttpGateway):
    """FCM HTTP v1 ``POST /v1/projects/<project>/messages:send`` with a notification."""

    token: str = ""
    """an OAuth 2.0 access token for the service account"""
    project_id: str = ""

    def build(self, message: Message) -> Request:
        content = message.content
        return json_request(
            f"/v1/projects/{self.project_id}/messages:send",
            {
                "message": {
                    "token": message.address,
                    "notification": {"title": content.subject or "", "body": content.text},
                    "data": {"notice_id": message.notice_id},
                }
            },
            {"Authorization": f"Bearer {self.token}"},
        )

    def read(self, response: Response) -> SendResult:
        data = response_json(response)
        error = data.get("error", {})
        return by_status(
            response, data.get("name"), f"{error.get('status')} {error.get('message')}"
        )


@dataclass
class SmsGateway(HttpGateway):
    """A generic HTTP SMS gateway: path and body are templates over ``$phone``, ``$text``,
    ``$notice_id`` and ``$key`` (the idempotency key); JSON or form-encoded."""

    path: str = "/send"
    fields: dict[str, str] = field(default_factory=lambda: {"to": "$phone", "text": "$text"})
    form: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    def build(self, message: Message) -> Request:
        values = {
            "phone": message.address,
            "text": message.content.text,
            "notice_id": message.notice_id,
            "key": message.idempotency_key,
        }
        body = {
            name: Template(value).safe_substitute(values) for name, value in self.fields.items()
        }
        headers = {"Idempotency-Key": message.idempotency_key, **self.headers}
        if self.form:
            return Request(
                "POST",
                self.path,
                {"Content-Type": "application/x-www-form-urlencoded", **headers},
                urlencode(body).encode(),
            )
        return json_request(self.path, body, headers)

    def read(self, response: Response) -> SendResult:
        data = response_json(response)
        return by_status(
            response,
            data.get("id") or data.get("message_id"),
            snippet(response),
        )


@dataclass
class WebhookGateway(HttpGateway):
    """POSTs the whole message as JSON to the retailer's own endpoint."""

    path: str = "/"
    headers: dict[str, str] = field(default_factory=dict)

    def build(self, message: Message) -> Request:
        return json_request(
            self.path,
            dict(message.as_json()),
            {"Idempotency-Key": message.idempotency_key, **self.headers},
        )

    def read(self, response: Response) -> SendResult:
        return by_status(response, None, snippet(response))

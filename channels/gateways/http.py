"""HTTP gateways with the real request shapes of Telegram, Viber, WhatsApp Cloud, FCM,
a generic SMS gateway and a generic webhook.

Every adapter builds one request (method, path, headers, body) and reads one response;
the transport (a keep-alive connection per adapter, thread and origin, with a timeout) is
shared. Base URLs are configurable, so tests run them against a local server.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from string import Template
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from channels.gateways.base import Message, SendResult

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    """relative to the gateway's base URL, or an absolute ``https://host/path`` URL"""
    headers: dict[str, str]
    body: bytes


class InvalidAddress(ValueError):
    """The customer's contact cannot be sent to (a permanent failure, never retried)."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Json:
        """The body as a JSON object ({} when it is not one)."""
        try:
            data = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}

    def snippet(self) -> str:
        """The start of the body, for an error message."""
        return self.body[:200].decode(errors="replace")

    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


def json_request(path: str, payload: Json, headers: Mapping[str, str] | None = None) -> Request:
    """A POST with a JSON body."""
    return Request(
        "POST", path, {"Content-Type": "application/json", **(headers or {})}, orjson.dumps(payload)
    )


def by_status(response: Response, provider_id: str | None, error: str) -> SendResult:
    """The usual reading of an HTTP answer: 2xx sent, 429/5xx retry, other 4xx failed."""
    if 200 <= response.status < 300:
        return SendResult("sent", provider_id=provider_id)
    if response.status == 429 or response.status >= 500:
        return SendResult(
            "retry", error=f"HTTP {response.status}: {error}", retry_after=response.retry_after()
        )
    return SendResult("failed", error=f"HTTP {response.status}: {error}")


Origin = tuple[str, str]
"""(scheme, host[:port])"""


@dataclass
class HttpGateway:
    """Common transport. Subclasses implement ``build`` and ``read``."""

    base_url: str
    timeout_s: float = 10.0
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False)
    _opened: list[http.client.HTTPConnection] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def build(self, message: Message) -> Request:
        """The provider's request for this message; InvalidAddress if it cannot be sent."""
        raise NotImplementedError

    def read(self, response: Response) -> SendResult:
        raise NotImplementedError

    def send(self, message: Message) -> SendResult:
        """One request; connection errors and timeouts are transient."""
        try:
            request = self.build(message)
        except InvalidAddress as exc:
            return SendResult("failed", error=str(exc))
        origin, path = self._target(request.path)
        try:
            response = self._exchange(origin, path, request)
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection(origin)
            return SendResult("retry", error=f"{type(exc).__name__}: {exc}")
        return self.read(response)

    def _target(self, path: str) -> tuple[Origin, str]:
        parts = urlsplit(path if "://" in path else self.base_url)
        if "://" in path:
            return (parts.scheme, parts.netloc), path[len(f"{parts.scheme}://{parts.netloc}") :]
        return (parts.scheme, parts.netloc), parts.path.rstrip("/") + path

    def _exchange(self, origin: Origin, path: str, request: Request) -> Response:
        conn = self._connection(origin)
        conn.request(request.method, path or "/", body=request.body, headers=request.headers)
        raw = conn.getresponse()
        body = raw.read()
        headers = {k.lower(): v for k, v in raw.getheaders()}
        return Response(raw.status, headers, body)

    def _connections(self) -> dict[Origin, http.client.HTTPConnection]:
        conns: dict[Origin, http.client.HTTPConnection] | None = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        return conns

    def _connection(self, origin: Origin) -> http.client.HTTPConnection:
        conns = self._connections()
        conn = conns.get(origin)
        if conn is None:
            scheme, netloc = origin
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = conns[origin] = cls(netloc, timeout=self.timeout_s)
            with self._lock:
                self._opened.append(conn)
        return conn

    def close(self) -> None:
        """Close the connections of every thread that sent through this gateway."""
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()

    def _drop_connection(self, origin: Origin) -> None:
        conn = self._connections().pop(origin, None)
        if conn is not None:
            conn.close()
            with self._lock:
                if conn in self._opened:
                    self._opened.remove(conn)


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
        data = response.json()
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
            return by_status(response, None, response.snippet())
        data = response.json()
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
        data = response.json()
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
        data = response.json()
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
        data = response.json()
        return by_status(
            response,
            data.get("id") or data.get("message_id"),
            response.snippet(),
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
        return by_status(response, None, response.snippet())

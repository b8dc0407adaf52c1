"""Web Push: RFC 8030 delivery, RFC 8291 payload encryption (aes128gcm), RFC 8292 VAPID.

The customer's ``web_push`` contact is the browser's ``PushSubscription`` as JSON
(``subscription.toJSON()``: ``{"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}``).
Every subscription names its own push service (FCM, Mozilla, Apple, ...), so each request
goes to an absolute URL; the endpoint host must be on the allow-list, because the address
comes from customer data and must not turn the dispatcher into a proxy to internal hosts.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

import http_ece
import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from channels.gateways.base import Message, SendResult
from channels.gateways.http import HttpGateway, InvalidAddress, by_status, snippet
from channels.gateways.transport import Request, Response

VAPID_LIFETIME_S = 12 * 3600
"""A signed VAPID token is valid this long (RFC 8292 allows at most 24 h)."""


def b64url_decode(value: str) -> bytes:
    """Base64url without padding, as browsers serialise subscription keys."""
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass(frozen=True, slots=True)
class Subscription:
    endpoint: str
    p256dh: bytes
    """the browser's P-256 public key, uncompressed point"""
    auth: bytes
    """the browser's 16-byte authentication secret"""


def parse_subscription(address: str) -> Subscription:
    """The PushSubscription JSON of a contact; InvalidAddress when it is not one."""
    try:
        data: Any = orjson.loads(address)
        keys = data["keys"]
        subscription = Subscription(
            str(data["endpoint"]), b64url_decode(keys["p256dh"]), b64url_decode(keys["auth"])
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidAddress(f"web_push contact is not a PushSubscription: {exc!r}") from exc
    if len(subscription.p256dh) != 65 or len(subscription.auth) != 16:
        raise InvalidAddress("web_push subscription keys have the wrong length")
    return subscription


_URL_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]!$&'()*+,;=%]+$")


def plain_url(url: str) -> SplitResult:
    """The parts of an endpoint that every URL parser reads alike; InvalidAddress for one
    with user info, a backslash, spaces or other characters that parsers disagree on (a
    contact like ``https://127.0.0.1:18777\\@fcm.googleapis.com/x`` passes a host check
    in one parser and reaches 127.0.0.1 in another)."""
    parts = urlsplit(url)
    if not _URL_CHARS.match(url) or "@" in parts.netloc or not parts.hostname:
        raise InvalidAddress("web_push endpoint is not a plain http(s) URL")
    return parts


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """``host`` is on the list, literally or under a ``*.domain`` entry."""
    return any(
        host == entry or (entry.startswith("*.") and host.endswith(entry[1:])) for entry in allowed
    )


@dataclass
class WebPushGateway(HttpGateway):
    """POSTs the encrypted notification ``{"notice_id", "title", "body"}`` to the
    subscription's endpoint. ``Topic`` is the notice id, so a push service holding an
    undelivered copy replaces it instead of showing the notification twice."""

    vapid_private_key: str = ""
    """base64url raw 32-byte or DER EC P-256 private key"""
    subject: str = ""
    """the VAPID contact: ``mailto:...`` or ``https://...``"""
    ttl_s: int = 86400
    urgency: str = "normal"
    allowed_hosts: Sequence[str] = ()
    """endpoint hosts we post to (the browsers' push services; see the settings)"""
    require_https: bool = True
    _vapid: Vapid02 = field(init=False, repr=False)
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict, init=False, repr=False)
    _token_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._vapid = Vapid02.from_string(self.vapid_private_key)

    def build(self, message: Message) -> Request:
        subscription = parse_subscription(message.address)
        parts = plain_url(subscription.endpoint)
        if self.require_https and parts.scheme != "https":
            raise InvalidAddress("web_push endpoint is not https")
        if parts.scheme not in ("http", "https") or not host_allowed(
            parts.hostname or "", self.allowed_hosts
        ):
            raise InvalidAddress(f"web_push endpoint host {parts.hostname!r} is not allowed")
        content = message.content
        payload = orjson.dumps(
            {"notice_id": message.notice_id, "title": content.subject or "", "body": content.text}
        )
        body = http_ece.encrypt(
            payload,
            private_key=ec.generate_private_key(ec.SECP256R1()),
            dh=subscription.p256dh,
            auth_secret=subscription.auth,
            version="aes128gcm",
        )
        headers = {
            "Authorization": self._authorization(f"{parts.scheme}://{parts.netloc}"),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(self.ttl_s),
            "Urgency": self.urgency,
            "Topic": message.notice_id.replace("-", "")[:32],
        }
        return Request("POST", subscription.endpoint, headers, body)

    def read(self, response: Response) -> SendResult:
        if response.status in (404, 410):
            return SendResult("failed", error=f"HTTP {response.status}: subscription expired")
        return by_status(response, response.headers.get("location"), snippet(response))

    def _authorization(self, audience: str) -> str:
        """``vapid t=<JWT>, k=<public key>``, signed once per push service and lifetime."""
        now = time.time()
        cached = self._tokens.get(audience)
        if cached is not None and cached[1] - now > VAPID_LIFETIME_S / 2:
            return cached[0]
        expires = int(now) + VAPID_LIFETIME_S
        header: str = self._vapid.sign({"aud": audience, "exp": expires, "sub": self.subject})[
            "Authorization"
        ]
        with self._token_lock:
            self._tokens[audience] = (header, expires)
        return header

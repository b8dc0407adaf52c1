"""The browser's side of Web Push: a subscription's keys, and decrypting what arrives."""

from __future__ import annotations

import base64
import os

import http_ece
import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _vapid_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


VAPID_KEY = _vapid_key()
"""The application server's VAPID private key (base64url raw), made up per test run."""


class Browser:
    """A browser that subscribed to push: it holds the private half of the subscription."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def subscription(self, endpoint: str) -> str:
        """``PushSubscription.toJSON()`` as the web tracker sends it in ``contacts.web_push``."""
        public = self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return orjson.dumps(
            {"endpoint": endpoint, "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}
        ).decode()

    def decrypt(self, body: bytes) -> bytes:
        """The notification as the service worker receives it."""
        plain: bytes = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return plain

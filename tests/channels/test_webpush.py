"""Web Push against a real local push service: RFC 8291 encryption the browser can decrypt,
a valid RFC 8292 VAPID signature, and the push service's answers."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import orjson
import pytest
from py_vapid import Vapid02

from channels.gateways.base import Message
from channels.gateways.webpush import WebPushGateway
from channels.templates import Rendered
from tests.gateway_server import Answer, Provider, provider
from tests.webpush import VAPID_KEY, Browser

NOTICE_ID = "0b7c6f2e-4a1d-5f3e-9c2b-1d2e3f4a5b6c"


@pytest.fixture
def server() -> Iterator[Provider]:
    with provider() as state:
        yield state


@pytest.fixture
def gateway() -> Iterator[WebPushGateway]:
    built = WebPushGateway(
        "",
        2.0,
        vapid_private_key=VAPID_KEY,
        subject="mailto:ops@shop.ru",
        ttl_s=3600,
        allowed_hosts=("127.0.0.1",),
        require_https=False,
    )
    yield built
    built.close()


def message(address: str) -> Message:
    return Message(NOTICE_ID, "C1", "web_push", address, Rendered("Корзина ждёт", "Анна!"))


def jwt_claims(authorization: str) -> dict[str, object]:
    token = authorization.split("t=", 1)[1].split(",", 1)[0]
    payload = token.split(".")[1]
    claims: dict[str, object] = orjson.loads(base64.urlsafe_b64decode(payload + "==="))
    return claims


def test_the_browser_decrypts_the_notification(server: Provider, gateway: WebPushGateway) -> None:
    browser = Browser()
    server.answer(Answer(201, headers={"Location": f"{server.url}/m/42"}))
    result = gateway.send(message(browser.subscription(f"{server.url}/push/abc")))
    assert (result.outcome, result.provider_id) == ("sent", f"{server.url}/m/42")
    [request] = server.requests
    assert request.path == "/push/abc"
    assert request.headers["Content-Encoding"] == "aes128gcm"
    assert request.headers["TTL"] == "3600"
    assert request.headers["Urgency"] == "normal"
    assert request.headers["Topic"] == NOTICE_ID.replace("-", "")
    assert orjson.loads(browser.decrypt(request.body)) == {
        "notice_id": NOTICE_ID,
        "title": "Анна!",
        "body": "Корзина ждёт",
    }
    assert Vapid02.verify(request.headers["Authorization"])
    claims = jwt_claims(request.headers["Authorization"])
    assert claims["aud"] == server.url and claims["sub"] == "mailto:ops@shop.ru"
    assert time.time() < float(str(claims["exp"])) <= time.time() + 24 * 3600


def test_each_notification_is_encrypted_afresh(server: Provider, gateway: WebPushGateway) -> None:
    browser = Browser()
    address = browser.subscription(f"{server.url}/push/abc")
    gateway.send(message(address))
    gateway.send(message(address))
    first, second = server.requests
    assert first.body != second.body  # new salt and sender key per message
    assert browser.decrypt(first.body) == browser.decrypt(second.body)
    assert Browser().subscription(server.url) != address


def test_expired_subscription_fails_and_overload_is_retried(
    server: Provider, gateway: WebPushGateway
) -> None:
    address = Browser().subscription(f"{server.url}/push/abc")
    server.answer(Answer(410), Answer(404), Answer(429, headers={"Retry-After": "7"}), Answer(503))
    outcomes = [gateway.send(message(address)) for _ in range(4)]
    assert [r.outcome for r in outcomes] == ["failed", "failed", "retry", "retry"]
    assert "expired" in (outcomes[0].error or "")
    assert outcomes[2].retry_after == 7


@pytest.mark.parametrize(
    "address, reason",
    [
        ("not json", "not a PushSubscription"),
        ('{"endpoint": "http://127.0.0.1/x"}', "not a PushSubscription"),
        ('{"endpoint": "x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}}', "wrong length"),
    ],
)
def test_a_broken_subscription_fails_without_a_request(
    server: Provider, gateway: WebPushGateway, address: str, reason: str
) -> None:
    result = gateway.send(message(address))
    assert result.outcome == "failed" and reason in (result.error or "")
    assert server.requests == []


def test_endpoints_outside_the_push_services_are_refused(server: Provider) -> None:
    strict = WebPushGateway(
        "",
        vapid_private_key=VAPID_KEY,
        subject="mailto:ops@shop.ru",
        allowed_hosts=("*.push.apple.com",),
    )
    browser = Browser()
    for endpoint, reason in [
        (f"{server.url}/push", "not https"),
        ("https://169.254.169.254/latest", "not allowed"),
        ("https://evil-push.apple.com.attacker.ru/x", "not allowed"),
    ]:
        result = strict.send(message(browser.subscription(endpoint)))
        assert result.outcome == "failed" and reason in (result.error or ""), endpoint
    assert server.requests == []

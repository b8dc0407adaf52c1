"""Each adapter's request against the provider's documented shape, and how it reads the
answers, against a real HTTP server on loopback."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from channels.gateways.base import Message
from channels.gateways.delivery import (
    RetryPolicy,
    TokenBucket,
    send_all_with_retries,
    send_with_retries,
)
from channels.gateways.http import (
    FcmGateway,
    HttpGateway,
    SmsGateway,
    TelegramGateway,
    ViberGateway,
    WebhookGateway,
    WhatsAppGateway,
)
from channels.templates import Rendered
from tests.gateway_server import Answer, Provider, provider

TEXT = "Анна, в корзине ждут 2 товара"


def message(channel: str, address: str) -> Message:
    return Message(
        "n-1", "C1", channel, address, Rendered(TEXT, subject="Корзина", html="<p>x</p>")
    )


@pytest.fixture
def server() -> Iterator[Provider]:
    with provider() as state:
        yield state


Make = Callable[..., Any]


@pytest.fixture
def make() -> Iterator[Make]:
    """Builds gateways and closes their connections after the test."""
    made: list[HttpGateway] = []

    def build(cls: type[HttpGateway], *args: Any, **kwargs: Any) -> Any:
        made.append(cls(*args, **kwargs))
        return made[-1]

    yield build
    for gateway in made:
        gateway.close()


def test_telegram_send_message(server: Provider, make: Make) -> None:
    gateway = make(TelegramGateway, server.url, token="123:ABC")
    server.answer(Answer(body={"ok": True, "result": {"message_id": 77}}))
    result = gateway.send(message("telegram", "987654"))
    [request] = server.requests
    assert request.path == "/bot123:ABC/sendMessage"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {"chat_id": "987654", "text": TEXT}
    assert (result.outcome, result.provider_id) == ("sent", "77")


def test_telegram_errors(server: Provider, make: Make) -> None:
    gateway = make(TelegramGateway, server.url, token="t")
    server.answer(
        Answer(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 34",
                "parameters": {"retry_after": 34},
            },
        ),
        Answer(
            403,
            {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            },
        ),
    )
    throttled = gateway.send(message("telegram", "1"))
    blocked = gateway.send(message("telegram", "1"))
    assert (throttled.outcome, throttled.retry_after) == ("retry", 34.0)
    assert blocked.outcome == "failed" and "blocked by the user" in (blocked.error or "")


def test_viber_send_message(server: Provider, make: Make) -> None:
    gateway = make(ViberGateway, server.url, token="viber-token", sender_name="Магазин")
    server.answer(
        Answer(body={"status": 0, "status_message": "ok", "message_token": 5741311}),
        Answer(body={"status": 6, "status_message": "notSubscribed"}),
        Answer(body={"status": 12, "status_message": "tooManyRequests"}),
    )
    sent = gateway.send(message("viber", "01234567890A="))
    request = server.requests[0]
    assert request.path == "/pa/send_message"
    assert request.headers["X-Viber-Auth-Token"] == "viber-token"
    assert request.json() == {
        "receiver": "01234567890A=",
        "min_api_version": 1,
        "sender": {"name": "Магазин"},
        "tracking_data": "n-1",
        "type": "text",
        "text": TEXT,
    }
    assert (sent.outcome, sent.provider_id) == ("sent", "5741311")
    assert gateway.send(message("viber", "x")).outcome == "failed"  # HTTP 200, status 6
    assert gateway.send(message("viber", "x")).outcome == "retry"


def test_whatsapp_cloud_messages(server: Provider, make: Make) -> None:
    gateway = make(WhatsAppGateway, server.url, token="EAAG", phone_number_id="106540352242922")
    server.answer(
        Answer(
            body={
                "messaging_product": "whatsapp",
                "contacts": [{"input": "+79990001122", "wa_id": "79990001122"}],
                "messages": [{"id": "wamid.HBgL"}],
            }
        ),
        Answer(
            400, {"error": {"message": "(#131030) Recipient not in allowed list", "code": 131030}}
        ),
    )
    sent = gateway.send(message("whatsapp", "+79990001122"))
    request = server.requests[0]
    assert request.path == "/v21.0/106540352242922/messages"
    assert request.headers["Authorization"] == "Bearer EAAG"
    assert request.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+79990001122",
        "type": "text",
        "text": {"preview_url": False, "body": TEXT},
    }
    assert (sent.outcome, sent.provider_id) == ("sent", "wamid.HBgL")
    failed = gateway.send(message("whatsapp", "+1"))
    assert failed.outcome == "failed" and "131030" in (failed.error or "")


def test_a_reply_of_another_shape_is_read_by_its_status_never_a_crash(
    server: Provider, make: Make
) -> None:
    """A proxy's error page, or a field of another type: the sender goes on."""
    fcm = make(FcmGateway, server.url, token="t", project_id="p")
    telegram = make(TelegramGateway, server.url, token="t")
    whatsapp = make(WhatsAppGateway, server.url, token="t", phone_number_id="1")
    server.answer(
        Answer(502, {"error": "Bad Gateway"}),
        Answer(429, {"ok": False, "parameters": {"retry_after": "soon"}}),
        Answer(400, {"error": "bad"}),
        Answer(200, {"ok": True, "result": None}),
    )
    results = [
        fcm.send(message("push", "token")),
        telegram.send(message("telegram", "1")),
        whatsapp.send(message("whatsapp", "+1")),
        telegram.send(message("telegram", "1")),
    ]
    assert [r.outcome for r in results] == ["retry", "retry", "failed", "sent"]
    assert all("unreadable reply" in (r.error or "") for r in results[:3])


def test_fcm_v1_send(server: Provider, make: Make) -> None:
    gateway = make(FcmGateway, server.url, token="ya29.token", project_id="shop-app")
    server.answer(
        Answer(body={"name": "projects/shop-app/messages/0:1500415314455276%31bd1c9631bd1c96"}),
        Answer(
            404,
            {
                "error": {
                    "code": 404,
                    "message": "Requested entity was not found.",
                    "status": "NOT_FOUND",
                    "details": [{"errorCode": "UNREGISTERED"}],
                }
            },
        ),
        Answer(503, {"error": {"code": 503, "status": "UNAVAILABLE"}}, {"Retry-After": "7"}),
    )
    sent = gateway.send(message("push", "device-token"))
    request = server.requests[0]
    assert request.path == "/v1/projects/shop-app/messages:send"
    assert request.headers["Authorization"] == "Bearer ya29.token"
    assert request.json() == {
        "message": {
            "token": "device-token",
            "notification": {"title": "Корзина", "body": TEXT},
            "data": {"notice_id": "n-1"},
        }
    }
    assert sent.outcome == "sent" and (sent.provider_id or "").startswith("projects/shop-app")
    assert gateway.send(message("push", "gone")).outcome == "failed"
    unavailable = gateway.send(message("push", "x"))
    assert (unavailable.outcome, unavailable.retry_after) == ("retry", 7.0)


def test_sms_gateway_json_and_form(server: Provider, make: Make) -> None:
    json_gateway = make(
        SmsGateway,
        server.url,
        path="/api/sms",
        fields={"phone": "$phone", "message": "$text", "ref": "$key"},
        headers={"X-Api-Key": "k"},
    )
    form_gateway = make(
        SmsGateway, server.url, path="/sms.php", form=True, fields={"to": "$phone", "msg": "$text"}
    )
    server.answer(Answer(body={"id": "sms-1"}), Answer(body={}))
    sent = json_gateway.send(message("sms", "+79990001122"))
    form_gateway.send(message("sms", "+79990001122"))
    first, second = server.requests
    assert first.path == "/api/sms" and first.headers["X-Api-Key"] == "k"
    assert first.json() == {"phone": "+79990001122", "message": TEXT, "ref": "n-1:sms"}
    assert first.headers["Idempotency-Key"] == "n-1:sms"
    assert sent.provider_id == "sms-1"
    assert second.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(second.body.decode()) == {"to": ["+79990001122"], "msg": [TEXT]}


def test_webhook_carries_the_whole_message(server: Provider, make: Make) -> None:
    gateway = make(WebhookGateway, server.url, path="/hooks/notices")
    assert gateway.send(message("email", "a@b.ru")).outcome == "sent"
    [request] = server.requests
    assert request.path == "/hooks/notices" and request.headers["Idempotency-Key"] == "n-1:email"
    assert request.json() == {
        "notice_id": "n-1",
        "customer_id": "C1",
        "channel": "email",
        "address": "a@b.ru",
        "text": TEXT,
        "subject": "Корзина",
        "html": "<p>x</p>",
    }


def test_5xx_is_retried_with_growing_jittered_backoff(server: Provider, make: Make) -> None:
    server.answer(Answer(500), Answer(502), Answer(503), Answer(200))
    slept: list[float] = []
    policy = RetryPolicy(attempts=5, base_s=0.1, cap_s=10)
    result, attempts = send_with_retries(
        make(WebhookGateway, server.url),
        message("email", "a"),
        policy,
        sleep=slept.append,
        rng=random.Random(1),
    )
    assert (result.outcome, attempts) == ("sent", 4)
    assert len(slept) == 3
    assert all(0 <= delay <= 0.1 * 2**n for n, delay in enumerate(slept))
    assert len(set(slept)) == 3  # jittered, not a fixed schedule


def test_4xx_is_not_retried_but_429_is(server: Provider, make: Make) -> None:
    slept: list[float] = []
    server.answer(Answer(400, {"error": "bad phone"}))
    result, attempts = send_with_retries(
        make(WebhookGateway, server.url), message("sms", "x"), RetryPolicy(), sleep=slept.append
    )
    assert (result.outcome, attempts, slept) == ("failed", 1, [])
    server.answer(Answer(429, headers={"Retry-After": "3"}), Answer(200))
    result, attempts = send_with_retries(
        make(WebhookGateway, server.url), message("sms", "x"), RetryPolicy(), sleep=slept.append
    )
    assert (result.outcome, attempts, slept) == ("sent", 2, [3.0])


def test_giving_up_after_the_last_attempt(server: Provider, make: Make) -> None:
    server.default = Answer(503)
    result, attempts = send_with_retries(
        make(WebhookGateway, server.url),
        message("sms", "x"),
        RetryPolicy(attempts=3),
        sleep=lambda _s: None,
    )
    assert (result.outcome, attempts) == ("failed", 3)
    assert "gave up after 3 attempts" in (result.error or "")
    assert len(server.requests) == 3


def test_a_slow_provider_times_out_and_counts_as_transient(server: Provider, make: Make) -> None:
    server.answer(Answer(200, delay_s=1.0), Answer(200))
    gateway = make(WebhookGateway, server.url, timeout_s=0.2)
    slow = gateway.send(message("sms", "x"))
    assert slow.outcome == "retry" and "timed out" in (slow.error or "")
    assert gateway.send(message("sms", "x")).outcome == "sent"  # a fresh connection


def test_token_bucket_spaces_sends_at_the_rate() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(rate=80, burst=1, clock=lambda: now[0], sleep=sleep)
    for _ in range(81):
        bucket.acquire()
    assert waits and sum(waits) == pytest.approx(80 / 80)  # 81 sends: 1 at once, 80 at 80/s
    assert max(waits) == pytest.approx(1 / 80)


def test_a_batch_is_sent_concurrently_up_to_the_limit(server: Provider, make: Make) -> None:
    server.default = Answer(200, delay_s=0.3)
    gateway = make(WebhookGateway, server.url, concurrency=4)
    results = gateway.send_many([message("sms", f"+7999{n}") for n in range(10)])
    assert [r.outcome for r in results] == ["sent"] * 10
    assert server.peak_in_flight == 4
    assert sorted(r.json()["address"] for r in server.requests) == sorted(
        f"+7999{n}" for n in range(10)
    )


def test_a_batch_retries_only_its_transient_failures(server: Provider, make: Make) -> None:
    gateway = make(WebhookGateway, server.url, concurrency=1)  # answers in message order
    server.answer(Answer(503), Answer(400), Answer(200), Answer(429, headers={"Retry-After": "2"}))
    server.answer(Answer(200), Answer(200))
    slept: list[float] = []
    batch = [message("sms", address) for address in ("a", "b", "c", "d")]
    sent = send_all_with_retries(gateway, batch, RetryPolicy(attempts=3), sleep=slept.append)
    assert [(r.outcome, attempts) for r, attempts in sent] == [
        ("sent", 2),
        ("failed", 1),
        ("sent", 1),
        ("sent", 2),
    ]
    assert slept == [2.0]  # one wait per round: the longest the batch was asked for
    assert [r.json()["address"] for r in server.requests] == ["a", "b", "c", "d", "a", "d"]


def test_a_rate_limited_batch_goes_out_in_bursts_at_the_rate(server: Provider, make: Make) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(rate=3, clock=lambda: now[0], sleep=sleep)
    gateway = make(WebhookGateway, server.url)
    batch = [message("sms", str(n)) for n in range(10)]
    sent = send_all_with_retries(gateway, batch, RetryPolicy(), bucket)
    assert [r.outcome for r, _ in sent] == ["sent"] * 10
    assert now[0] == pytest.approx((10 - 3) / 3)  # 3 at once, then 3 per second
    assert server.peak_in_flight <= 3

"""Gateways from the configuration: secrets from the environment, the operator's test send,
and the Kafka adapter against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer

from channels.gateways.base import Message
from channels.gateways.factory import build_gateway
from channels.gateways.kafka import KafkaGateway
from channels.templates import Rendered
from smartcomms.config import ConfigError, Settings, load_settings
from smartcomms.topics import assignments, ensure_topics
from tests.gateway_server import Answer, Provider, provider
from tests.webpush import VAPID_KEY


@pytest.fixture
def server() -> Iterator[Provider]:
    with provider() as state:
        yield state


def gateways_test(
    config: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "smartcomms.cli",
            "gateways",
            "test",
            "--config",
            str(config),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_operator_test_send_through_a_webhook(server: Provider, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"gateways:\n  email: {{kind: webhook, base_url: '{server.url}', path: /notify}}\n"
    )
    result = gateways_test(config, "email", "anna@example.ru", "--template", "win_back")
    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert report["outcome"] == "sent" and report["attempts"] == 1
    [request] = server.requests
    assert request.path == "/notify"
    body = request.json()
    assert body["address"] == "anna@example.ru" and body["subject"] == "Мы скучаем по вам"
    assert body["text"].startswith("Анна, давно не виделись!")


def test_sms_api_key_comes_from_the_environment(server: Provider, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"gateways:\n  sms:\n    kind: sms\n    base_url: '{server.url}'\n"
        f"    header_secrets_env: {{X-Api-Key: SMS_API_KEY}}\n"
    )
    missing = gateways_test(config, "sms", "+79990001122", env={"SMS_API_KEY": ""})
    assert missing.returncode == 2 and "SMS_API_KEY is not set" in missing.stderr
    server.answer(Answer(500), Answer(200, {"id": "s-1"}))
    sent = gateways_test(config, "sms", "+79990001122", env={"SMS_API_KEY": "k-123"})
    assert sent.returncode == 0, sent.stderr
    assert orjson.loads(sent.stdout)["attempts"] == 2  # the 500 was retried
    assert server.requests[-1].headers["X-Api-Key"] == "k-123"
    assert "k-123" not in sent.stdout + sent.stderr  # the secret is not printed


def test_a_refused_send_exits_non_zero(server: Provider, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"gateways:\n  email: {{kind: webhook, base_url: '{server.url}'}}\n")
    server.answer(Answer(400, {"error": "bad address"}))
    result = gateways_test(config, "email", "nobody")
    assert result.returncode == 1 and orjson.loads(result.stdout)["outcome"] == "failed"


def test_gateway_settings_are_validated(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "gateways:\n  pigeon: {kind: webhook, base_url: 'http://x'}\n"
        "  sms: {kind: carrier_pigeon}\n  whatsapp: {kind: whatsapp}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(config, env={})
    text = str(err.value)
    assert "pigeon" in text and "carrier_pigeon" in text
    assert "gateways.whatsapp.whatsapp.phone_number_id" in text


def test_every_kind_builds_from_settings() -> None:
    settings = load_settings(env={})
    env = {
        "TELEGRAM_BOT_TOKEN": "t",
        "VIBER_AUTH_TOKEN": "v",
        "WHATSAPP_TOKEN": "w",
        "FCM_ACCESS_TOKEN": "f",
        "SMTP_PASSWORD": "p",
        "WEB_PUSH_VAPID_PRIVATE_KEY": VAPID_KEY,
    }
    configs = {
        "telegram": {"kind": "telegram"},
        "viber": {"kind": "viber"},
        "whatsapp": {"kind": "whatsapp", "phone_number_id": "1"},
        "push": {"kind": "fcm", "project_id": "p"},
        "sms": {"kind": "sms", "base_url": "http://x"},
        "web_push": {"kind": "web_push", "subject": "mailto:ops@shop.ru"},
        "email": {"kind": "smtp", "host": "smtp.example.ru", "sender": "a@b.ru"},
    }
    parsed = Settings.model_validate({"gateways": configs}).gateways
    kinds = set()
    for channel, gateway_settings in parsed.items():
        built = build_gateway(channel, gateway_settings, settings.kafka, env)
        assert built.retry.attempts == 4
        kinds.add(type(built.gateway).__name__)
    assert kinds == {
        "TelegramGateway",
        "ViberGateway",
        "WhatsAppGateway",
        "FcmGateway",
        "SmsGateway",
        "WebPushGateway",
        "SmtpGateway",
    }
    whatsapp = build_gateway("whatsapp", parsed["whatsapp"], settings.kafka, env)
    assert whatsapp.limiter is not None  # 80 msg/s by default


def test_kafka_adapter_produces_to_the_channel_topic(kafka_brokers: str) -> None:
    topic = f"sms-out-{uuid.uuid4().hex[:6]}"
    ensure_topics(kafka_brokers, [topic], 1, {})
    gateway = KafkaGateway(kafka_brokers, topic, {})
    message = Message("n-9", "C5", "sms", "+79990001122", Rendered("Текст"))
    assert gateway.send(message).outcome == "sent"
    others = [Message(f"m-{n}", "C6", "sms", "+7", Rendered("x")) for n in range(3)]
    assert [r.outcome for r in gateway.send_many(others)] == ["sent"] * 3
    gateway.close()
    consumer = Consumer({"bootstrap.servers": kafka_brokers, "group.id": "t"})
    consumer.assign(assignments(kafka_brokers, [topic]))
    received = [m for m in consumer.consume(10, 10) if not m.error()]
    consumer.close()
    record, *rest = received
    assert [orjson.loads(r.value())["notice_id"] for r in rest] == ["m-0", "m-1", "m-2"]
    assert record.key() == b"C5"
    assert dict(record.headers() or [])["idempotency-key"] == b"n-9:sms"
    assert orjson.loads(record.value()) == {
        "notice_id": "n-9",
        "customer_id": "C5",
        "channel": "sms",
        "address": "+79990001122",
        "text": "Текст",
        "subject": None,
        "html": None,
    }

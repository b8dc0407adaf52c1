"""Gateways built from the configuration, with their retry policy and rate limit."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from channels.gateways.base import Gateway, Message, SendResult
from channels.gateways.delivery import (
    RetryPolicy,
    TokenBucket,
    send_all_with_retries,
    send_with_retries,
)
from channels.gateways.http import (
    FcmGateway,
    SmsGateway,
    TelegramGateway,
    ViberGateway,
    WebhookGateway,
    WhatsAppGateway,
)
from channels.gateways.kafka import KafkaGateway
from channels.gateways.smtp import SmtpGateway
from channels.gateways.webpush import WebPushGateway
from smartcomms.config import (
    ConfigError,
    FcmGatewaySettings,
    GatewaySettings,
    KafkaGatewaySettings,
    KafkaSettings,
    SmsGatewaySettings,
    SmtpGatewaySettings,
    TelegramGatewaySettings,
    ViberGatewaySettings,
    WebhookGatewaySettings,
    WebPushGatewaySettings,
    WhatsAppGatewaySettings,
)


@dataclass
class ConfiguredGateway:
    """A gateway with the retries and rate limit its configuration asks for."""

    gateway: Gateway
    retry: RetryPolicy
    limiter: TokenBucket | None

    def deliver(self, message: Message) -> tuple[SendResult, int]:
        """Send with retries; the last result and the number of attempts."""
        return send_with_retries(self.gateway, message, self.retry, self.limiter)

    def deliver_all(self, messages: Sequence[Message]) -> list[tuple[SendResult, int]]:
        """Send concurrently with retries; per message, the last result and the attempts."""
        return send_all_with_retries(self.gateway, messages, self.retry, self.limiter)

    def close(self) -> None:
        self.gateway.close()


def build_gateway(
    channel: str,
    settings: GatewaySettings,
    kafka: KafkaSettings,
    env: Mapping[str, str] | None = None,
    concurrency: int = 32,
) -> ConfiguredGateway:
    """The configured gateway of ``channel`` (``concurrency``: sends in flight at once);
    ConfigError when a secret is not set."""
    env = os.environ if env is None else env

    def secret(name: str) -> str:
        value = env.get(name)
        if not value:
            raise ConfigError(f"gateways.{channel}: environment variable {name} is not set")
        return value

    def secret_headers(names: Mapping[str, str]) -> dict[str, str]:
        return {header: secret(variable) for header, variable in names.items()}

    gateway: Gateway
    match settings:
        case TelegramGatewaySettings():
            gateway = TelegramGateway(
                settings.base_url, settings.timeout_s, concurrency, token=secret(settings.token_env)
            )
        case ViberGatewaySettings():
            gateway = ViberGateway(
                settings.base_url,
                settings.timeout_s,
                concurrency,
                token=secret(settings.token_env),
                sender_name=settings.sender_name,
            )
        case WhatsAppGatewaySettings():
            gateway = WhatsAppGateway(
                settings.base_url,
                settings.timeout_s,
                concurrency,
                token=secret(settings.token_env),
                phone_number_id=settings.phone_number_id,
                api_version=settings.api_version,
            )
        case FcmGatewaySettings():
            gateway = FcmGateway(
                settings.base_url,
                settings.timeout_s,
                concurrency,
                token=secret(settings.token_env),
                project_id=settings.project_id,
            )
        case WebPushGatewaySettings():
            gateway = WebPushGateway(
                "",
                settings.timeout_s,
                concurrency,
                vapid_private_key=secret(settings.vapid_private_key_env),
                subject=settings.subject,
                ttl_s=settings.ttl_s,
                urgency=settings.urgency,
                allowed_hosts=settings.allowed_hosts,
                require_https=settings.require_https,
            )
        case SmsGatewaySettings():
            gateway = SmsGateway(
                settings.base_url,
                settings.timeout_s,
                concurrency,
                path=settings.path,
                fields=dict(settings.fields),
                form=settings.form,
                headers={**settings.headers, **secret_headers(settings.header_secrets_env)},
            )
        case WebhookGatewaySettings():
            gateway = WebhookGateway(
                settings.base_url,
                settings.timeout_s,
                concurrency,
                path=settings.path,
                headers={**settings.headers, **secret_headers(settings.header_secrets_env)},
            )
        case SmtpGatewaySettings():
            password = secret(settings.password_env) if settings.password_env else None
            gateway = SmtpGateway(
                settings.host,
                settings.port,
                settings.sender,
                settings.starttls,
                settings.username,
                password,
                settings.ca_file,
                settings.timeout_s,
                min(concurrency, 8),
            )
        case KafkaGatewaySettings():
            gateway = KafkaGateway(
                kafka.brokers, settings.topic, kafka.client_config, settings.timeout_s
            )
    limiter = TokenBucket(settings.rate_per_s) if settings.rate_per_s else None
    return ConfiguredGateway(gateway, RetryPolicy(attempts=settings.retry_attempts), limiter)

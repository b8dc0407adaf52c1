"""Settings: pydantic models loaded from an optional YAML file, then the environment.

Environment variables override the file: ``SMARTCOMMS_<SECTION>__<FIELD>=value``, e.g.
``SMARTCOMMS_KAFKA__BROKERS=kafka:9092`` or ``SMARTCOMMS_REDIS__URL=redis://r:6379/0``.
Values from the environment are parsed as YAML scalars/lists (``[push, sms]`` works).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from smartcomms.standing_settings import LoyaltySettings, SegmentSettings
from triggers.durations import LONGEST_DAYS, Duration
from triggers.scenarios.builtin import builtin_definitions
from triggers.scenarios.library import expand
from triggers.scenarios.model import Name as ScenarioName
from triggers.scenarios.model import ScenarioSpec
from triggers.validation import describe_errors

CHANNELS: tuple[str, ...] = ("push", "web_push", "telegram", "viber", "whatsapp", "sms", "email")
"""Every channel the product knows, in the contract's default order (cheapest first)."""

ENV_PREFIX = "SMARTCOMMS_"
STANDING_NEEDS = {
    "segment_changed": "segments.rfm",
    "segment": "segments.rfm",
    "rfm": "segments.rfm",
    "tier_changed": "loyalty.tiers",
    "tier": "loyalty.tiers",
    "points_expiring": "loyalty.expiry_days",
}
"""trigger events and conditions of a customer's standing -> the setting they need"""


def known_channels(names: Iterable[str]) -> None:
    """ValueError naming the channels that do not exist."""
    unknown = [c for c in names if c not in CHANNELS]
    if unknown:
        raise ValueError(f"unknown channel(s) {unknown}; known: {list(CHANNELS)}")


class ConfigError(Exception):
    """The configuration is invalid; the message names every bad field and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TopicNames(_Section):
    receipts: str = "receipts"
    clicks: str = "clicks"
    customers: str = "customers"
    deliveries: str = "deliveries"
    notices: str = "notices"
    dead_letters: str = "dead-letters"

    def inputs(self) -> list[str]:
        """The four input topics."""
        return [self.receipts, self.clicks, self.customers, self.deliveries]


class KafkaSettings(_Section):
    brokers: str = "127.0.0.1:9092"
    topics: TopicNames = TopicNames()
    consumer_batch_size: int = Field(default=1000, ge=1, le=100_000)
    fetch_wait_max_ms: int = Field(default=500, ge=1, le=60_000)
    """librdkafka's ``fetch.wait.max.ms`` for the inputs. Apache Kafka answers a fetch as
    soon as data arrives, so this only bounds how often an idle partition is polled (each
    input partition has a consumer of its own). A broker that answers only at the deadline
    adds up to this much latency per hop: the local Tansu does; benchmarks run it at 10."""
    # Extra librdkafka properties for both consumer and producer, e.g. SASL_SSL:
    # {"security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512", ...}
    client_config: dict[str, str] = Field(default={}, repr=False)  # holds secrets


REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")


def redis_url(value: str) -> str:
    """``value`` if it is a Redis URL we can connect to; ValueError otherwise."""
    scheme = value.partition("://")[0] if "://" in value else ""
    if scheme not in REDIS_SCHEMES:
        raise ValueError(
            "not a Redis URL: expected redis://host:port/db (or rediss://, unix://, "
            "redis+cluster://)"
        )
    if scheme == "unix":
        return value
    parts = urlsplit(value.replace("+cluster", "", 1))
    if not parts.hostname:
        raise ValueError("a Redis URL needs a host: redis://host:port/db")
    try:
        parts.port  # noqa: B018 (urlsplit checks the port when it is read)
    except ValueError:
        raise ValueError("the port of a Redis URL is a number from 0 to 65535") from None
    return value


class RedisSettings(_Section):
    url: Annotated[str, AfterValidator(redis_url)] | None = Field(
        default=None, repr=False
    )  # may hold a password
    """None: commands that need Redis start a private local one (replay, demo)."""
    prefix: str = Field(default="sc", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    retry_for_s: float = Field(default=120, ge=0)
    """How long a process keeps retrying (with backoff) while Redis is unreachable before it
    gives up and exits (Kubernetes restarts it); readiness fails meanwhile."""
    loss_window_s: float = Field(default=5, ge=0)
    """How long ago Redis may have acknowledged writes that a restart or failover loses
    (appendfsync everysec: ~1-2 s; an asynchronous replica: its lag). Input snapshots stay
    this far behind, so a resume re-reads that input (flows.resume). 0 with appendfsync
    always and no failover."""


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("needs an offset, e.g. 2000-01-01T00:00:00+00:00")
    return value


LATEST_EVENT_TIME = datetime(9000, 1, 1, tzinfo=UTC)
"""the latest an event-time window may reach: a step's delay or a win-back after an event
near the calendar's end would fall past year 9999"""


class EventTimeWindow(_Section):
    """Event times the engine accepts; an event outside goes to dead-letters. One typo'd
    timestamp (year 2926) would otherwise move replay's event-time clock past every
    customer's timers, and a far-future one would arm timers that never come due."""

    earliest: Annotated[datetime, AfterValidator(_aware)] = datetime(2000, 1, 1, tzinfo=UTC)
    latest: Annotated[datetime, AfterValidator(_aware)] = datetime(2100, 1, 1, tzinfo=UTC)
    """an absolute bound: also where replay's clock has not seen any event yet"""
    max_ahead: Duration = 86_400.0
    """live: how far an event may lie ahead of the wall clock"""
    replay_max_jump: Duration = 180 * 86_400.0
    """replay: a single event this far ahead of the latest event time so far, followed by
    one where the stream was, is a typo'd timestamp (a dead letter: flows.outliers). Half
    a year: a typo'd year is caught, while a hand-made file that goes back by days or
    months after a jump loses nothing"""

    @model_validator(mode="after")
    def _ordered(self) -> EventTimeWindow:
        if self.earliest >= self.latest:
            raise ValueError("earliest must lie before latest")
        if self.latest > LATEST_EVENT_TIME:  # timers run centuries past their event
            raise ValueError(f"latest lies after {LATEST_EVENT_TIME.date()}")
        return self


class EngineSettings(_Section):
    shards: int = Field(default=16, ge=1, le=4096)
    """Keys of the stateful step: customers are hashed onto this many shards. Fixed for the
    life of a deployment (timer indexes are per shard); must be >= the most workers you run."""
    dedup_window_days: float = Field(default=7, gt=0, le=LONGEST_DAYS)
    """How long an applied event_id is remembered per customer (engine clock)."""
    default_timezone: str = "Europe/Moscow"
    anonymous_ttl_days: float = Field(default=30, gt=0, le=LONGEST_DAYS)
    """How long state of anonymous devices is kept after their last event."""
    decision_log_days: float = Field(default=30, gt=0, le=LONGEST_DAYS)
    """Live mode: how long each customer's decisions are kept for `smartcomms trace
    --customer` (at most 20 of them; in the customer's document)."""
    tick_seconds: float = Field(default=0.5, gt=0, le=60)
    """Live mode: how often every shard looks for due timers (lateness is at most this)."""
    timers_per_tick: int = Field(default=1000, ge=1, le=1_000_000)
    """Live mode: a tick fires the due timers of at most this many customers per shard,
    earliest first; the rest fire on the next ticks. A mass of timers coming due at once
    (the end of an outage, a bulk import) then drains in bounded batches instead of one
    batch per shard holding all of them (1M win-backs due within a minute took the flow
    to 3.7 GB RSS and stalled its input for 3.5 min in the soak). Replay: a batch with
    more customers due splits, down to chunks of this many (README, "Timers")."""

    state_cache: int = Field(default=20_000, ge=0)
    """Live mode: decoded customer states a process keeps between batches, at most (split
    evenly over the shards; ~7 KB each, ~150 MB for the default): a customer seen again
    (a web session, a receipt followed by its delivery receipts) skips the Redis read and
    the decoding (state.cache); 0: off. The live flow on the receipt-heavy input: 1.11x
    (BENCHMARKS.md, "Issue 15, 2026-12-06"); replay always keeps up to 50k."""

    event_time: EventTimeWindow = EventTimeWindow()

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _check_timezone(value)


class BonusSettings(_Section):
    accrual_percent: Decimal = Field(default=Decimal(5), ge=0, le=100)
    """Applied when a receipt carries no ``bonus``: earned = floor(total * percent / 100)."""


class BonusEarnedRule(_Section):
    enabled: bool = True
    template: str = "bonus_earned"


class AbandonedCartRule(_Section):
    enabled: bool = True
    template: str = "abandoned_cart"
    delay_minutes: float = Field(default=60, gt=0, le=LONGEST_DAYS * 1440)
    """fires this long after the last change of a non-empty cart"""


class WinBackRule(_Section):
    enabled: bool = True
    template: str = "win_back"
    after_days: float = Field(default=30, gt=0, le=LONGEST_DAYS)
    offer: str = "Дарим 300 бонусов на следующую покупку"


class TriggerSettings(_Section):
    """The built-in triggers' settings (they are scenarios: triggers.scenarios.builtin)."""

    bonus_earned: BonusEarnedRule = BonusEarnedRule()
    abandoned_cart: AbandonedCartRule = AbandonedCartRule()
    win_back: WinBackRule = WinBackRule()

    def definitions(self) -> dict[str, dict[str, Any]]:
        """The built-in scenarios as these settings make them."""
        bonus, cart, win_back = self.bonus_earned, self.abandoned_cart, self.win_back
        return builtin_definitions(
            bonus.template if bonus.enabled else None,
            cart.template if cart.enabled else None,
            cart.delay_minutes * 60,
            win_back.template if win_back.enabled else None,
            win_back.after_days * 86_400,
            win_back.offer,
        )


class CapWindow(_Section):
    """At most ``per_day`` in any rolling 24 h and ``per_week`` in any rolling 7 days."""

    per_day: int | None = Field(default=None, ge=0)
    per_week: int | None = Field(default=None, ge=0)


class CapSettings(_Section):
    marketing: CapWindow = CapWindow(per_day=2, per_week=5)
    """per customer, across all marketing triggers"""
    per_trigger: dict[str, CapWindow] = {"abandoned_cart": CapWindow(per_day=1)}
    per_channel: dict[str, CapWindow] = {}
    """a channel over its cap is left out of the cascade; no channel left: capped"""

    @field_validator("per_channel")
    @classmethod
    def _known_channels(cls, value: dict[str, CapWindow]) -> dict[str, CapWindow]:
        known_channels(value)
        return value


_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def clock_time(value: object) -> time:
    """A time of day written ``HH:MM`` (00:00-23:59); ValueError for anything else."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 21:30 as the base-60 integer 1290 (and 24:00 as 1440)
        if 0 <= value < 24 * 60:
            return time(value // 60, value % 60)
        raise ValueError(f"{value // 60}:{value % 60:02d} is not a time of day (00:00-23:59)")
    if isinstance(value, str):
        match = _HH_MM.match(value.strip())
        if match:
            return time(int(match.group(1)), int(match.group(2)))
    raise ValueError(f"{value!r} is not a time of day: write HH:MM, 00:00-23:59")


ClockTime = Annotated[
    time, PlainValidator(clock_time), PlainSerializer(lambda t: t.strftime("%H:%M"))
]


class QuietHours(_Section):
    """Marketing notices falling due between ``start`` and ``end`` local time wait for ``end``."""

    enabled: bool = True
    start: ClockTime = time(21, 0)
    end: ClockTime = time(9, 0)

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError(
                "start and end are the same time; to have no quiet hours, set enabled: false"
            )
        return self


class ChannelSettings(_Section):
    order: tuple[str, ...] = CHANNELS
    """Cascade order, cheapest first. Channels left out are never used."""

    @field_validator("order")
    @classmethod
    def _known_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("the cascade needs at least one channel")
        known_channels(value)
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value


class _Gateway(_Section):
    """What every gateway has: limits and retries. Secrets are never in the file: fields
    ending in ``_env`` name the environment variable that holds them."""

    rate_per_s: float | None = Field(default=None, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)
    retry_attempts: int = Field(default=4, ge=1, le=20)


def http_url(value: str) -> str:
    """``value`` if it is an absolute http(s) URL with a host; ValueError otherwise."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


HttpUrl = Annotated[str, AfterValidator(http_url)]


class _HttpGateway(_Gateway):
    base_url: HttpUrl


class TelegramGatewaySettings(_HttpGateway):
    kind: Literal["telegram"]
    base_url: HttpUrl = "https://api.telegram.org"
    token_env: str = "TELEGRAM_BOT_TOKEN"


class ViberGatewaySettings(_HttpGateway):
    kind: Literal["viber"]
    base_url: HttpUrl = "https://chatapi.viber.com"
    token_env: str = "VIBER_AUTH_TOKEN"
    sender_name: str = "Магазин"


class WhatsAppGatewaySettings(_HttpGateway):
    kind: Literal["whatsapp"]
    base_url: HttpUrl = "https://graph.facebook.com"
    token_env: str = "WHATSAPP_TOKEN"
    phone_number_id: str
    api_version: str = "v21.0"
    rate_per_s: float | None = Field(default=80, gt=0)


class FcmGatewaySettings(_HttpGateway):
    kind: Literal["fcm"]
    base_url: HttpUrl = "https://fcm.googleapis.com"
    token_env: str = "FCM_ACCESS_TOKEN"
    project_id: str


class WebPushGatewaySettings(_Gateway):
    """Web Push with VAPID; each subscription names its own push service."""

    kind: Literal["web_push"]
    vapid_private_key_env: str = "WEB_PUSH_VAPID_PRIVATE_KEY"
    """environment variable with the base64url raw (32 bytes) or DER P-256 private key"""
    subject: str = Field(pattern=r"^(mailto:|https://)")
    """whom the push service contacts about our traffic: mailto:ops@shop.ru or a URL"""
    ttl_s: int = Field(default=86400, ge=0, le=2_419_200)
    """how long the push service keeps a notification for an offline browser"""
    urgency: Literal["very-low", "low", "normal", "high"] = "normal"
    allowed_hosts: tuple[str, ...] = (
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "*.push.apple.com",
        "*.notify.windows.com",
    )
    """endpoint hosts we post to (``*.domain`` for subdomains); others fail the attempt"""
    require_https: bool = True


class SmsGatewaySettings(_HttpGateway):
    kind: Literal["sms"]
    path: str = "/send"
    fields: dict[str, str] = {"to": "$phone", "text": "$text"}
    form: bool = False
    headers: dict[str, str] = {}
    header_secrets_env: dict[str, str] = {}
    """header name -> environment variable holding its value (e.g. an API key)"""


class WebhookGatewaySettings(_HttpGateway):
    kind: Literal["webhook"]
    path: str = "/"
    headers: dict[str, str] = {}
    header_secrets_env: dict[str, str] = {}


class SmtpGatewaySettings(_Gateway):
    kind: Literal["smtp"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    sender: str
    starttls: bool = True
    username: str | None = None
    password_env: str | None = "SMTP_PASSWORD"
    ca_file: str | None = None


class KafkaGatewaySettings(_Gateway):
    kind: Literal["kafka"]
    topic: str
    """the retailer's own gateway reads this topic"""


GatewaySettings = Annotated[
    TelegramGatewaySettings
    | ViberGatewaySettings
    | WhatsAppGatewaySettings
    | FcmGatewaySettings
    | WebPushGatewaySettings
    | SmsGatewaySettings
    | WebhookGatewaySettings
    | SmtpGatewaySettings
    | KafkaGatewaySettings,
    Field(discriminator="kind"),
]


class DispatchSettings(_Section):
    """How the dispatcher walks a notice's cascade."""

    timeout_minutes: dict[str, Annotated[float, Field(gt=0, le=LONGEST_DAYS * 1440)]] = {
        "push": 10,
        "web_push": 10,
        "telegram": 120,
        "viber": 120,
        "whatsapp": 120,
        "sms": 1440,
        "email": 1440,
    }
    """how long a channel may stay without an ending receipt before the next is tried"""
    ending: dict[str, list[Literal["sent", "delivered", "opened", "clicked"]]] = {}
    """channel -> receipt statuses that end the cascade (default: delivered, opened)"""
    concurrency: int = Field(default=32, ge=1, le=1024)
    """gateway calls in flight at once per channel and worker (SMTP: at most 8 sessions)"""

    @field_validator("timeout_minutes", "ending")
    @classmethod
    def _known(cls, value: dict[str, Any]) -> dict[str, Any]:
        known_channels(value)
        return value


class ObservabilitySettings(_Section):
    """The HTTP server of every process: /metrics, /healthz, /readyz."""

    port: int = Field(default=9100, ge=0, le=65535)
    """0: no server"""
    host: str = "0.0.0.0"
    stale_after_s: float = Field(default=30, gt=0)
    """not ready when no batch (clock ticks included) completed for this long"""
    stuck_after_s: float = Field(default=300, gt=0)
    """not live when no batch completed for this long: the pod gets restarted"""


class SenderSettings(_Section):
    """`smartcomms send`: replicas that read the per-channel topics the dispatcher's
    ``kind: kafka`` gateways write, and send through this file's real ``gateways``."""

    topics: dict[str, str] = {}
    """channel -> the topic its messages are queued on"""
    group: str = "smartcomms-sender"
    """Kafka consumer group of the replicas (KEDA reads its lag)"""
    batch_size: int = Field(default=500, ge=1, le=100_000)

    @field_validator("topics")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        known_channels(value)
        return value


class ExperimentSettings(_Section):
    """Experiments across scenarios (each scenario has its own variants and control)."""

    global_control_percent: float = Field(default=0.0, ge=0, le=100)
    """this share of customers gets no marketing scenario's notices (they are counted as
    each scenario's control group); transactional scenarios still reach them"""


PRICES_RUB = {
    "push": 0.0,
    "web_push": 0.0,
    "telegram": 0.0,
    "viber": 1.2,
    "whatsapp": 4.5,
    "sms": 3.2,
    "email": 0.05,
}
"""what a message costs per channel by default: typical Russian list prices of 2026"""


class ConsoleSettings(_Section):
    """`smartcomms console`: the marketers' read-only pages. Bound to loopback by default;
    bound elsewhere it needs a bearer ``token`` or ``user`` and ``password``, best given
    by the environment (SMARTCOMMS_CONSOLE__TOKEN, ...), never in a file in git."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    refresh_s: float = Field(default=5.0, ge=0, le=3600)
    """the pages reload themselves this often (0: never)"""
    prices: dict[str, Annotated[float, Field(ge=0)]] = PRICES_RUB
    """channel -> the price of one message (a send the gateway took)"""
    currency: str = "RUB"
    token: SecretStr | None = None
    """at least 16 characters"""
    user: Annotated[str, Field(min_length=1)] | None = None
    password: SecretStr | None = None
    """at least 8 characters"""

    @field_validator("prices")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        known_channels(value)
        return value

    @model_validator(mode="after")
    def _credentials(self) -> ConsoleSettings:
        if (self.user is None) != (self.password is None):
            raise ValueError("user and password go together")
        for name, secret, least in (("token", self.token, 16), ("password", self.password, 8)):
            if secret is not None and len(secret.get_secret_value()) < least:
                raise ValueError(f"{name} needs at least {least} characters")
        return self


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(_Section):
    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    engine: EngineSettings = EngineSettings()
    bonus: BonusSettings = BonusSettings()
    triggers: TriggerSettings = TriggerSettings()
    caps: CapSettings = CapSettings()
    quiet_hours: QuietHours = QuietHours()
    channels: ChannelSettings = ChannelSettings()
    gateways: dict[str, GatewaySettings] = {}
    """channel -> the gateway that delivers it"""
    dispatch: DispatchSettings = DispatchSettings()
    experiments: ExperimentSettings = ExperimentSettings()
    segments: SegmentSettings = SegmentSettings()
    loyalty: LoyaltySettings | None = None
    """absent: the flat accrual of ``bonus.accrual_percent``, no tiers, no expiry"""

    @field_validator("gateways")
    @classmethod
    def _gateway_channels(cls, value: dict[str, Any]) -> dict[str, Any]:
        known_channels(value)
        return value

    templates: dict[str, dict[str, dict[str, str]]] = {}
    """Templates replacing or adding to the defaults: {name: {channel or "default":
    {"text": ..., "subject": ..., "html": ...}}} (see channels/templates.py)."""
    log: LogSettings = LogSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    sender: SenderSettings = SenderSettings()
    console: ConsoleSettings = ConsoleSettings()

    scenarios: dict[ScenarioName, ScenarioSpec] = {}
    """Every scenario: the built-ins (made from ``triggers:``, overridden key by key by a
    configured scenario of the same id) and the configured ones (``recipe:`` expanded);
    see triggers.scenarios."""

    @model_validator(mode="before")
    @classmethod
    def _scenarios_expanded(cls, data: Any) -> Any:
        return expand_scenarios(data)

    def standing_gaps(self) -> list[str]:
        """Scenarios that use segments, tiers or expiring points not configured: they
        never enter (or their condition never holds); said by ``scenarios check`` and at
        start, not refused (a recipe may be set up before the programme)."""
        loyalty = self.loyalty or LoyaltySettings()
        missing = {
            "segments.rfm": self.segments.rfm is None,
            "loyalty.tiers": not loyalty.tiers,
            "loyalty.expiry_days": loyalty.expiry_days is None,
        }
        gaps = []
        for sid, spec in self.scenarios.items():
            for used in sorted(spec.names_used() & STANDING_NEEDS.keys()):
                needs = STANDING_NEEDS[used]
                if spec.enabled and missing[needs]:
                    gaps.append(f"scenarios.{sid}: uses {used!r}, but {needs} is not configured")
        return gaps

    @model_validator(mode="after")
    def _tiers_named_exist(self) -> Settings:
        """A tier a condition names must be configured: another could never hold (a
        typo). Without tiers, `standing_gaps` says the scenario never enters."""
        tiers = [tier.name for tier in self.loyalty.tiers] if self.loyalty else []
        if not tiers:
            return self
        for sid, spec in self.scenarios.items():
            for where, values in spec.tiers_named().items():
                unknown = [v for v in values if isinstance(v, str) and v not in tiers]
                if unknown:
                    raise ValueError(f"scenarios.{sid}.{where}: {unknown[0]!r} is none of {tiers}")
        return self

    @model_validator(mode="after")
    def _caps_of_known_triggers(self) -> Settings:
        known = set(self.scenarios)
        unknown = sorted(set(self.caps.per_trigger) - known)
        if unknown:
            raise ValueError(
                f"caps.per_trigger: unknown scenario(s) {unknown}; known: {sorted(known)}"
            )
        return self


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA timezone {name!r}") from exc
    return name


def load_settings(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from the YAML file (if any) overlaid with ``SMARTCOMMS_*`` variables,
    then with ``overrides`` (``{"redis.url": ...}``: command-line options).

    Raises ConfigError with the path and reason of every invalid field.
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_yaml(Path(path))
    for name, raw in env.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            _set_nested(data, name[len(ENV_PREFIX) :].lower().split("__"), _env_value(name, raw))
    for dotted, value in (overrides or {}).items():
        _set_nested(data, dotted.split("."), value)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        where = f" in {path}" if path else ""
        raise ConfigError(
            f"invalid configuration{where}: {describe_errors(exc, '; ', expanded_input(data))}"
        ) from None


def expand_scenarios(data: Any) -> Any:
    """The configuration ``data`` with every scenario in full: the built-ins (made from
    ``triggers:``, overridden key by key by a configured scenario of the same id) and the
    configured ones, ``recipe:`` expanded."""
    if not isinstance(data, dict) or not isinstance(data.get("scenarios", {}), dict):
        return data  # the fields' own validation says what is wrong
    try:
        builtins = TriggerSettings.model_validate(data.get("triggers") or {}).definitions()
    except ValidationError:
        return data
    configured = data.get("scenarios") or {}
    merged = {}
    for sid in [*builtins, *(s for s in configured if s not in builtins)]:
        definition = configured.get(sid, {})
        if not isinstance(definition, dict):
            merged[sid] = definition
            continue
        try:
            merged[sid] = expand(definition, builtins.get(sid))
        except ValueError as exc:
            raise ValueError(f"scenarios.{sid}.recipe: {exc}") from None
    return {**data, "scenarios": merged}


def expanded_input(data: dict[str, Any]) -> dict[str, Any]:
    """The input `Settings` validates for ``data``: its scenarios with the built-ins and
    recipes expanded (what the paths of its errors refer to)."""
    try:
        expanded: dict[str, Any] = expand_scenarios(data)  # a dict stays a dict
    except ValueError:
        return data
    return expanded


def _env_value(name: str, raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"environment variable {name} is not valid YAML: {reason}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key given twice in one mapping (PyYAML keeps the
    last: a second scenario of the same id would silently replace the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), _UniqueKeyLoader)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"configuration {path} is not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from None
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"configuration {path} is not valid YAML: {reason}") from None
    except RecursionError:
        raise ConfigError(f"configuration {path} nests too deeply to read") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"configuration {path} must be a mapping at the top level")
    return loaded


def _set_nested(data: dict[str, Any], path: list[str], value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"environment override {'.'.join(path)} conflicts with a value")
    node[path[-1]] = value

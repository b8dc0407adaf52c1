"""The dispatcher as a Bytewax flow: notices and delivery receipts in, receipts out.

    python -m bytewax.run "flows.dispatch:build_flow()"      (or: smartcomms dispatch)

Keyed by customer shard like the engine, so one worker owns a customer's cascades; a
clock source ticks every shard so channel timeouts fire without traffic. Gateways,
timeouts and templates come from the configuration (SMARTCOMMS_CONFIG / environment).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Annotated, Any, cast

import bytewax.operators as op
import orjson
from bytewax.dataflow import Dataflow, Stream
from bytewax.operators import KeyedStream, StatefulBatchLogic
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from channels.dispatcher import Dispatcher, Tick
from channels.gateways.factory import build_gateway
from flows.clock import ClockTick
from flows.dataflow import shard_of
from flows.fatal import stop_if_redis_is_gone
from flows.inputs import DeadLetter, RawInput
from flows.kafka_io import (
    KafkaItem,
    KafkaRecord,
    ReliableKafkaSink,
    counting_dead_letters,
    input_source,
    read_kafka,
)
from flows.routing import route_keys
from flows.ticker import WithClock
from flows.wiring import configured, observed, tally_dead_letters, tune_gc
from smartcomms.config import ConfigError, Settings, load_settings
from smartcomms.logs import configure as configure_logging
from smartcomms.observability import DISPATCH_DEAD_LETTERS
from state.connection import connect
from state.customers import CustomerStore
from state.dispatches import DispatchStore
from triggers.customer import DAY
from triggers.events import Delivery, parse_event
from triggers.schema import Channel, Id
from triggers.validation import describe_errors

DEAD = "dead-letter"


class _NoticeIn(BaseModel):
    """What the dispatcher needs of a notice (the rest of it is carried along unread)."""

    model_config = ConfigDict(strict=True, extra="ignore")

    notice_id: Id
    customer_id: Id
    channels: Annotated[list[Channel], Field(min_length=1)]
    template: Id
    vars: dict[str, Any]


def parse_inputs(
    raw: RawInput, notices_topic: str
) -> dict[str, Any] | Delivery | DeadLetter | None:
    """A notice (plain dict of the contract; anything else on the notices topic is dead) or
    a delivery receipt. Anything else on ``deliveries`` is None: the live flow reads that
    topic too and gives it its one verdict (applied, or a dead letter)."""
    topic = raw.origin.split(":", 1)[0]
    if topic == notices_topic:
        try:
            notice = orjson.loads(raw.value)
        except orjson.JSONDecodeError as exc:
            return DeadLetter(raw.value, raw.origin, f"not JSON: {exc}", "not_json")
        try:
            _NoticeIn.model_validate(notice)
        except ValidationError as exc:
            reason = f"not a notice: {describe_errors(exc, sep='; ')}"[:500]
            return DeadLetter(raw.value, raw.origin, reason, "not_a_notice")
        return cast(dict[str, Any], notice)
    event = parse_event(raw.value)
    return event if isinstance(event, Delivery) else None


def _customer(item: dict[str, Any] | Delivery) -> str:
    return item.customer_id if isinstance(item, Delivery) else item["customer_id"]


Received = tuple[dict[str, Any] | Delivery, RawInput] | Tick
"""a notice or receipt with its input as received, or a tick"""


class _DispatchLogic(StatefulBatchLogic[Received, dict[str, Any] | DeadLetter, None]):
    def __init__(self, dispatcher: Dispatcher, shards: int) -> None:
        self._dispatcher = dispatcher
        self._shards = shards

    def on_batch(
        self, values: list[Received]
    ) -> tuple[Iterable[dict[str, Any] | DeadLetter], bool]:
        items = [value if isinstance(value, Tick) else value[0] for value in values]
        first = items[0]
        shard = (
            first.shard
            if isinstance(first, Tick)
            else shard_of("c:" + _customer(first), self._shards)
        )
        failed: list[DeadLetter] = []

        def dead_letter(index: int, reason: str) -> None:
            value = values[index]
            if not isinstance(value, Tick):
                failed.append(DeadLetter(value[1].value, value[1].origin, reason, "dispatch"))

        receipts = stop_if_redis_is_gone(
            "dispatch", lambda: self._dispatcher.process(shard, items, dead_letter)
        )
        return [*receipts, *failed], StatefulBatchLogic.DISCARD

    def snapshot(self) -> None:
        return None


def dispatcher_factory(settings: Settings, redis_url: str) -> Callable[[], Dispatcher]:
    """One dispatcher (gateways, Redis client) per process, built on first use;
    templates and gateway secrets are checked now, so a bad configuration stops the start."""
    _rules, policy = configured(settings)
    templates = policy.templates
    gateways = {
        channel: build_gateway(
            channel, gateway, settings.kafka, concurrency=settings.dispatch.concurrency
        )
        for channel, gateway in settings.gateways.items()
    }
    built: list[Dispatcher] = []

    def get() -> Dispatcher:
        if not built:
            tune_gc()
            client = connect(redis_url, settings.redis.retry_for_s)
            prefix = settings.redis.prefix
            customers = CustomerStore(client, prefix, int(settings.engine.anonymous_ttl_days * DAY))
            built.append(
                Dispatcher(
                    DispatchStore(client, prefix), customers, gateways, templates, settings.dispatch
                )
            )
        return built[0]

    return get


def encode_receipt(item: tuple[str, dict[str, Any]]) -> KafkaRecord:
    _key, receipt = item
    return receipt["customer_id"].encode(), orjson.dumps(receipt), None


def build_flow(settings: Settings | None = None) -> Dataflow:
    """The dispatch dataflow for ``settings`` (default: SMARTCOMMS_CONFIG and environment)."""
    if settings is None:
        settings = load_settings(os.environ.get("SMARTCOMMS_CONFIG"))
    if not settings.redis.url:
        raise ConfigError("redis.url is required for the dispatcher (SMARTCOMMS_REDIS__URL)")
    configure_logging(settings.log)
    kafka, shards = settings.kafka, settings.engine.shards
    topics = kafka.topics
    dispatcher = observed(
        dispatcher_factory(settings, settings.redis.url), settings, settings.redis.url, None
    )

    routes = route_keys(shards)  # the shards' Bytewax keys: evenly over the workers

    def parse(batch: list[KafkaItem | ClockTick]) -> list[tuple[str, Received | DeadLetter]]:
        out: list[tuple[str, Received | DeadLetter]] = []
        for message in batch:
            if isinstance(message, ClockTick):
                out.append((routes[message.shard], Tick(message.at, message.shard)))
                continue
            raw = read_kafka(message)
            item: dict[str, Any] | Delivery | DeadLetter | None
            if isinstance(raw, RawInput):
                item = parse_inputs(raw, topics.notices)
            elif raw.origin.startswith(f"{topics.deliveries}:"):
                item = None  # a bad message of deliveries: the live flow letters it
            else:
                item = raw
            if item is None:
                continue
            if isinstance(item, DeadLetter):
                out.append((DEAD, item))
            else:
                assert isinstance(raw, RawInput)
                out.append((routes[shard_of("c:" + _customer(item), shards)], (item, raw)))
        return out

    flow = Dataflow("smartcomms_dispatch")
    source = input_source(
        kafka, [topics.notices, topics.deliveries], False, settings.redis.loss_window_s
    )
    raw = op.input("input", flow, WithClock(source, shards, settings.engine.tick_seconds))
    parsed = op.flat_map_batch("parse", raw, parse)
    split = op.branch("split_rejects", parsed, lambda kv: kv[0] != DEAD)
    rejects = cast(Stream[DeadLetter], op.key_rm("unkey_rejects", split.falses))
    keyed = cast(KeyedStream[Received], split.trues)
    outputs = op.stateful_batch(
        "dispatch",
        keyed,
        lambda _: _DispatchLogic(stop_if_redis_is_gone("dispatch", dispatcher), shards),
    )
    sent = op.branch("split_failed", outputs, lambda kv: not isinstance(kv[1], DeadLetter))
    failed = cast(Stream[DeadLetter], op.key_rm("unkey_failed", sent.falses))
    op.output(
        "dead_letters",
        op.merge("all_dead_letters", rejects, failed),
        ReliableKafkaSink(
            kafka.brokers,
            topics.dead_letters,
            counting_dead_letters(lambda kind: DISPATCH_DEAD_LETTERS.labels(kind).inc()),
            kafka.client_config,
            on_written=tally_dead_letters(settings, settings.redis.url),
        ),
    )
    op.output(
        "receipts",
        cast(KeyedStream[dict[str, Any]], sent.trues),
        ReliableKafkaSink(kafka.brokers, topics.deliveries, encode_receipt, kafka.client_config),
    )
    return flow

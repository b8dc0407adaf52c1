"""The live flow: Kafka in, Redis state, Kafka out, on the wall clock.

Run it with Bytewax's own runner (all of its -w/-i/-a/-r/-s/-b options apply):

    python -m bytewax.run "flows.live:build_flow()" -w 2
    python -m bytewax.run flows.live:flow

Settings come from the YAML file named by ``SMARTCOMMS_CONFIG`` (optional) and the
``SMARTCOMMS_*`` environment (see smartcomms.config); ``redis.url`` is required.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source

from flows.clock import WallClock
from flows.dataflow import build_flow as build_dataflow
from flows.flowtime import FLOW_TIMES
from flows.inputs import DeadLetter
from flows.kafka_io import (
    KafkaRecord,
    ReliableKafkaSink,
    counting_dead_letters,
    input_source,
    read_kafka,
)
from flows.processor import EmittedNotice
from flows.routing import shard_of_key
from flows.stats import Stats
from flows.ticker import WithClock
from flows.wiring import observed, processor_factory, tally_dead_letters
from smartcomms.config import ConfigError, Settings, load_settings
from smartcomms.logs import configure as configure_logging
from state.connection import connect
from state.outbox import Outbox

STATS = Stats()
"""Totals of this process (read by metrics and tests)."""


def encode_notice(item: tuple[str, EmittedNotice]) -> KafkaRecord:
    """Notices are keyed by customer, so one customer's notices stay in order."""
    _key, (customer_id, notice) = item
    return customer_id.encode(), notice, None


def confirm_notices(outbox: Outbox) -> Callable[[list[tuple[str, EmittedNotice]]], None]:
    """Sink hook: notices Kafka acknowledged leave the outbox (and the flow's own time of
    each is observed: flows.flowtime)."""

    def confirm(items: list[tuple[str, EmittedNotice]]) -> None:
        FLOW_TIMES.acknowledged(notice for _key, (_customer, notice) in items)
        outbox.confirm(_by_shard((shard_of_key(key), notice) for key, (_c, notice) in items))

    return confirm


def confirm_dead_letters(
    outbox: Outbox, tally: Callable[[list[DeadLetter]], None]
) -> Callable[[list[DeadLetter]], None]:
    """Sink hook: dead letters Kafka acknowledged are counted for the console (``tally``),
    then the engine's leave the outbox (a crash in between re-emits them; the tally
    counts a letter once by its origin)."""

    def confirm(letters: list[DeadLetter]) -> None:
        tally(letters)
        by_shard = _by_shard(
            (letter.outbox_shard, letter.outbox_entry())
            for letter in letters
            if letter.outbox_shard is not None
        )
        if by_shard:
            outbox.confirm(by_shard)

    return confirm


def _by_shard(entries: Iterable[tuple[str, bytes]]) -> dict[str, list[bytes]]:
    """Outbox entries grouped by their shard, as `Outbox.confirm` takes them."""
    by_shard: dict[str, list[bytes]] = {}
    for shard, entry in entries:
        by_shard.setdefault(shard, []).append(entry)
    return by_shard


def build_flow(settings: Settings | None = None, stop_at_end: bool = False) -> Dataflow:
    """The live dataflow for ``settings`` (default: from SMARTCOMMS_CONFIG and environment).

    ``stop_at_end`` ends the run once the inputs are read to their end (catch-up runs,
    benchmarks) instead of waiting for more.
    """
    if settings is None:
        settings = load_settings(os.environ.get("SMARTCOMMS_CONFIG"))
    if not settings.redis.url:
        raise ConfigError("redis.url is required for the live flow (SMARTCOMMS_REDIS__URL)")
    configure_logging(settings.log)
    kafka = settings.kafka
    structlog.get_logger().info(
        "live flow",
        brokers=kafka.brokers,
        inputs=kafka.topics.inputs(),
        shards=settings.engine.shards,
    )
    for gap in settings.standing_gaps():
        structlog.get_logger().warning("scenario never enters", gap=gap)
    topics = kafka.topics
    engine = settings.engine
    kafka_source = input_source(kafka, topics.inputs(), stop_at_end, settings.redis.loss_window_s)
    # a catch-up run ends with its input; a clock would keep it going
    source: Source[Any] = (
        kafka_source if stop_at_end else WithClock(kafka_source, engine.shards, engine.tick_seconds)
    )
    outbox = Outbox(connect(settings.redis.url, settings.redis.retry_for_s), settings.redis.prefix)
    return build_dataflow(
        "smartcomms_live",
        source,
        read_kafka,
        observed(
            processor_factory(settings, settings.redis.url, WallClock(), STATS, live=True),
            settings,
            settings.redis.url,
            STATS,
        ),
        engine.shards,
        ReliableKafkaSink(
            kafka.brokers,
            topics.notices,
            encode_notice,
            kafka.client_config,
            on_written=confirm_notices(outbox),
        ),
        ReliableKafkaSink(
            kafka.brokers,
            topics.dead_letters,
            counting_dead_letters(lambda kind: STATS.dead_letters.update((kind,))),
            kafka.client_config,
            on_written=confirm_dead_letters(
                outbox, tally_dead_letters(settings, settings.redis.url)
            ),
        ),
    )


def __getattr__(name: str) -> Dataflow:
    # `python -m bytewax.run flows.live:flow` builds the flow from the environment on demand
    if name == "flow":
        return build_flow()
    raise AttributeError(name)

"""Building the engine's parts from settings (shared by the live and replay flows), and
the observability server of a flow process."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import TypeVar

import structlog
from confluent_kafka.admin import AdminClient
from prometheus_client import REGISTRY

from channels.policy import Policy
from flows.clock import AdmissionWindow, Clock
from flows.fatal import stop_if_port_is_taken
from flows.inputs import DeadLetter
from flows.processor import BatchProcessor
from flows.stats import Stats, StatsCollector
from smartcomms.config import Settings
from smartcomms.kafka import client_config
from smartcomms.observability import HEALTH, serve
from smartcomms.standing_settings import loyalty_of
from state.activity import ActivityCounters, DeadLetterTally
from state.backend import CoPurchaseTable, Documents, DueIndex, ReportStore
from state.cache import StateCache
from state.connection import connect
from state.copurchases import CoPurchases
from state.customers import CustomerStore
from state.memory import (
    MemoryCoPurchases,
    MemoryDocuments,
    MemoryReportCounters,
    MemoryTimerIndex,
)
from state.outbox import Outbox
from state.report import ReportCounters
from state.timers import TimerIndex
from triggers.customer import DAY
from triggers.engine import Rules


def configured(settings: Settings) -> tuple[Rules, Policy]:
    """The rules and the delivery policy of ``settings`` (templates checked)."""
    policy = Policy.from_settings(settings)
    rules = Rules(
        accrual_percent=settings.bonus.accrual_percent,
        scenarios=settings.scenarios,
        template_vars=policy.templates.variables,
        default_timezone=settings.engine.default_timezone,
        global_control_percent=settings.experiments.global_control_percent,
        loyalty=loyalty_of(settings.segments, settings.loyalty),
    )
    return rules, policy


def admission_window(settings: Settings, live: bool) -> AdmissionWindow:
    """The event times the engine accepts (engine.event_time). Only live is an event
    refused for lying ahead of the clock: replay's clock is event time, where a gap in
    the data is no error (flows.outliers guards it instead)."""
    window = settings.engine.event_time
    return AdmissionWindow(
        window.earliest.timestamp(),
        window.latest.timestamp(),
        window.max_ahead if live else float("inf"),
    )


GC_YOUNG_THRESHOLD = 100_000
"""allocations between two collections of the youngest generation (Python's default: 700)"""


def tune_gc() -> None:
    """Garbage collection for a flow process: what exists at start (modules, settings,
    compiled templates and scenarios) is frozen out of every collection, and the young
    generation is collected every 100k allocations instead of 700. The engine's objects
    die by reference counting (hardly any cycles), but every collection of the old
    generation walks the whole heap: with Python's defaults the collector took ~20 % of
    the engine's time (bench/processor.py, BENCHMARKS.md)."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 50, 100)


def processor_factory(
    settings: Settings, redis_url: str | None, clock: Clock, stats: Stats, live: bool
) -> Callable[[], BatchProcessor]:
    """A factory that builds one processor (one Redis client) per process on first use.

    Rules, policy and templates are checked now, so a bad configuration stops the start.
    ``redis_url`` None: the state lives in the process's memory (replay without a server).
    ``live``: track notices until Kafka confirms them; replay has no crash to recover
    from. Each customer's recent decisions are kept for `smartcomms trace` and the console
    where the state outlives the run (live, and replay with ``redis_url``).
    """
    rules, policy = configured(settings)
    built: list[BatchProcessor] = []

    def get() -> BatchProcessor:
        if not built:
            tune_gc()
            engine = settings.engine
            store, timers, outbox, copurchases, report, sketches, activity = _stores(
                settings, redis_url, live
            )
            built.append(
                BatchProcessor(
                    store,
                    timers,
                    rules,
                    policy,
                    engine.dedup_window_days * DAY,
                    clock,
                    stats,
                    outbox,
                    keep_decisions_s=(
                        engine.decision_log_days * DAY if live or redis_url is not None else 0.0
                    ),
                    retry_for_s=settings.redis.retry_for_s,
                    timers_per_tick=engine.timers_per_tick,
                    window=admission_window(settings, live),
                    copurchases=copurchases if rules.program.recommends else None,
                    cache=(
                        _cache(engine.state_cache, engine.shards)
                        if live
                        else _cache(REPLAY_STATE_CACHE, 1)
                    ),
                    report=report,
                    sketches=sketches if rules.loyalty.quantiles else None,
                    activity=activity,
                )
            )
        return built[0]

    return get


REPLAY_STATE_CACHE = 50_000
"""decoded states replay keeps between batches (it runs one shard): +9-16 % on the
receipt-heavy input (BENCHMARKS.md)"""


def _cache(states: int, shards: int) -> StateCache | None:
    """At most ``states`` decoded states over ``shards`` (None: no cache)."""
    return StateCache(-(-states // shards)) if states else None


def _stores(
    settings: Settings, redis_url: str | None, live: bool
) -> tuple[
    Documents,
    DueIndex,
    Outbox | None,
    CoPurchaseTable,
    ReportStore,
    ReportStore,
    ActivityCounters | None,
]:
    """The engine's store: in Redis at ``redis_url``, or in memory (None; the console's
    activity counts are kept in Redis only: nobody reads a replay's memory afterwards)."""
    if redis_url is None:
        return (
            MemoryDocuments(),
            MemoryTimerIndex(),
            None,
            MemoryCoPurchases(),
            MemoryReportCounters(),
            MemoryReportCounters(),
            None,
        )
    client = connect(redis_url, settings.redis.retry_for_s)
    prefix = settings.redis.prefix
    return (
        CustomerStore(client, prefix, int(settings.engine.anonymous_ttl_days * DAY)),
        TimerIndex(client, prefix),
        Outbox(client, prefix) if live else None,
        CoPurchases(client, prefix),
        ReportCounters(client, prefix),
        ReportCounters(client, prefix, "rfm-sketch"),
        ActivityCounters(client, prefix),
    )


T = TypeVar("T")
_serving = threading.Lock()


def observed(
    build: Callable[[], T], settings: Settings, redis_url: str, stats: Stats | None
) -> Callable[[], T]:
    """``build`` that also starts this process's observability server on first use, i.e.
    when the dataflow runs (building a flow to inspect it binds no port)."""

    def get() -> T:
        stop_if_port_is_taken(
            "observability", lambda: start_observability(settings, redis_url, stats)
        )
        return build()

    return get


def start_observability(settings: Settings, redis_url: str, stats: Stats | None) -> None:
    """Serve this process's /metrics, /healthz and /readyz once (see
    smartcomms.observability); readiness probes Redis and Kafka. ``stats``: the engine's
    counters to export."""
    config = settings.observability
    if config.port == 0 or not _serving.acquire(blocking=False):
        return  # off, or started already (the lock stays held)
    redis_client = connect(redis_url, retry_for_s=0)  # a probe answers now or fails
    kafka = settings.kafka
    admin = AdminClient(client_config(kafka.brokers, kafka.client_config))
    HEALTH.stale_after_s, HEALTH.stuck_after_s = config.stale_after_s, config.stuck_after_s
    HEALTH.probes = {
        "redis": lambda: redis_client.ping(),
        "kafka": lambda: admin.list_topics(timeout=2),
    }
    if stats is not None:
        REGISTRY.register(StatsCollector(stats))
    try:
        serve(config.port, HEALTH, config.host)
    except OSError as exc:
        where = f"observability.port {config.port} on {config.host!r}"
        raise OSError(exc.errno, f"{where}: {exc.strerror}") from None
    structlog.get_logger().info("observability", port=config.port)


def tally_dead_letters(
    settings: Settings, redis_url: str, redelivered: bool = True
) -> Callable[[list[DeadLetter]], None]:
    """Count a sink's dead letters in Redis for the console (state.activity): once each by
    its origin where the input can be ``redelivered`` (Kafka), every one otherwise (a
    replay's file: the same line of tomorrow's file is another letter). The client
    connects on first use."""
    clients: list[DeadLetterTally] = []

    def count(letters: list[DeadLetter]) -> None:
        if not clients:
            client = connect(redis_url, settings.redis.retry_for_s)
            clients.append(DeadLetterTally(client, settings.redis.prefix))
        clients[0].count(
            [
                (letter.origin if redelivered and "@" in letter.origin else "", letter.kind)
                for letter in letters
            ]
        )

    return count

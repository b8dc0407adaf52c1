"""Building the engine's parts from settings (shared by the live and replay flows)."""

from __future__ import annotations

from collections.abc import Callable

from flows.clock import Clock
from flows.processor import BatchProcessor
from flows.stats import Stats
from smartcomms.config import Settings
from state.connection import connect
from state.customers import CustomerStore
from state.outbox import Outbox
from triggers.engine import Rules

DAY_S = 86_400


def rules_from(settings: Settings) -> Rules:
    """The trigger rules as plain values."""
    bonus = settings.triggers.bonus_earned
    return Rules(
        accrual_percent=settings.bonus.accrual_percent,
        bonus_template=bonus.template if bonus.enabled else None,
    )


def processor_factory(
    settings: Settings, redis_url: str, clock: Clock, stats: Stats, use_outbox: bool
) -> Callable[[], BatchProcessor]:
    """A factory that builds one processor (one Redis client) per process on first use.

    ``use_outbox``: track notices until Kafka confirms them (live); replay has no crashes
    to recover from and writes its notices itself.
    """
    built: list[BatchProcessor] = []

    def get() -> BatchProcessor:
        if not built:
            engine = settings.engine
            client = connect(redis_url)
            store = CustomerStore(
                client, settings.redis.prefix, int(engine.anonymous_ttl_days * DAY_S)
            )
            built.append(
                BatchProcessor(
                    store,
                    rules_from(settings),
                    settings.channels.order,
                    engine.dedup_window_days * DAY_S,
                    clock,
                    stats,
                    Outbox(client, settings.redis.prefix) if use_outbox else None,
                )
            )
        return built[0]

    return get

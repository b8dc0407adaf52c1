"""Building the engine's parts from settings (shared by the live and replay flows)."""

from __future__ import annotations

from collections.abc import Callable

from channels.policy import Policy
from flows.clock import Clock
from flows.processor import BatchProcessor
from flows.stats import Stats
from smartcomms.config import Settings
from state.connection import connect
from state.customers import CustomerStore
from state.history import DecisionLog
from state.outbox import Outbox
from state.timers import TimerIndex
from triggers.customer import DAY
from triggers.engine import Rules


def rules_from(settings: Settings) -> Rules:
    """The trigger rules as plain values."""
    triggers = settings.triggers
    bonus, cart, win_back = triggers.bonus_earned, triggers.abandoned_cart, triggers.win_back
    return Rules(
        accrual_percent=settings.bonus.accrual_percent,
        bonus_template=bonus.template if bonus.enabled else None,
        cart_template=cart.template if cart.enabled else None,
        cart_delay_s=cart.delay_minutes * 60,
        win_back_template=win_back.template if win_back.enabled else None,
        win_back_after_s=win_back.after_days * DAY,
        win_back_offer=win_back.offer,
    )


def processor_factory(
    settings: Settings, redis_url: str, clock: Clock, stats: Stats, live: bool
) -> Callable[[], BatchProcessor]:
    """A factory that builds one processor (one Redis client) per process on first use.

    Rules, policy and templates are checked now, so a bad configuration stops the start.
    ``live``: track notices until Kafka confirms them and keep each customer's
    recent decisions for `smartcomms trace`; replay has no crash to recover from and keeps
    nothing after its run.
    """
    rules, policy = rules_from(settings), Policy.from_settings(settings)
    built: list[BatchProcessor] = []

    def get() -> BatchProcessor:
        if not built:
            engine = settings.engine
            client = connect(redis_url)
            store = CustomerStore(
                client, settings.redis.prefix, int(engine.anonymous_ttl_days * DAY)
            )
            built.append(
                BatchProcessor(
                    store,
                    TimerIndex(client, settings.redis.prefix),
                    rules,
                    policy,
                    engine.dedup_window_days * DAY,
                    clock,
                    stats,
                    Outbox(client, settings.redis.prefix) if live else None,
                    DecisionLog(client, settings.redis.prefix) if live else None,
                )
            )
        return built[0]

    return get

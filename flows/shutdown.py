"""Graceful stop on SIGTERM: the inputs end, so Bytewax finishes the batches in flight,
flushes the sinks, writes the last epoch's snapshot and returns (exit code 0).

Kubernetes sends SIGTERM and waits ``terminationGracePeriodSeconds`` before SIGKILL. In a
multi-process cluster every process must be stopped (the dataflow completes only when all
inputs ended); a process killed alone is covered by recovery and idempotent state writes.
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import datetime
from typing import Any, Generic, TypeVar

import structlog
from bytewax.connectors.kafka import KafkaSource
from bytewax.inputs import StatefulSourcePartition
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from flows.resume import LaggingSnapshots
from smartcomms.logs import Throttled
from smartcomms.signals import CTRL_C_ENDS_INPUTS

X = TypeVar("X")
S = TypeVar("S")

CONSUMER_ONLY = frozenset({"fetch.wait.max.ms", "fetch.min.bytes", "auto.offset.reset"})
LIST_TIMEOUT_S = 2.0
"""how long one listing of the input partitions waits for the brokers (SIGTERM is handled
between two listings)"""
_UNREACHABLE = Throttled(structlog.get_logger(), 30.0)

STOP = threading.Event()
"""Set by SIGTERM (and Ctrl-C under `smartcomms run`): every input partition of this
process ends at its next read."""


def stop_on_sigterm() -> None:
    """Install the SIGTERM handler (from the main thread, where Bytewax builds the flow),
    and Ctrl-C's where the CLI asks for it (smartcomms.signals.CTRL_C_ENDS_INPUTS)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: STOP.set())
        if os.environ.get(CTRL_C_ENDS_INPUTS):
            signal.signal(signal.SIGINT, lambda _signum, _frame: STOP.set())


class UntilStopped(StatefulSourcePartition[X, S], Generic[X, S]):
    """A partition that reads like ``inner`` until `STOP` is set, then ends."""

    def __init__(self, inner: StatefulSourcePartition[X, S]) -> None:
        self._inner = inner

    def next_batch(self) -> Any:
        if STOP.is_set():
            raise StopIteration
        return self._inner.next_batch()

    def next_awake(self) -> datetime | None:
        return self._inner.next_awake()

    def snapshot(self) -> S:
        return self._inner.snapshot()

    def close(self) -> None:
        self._inner.close()


class StoppableKafkaSource(KafkaSource):
    """Bytewax's KafkaSource whose partitions end on SIGTERM and snapshot ``snapshot_lag_s``
    behind (flows.resume)."""

    def __init__(self, *args: Any, snapshot_lag_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._snapshot_lag_s = snapshot_lag_s

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> Any:
        part = super().build_part(step_id, for_part, resume_state)
        return UntilStopped(LaggingSnapshots(part, self._snapshot_lag_s))

    def list_parts(self) -> list[str]:
        """The topics' partitions, as Bytewax lists them, but waiting for brokers that do
        not answer yet (saying so once per interval) until SIGTERM, which ends the flow
        with no input. The admin client (a producer handle in librdkafka) is not given
        consumer-only settings: librdkafka would warn about each at startup."""
        config: dict[str, Any] = {"bootstrap.servers": ",".join(self._brokers)}
        config.update((k, v) for k, v in self._add_config.items() if k not in CONSUMER_ONLY)
        admin = AdminClient(config)
        while not STOP.is_set():
            try:
                return [
                    f"{partition}-{topic}"
                    for topic in self._topics
                    for partition in _partitions(admin, topic)
                ]
            except KafkaException as exc:
                _UNREACHABLE.warning(
                    "Kafka does not answer; waiting for it",
                    brokers=config["bootstrap.servers"],
                    error=str(exc.args[0] if exc.args else exc),
                )
        return []


def _partitions(admin: AdminClient, topic: str) -> list[int]:
    """A topic's partitions (listed one by one: a broker that creates topics on first use
    creates it); RuntimeError when the broker reports an error for it."""
    metadata = admin.list_topics(topic, timeout=LIST_TIMEOUT_S).topics[topic]
    if metadata.error is not None:
        raise RuntimeError(
            f"error listing partitions for Kafka topic {topic!r}: {metadata.error.str()}"
        )
    return sorted(metadata.partitions)

"""Running flows under faults: supervised processes (restarted like Kubernetes restarts a
pod), a clean twin over the same input, and the comparisons that prove nothing was lost
or doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer
from msgspec.structs import asdict

from smartcomms.config import TopicNames
from smartcomms.topics import assignments, ensure_topics
from state.connection import connect
from state.customers import CustomerStore
from tests.faults.traffic import CART_DELAY_S, PacedTraffic
from tests.live import env_for

FAULT_SETTINGS = {
    "SMARTCOMMS_TRIGGERS__ABANDONED_CART__DELAY_MINUTES": str(CART_DELAY_S / 60),
    # the run may fall at any hour: quiet hours would hold the nudges past its end
    "SMARTCOMMS_QUIET_HOURS__ENABLED": "false",
    "SMARTCOMMS_ENGINE__SHARDS": "8",
}


def scale(name: str, default: int) -> int:
    """A size of the fault runs: ``SMARTCOMMS_FAULTS_<NAME>`` (``make faults``) or the
    default of ``make test``."""
    return int(os.environ.get(f"SMARTCOMMS_FAULTS_{name}", default))


def topics_for(brokers: str, inputs: TopicNames | None = None) -> TopicNames:
    """Fresh topics (3 partitions); with ``inputs``: its input topics, fresh outputs."""
    tag = uuid.uuid4().hex[:8]
    names = TopicNames(**{field: f"{field}-{tag}" for field in TopicNames.model_fields})
    if inputs is not None:
        names = inputs.model_copy(
            update={"notices": names.notices, "dead_letters": names.dead_letters}
        )
    ensure_topics(brokers, [*names.inputs(), names.notices, names.dead_letters], 3, {})
    return names


def flow_env(
    brokers: str, redis_url: str, topics: TopicNames, prefix: str, **extra: str
) -> dict[str, str]:
    """Environment of a flow under test, with the settings the fault traffic assumes."""
    return env_for(brokers, redis_url, topics, prefix, **{**FAULT_SETTINGS, **extra})


class Supervised:
    """A flow process that is started again whenever it exits, until `stop`: what
    Kubernetes does with a pod. Each run's stderr goes to a file of its own."""

    def __init__(
        self,
        env: dict[str, str],
        args: list[str],
        logs: Path,
        flow: str = "flows.live:flow",
        crashes: Sequence[str] = (),
    ) -> None:
        """``crashes``: the n-th run dies at ``crashes[n]`` (flows.crashpoints)."""
        self._command = [sys.executable, "-m", "bytewax.run", flow, *args]
        self._env = env
        self._crashes = list(crashes)
        self._logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.exits: list[int] = []
        """exit status of every run that ended before `stop` (-9: killed)"""
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._proc = self._start()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _start(self) -> subprocess.Popen[bytes]:
        run = len(self.exits)
        env = self._env
        if run < len(self._crashes):
            env = {**env, "SMARTCOMMS_CRASH_AT": self._crashes[run]}
        with (self._logs / f"run-{run}.log").open("wb") as log:
            return subprocess.Popen(self._command, env=env, stdout=log, stderr=log)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                code = self._proc.poll()
                if code is not None and not self._stopping.is_set():
                    self.exits.append(code)
                    self._proc = self._start()
            time.sleep(0.05)

    @property
    def runs(self) -> int:
        """How many processes were started so far."""
        return len(self.exits) + 1

    def kill(self) -> None:
        """SIGKILL the running process (the watcher starts the next one)."""
        with self._lock:
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGKILL)

    def stop(self) -> int:
        """SIGTERM the running process, wait for it; returns its exit status."""
        self._stopping.set()
        self._watcher.join()
        self._proc.terminate()
        try:
            return self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            raise

    def log_text(self) -> str:
        """Everything the runs wrote."""
        return "".join(
            path.read_text(errors="replace") for path in sorted(self._logs.glob("run-*.log"))
        )


def stream_in_background(
    traffic: PacedTraffic, brokers: str, topics: TopicNames, *more: tuple[str, TopicNames]
) -> tuple[threading.Thread, threading.Event]:
    """Send the traffic in real time from a thread, to the input topics on ``brokers`` (and
    on each of ``more`` brokers, the same message to each); returns it and a stop switch.

    Batches of up to 100 ms: the local broker (Tansu, memory storage) slows down as the
    topics fill with small batches. With 5 ms batches a full-size crash run (200k events,
    24 restarts) saw its input reach every consumer alike up to 60 s late after ~110k
    messages, longer than the cart delay the traffic is designed around; with 100 ms it
    stayed under 0.5 s throughout."""
    targets = [
        (
            Producer({"bootstrap.servers": address, "linger.ms": 100}),
            {"receipts": names.receipts, "clicks": names.clicks, "customers": names.customers},
        )
        for address, names in [(brokers, topics), *more]
    ]
    stop = threading.Event()

    def send(role: str, key: bytes | None, value: bytes) -> None:
        for producer, by_role in targets:
            while True:
                try:
                    producer.produce(by_role[role], value, key)
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)

    def run() -> None:
        traffic.stream(send, stop)
        for producer, _ in targets:
            assert producer.flush(120) == 0

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, stop


def read_topic(brokers: str, topic: str) -> list[Any]:
    """Every message of ``topic`` now (read to the end of each partition)."""
    consumer = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": f"check-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    parts = assignments(brokers, [topic])
    consumer.assign(parts)
    messages: list[Any] = []
    ended: set[int] = set()
    deadline = time.monotonic() + 120
    try:
        while len(ended) < len(parts) and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.5):
                if message.error() is None:
                    messages.append(message)
                elif message.error().code() == -191:  # _PARTITION_EOF
                    ended.add(message.partition())
    finally:
        consumer.close()
    return messages


def notices_by_id(messages: Iterable[Any]) -> tuple[dict[str, dict], Counter[str]]:
    """Notices by id (without the wall-clock ``created_at``) and how often each came."""
    seen: Counter[str] = Counter()
    by_id: dict[str, dict] = {}
    for message in messages:
        notice = orjson.loads(message.value())
        notice.pop("created_at")
        seen[notice["notice_id"]] += 1
        by_id.setdefault(notice["notice_id"], notice)
    return by_id, seen


def wait_until_settled(brokers: str, topics: list[str], quiet_s: float, timeout_s: float) -> None:
    """Wait until nothing new arrived on ``topics`` for ``quiet_s``."""
    deadline = time.monotonic() + timeout_s
    last: list[int] = []
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        counts = [len(read_topic(brokers, topic)) for topic in topics]
        if counts != last:
            last, quiet_since = counts, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        time.sleep(1)
    raise AssertionError(f"outputs still growing after {timeout_s} s: {last}")


def states(redis_url: str, prefix: str) -> dict[str, dict[str, Any]]:
    """Every stored customer and device state, comparable across runs: the dedup window
    by event id only (when each was applied is wall-clock time)."""
    client = connect(redis_url)
    store = CustomerStore(client, prefix, 0)
    subjects = []
    for key in client.scan_iter(match=f"{prefix}:[ca]:*", count=1000):
        kind, ident = key.decode().split(":", 2)[1:]
        subjects.append(f"{kind}:{ident.strip('{}')}")
    loaded = store.load(subjects)
    client.close()
    out = {}
    for subject, state in loaded.items():
        record = asdict(state)
        record["seen"] = sorted(record["seen"])
        out[subject] = record
    return out


def ready(port: int) -> bool:
    """Whether the flow serving observability on ``port`` says it is ready."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def outage(
    port: int, fail: Callable[[], None], recover: Callable[[], None], down_s: float
) -> list[bool]:
    """``fail``, watch the flow's readiness for ``down_s``, ``recover``; returns what
    readiness said meanwhile."""
    assert ready(port)
    fail()
    readiness = []
    down_until = time.monotonic() + down_s
    while time.monotonic() < down_until:
        readiness.append(ready(port))
        time.sleep(0.5)
    recover()
    return readiness

"""Redis goes away during the stream and comes back; the final state and notices equal
those of a clean twin on another Redis.

- Crash (SIGKILL) and restart from the append-only file, ``appendfsync always`` and
  ``everysec``. A killed Redis *process* loses nothing either way: what it wrote to the
  AOF is in the OS page cache. ``everysec`` can lose up to ~2 s of acknowledged writes
  only when the machine itself goes down (power, kernel), the same loss as a failover.
  The flow waits with backoff (readiness fails meanwhile) and carries on.
- Failover to a replica that lags ~2 s behind (what an OS crash under ``everysec`` or
  asynchronous replication does): acknowledged writes are gone. The fence of each shard
  (state/fence.py) notices before anything is built on the loss; the process exits, is
  started again (as Kubernetes would) and resumes from its snapshot, which lags
  ``redis.loss_window_s`` behind (flows/resume.py), so the lost input is read again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis

from smartcomms.localstack import free_port, redis_server
from tests.faults.harness import (
    Supervised,
    flow_env,
    notices_by_id,
    outage,
    read_topic,
    ready,
    states,
    stream_in_background,
    topics_for,
    wait_until_settled,
)
from tests.faults.servers import RestartableRedis, TcpProxy
from tests.faults.traffic import PacedTraffic
from tests.live import recovery_args

DOWN_S = 8.0
LAG_S = 2.0


class Outage:
    """A Redis the flow talks to (``url``) and how it fails (``fail``, then ``recover``)."""

    def __init__(self, url: str, fail: Callable[[], None], recover: Callable[[], None]) -> None:
        self.url, self.fail, self.recover = url, fail, recover


@pytest.fixture
def crash_always() -> Iterator[Outage]:
    server = RestartableRedis(appendfsync="always")
    yield Outage(server.url, server.crash, server.start)
    server.close()


@pytest.fixture
def crash_everysec() -> Iterator[Outage]:
    server = RestartableRedis(appendfsync="everysec")
    yield Outage(server.url, server.crash, server.start)
    server.close()


@pytest.fixture
def failover_to_lagging_replica() -> Iterator[Outage]:
    with ExitStack() as stack:
        primary = RestartableRedis(appendfsync="everysec")
        stack.callback(primary.close)
        replica_url = stack.enter_context(redis_server())
        replica = redis.Redis.from_url(replica_url)
        replica.replicaof("127.0.0.1", primary.port)
        proxy = TcpProxy(primary.port)
        stack.callback(proxy.close)

        def fail() -> None:
            replica.replicaof("NO", "ONE")  # the replica stops following: it falls behind
            time.sleep(LAG_S)
            proxy.cut()
            primary.crash()

        def promote() -> None:
            proxy.redirect(int(replica_url.rsplit(":", 1)[1].split("/")[0]))
            proxy.restore()

        yield Outage(f"redis://127.0.0.1:{proxy.port}/0", fail, promote)
        replica.close()


def run_through_outage(
    kafka_brokers: str, redis_url: str, redis_outage: Outage, tmp_path: Path
) -> tuple[list[int], str]:
    """Stream traffic to a clean flow and to one whose Redis fails half way; compare them.
    Returns the faulty flow's exits and log."""
    traffic = PacedTraffic(30_000, 600, seed=5)
    clean_topics = topics_for(kafka_brokers)
    faulty_topics = topics_for(kafka_brokers, inputs=clean_topics)
    port, clean_prefix = free_port(), f"rclean{uuid.uuid4().hex[:6]}"
    clean = Supervised(
        flow_env(kafka_brokers, redis_url, clean_topics, clean_prefix), ["-w", "1"], tmp_path / "c"
    )
    faulty = Supervised(
        flow_env(
            kafka_brokers,
            redis_outage.url,
            faulty_topics,
            "rfaulty",
            SMARTCOMMS_OBSERVABILITY__PORT=str(port),
        ),
        ["-w", "1", *recovery_args(tmp_path / "recovery", partitions=2)],
        tmp_path / "f",
    )
    try:
        producer, _ = stream_in_background(traffic, kafka_brokers, clean_topics)
        time.sleep(traffic.last_at / 2)
        readiness = outage(port, redis_outage.fail, redis_outage.recover, DOWN_S)
        producer.join()
        wait_until_settled(
            kafka_brokers, [clean_topics.notices, faulty_topics.notices], quiet_s=8, timeout_s=180
        )
        assert ready(port)
    finally:
        assert clean.stop() == 0, clean.log_text()[-3000:]
        assert faulty.stop() == 0, faulty.log_text()[-3000:]
    assert False in readiness  # not ready while Redis was away

    clean_notices, _ = notices_by_id(read_topic(kafka_brokers, clean_topics.notices))
    faulty_notices, _ = notices_by_id(read_topic(kafka_brokers, faulty_topics.notices))
    assert len(clean_notices) > 500
    assert faulty_notices == clean_notices
    assert states(redis_outage.url, "rfaulty") == states(redis_url, clean_prefix)
    return faulty.exits, faulty.log_text()


@pytest.mark.parametrize("kind", ["crash_always", "crash_everysec"])
def test_a_redis_crash_is_waited_out_in_the_same_process(
    kafka_brokers: str, redis_url: str, kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    exits, log = run_through_outage(
        kafka_brokers, redis_url, request.getfixturevalue(kind), tmp_path
    )
    assert exits == [], log[-3000:]  # it waited, reconnected and carried on


def test_a_failover_to_a_lagging_replica_loses_and_doubles_nothing(
    kafka_brokers: str,
    redis_url: str,
    failover_to_lagging_replica: Outage,
    tmp_path: Path,
) -> None:
    exits, log = run_through_outage(kafka_brokers, redis_url, failover_to_lagging_replica, tmp_path)
    assert "LostWrites" in log and 1 in exits, log[-3000:]  # noticed, stopped, resumed

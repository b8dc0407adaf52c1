"""The Kafka broker is unreachable for a while (every connection cut, new ones refused):
the flow stalls (readiness fails), producers buffer, and once the broker is back the flow
resumes; nothing is lost or doubled against a clean twin on another broker that saw the
same messages."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from smartcomms.localstack import free_port, kafka_broker
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
from tests.faults.servers import TcpProxy
from tests.faults.traffic import PacedTraffic
from tests.live import recovery_args

DOWN_S = 15.0


def test_a_broker_outage_stalls_the_flow_and_loses_nothing(
    kafka_brokers: str, redis_url: str, tmp_path: Path
) -> None:
    proxy_port = free_port()
    with kafka_broker(advertised_port=proxy_port) as behind:
        proxy = TcpProxy(int(behind.rsplit(":", 1)[1]), port=proxy_port)
        flaky = f"127.0.0.1:{proxy_port}"
        try:
            traffic = PacedTraffic(30_000, 600, seed=9)
            clean_topics, flaky_topics = topics_for(kafka_brokers), topics_for(flaky)
            port, tag = free_port(), uuid.uuid4().hex[:6]
            clean = Supervised(
                flow_env(kafka_brokers, redis_url, clean_topics, f"kc{tag}"),
                ["-w", "1"],
                tmp_path / "c",
            )
            flaky_flow = Supervised(
                flow_env(
                    flaky,
                    redis_url,
                    flaky_topics,
                    f"kf{tag}",
                    SMARTCOMMS_OBSERVABILITY__PORT=str(port),
                ),
                ["-w", "1", *recovery_args(tmp_path / "recovery", partitions=2)],
                tmp_path / "f",
            )
            try:
                producer, _ = stream_in_background(
                    traffic, kafka_brokers, clean_topics, (flaky, flaky_topics)
                )
                time.sleep(traffic.last_at / 2)
                readiness = outage(port, proxy.cut, proxy.restore, DOWN_S)
                producer.join()
                wait_until_settled(kafka_brokers, [clean_topics.notices], quiet_s=8, timeout_s=180)
                wait_until_settled(flaky, [flaky_topics.notices], quiet_s=8, timeout_s=180)
                assert ready(port)
            finally:
                assert clean.stop() == 0, clean.log_text()[-3000:]
                assert flaky_flow.stop() == 0, flaky_flow.log_text()[-3000:]
            assert False in readiness  # not ready while the broker was away
            assert flaky_flow.exits == [], flaky_flow.log_text()[-3000:]  # it stalled, no crash

            clean_notices, _ = notices_by_id(read_topic(kafka_brokers, clean_topics.notices))
            flaky_notices, _ = notices_by_id(read_topic(flaky, flaky_topics.notices))
            assert len(clean_notices) > 500
            assert flaky_notices == clean_notices
            letters = [m.value() for m in read_topic(flaky, flaky_topics.dead_letters)]
            assert set(letters) == set(traffic.bad)
            assert states(redis_url, f"kf{tag}") == states(redis_url, f"kc{tag}")
        finally:
            proxy.close()

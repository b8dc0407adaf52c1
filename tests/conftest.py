"""Session-wide real servers on free ports: one Redis, one 3-primary Redis Cluster (started
when a test asks for it) and one Kafka-protocol broker; the store backends (Redis, memory)
that engine tests run over."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from smartcomms.localstack import kafka_broker, redis_cluster, redis_server
from tests.backends import Backend


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on an emptied database."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(params=["redis", "memory"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """The engine's store on Redis (an emptied database), then in memory."""
    if request.param == "memory":
        return Backend("memory", None, None)
    return Backend(
        "redis", request.getfixturevalue("redis_client"), request.getfixturevalue("redis_url")
    )


@pytest.fixture(scope="session")
def redis_cluster_url() -> Iterator[str]:
    """A 3-primary Redis Cluster (``redis+cluster://`` URL)."""
    with redis_cluster(3) as url:
        yield url


@pytest.fixture(scope="session")
def kafka_brokers() -> Iterator[str]:
    with kafka_broker() as brokers:
        yield brokers

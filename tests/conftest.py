"""Session-wide real servers: one Redis and one Kafka-protocol broker on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from smartcomms.localstack import kafka_broker, redis_server


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


@pytest.fixture(scope="session")
def kafka_brokers() -> Iterator[str]:
    with kafka_broker() as brokers:
        yield brokers

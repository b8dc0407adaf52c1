"""Fixtures of the live-flow tests: fresh topics and a running flow per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from smartcomms.config import TopicNames
from smartcomms.topics import ensure_topics
from tests.live import env_for, start_flow, stop_flow


@pytest.fixture
def topics(kafka_brokers: str) -> TopicNames:
    """Fresh topics for one test (3 partitions each)."""
    tag = uuid.uuid4().hex[:8]
    names = TopicNames(**{field: f"{field}-{tag}" for field in TopicNames.model_fields})
    ensure_topics(kafka_brokers, [*names.inputs(), names.notices, names.dead_letters], 3, {})
    return names


@pytest.fixture
def prefix() -> str:
    """A Redis key prefix of this test's own."""
    return f"t{uuid.uuid4().hex[:6]}"


@pytest.fixture
def live_flow(
    kafka_brokers: str,
    redis_url: str,
    topics: TopicNames,
    prefix: str,
    request: pytest.FixtureRequest,
) -> Iterator[str]:
    """Runs the flow (``-w`` from the parameter, default 1); yields its Redis key prefix."""
    workers = getattr(request, "param", 1)
    proc = start_flow(env_for(kafka_brokers, redis_url, topics, prefix), ["-w", str(workers)])
    yield prefix
    stop_flow(proc)

"""Redis connections with timeouts and reconnect-with-backoff; single server or Cluster.

A URL with the scheme ``redis+cluster://`` (``rediss+cluster://`` for TLS) names any node
of a Redis Cluster; the client discovers the others. Every key of one customer carries the
customer as hash tag (``{C123}``), so it lives in one slot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

RedisClient = redis.Redis | RedisCluster
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


BACKOFF_CAP_S = 2.0
_FIRST_RETRIES = 6
"""0.05, 0.1, ... 1.6 s: the retries before the backoff reaches its cap (~3.2 s in all)"""


def retries_for(seconds: float) -> int:
    """How many retries with our backoff wait about ``seconds`` in all."""
    if seconds <= 0:
        return 0
    return _FIRST_RETRIES + max(0, math.ceil((seconds - 3.15) / BACKOFF_CAP_S))


def connect(url: str, retry_for_s: float = 7.0) -> Any:
    """A client for ``url`` that retries a dropped connection with exponential backoff for
    about ``retry_for_s`` (a `RedisCluster` for ``redis+cluster://`` URLs)."""
    options: dict[str, Any] = {
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "retry": Retry(
            ExponentialBackoff(cap=BACKOFF_CAP_S, base=0.05), retries=retries_for(retry_for_s)
        ),
    }
    scheme, _, rest = url.partition("://")
    if scheme in CLUSTER_SCHEMES:
        return RedisCluster.from_url(f"{CLUSTER_SCHEMES[scheme]}://{rest}", **options)
    return redis.Redis.from_url(
        url,
        health_check_interval=30,
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        **options,
    )


def is_cluster(client: RedisClient) -> bool:
    """Whether ``client`` talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)


def mget(client: RedisClient, keys: Sequence[str]) -> list[bytes | None]:
    """Values of ``keys`` in one round trip per node (keys may span slots on a Cluster)."""
    if isinstance(client, RedisCluster):
        return cast(list[bytes | None], client.mget_nonatomic(list(keys)))
    return cast(list[bytes | None], client.mget(list(keys)))

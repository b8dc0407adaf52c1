"""Redis connections with timeouts and reconnect-with-backoff; single server or Cluster.

A URL with the scheme ``redis+cluster://`` (``rediss+cluster://`` for TLS) names any node
of a Redis Cluster; the client discovers the others. Every key of one customer carries the
customer as hash tag (``{C123}``), so it lives in one slot.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

RedisClient = redis.Redis | RedisCluster
T = TypeVar("T")
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


BACKOFF_CAP_S = 2.0
_FIRST_RETRIES = 6
"""0.05, 0.1, ... 1.6 s: the retries before the backoff reaches its cap (~3.2 s in all)"""


def retries_for(seconds: float) -> int:
    """How many retries with our backoff wait about ``seconds`` in all."""
    if seconds <= 0:
        return 0
    return _FIRST_RETRIES + max(0, math.ceil((seconds - 3.15) / BACKOFF_CAP_S))


REFUSED = (redis.AuthenticationError,)
"""Errors that no retry can mend (wrong credentials): they fail at once."""


class _RetryUnlessRefused(Retry):
    """redis-py's retry, except that refused credentials (an AuthenticationError is a
    ConnectionError to redis-py) are not waited on."""

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        def retryable(error: Exception) -> bool:
            return not isinstance(error, REFUSED) and (is_retryable is None or is_retryable(error))

        return super().call_with_retry(do, fail, retryable, with_failure_count)


def connect(url: str, retry_for_s: float = 7.0, connect_timeout_s: float = 5.0) -> Any:
    """A client for ``url`` that retries a dropped connection with exponential backoff for
    about ``retry_for_s`` (a `RedisCluster` for ``redis+cluster://`` URLs)."""
    options: dict[str, Any] = {
        "socket_timeout": 10,
        "socket_connect_timeout": connect_timeout_s,
        "retry": _RetryUnlessRefused(
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


class RedisUnavailable(Exception):
    """Redis cannot be used: unreachable for the whole retry budget, or it refused us."""


def masked(url: str) -> str:
    """``url`` with its password hidden, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def ping(url: str) -> None:
    """Check within seconds that Redis at ``url`` answers and lets us in;
    `RedisUnavailable` with a one-line reason otherwise."""
    with one_shot(url):
        pass


ONE_SHOT_CONNECT_S = 3.0
"""how long a one-shot command (profile, trace, report) waits for Redis to answer"""


@contextlib.contextmanager
def one_shot(url: str) -> Iterator[Any]:
    """A client for a command that asks Redis once and exits: an unreachable Redis is
    reported within seconds, as one `RedisUnavailable` line, not retried for minutes."""
    try:
        with connect(url, retry_for_s=0, connect_timeout_s=ONE_SHOT_CONNECT_S) as client:
            client.ping()
            yield client
    except (redis.RedisError, OSError) as exc:
        raise RedisUnavailable(f"Redis at {masked(url)}: {exc}") from None


def is_cluster(client: RedisClient) -> bool:
    """Whether ``client`` talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)


def mget(client: RedisClient, keys: Sequence[str]) -> list[bytes | None]:
    """Values of ``keys`` in one round trip per node (keys may span slots on a Cluster)."""
    if isinstance(client, RedisCluster):
        return cast(list[bytes | None], client.mget_nonatomic(list(keys)))
    return cast(list[bytes | None], client.mget(list(keys)))

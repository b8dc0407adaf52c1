"""The engine's recent decisions per customer: what it emitted, held or suppressed and why.

    <prefix>:h:{<customer_id>}   list, newest first, at most KEEP entries, expires after TTL

Written in the same MULTI/EXEC as the customer's state; read by `smartcomms trace`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import orjson
import redis
from redis.client import Pipeline

KEEP = 50
TTL_S = 30 * 86_400


class DecisionLog:
    """Append and read a customer's recent decisions."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def key(self, customer_id: str) -> str:
        """Redis key of a customer's decision list."""
        return f"{self._prefix}:h:{{{customer_id}}}"

    def add(self, pipe: Pipeline, decisions: Mapping[str, list[dict[str, Any]]]) -> None:
        """Queue each customer's new decisions (oldest first) in ``pipe``."""
        for customer_id, entries in decisions.items():
            key = self.key(customer_id)
            pipe.lpush(key, *(orjson.dumps(entry) for entry in entries))
            pipe.ltrim(key, 0, KEEP - 1)
            pipe.expire(key, TTL_S)

    def recent(self, customer_id: str, limit: int = KEEP) -> list[dict[str, Any]]:
        """Newest first."""
        raw = cast(list[bytes], self._client.lrange(self.key(customer_id), 0, limit - 1))
        return [orjson.loads(entry) for entry in raw]

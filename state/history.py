"""The engine's recent decisions per customer: what it emitted, held or suppressed and why.

    <prefix>:h:{<customer_id>}   list, newest first, at most KEEP entries, expires after TTL

Written with the customer's state (same slot); read by `smartcomms trace`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import orjson

from state.batch import BatchWrite
from state.connection import RedisClient

KEEP = 50
TTL_S = 30 * 86_400
STORED_AS = {
    "at": "a",
    "trigger": "t",
    "outcome": "o",
    "notice_id": "n",
    "channels": "c",
    "reason": "r",
    "until": "u",
}
"""entry field -> key in the stored entry (one letter: the log is kept for every customer)"""
_FIELD_OF = {key: name for name, key in STORED_AS.items()}


class DecisionLog:
    """Append and read a customer's recent decisions."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def key(self, customer_id: str) -> str:
        """Redis key of a customer's decision list."""
        return f"{self._prefix}:h:{{{customer_id}}}"

    def add(self, writes: BatchWrite, decisions: Mapping[str, list[dict[str, Any]]]) -> None:
        """Queue each customer's new decisions (oldest first)."""
        pipe = writes.main
        for customer_id, entries in decisions.items():
            key = self.key(customer_id)
            pipe.lpush(key, *(_encode(entry) for entry in entries))
            pipe.ltrim(key, 0, KEEP - 1)
            pipe.expire(key, TTL_S)

    def recent(self, customer_id: str, limit: int = KEEP) -> list[dict[str, Any]]:
        """Newest first."""
        raw = cast(list[bytes], self._client.lrange(self.key(customer_id), 0, limit - 1))
        return [_decode(entry) for entry in raw]


def _encode(entry: Mapping[str, Any]) -> bytes:
    return orjson.dumps({STORED_AS[k]: v for k, v in entry.items() if v is not None})


def _decode(raw: bytes) -> dict[str, Any]:
    stored: dict[str, Any] = orjson.loads(raw)
    return {_FIELD_OF.get(k, k): v for k, v in stored.items()}

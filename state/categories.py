"""Product category names interned to short ids, shared by every customer document.

Ten million profiles each spelling out "молочные продукты" would spend more memory on
category names than on everything else; documents store a category's id instead.

    <prefix>:categories   hash: "n:<name>" -> id, "i:<id>" -> name, "next" -> last id

Ids are allocated by a Lua script (get-or-create, atomic), so every process and worker
agrees on them; each process caches what it has seen. An id is never reused or changed.
The table grows with the number of distinct categories (thousands for a retailer; input
bounds a name to 256 characters).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from state.connection import RedisClient

_GET_OR_CREATE = """
local ids = {}
for i, name in ipairs(ARGV) do
  local id = redis.call('HGET', KEYS[1], 'n:' .. name)
  if not id then
    id = tostring(redis.call('HINCRBY', KEYS[1], 'next', 1))
    redis.call('HSET', KEYS[1], 'n:' .. name, id, 'i:' .. id, name)
  end
  ids[i] = id
end
return ids
"""


class CategoryTable:
    """Category name <-> id, cached in this process."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._client = client
        self.key = f"{prefix}:categories"
        self._get_or_create = client.register_script(_GET_OR_CREATE)
        self._ids: dict[str, str] = {}
        self._names: dict[str, str] = {}

    def ids(self, names: Iterable[str]) -> dict[str, str]:
        """Name -> id for at least ``names`` (one round trip when some are new here)."""
        missing = list({name for name in names if name not in self._ids})
        if missing:
            found = self._get_or_create(keys=[self.key], args=missing)
            self._learn(zip(missing, (bytes(i).decode() for i in found), strict=True))
        return self._ids

    def names(self, ids: Iterable[str]) -> dict[str, str]:
        """Id -> name for at least ``ids`` (one round trip when some are new here)."""
        missing = list({i for i in ids if i not in self._names})
        if missing:
            found = cast(
                list[bytes | None], self._client.hmget(self.key, [f"i:{i}" for i in missing])
            )
            self._learn((name.decode(), i) for i, name in zip(missing, found, strict=True) if name)
        return self._names

    def _learn(self, pairs: Iterable[tuple[str, str]]) -> None:
        for name, ident in pairs:
            self._ids[name] = ident
            self._names[ident] = name

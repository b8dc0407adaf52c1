"""The Bytewax keys of the shards, chosen so that the shards spread evenly over workers.

Bytewax sends a key of a stateful step to worker ``SipHash-1-3(key) % workers`` (Rust's
``DefaultHasher``, zero keys, over the key's UTF-8 and a 0xFF byte: `worker_of`). Keyed
by their numbers, the 16 shards split 6/10 over two workers: the second process of a
2-process cluster did 62 % of the work (BENCHMARKS.md, issue 15). So each shard is routed
by a key of its own, ``"<shard>~<salt>"``, whose hash is ≡ the shard (mod 720,720, the
least common multiple of 1-16): shard s goes to worker s % W for every W up to 16, the
most even split there is. Shards from `SALTED` on (more than 64 shards) are routed by
their number: with that many keys per worker, hashing spreads them evenly enough.

Only Bytewax sees these keys. The shard stays its number everywhere else (Redis keys,
outboxes, timer indexes), so a deployment keeps its data. ``python -m flows.routing``
makes the salts again; tests check them against this model and a real cluster.
"""

from __future__ import annotations

import itertools

SPREAD = 720_720
"""lcm(1..16): a shard's key hashes to the shard modulo every worker count up to 16"""
_SALTS: tuple[int, ...] = (
    278946,
    1889556,
    1874712,
    1610527,
    925746,
    1028299,
    431509,
    1943284,
    1013817,
    1564073,
    162174,
    467825,
    93123,
    212284,
    290303,
    184218,
    1513264,
    670482,
    736597,
    109322,
    733486,
    1003623,
    318636,
    1416430,
    875470,
    129533,
    1715352,
    218473,
    297364,
    664368,
    80381,
    344786,
    1476580,
    4028378,
    1103290,
    527627,
    216338,
    82016,
    373417,
    131881,
    245574,
    854110,
    620211,
    94398,
    310004,
    22663,
    1393236,
    718130,
    221290,
    2775808,
    466081,
    485406,
    167212,
    1353253,
    299460,
    345431,
    998717,
    3435271,
    631369,
    2045035,
    567621,
    160229,
    1288073,
    1096451,
)
SALTED = len(_SALTS)
"""shards with a salted key (0 .. SALTED-1)"""
_SEPARATOR = "~"
_MASK = (1 << 64) - 1


def route_key(shard: int) -> str:
    """The Bytewax key of shard number ``shard``."""
    return f"{shard}{_SEPARATOR}{_SALTS[shard]}" if shard < SALTED else str(shard)


def route_keys(shards: int) -> dict[str, str]:
    """Shard name -> Bytewax key, for shards 0 .. shards-1."""
    return {str(shard): route_key(shard) for shard in range(shards)}


def shard_of_key(key: str) -> str:
    """The shard name of a Bytewax key (`route_key`'s inverse)."""
    return key.partition(_SEPARATOR)[0]


def worker_of(key: str, workers: int) -> int:
    """The worker Bytewax sends ``key`` to (the model the salts are made with)."""
    return _siphash13(key.encode() + b"\xff") % workers


def _siphash13(data: bytes) -> int:
    """SipHash-1-3 with the keys (0, 0), as Rust's ``DefaultHasher::default()``."""
    v0, v1, v2, v3 = 0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573

    def sip_round() -> None:
        nonlocal v0, v1, v2, v3
        v0 = (v0 + v1) & _MASK
        v1 = _rotl(v1, 13) ^ v0
        v0 = _rotl(v0, 32)
        v2 = (v2 + v3) & _MASK
        v3 = _rotl(v3, 16) ^ v2
        v0 = (v0 + v3) & _MASK
        v3 = _rotl(v3, 21) ^ v0
        v2 = (v2 + v1) & _MASK
        v1 = _rotl(v1, 17) ^ v2
        v2 = _rotl(v2, 32)

    whole = len(data) - len(data) % 8
    for start in range(0, whole, 8):
        word = int.from_bytes(data[start : start + 8], "little")
        v3 ^= word
        sip_round()
        v0 ^= word
    last = (len(data) & 0xFF) << 56 | int.from_bytes(data[whole:], "little")
    v3 ^= last
    sip_round()
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(3):
        sip_round()
    return v0 ^ v1 ^ v2 ^ v3


def _rotl(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (64 - bits))) & _MASK


def make_salt(shard: int) -> int:
    """The first salt whose key hashes to ``shard`` modulo `SPREAD` (~720k tries)."""
    for salt in itertools.count():
        key = f"{shard}{_SEPARATOR}{salt}".encode() + b"\xff"
        if _siphash13(key) % SPREAD == shard % SPREAD:
            return salt
    raise AssertionError("unreachable")


if __name__ == "__main__":
    print(tuple(make_salt(shard) for shard in range(64)))

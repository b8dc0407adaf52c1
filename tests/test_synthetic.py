"""The synthetic traffic's warm-up: profiles first, then (history) one purchase each."""

from __future__ import annotations

import orjson

from smartcomms.synthetic import TrafficGenerator


def _kinds(history: bool) -> list[tuple[str, str | None]]:
    events = TrafficGenerator(customers=4, seed=3).events(12, history=history)
    return [
        (event["type"], event.get("customer_id"))
        for event in (orjson.loads(raw) for _role, _key, raw in events)
    ]


def test_history_gives_every_customer_one_purchase_before_the_mix() -> None:
    kinds = _kinds(history=True)
    customers = [f"C{n:07d}" for n in range(4)]
    assert kinds[:4] == [("customer", c) for c in customers]
    assert kinds[4:8] == [("receipt", c) for c in customers]
    assert len(kinds) == 12


def test_without_history_the_mix_follows_the_profiles() -> None:
    kinds = _kinds(history=False)
    assert [kind for kind, _ in kinds[:4]] == ["customer"] * 4
    assert kinds[4:8] != [("receipt", f"C{n:07d}") for n in range(4)]

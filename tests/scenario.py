"""Running event scenarios through replay (in process; a real Redis, or the state in memory)
and reading the result."""

from __future__ import annotations

import io
import itertools
from pathlib import Path
from typing import Any

import orjson

from flows.replay import replay
from flows.stats import Stats
from smartcomms.config import Settings
from tests.events import jsonl
from triggers.events import epoch_of

_ids = itertools.count()


def click(
    kind: str, ts: str, customer: str | None = "C1", device: str = "D1", **fields: Any
) -> dict[str, Any]:
    event = {
        "event_id": f"k{next(_ids)}",
        "type": kind,
        "ts": ts,
        "anonymous_id": device,
        "customer_id": customer,
    }
    event.update(fields)
    return event


def add(
    ts: str, sku: str = "kettle", qty: int = 1, price: float = 1990.0, **kw: Any
) -> dict[str, Any]:
    return click("add_to_cart", ts, sku=sku, qty=qty, price=price, category="техника", **kw)


def run(
    redis_url: str | None,
    tmp_path: Path,
    events: list[dict[str, Any]],
    until: str | None = None,
    config: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], Stats]:
    """Notices and totals of a replay of ``events`` (``redis_url`` None: in memory)."""
    path = tmp_path / f"events-{next(_ids)}.jsonl"
    path.write_bytes(jsonl(events))  # type: ignore[arg-type]
    out, err = io.BytesIO(), io.BytesIO()
    settings = Settings.model_validate({"redis": {"prefix": f"s{next(_ids)}"}, **(config or {})})
    stats = replay(settings, path, redis_url, out, err, None if until is None else epoch_of(until))
    return [orjson.loads(line) for line in out.getvalue().splitlines()], stats


def of(notices: list[dict[str, Any]], trigger: str) -> list[dict[str, Any]]:
    return [n for n in notices if n["trigger"] == trigger]

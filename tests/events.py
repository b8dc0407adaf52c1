"""Builders of contract events for tests (plain dicts, as sources send them)."""

from __future__ import annotations

from typing import Any

import orjson


def customer(cid: str, ts: str = "2026-11-22T09:00:00+03:00", **fields: Any) -> dict[str, Any]:
    event = {"event_id": f"cust-{cid}-{ts}", "type": "customer", "ts": ts, "customer_id": cid}
    event.update(fields)
    return event


def receipt(
    event_id: str,
    cid: str | None,
    total: float,
    ts: str = "2026-11-22T10:15:03.120+03:00",
    **fields: Any,
) -> dict[str, Any]:
    event = {
        "event_id": event_id,
        "type": "receipt",
        "ts": ts,
        "receipt_id": f"R-{event_id}",
        "store_id": "S001",
        "customer_id": cid,
        "total": total,
        "lines": [{"sku": "milk", "category": "dairy", "qty": 1, "price": total, "amount": total}],
    }
    event.update(fields)
    return event


def jsonl(events: list[dict[str, Any] | bytes]) -> bytes:
    """Events as JSONL; bytes items are written as they are (for malformed lines)."""
    return b"".join((e if isinstance(e, bytes) else orjson.dumps(e)) + b"\n" for e in events)

"""The floor for replay in bench/peers.py: the bonus and win-back rules of the contract
written the naive way, in memory, single-threaded, with the standard library only.

    python bench/naive_floor.py EVENTS.jsonl [--until TS]

What a developer writes in an afternoon: json.loads per line, a dict per customer, a heap
of win-back timers (a stale one is skipped when it comes up), uuid5 notice ids, one JSON
line per notice, event ids remembered forever. It checks contact and consent for the
channel, but has no caps, quiet hours, scenarios, dead letters, persistence or exactly-once
across restarts, so it is faster than a full implementation could be.
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

NAMESPACE = uuid.UUID("6f1c1f4e-3d5b-4c8e-9a41-7d2a0e5b9c11")
ORDER = ("push", "web_push", "telegram", "viber", "whatsapp", "sms", "email")
CONTACT = {
    "push": "push_token",
    "web_push": "web_push",
    "telegram": "telegram_chat_id",
    "viber": "viber_id",
    "whatsapp": "whatsapp",
    "sms": "phone",
    "email": "email",
}
WIN_BACK_S = 30 * 86_400


def replay(lines: Iterable[bytes], until: float | None = None) -> list[str]:
    """The notices of the events, in the order emitted (JSON lines)."""
    customers: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    timers: list[tuple[float, str, float]] = []  # (due, customer, purchase it follows)
    notices: list[str] = []

    def notice(trigger: str, kind: str, cid: str, cause: str, text: str, **vars_: Any) -> None:
        profile = customers[cid]
        channels = [
            ch
            for ch in ORDER
            if profile["contacts"].get(CONTACT[ch])
            and (kind == "transactional" or profile["consents"].get(ch))
        ]
        if not channels:
            return
        notices.append(
            json.dumps(
                {
                    "notice_id": str(uuid.uuid5(NAMESPACE, f"{trigger}:{cid}:{cause}")),
                    "trigger": trigger,
                    "kind": kind,
                    "customer_id": cid,
                    "channels": channels,
                    "vars": vars_,
                    "text": text,
                    "caused_by": cause,
                },
                ensure_ascii=False,
            )
        )

    def fire(now: float) -> None:
        while timers and timers[0][0] <= now:
            _due, cid, after = heapq.heappop(timers)
            if customers[cid]["last_purchase"] == after:
                notice("win_back", "marketing", cid, f"wb:{after}", "Давно не виделись!")

    def customer(cid: str) -> dict[str, Any]:
        found = customers.get(cid)
        if found is None:
            found = customers[cid] = {
                "contacts": {},
                "consents": {},
                "balance": 0.0,
                "last_purchase": None,
            }
        return found

    last = None
    for line in lines:
        try:
            event = json.loads(line)
            at = datetime.fromisoformat(event["ts"]).timestamp()
            event_id, kind = event["event_id"], event["type"]
        except (ValueError, KeyError, TypeError):
            continue
        if event_id in seen:
            continue
        seen.add(event_id)
        fire(at)
        last = at if last is None else max(last, at)
        cid = event.get("customer_id")
        if not cid:
            continue
        profile = customer(cid)
        if kind == "customer":
            profile["contacts"].update(event.get("contacts") or {})
            profile["consents"].update(event.get("consents") or {})
        elif kind in ("receipt", "order"):
            profile["last_purchase"] = at
            heapq.heappush(timers, (at + WIN_BACK_S, cid, at))
            if kind == "receipt":
                bonus = event.get("bonus")
                earned = bonus["earned"] if bonus else int(event["total"] * 0.05)
                spent = bonus["spent"] if bonus else 0
                profile["balance"] += earned - spent
                text = f"Начислено {earned} бонусов, на счёте {profile['balance']:.0f}."
                notice("bonus_earned", "transactional", cid, event_id, text, earned=earned)
    end = until if until is not None else last
    if end is not None:
        fire(end)
    return notices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("events")
    parser.add_argument("--until", help="RFC 3339 time the clock moves on to at the end")
    args = parser.parse_args()
    until = datetime.fromisoformat(args.until).timestamp() if args.until else None
    started = time.perf_counter()
    with open(args.events, "rb") as lines:
        notices = replay(lines, until)
    print(f"{len(notices)} notices in {time.perf_counter() - started:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

"""The bonus job written with Quix Streams, the peer of bench/peers.py. Runs in the
bench-only virtualenv that peers.py builds (Quix pins its own confluent-kafka); nothing of
it is part of smartcomms.

    python quix_peer.py BROKERS GROUP OUT_TOPIC MESSAGES STATE_DIR TOPIC [TOPIC ...]

Reads every message of the topics from the start (keyed by customer, as smartcomms' input
is); per customer keeps the contacts and the bonus balance in its RocksDB state; for each
receipt of a known customer accrues the bonus (the POS figure or 5 % of the total, as the
contract says) and produces one notice to OUT_TOPIC; a message that is not JSON is
skipped. It stops once it has processed MESSAGES messages and prints the seconds from the
first message to then: its start-up (topic creation, joining the consumer group: ~25 s on
Tansu) is left out.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from quixstreams import Application, State


def bonus(value: dict[str, Any], state: State) -> dict[str, Any] | None:
    """A notice for a receipt of a known customer; a profile only updates the state."""
    kind = value.get("type")
    if kind == "customer":
        state.set("contacts", value.get("contacts") or {})
        return None
    if kind != "receipt" or not value.get("customer_id"):
        return None
    pos = value.get("bonus")
    earned = pos["earned"] if pos else int(value["total"] * 0.05)
    spent = pos["spent"] if pos else 0
    balance = state.get("balance", 0) + earned - spent
    state.set("balance", balance)
    contacts = state.get("contacts", {})
    return {
        "trigger": "bonus_earned",
        "customer_id": value["customer_id"],
        "channels": [c for c in ("push_token", "phone", "email") if c in contacts][:1],
        "vars": {"earned": earned, "balance": balance},
        "text": f"Начислено {earned} бонусов, на счёте {balance}.",
        "caused_by": value["event_id"],
    }


def main() -> None:
    brokers, group, out_topic, messages, state_dir, *topics = sys.argv[1:]
    total = int(messages)
    first = 0.0
    processed = 0
    app: Application

    def counted(_topic: str, _partition: int, _offset: int) -> None:
        nonlocal processed, first
        processed += 1
        if processed == 1:
            first = time.perf_counter()
        if processed >= total:
            app.stop()

    def skipped(_exc: Exception, message: Any, _logger: Any) -> bool:
        """A message that is not JSON (the mix has a few): skipped, and counted."""
        if message is not None:
            counted(message.topic(), message.partition(), message.offset())
        return True

    app = Application(
        broker_address=brokers,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
        on_message_processed=counted,
        on_consumer_error=skipped,
    )
    output = app.topic(out_topic, value_serializer="json")
    for name in topics:
        sdf = app.dataframe(app.topic(name, value_deserializer="json"))
        sdf = sdf.apply(bonus, stateful=True).filter(lambda notice: notice is not None)
        sdf.to_topic(output)
    app.run()
    print(f"{time.perf_counter() - first:.3f}")


if __name__ == "__main__":
    main()

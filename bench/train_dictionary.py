"""Train the zstd dictionary of the customer document format (state/codec.py).

    python bench/train_dictionary.py [--out state/documents-v2.zdict] [--size 8192]

Runs synthetic traffic (profiles, receipts, carts, logins, orders; seed 101, not the
benchmarks' seed) through the live engine on a private Redis, takes the resulting
documents and trains a dictionary on them.

It must learn the *structure* of a document (keys, timestamps, closed vocabularies such
as timezones, channels and triggers), not our synthetic data: every free-text value
(names, SKUs, cart categories, contacts, event ids, dates of the profile) is scrambled
character by character (a digit for a digit, a letter for a letter of the same alphabet)
and the traffic is of another year, so the memory benchmark, which uses the synthetic
names, contacts and the current date, gains nothing a real retailer's data would not.

The dictionary is part of the stored format: once documents are written with it, it must
never change. Run this only to make the dictionary of a new format.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime
from pathlib import Path

import zstandard
from common import ROOT

from flows.clock import EventTimeClock
from flows.stats import Stats
from flows.wiring import processor_factory
from smartcomms.config import Settings
from smartcomms.localstack import redis_server
from smartcomms.logs import configure as configure_logging
from smartcomms.synthetic import TrafficGenerator
from state.codec import compact_json
from state.connection import connect
from state.customers import CustomerStore
from triggers.customer import CustomerState
from triggers.events import Event, Rejection, parse_event
from triggers.scenarios.instances import ENTRY_ID

TRAINING_START = datetime(2023, 5, 1, 6, 0, tzinfo=UTC)
CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
LATIN = "abcdefghijklmnopqrstuvwxyz"


class Scrambler:
    """Replaces each character by a random one of its class (same length, same script)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def text(self, value: str) -> str:
        return "".join(self._char(c) for c in value)

    def _char(self, c: str) -> str:
        rng = self._rng
        if c.isdigit():
            return rng.choice("0123456789")
        for alphabet in (CYRILLIC, LATIN):
            if c.lower() in alphabet:
                picked = rng.choice(alphabet)
                return picked.upper() if c.isupper() else picked
        return c

    def state(self, state: CustomerState) -> CustomerState:
        """The state with every free-text value scrambled."""
        text = self.text
        if state.first_name:
            state.first_name = text(state.first_name)
        state.contacts = {kind: text(value) for kind, value in state.contacts.items()}
        state.cart = {
            text(sku): [qty, price, cat and text(cat)]
            for sku, (qty, price, cat) in state.cart.items()
        }
        for name in ("birthday", "registered_at"):  # the generator's dates are not real ones
            value = getattr(state, name)
            if value:
                setattr(state, name, text(value))
        for instance in state.instances.values():  # its entry event's id
            instance[ENTRY_ID] = text(instance[ENTRY_ID])
        if state.cart_cause:
            state.cart_cause = text(state.cart_cause)
        return state


def sample_documents(customers: int, events: int) -> list[bytes]:
    """Compact JSON documents of the engine's state after synthetic traffic."""
    with redis_server() as url:
        settings = Settings.model_validate(
            {"redis": {"url": url, "prefix": "d"}, "log": {"level": "error"}}
        )
        configure_logging(settings.log)
        processor = processor_factory(settings, url, EventTimeClock(), Stats(), live=True)()
        # another seed and another year than the benchmarks: what the dictionary learns of
        # the times in a document is their shape, not this year's digits
        traffic = TrafficGenerator(customers=customers, seed=101, start=TRAINING_START)
        batch: list[Event] = []
        for _role, _key, raw in traffic.events(events):
            parsed = parse_event(raw)
            assert not isinstance(parsed, Rejection), parsed
            batch.append(parsed)
            if len(batch) == 2_000:
                processor.process("0", batch)
                batch = []
        processor.process("0", batch)
        client = connect(url)
        store = CustomerStore(client, "d", 0)
        keys = sorted(client.scan_iter("d:[ca]:*", count=1000))  # same samples, same order
        subjects = [key.decode()[2:].replace("{", "").replace("}", "") for key in keys]
        states = store.load(subjects)
        ids = store.categories.ids(c for state in states.values() for c in state.category_spend)
        client.close()
    scrambler = Scrambler(seed=5)
    return [compact_json(scrambler.state(state), ids) for state in states.values()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "state" / "documents-v2.zdict")
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=400_000)
    args = parser.parse_args()
    samples = sample_documents(args.customers, args.events)
    dictionary = zstandard.train_dictionary(args.size, samples, level=3)
    args.out.write_bytes(dictionary.as_bytes())
    mean = sum(map(len, samples)) / len(samples)
    print(f"{len(samples):,} documents (mean {mean:,.0f} B of JSON) -> {args.out}")


if __name__ == "__main__":
    main()

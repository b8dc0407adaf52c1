"""A Bytewax flow for tests/flows/test_routing.py: keys the stateful step by the shards'
Bytewax keys (ROUTED_SHARDS of them) and has each process append the keys it got to
``$ROUTED_OUT/<process index>`` (one worker per process, so process index = worker)."""

from __future__ import annotations

import os
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulBatchLogic
from bytewax.testing import TestingSource

from flows.routing import route_keys


class _Record(StatefulBatchLogic[str, str, None]):
    def on_batch(self, values: list[str]) -> tuple[list[str], bool]:
        out = Path(os.environ["ROUTED_OUT"]) / os.environ["BYTEWAX_PROCESS_ID"]
        with out.open("a") as file:
            file.writelines(f"{value}\n" for value in values)
        return [], StatefulBatchLogic.DISCARD

    def snapshot(self) -> None:
        return None


flow = Dataflow("routed")
keys = list(route_keys(int(os.environ["ROUTED_SHARDS"])).values())
keyed = op.key_on("key", op.input("keys", flow, TestingSource(keys)), lambda key: key)
# a cluster whose flow has no output panics ("Send thread panic"): inspect is one
op.inspect("done", op.stateful_batch("record", keyed, lambda _: _Record()))

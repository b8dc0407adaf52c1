"""A Bytewax flow for tests/flows/test_kafka_io.py: writes one message to
``$CONFIRMING_TOPIC`` on ``$CONFIRMING_BROKERS`` through the reliable sink, whose hook
then finds Redis gone (as the outbox's confirmation would)."""

from __future__ import annotations

import os

import bytewax.operators as op
import redis
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

from flows.kafka_io import KafkaRecord, ReliableKafkaSink


def _encode(value: bytes) -> KafkaRecord:
    return None, value, None


def _redis_gone(_items: list[bytes]) -> None:
    raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")


flow = Dataflow("confirming")
sink = ReliableKafkaSink(
    os.environ["CONFIRMING_BROKERS"],
    os.environ["CONFIRMING_TOPIC"],
    _encode,
    on_written=_redis_gone,
)
op.output("out", op.input("in", flow, TestingSource([b"notice"])), sink)

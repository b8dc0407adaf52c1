"""The shards' Bytewax keys (flows.routing): a shard keeps its name, and a cluster of W
workers gets shard s on worker s % W, checked against the model and a real cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.routing import SALTED, route_key, route_keys, shard_of_key, worker_of
from smartcomms.localstack import free_port


def test_a_key_gives_back_its_shard() -> None:
    for shard in range(SALTED + 40):
        assert shard_of_key(route_key(shard)) == str(shard)
    assert route_keys(3) == {"0": route_key(0), "1": route_key(1), "2": route_key(2)}


def test_every_salted_shard_goes_to_worker_shard_mod_workers_up_to_16() -> None:
    assert SALTED >= 64
    for workers in range(1, 17):
        for shard in range(SALTED):
            assert worker_of(route_key(shard), workers) == shard % workers


def test_the_model_splits_the_plain_numbers_as_bytewax_was_measured_to() -> None:
    # Bytewax 0.21 with 2 workers puts the shard numbers 0-15 6/10 (measured): the
    # uneven split the salts exist for
    assert [s for s in range(16) if worker_of(str(s), 2) == 0] == [4, 5, 11, 12, 13, 15]


@pytest.mark.parametrize(("processes", "shards"), [(2, 16), (3, 16), (2, SALTED + 6)])
def test_a_real_cluster_puts_shard_s_on_worker_s_mod_workers(
    tmp_path: Path, processes: int, shards: int
) -> None:
    addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(processes))
    env = {
        **os.environ,
        "ROUTED_OUT": str(tmp_path),
        "ROUTED_SHARDS": str(shards),
        "BYTEWAX_ADDRESSES": addresses,
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bytewax.run", "tests.flows.routed_flow:flow"],
            env={**env, "BYTEWAX_PROCESS_ID": str(index)},
            stderr=subprocess.PIPE,
        )
        for index in range(processes)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()[-2000:]
    got = {key: int(file.name) for file in tmp_path.iterdir() for key in file.read_text().split()}
    assert len(got) == shards
    for key, worker in got.items():
        shard = int(shard_of_key(key))
        assert worker == worker_of(key, processes)
        if shard < SALTED:
            assert worker == shard % processes

"""Shared pieces of the benchmarks; importing it puts the project root on sys.path."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def start_cluster(
    flow: str,
    processes: int,
    env: Mapping[str, str],
    own_env: Sequence[Mapping[str, str]] | None = None,
) -> list[subprocess.Popen[bytes]]:
    """A Bytewax flow (``module:expression``) started as a cluster of ``processes``
    processes on loopback (-i/-a, one worker each), as `k8s/` runs it with that many pods;
    ``own_env[i]``: what process i sets on top of ``env`` (its metrics port)."""
    from smartcomms.localstack import free_port  # once ROOT is on sys.path

    addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(processes))
    command = [sys.executable, "-m", "bytewax.run", flow]
    return [
        subprocess.Popen(
            [*command, "-i", str(i), "-a", addresses] if processes > 1 else command,
            env={**os.environ, **env, **(own_env[i] if own_env else {})},
        )
        for i in range(processes)
    ]

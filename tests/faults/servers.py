"""Servers that fail on purpose: a Redis that can be killed and started again on the same
port with the same append-only file, and a TCP proxy that can cut a broker off."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from contextlib import suppress

from smartcomms.localstack import free_port, redis_server_binary, wait_for_port


class RestartableRedis:
    """A Redis with AOF on a fixed port: `crash` (SIGKILL) and `start` it again."""

    def __init__(self, appendfsync: str) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="smartcomms-aof-")
        self._args = [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self._dir,
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            appendfsync,
        ]
        self._proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        """Start (again): Redis loads what its append-only file holds."""
        self._proc = subprocess.Popen(
            self._args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port, self._proc, "redis-server", 30)

    def crash(self) -> None:
        """SIGKILL: what was written but not yet fsynced is gone."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait()

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
        shutil.rmtree(self._dir, ignore_errors=True)


class TcpProxy:
    """Forwards a loopback port to ``target``; `cut` closes every connection and refuses
    new ones (the broker is unreachable), `restore` accepts again."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.port = port or free_port()
        self._target = ("127.0.0.1", target_port)
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def redirect(self, target_port: int) -> None:
        """New connections go to another port (a failover)."""
        self._target = ("127.0.0.1", target_port)

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, []
        if listener is not None:
            listener.close()
        for client, upstream in pairs:
            for sock in (client, upstream):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

"""A real HTTP server on loopback standing in for a provider: it records every request and
answers from a script (status, JSON body, headers, delay)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class Provider:
    """The server's state: what it received, what it will answer next."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: deque[Answer] = deque()
        self.default = Answer()
        self.url = ""
        self.in_flight = 0
        self.peak_in_flight = 0
        """the most requests the server was answering at one time"""

    def answer(self, *answers: Answer) -> None:
        self.script.extend(answers)


@contextmanager
def provider() -> Iterator[Provider]:
    state = Provider()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real providers
        disable_nagle_algorithm = True  # headers and body would wait 40 ms for an ACK

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            with lock:
                state.requests.append(Recorded("POST", self.path, dict(self.headers), body))
                answer = state.script.popleft() if state.script else state.default
                state.in_flight += 1
                state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
            time.sleep(answer.delay_s)
            with lock:
                state.in_flight -= 1
            payload = orjson.dumps(answer.body)
            self.send_response(answer.status)
            for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 256  # the stdlib's 5 makes concurrent clients wait for a slot

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that timed out on purpose closed the connection: not news

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()

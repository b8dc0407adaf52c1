"""Many HTTP requests at once over keep-alive connections: libcurl's multi interface.

Python's ``http.client`` costs ~130 µs of interpreter time per request, and threads only
add GIL contention on top; libcurl runs the whole exchange (TLS, keep-alive pool, HTTP/2
where offered, timeouts) in C, so a batch of requests costs a few µs of Python each. Each
thread that calls `CurlTransport.exchange` gets its own multi handle and connection pool.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO

import pycurl


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    """lower-case names"""
    body: bytes


class _Exchange:
    """One easy handle and the buffers of the request it is carrying."""

    def __init__(self, curl: pycurl.Curl) -> None:
        self.curl = curl
        self.body = BytesIO()
        self.header_lines: list[bytes] = []
        self.index = 0
        curl.setopt(pycurl.WRITEFUNCTION, self.body.write)
        curl.setopt(pycurl.HEADERFUNCTION, self.header_lines.append)

    def start(self, index: int, request: Request) -> None:
        self.index = index
        self.body.seek(0)
        self.body.truncate()
        self.header_lines.clear()
        curl = self.curl
        curl.setopt(pycurl.URL, request.url)
        curl.setopt(pycurl.CUSTOMREQUEST, request.method)
        curl.setopt(pycurl.POSTFIELDS, request.body)
        # "Expect:" stops libcurl from waiting for a 100-continue on bodies over 1 KiB
        curl.setopt(
            pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in request.headers.items()] + ["Expect:"]
        )

    def response(self) -> Response:
        headers: dict[str, str] = {}
        for line in self.header_lines:
            if line.startswith(b"HTTP/"):
                headers.clear()  # an interim 1xx answer came first
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return Response(self.curl.getinfo(pycurl.RESPONSE_CODE), headers, self.body.getvalue())


class CurlTransport:
    """Runs requests concurrently, at most ``concurrency`` in flight per calling thread."""

    def __init__(self, timeout_s: float, concurrency: int = 32) -> None:
        self._timeout_ms = int(timeout_s * 1000)
        self._concurrency = concurrency
        self._ca_file = ssl.get_default_verify_paths().cafile
        """the system's CA bundle, as Python's own HTTPS uses (libcurl's built-in path may
        not exist in a slim image)"""
        self._local = threading.local()
        self._multis: list[pycurl.CurlMulti] = []
        self._handles: list[pycurl.Curl] = []
        self._lock = threading.Lock()

    def exchange(self, requests: Sequence[Request]) -> list[Response | str]:
        """A response, or a transport error (refused, reset, timed out, ...), per request."""
        multi, idle = self._thread_state()
        results: list[Response | str] = [""] * len(requests)
        waiting = list(reversed(range(len(requests))))
        in_flight = 0
        while waiting or in_flight:
            while waiting and in_flight < self._concurrency:
                exchange = idle.pop() if idle else self._new_exchange()
                index = waiting.pop()
                exchange.start(index, requests[index])
                multi.add_handle(exchange.curl)
                in_flight += 1
            while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                pass
            finished = 0
            while True:
                queued, ok, failed = multi.info_read()
                for curl in ok:
                    results[curl.exchange.index] = curl.exchange.response()
                for curl, code, text in failed:
                    results[curl.exchange.index] = f"curl error {code}: {text}"
                for curl in [*ok, *(f[0] for f in failed)]:
                    multi.remove_handle(curl)
                    idle.append(curl.exchange)
                    finished += 1
                if not queued:
                    break
            in_flight -= finished
            if in_flight and not finished:
                multi.select(1.0)
        return results

    def close(self) -> None:
        """Close every thread's connections and handles (the transport is not used again)."""
        with self._lock:
            handles, self._handles = self._handles, []
            multis, self._multis = self._multis, []
        for curl in handles:
            curl.close()
        for multi in multis:
            multi.close()

    def _thread_state(self) -> tuple[pycurl.CurlMulti, list[_Exchange]]:
        multi = getattr(self._local, "multi", None)
        if multi is None:
            multi = self._local.multi = pycurl.CurlMulti()
            self._local.idle = []
            with self._lock:
                self._multis.append(multi)
        return multi, self._local.idle

    def _new_exchange(self) -> _Exchange:
        curl = pycurl.Curl()
        curl.setopt(pycurl.NOSIGNAL, 1)
        curl.setopt(pycurl.TIMEOUT_MS, self._timeout_ms)
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, self._timeout_ms)
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.FOLLOWLOCATION, 0)
        if self._ca_file:
            curl.setopt(pycurl.CAINFO, self._ca_file)
        exchange = _Exchange(curl)
        curl.exchange = exchange
        with self._lock:
            self._handles.append(curl)
        return exchange

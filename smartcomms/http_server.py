"""The standard library's threading HTTP server, as the console and the demo's fake
gateways run it: daemon request threads, and a request that fails (most often a client
that hung up mid-answer) is one log line, not a traceback on stderr."""

from __future__ import annotations

import socket
import sys
from http.server import ThreadingHTTPServer
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class QuietHTTPServer(ThreadingHTTPServer):
    """`ThreadingHTTPServer` that logs a failed request in one line, on IPv4 or IPv6 as its
    host is written."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        if ":" in address[0]:  # an IPv6 address ("::1", "::")
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            log.debug("http client hung up", client=client_address[0])
        else:
            log.warning("http request failed", client=client_address[0], error=repr(error))

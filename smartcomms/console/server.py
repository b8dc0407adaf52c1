"""`smartcomms console`: the pages over HTTP (standard library server, Jinja templates).

Read-only: every page answers GET from Redis counters or one customer's keys. Bound to
127.0.0.1 by default; bound elsewhere, a bearer token or a user and password (from the
environment) is required. Numbers are plain HTML; bars are CSS and the sparkline is SVG
drawn on the server, so no page needs JavaScript, and none is sent.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import jinja2
import orjson
import redis
import structlog

from smartcomms.config import ConfigError, ConsoleSettings
from smartcomms.console.chains import chain_of
from smartcomms.console.readings import Readings
from smartcomms.console.strings import language_of, span, words
from smartcomms.http_server import QuietHTTPServer

HERE = Path(__file__).parent
PAGES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
log = structlog.get_logger()


def check_binding(settings: ConsoleSettings, host: str) -> None:
    """Refuse to serve beyond this machine without credentials."""
    if _loopback(host):
        return
    if settings.token is None and settings.user is None:
        raise ConfigError(
            f"console bound to {host} needs credentials: set SMARTCOMMS_CONSOLE__TOKEN, or "
            "SMARTCOMMS_CONSOLE__USER and SMARTCOMMS_CONSOLE__PASSWORD"
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Console:
    """The pages of one configuration over one Redis."""

    def __init__(self, readings: Readings) -> None:
        self.readings = readings
        self.settings = readings.settings
        scenarios = self.settings.scenarios
        order = self.settings.channels.order
        self.chains = {sid: chain_of(spec, order) for sid, spec in scenarios.items()}
        self.routes: dict[str, Callable[[dict[str, str]], tuple[str, dict[str, Any]]]] = {
            "/": self._overview,
            "/scenarios": self._scenarios,
            "/delivery": self._delivery,
            "/customers": self._customer,
            "/chains": self._chains,
        }

    def page(self, path: str, query: dict[str, str], language: str) -> tuple[int, bytes, str]:
        """(status, body, content type) of a GET."""
        if path == "/report.json":
            body = orjson.dumps(self.readings.report(), option=orjson.OPT_INDENT_2)
            return HTTPStatus.OK, body, "application/json"
        if path == "/static/console.css":
            return HTTPStatus.OK, (HERE / "console.css").read_bytes(), "text/css; charset=utf-8"
        if path == "/healthz":
            return HTTPStatus.OK, b"ok\n", "text/plain"
        status = HTTPStatus.OK
        if path.startswith("/scenarios/"):
            template, view = self._scenario(path.removeprefix("/scenarios/"))
        elif path in self.routes:
            template, view = self.routes[path](query)
        else:
            template, view = "missing.html", {"what": "not_found_page", "live": False}
        if template == "missing.html":
            status = HTTPStatus.NOT_FOUND
        return status, self._render(template, view, path, query, language), "text/html"

    def _render(
        self, template: str, view: dict[str, Any], path: str, query: dict[str, str], lang: str
    ) -> bytes:
        here = path + ("?" + "&".join(f"{k}={quote(v)}" for k, v in query.items() if k != "lang"))
        started = time.perf_counter()
        html = PAGES.get_template(template).render(
            t=words(lang),
            span=lambda seconds: span(seconds, lang),
            lang=lang,
            other_lang="ru" if lang == "en" else "en",
            here=here.rstrip("?"),
            path=path,
            refresh_s=self.settings.console.refresh_s,
            scenario_ids=sorted(self.chains),
            **view,
        )
        log.debug("console page", path=path, ms=round((time.perf_counter() - started) * 1000, 1))
        return html.encode()

    def _overview(self, _query: dict[str, str]) -> tuple[str, dict[str, Any]]:
        return "overview.html", {"o": self.readings.overview(), "live": True}

    def _scenarios(self, _query: dict[str, str]) -> tuple[str, dict[str, Any]]:
        return "scenarios.html", {"report": self.readings.report()["scenarios"], "live": True}

    def _scenario(self, sid: str) -> tuple[str, dict[str, Any]]:
        figures = self.readings.report()["scenarios"].get(sid)
        if figures is None:
            return "missing.html", {"what": "no_scenario", "live": False}
        chain = self.chains.get(sid)
        return "scenario.html", {"sid": sid, "f": figures, "chain": chain, "live": True}

    def _delivery(self, _query: dict[str, str]) -> tuple[str, dict[str, Any]]:
        return "delivery.html", {"d": self.readings.delivery(), "live": True}

    def _customer(self, query: dict[str, str]) -> tuple[str, dict[str, Any]]:
        customer_id = query.get("id", "").strip()
        found = self.readings.customer(customer_id) if customer_id else None
        return "customer.html", {"customer_id": customer_id, "c": found, "live": False}

    def _chains(self, _query: dict[str, str]) -> tuple[str, dict[str, Any]]:
        return "chains.html", {"chains": self.chains, "live": False}


def serve(console: Console, host: str, port: int) -> QuietHTTPServer:
    """Serve ``console`` on a thread; returns the server (``server_address``, shutdown)."""
    settings = console.settings.console
    expected = _expected_authorization(settings)

    class Handler(BaseHTTPRequestHandler):
        server_version = "smartcomms-console"

        def version_string(self) -> str:
            return self.server_version  # not Python's version, no trailing blank

        def do_GET(self) -> None:
            if expected is not None and not _authorized(
                self.headers.get("Authorization"), expected
            ):
                self._answer(
                    HTTPStatus.UNAUTHORIZED,
                    b"unauthorized\n",
                    "text/plain",
                    {"WWW-Authenticate": expected[0] + ' realm="smartcomms"'},
                )
                return
            url = urlsplit("/" + self.path.lstrip("/"))  # "//host/" is a path here, no host
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            language = language_of(query.get("lang"), self.headers.get("Accept-Language"))
            try:
                status, body, kind = console.page(url.path, query, language)
            except redis.RedisError as exc:
                status, kind = HTTPStatus.SERVICE_UNAVAILABLE, "text/plain"
                body = f"Redis unavailable: {' '.join(str(exc).split())}\n".encode()
            except Exception as exc:  # a page never shows a traceback
                log.warning("console page failed", path=url.path, error=repr(exc))
                status, body, kind = (
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    b"page failed\n",
                    "text/plain",
                )
            self._answer(status, body, kind)

        def do_HEAD(self) -> None:
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED, b"", "text/plain")

        def _answer(
            self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header(
                "Content-Type",
                kind if "charset" in kind or "json" in kind else f"{kind}; charset=utf-8",
            )
            self.send_header("Content-Length", str(len(body)))
            for name, value in {**SECURITY_HEADERS, **(extra or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = QuietHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="console").start()
    return server


def _expected_authorization(settings: ConsoleSettings) -> tuple[str, str] | None:
    """(scheme, the credentials the header must carry), None: no check (loopback)."""
    if settings.token is not None:
        return "Bearer", settings.token.get_secret_value()
    if settings.user is not None and settings.password is not None:
        pair = f"{settings.user}:{settings.password.get_secret_value()}".encode()
        return "Basic", base64.b64encode(pair).decode()
    return None


def _authorized(header: str | None, expected: tuple[str, str]) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == expected[0].lower() and hmac.compare_digest(
        given.strip().encode(), expected[1].encode()
    )

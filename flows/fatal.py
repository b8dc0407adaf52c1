"""A flow process whose Redis is gone, or that cannot listen, stops with one line.

Bytewax turns an exception in a step into a panic of its Rust runtime: a Rust backtrace and
three Python tracebacks, ~100 lines, for what is an operational fact: Redis stayed
unreachable for the whole ``redis.retry_for_s``, refused us, or lost writes it had
acknowledged (flows.processor, state.fence). The engine's and the dispatcher's steps, and
the sinks' hooks that confirm in Redis (flows.kafka_io), call through
`stop_if_redis_is_gone`: one error line naming Redis, then the process exits 1 at once, as
a crash would. The supervisor restarts it; the outbox and the snapshots make a
crash lose nothing. Only a flow process (``python -m bytewax.run``: `smartcomms run` and
`dispatch`, the pods) stops so; replay stops its input and reports the error once the
flow has ended (`RedisLoss`); a flow run inside another program (tests, benchmarks) gets
the exception, and ``SMARTCOMMS_TRACEBACK=1`` keeps Bytewax's report.
The observability server's start goes through `stop_if_port_is_taken` alike (exit 2).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn, TypeVar

import redis
import structlog

from state.connection import RedisUnavailable
from state.fence import LostWrites

T = TypeVar("T")
REDIS_GONE = (redis.RedisError, RedisUnavailable, LostWrites)

log = structlog.get_logger("smartcomms")


def stop_if_redis_is_gone(step: str, call: Callable[[], T]) -> T:
    """``call()``; when Redis is gone, one line and exit 1 (see the module)."""
    return _stop_on(REDIS_GONE, "Redis is gone; stopping", 1, step, call)


def stop_if_port_is_taken(step: str, call: Callable[[], T]) -> T:
    """``call()``; when it cannot listen (the observability port taken, a bad host), one
    line and exit 2, as for a bad setting (not Bytewax's panic and a traceback)."""
    return _stop_on((OSError,), "cannot listen; stopping", 2, step, call)


def _stop_on(
    errors: tuple[type[Exception], ...], message: str, code: int, step: str, call: Callable[[], T]
) -> T:
    try:
        return call()
    except errors as exc:
        if os.environ.get("SMARTCOMMS_TRACEBACK") or not _flow_process():
            raise
        _stop(message, code, step, exc)


def _flow_process() -> bool:
    """Whether this process is ``python -m bytewax.run``."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec is not None and spec.name == "bytewax.run"


def _stop(message: str, code: int, step: str, exc: Exception) -> NoReturn:
    log.error(message, step=step, error=f"{type(exc).__name__}: {exc}")
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(code)


class RedisLoss:
    """An in-process run's (replay's) answer to Redis gone: the first error is kept and the
    input told to stop, and the steps through `guard` do nothing more; the caller reports
    the error once the flow has ended (a flow process stops at once instead)."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self.error: Exception | None = None

    def guard(self, call: Callable[[], T], nothing: T) -> T:
        """``call()``; ``nothing`` once Redis is gone (this call's error is kept)."""
        if self.error is not None:
            return nothing
        try:
            return call()
        except REDIS_GONE as exc:
            self.error = exc
            self._stop.set()
            return nothing

    def raise_error(self) -> None:
        """`RedisUnavailable` naming the error, if Redis went."""
        if self.error is not None:
            error = f"{type(self.error).__name__}: {self.error}"
            raise RedisUnavailable(f"Redis is gone ({error})") from self.error

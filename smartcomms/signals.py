"""How a long-running command learns it should stop: SIGTERM and Ctrl-C set an event.

The handlers raise nothing: an exception raised from a signal handler is lost when it
lands in a finalizer (a Redis pipeline's ``__del__``), and the process then ignores the
signal it was sent (the console did, once, in the test suite)."""

from __future__ import annotations

import signal
import threading

CTRL_C_ENDS_INPUTS = "SMARTCOMMS_CTRL_C_ENDS_INPUTS"
"""Set by `smartcomms run` and `dispatch` for the Bytewax process they become: Ctrl-C
there ends the inputs as SIGTERM does (flows.shutdown), instead of a Bytewax panic. A flow
built inside another program (a test, a benchmark) leaves that program's Ctrl-C alone."""


def stop_on_signals(stop: threading.Event) -> None:
    """Set ``stop`` on SIGTERM and SIGINT (call from the main thread)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

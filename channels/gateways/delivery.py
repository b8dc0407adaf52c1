"""Sending through a gateway with retries (exponential backoff, jitter) and a rate limit."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from channels.gateways.base import Gateway, Message, SendResult


class TokenBucket:
    """At most ``rate`` sends per second on average, bursts up to ``burst``."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = rate
        self._capacity = burst if burst is not None else max(1.0, rate)
        self._tokens = self._capacity
        self._clock, self._sleep = clock, sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take one token, waiting for it when the bucket is empty."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            self._tokens -= 1
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits up to base * 2**n, capped."""

    attempts: int = 4
    base_s: float = 0.2
    cap_s: float = 10.0

    def delay(self, attempt: int, asked: float | None, rng: random.Random) -> float:
        """The wait before retry ``attempt`` (1-based); a provider's Retry-After wins."""
        if asked is not None:
            return min(asked, self.cap_s)
        return rng.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


def send_with_retries(
    gateway: Gateway,
    message: Message,
    policy: RetryPolicy,
    limiter: TokenBucket | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> tuple[SendResult, int]:
    """Send, retrying transient failures; returns the last result and the attempts made.

    Permanent failures (4xx other than 429, a provider's "no such recipient") are not
    retried: they move the cascade on to the next channel.
    """
    rng = rng or random.Random()
    result = SendResult("retry", error="not sent")
    for attempt in range(1, policy.attempts + 1):
        if limiter is not None:
            limiter.acquire()
        result = gateway.send(message)
        if result.outcome != "retry":
            return result, attempt
        if attempt < policy.attempts:
            sleep(policy.delay(attempt, result.retry_after, rng))
    return SendResult(
        "failed", error=f"gave up after {policy.attempts} attempts: {result.error}"
    ), policy.attempts

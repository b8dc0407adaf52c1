"""Sending through a gateway with retries (exponential backoff, jitter) and a rate limit."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
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

    @property
    def burst(self) -> int:
        """The most sends that may go out at once."""
        return max(1, int(self._capacity))

    def acquire(self, count: int = 1) -> None:
        """Take ``count`` tokens, waiting for them when the bucket is short."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            self._tokens -= count
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
    """Send one message, retrying transient failures; see `send_all_with_retries`."""
    return send_all_with_retries(gateway, [message], policy, limiter, sleep, rng)[0]


def send_all_with_retries(
    gateway: Gateway,
    messages: Sequence[Message],
    policy: RetryPolicy,
    limiter: TokenBucket | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> list[tuple[SendResult, int]]:
    """Send concurrently, retrying transient failures in rounds; per message, the last
    result and the attempts made.

    Permanent failures (4xx other than 429, a provider's "no such recipient") are not
    retried: they move the cascade on to the next channel. Between rounds the batch waits
    for the longest backoff (or ``Retry-After``) among the messages to retry.
    """
    rng = rng or random.Random()
    final: dict[int, tuple[SendResult, int]] = {}
    todo = list(range(len(messages)))
    for attempt in range(1, policy.attempts + 1):
        results = _send_paced(gateway, [messages[i] for i in todo], limiter)
        retry = [(i, r) for i, r in zip(todo, results, strict=True) if r.outcome == "retry"]
        final.update((i, (r, attempt)) for i, r in zip(todo, results, strict=True))
        todo = [i for i, _ in retry]
        if not retry:
            break
        if attempt < policy.attempts:
            sleep(max(policy.delay(attempt, r.retry_after, rng) for _, r in retry))
    for index in todo:
        error = f"gave up after {policy.attempts} attempts: {final[index][0].error}"
        final[index] = (SendResult("failed", error=error), policy.attempts)
    return [final[i] for i in range(len(messages))]


def _send_paced(
    gateway: Gateway, messages: Sequence[Message], limiter: TokenBucket | None
) -> list[SendResult]:
    if limiter is None:
        return gateway.send_many(messages)
    results: list[SendResult] = []
    for start in range(0, len(messages), limiter.burst):
        chunk = messages[start : start + limiter.burst]
        limiter.acquire(len(chunk))
        results += gateway.send_many(chunk)
    return results

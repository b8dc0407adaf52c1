"""The console's server without a browser: who may read it, what it refuses, its words,
and the dead-letter tally it reads (real Redis)."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from smartcomms.config import Settings
from smartcomms.console.chains import condition_text
from smartcomms.console.readings import Readings
from smartcomms.console.strings import STRINGS, language_of, span
from state.activity import ActivityCounters, DeadLetterTally
from state.batch import BatchWrite

TOKEN = "a-token-of-24-characters"


def start_console(redis_url: str, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "smartcomms.cli", "console", "--redis-url", redis_url, *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def guarded(redis_url: str) -> Iterator[str]:
    """A console that wants a bearer token (set on loopback too: it is then checked)."""
    with start_console(redis_url, "--port", "0", SMARTCOMMS_CONSOLE__TOKEN=TOKEN) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        try:
            yield line.split()[1].rstrip("/")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def status_of(url: str, authorization: str | None = None) -> int:
    request = urllib.request.Request(url)
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_token_is_required_once_set(guarded: str) -> None:
    assert status_of(guarded + "/") == 401
    assert status_of(guarded + "/", "Bearer wrong") == 401
    assert status_of(guarded + "/", f"Bearer {TOKEN}") == 200
    assert status_of(guarded + "/nowhere", f"Bearer {TOKEN}") == 404
    assert status_of(guarded + "/scenarios/nowhere", f"Bearer {TOKEN}") == 404
    request = urllib.request.Request(guarded + "/", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.headers["Server"] == "smartcomms-console"  # no Python version


def test_basic_auth(redis_url: str) -> None:
    env = {"SMARTCOMMS_CONSOLE__USER": "anna", "SMARTCOMMS_CONSOLE__PASSWORD": "long enough"}
    with start_console(redis_url, "--port", "0", **env) as proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[1]
        good = "Basic " + base64.b64encode(b"anna:long enough").decode()
        bad = "Basic " + base64.b64encode(b"anna:nope").decode()
        try:
            assert (status_of(url), status_of(url, bad), status_of(url, good)) == (401, 401, 200)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--host", "0.0.0.0"], {}, "needs credentials"),
        ([], {"SMARTCOMMS_CONSOLE__USER": "anna"}, "user and password go together"),
        ([], {"SMARTCOMMS_CONSOLE__PRICES": "{fax: 1}"}, "unknown channel"),
        ([], {"SMARTCOMMS_CONSOLE__TOKEN": "short"}, "token needs at least 16 characters"),
    ],
)
def test_refuses_in_one_line(
    redis_url: str, args: list[str], env: dict[str, str], said: str
) -> None:
    with start_console(redis_url, "--port", "0", *args, **env) as proc:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and said in err, err


def test_a_port_taken_is_one_line_naming_it_and_ipv6_hosts_listen(redis_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with start_console(redis_url, "--port", str(port)) as proc:
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and out == "", err
    assert (
        err.strip()
        == f"smartcomms console: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    with start_console(redis_url, "--port", "0", "--host", "::1") as proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[1]
        try:
            assert url.startswith("http://[::1]:") and status_of(url + "healthz") == 200
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_an_unreachable_redis_is_one_line() -> None:
    with start_console("redis://127.0.0.1:1/0", "--port", "0") as proc:
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_dead_letters_are_tallied_once_each(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    tally = DeadLetterTally(client, f"t{uuid.uuid4().hex[:6]}")
    letters = [("clicks:0@5", "not_json"), ("clicks:1@5", "invalid"), ("", "kafka_error")]
    assert tally.count(letters) == 3
    assert tally.count(letters) == 1  # a redelivery: only the letter with no origin again
    assert tally.totals() == {"not_json": 1, "invalid": 1, "kafka_error": 2}


def test_words_and_languages() -> None:
    assert all(len(pair) == 2 and all(pair) for pair in STRINGS.values())
    assert language_of("ru", "en-US") == "ru"
    assert language_of(None, "de-DE,ru;q=0.8,en;q=0.5") == "ru"
    assert language_of("xx", None) == "en"
    assert span(0.42, "en") == "0.4 s"
    assert span(3 * 3600 + 5 * 60 + 9, "en") == "3 h 5 min"
    assert span(11 * 86_400 + 8 * 3600, "ru") == "11 д 8 ч"


def test_conditions_read_as_text() -> None:
    condition = {"purchases_since_entry": {"gte": 1}, "opened": "d1", "vip": True}
    assert condition_text(condition) == "purchases_since_entry ≥ 1 and opened d1 and vip = true"
    assert condition_text({"any": [{"tier": "gold"}, {"not": {"balance": {"lt": 100}}}]}) == (
        "(tier = gold or not (balance < 100))"
    )


def test_rates_are_the_counters_change_per_second(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    settings = Settings.model_validate({"redis": {"prefix": f"t{uuid.uuid4().hex[:6]}"}})
    readings = Readings(client, settings)
    counters = ActivityCounters(client, settings.redis.prefix)

    def add(counts: dict[str, int]) -> None:
        writes = BatchWrite(client)
        counters.add_batch(writes, "3", counts, 1_700_000_000_000, 1_700_000_000_000)
        writes.execute()

    add({"events|receipt": 10, "notices|welcome|sms": 2})
    started = time.monotonic()
    assert readings.overview()["events"][0]["rate"] == 0.0  # one sample: no rate yet
    time.sleep(0.2)
    add({"events|receipt": 100, "notices|welcome|sms": 20, "events|page_view": 5})
    overview = readings.overview()
    elapsed = time.monotonic() - started
    rows = {row["name"]: row for row in overview["events"]}
    assert rows["receipt"]["count"] == 110 and rows["page_view"]["count"] == 5
    assert 100 / elapsed <= rows["receipt"]["rate"] <= 100 / 0.2
    assert overview["notices_matrix"]["cells"] == {"welcome": {"sms": 22}}
    assert overview["lag_s"] > 0 and len(overview["history"]) == 1


def ignores_sigpipe(pid: int) -> bool:
    """Whether the process ignores SIGPIPE (its SigIgn mask in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    [mask] = [line.split()[1] for line in status if line.startswith("SigIgn")]
    return bool(int(mask, 16) >> (signal.SIGPIPE - 1) & 1)


def test_a_peer_that_hangs_up_cannot_kill_the_console(redis_url: str) -> None:
    """A long-running command keeps SIGPIPE ignored: writing to a connection the other
    side dropped fails that request only (the demo died of it once, in its fake
    gateways, when the dispatcher stopped mid-request)."""
    with start_console(redis_url, "--port", "0") as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("console: ")
        try:
            assert ignores_sigpipe(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

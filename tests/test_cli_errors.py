"""Every command fails in one line: a clear message, exit 2, never a traceback; the one-shot
commands report what they cannot reach within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from smartcomms.localstack import free_port
from tests.events import customer, jsonl, receipt
from tests.webpush import VAPID_KEY, Browser

ONE_SHOT_S = 20
"""a one-shot command that cannot reach a server must have said so well before this"""


def smartcomms(
    *args: str, env: dict[str, str] | None = None, timeout: float = ONE_SHOT_S
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartcomms.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "panicked" not in result.stderr
    message = result.stderr.strip()
    assert "\n" not in message and message.startswith("smartcomms "), message
    assert expected in message, message


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(jsonl([customer("C1", contacts={"phone": "+7999"}), receipt("r1", "C1", 100)]))
    return path


@pytest.fixture
def closed_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def config_file(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "c.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        ("/no/such/dir/notices.jsonl", "--out /no/such/dir/notices.jsonl: No such file"),
        ("/sys/notices.jsonl", "--out /sys/notices.jsonl:"),
        ("/dev/full", "cannot write notices: No space left on device"),
    ],
)
def test_replay_out_that_cannot_be_written(events: Path, out: str, expected: str) -> None:
    assert_one_line_failure(smartcomms("replay", str(events), "--out", out), expected)


def test_replay_out_is_a_directory(events: Path, tmp_path: Path) -> None:
    result = smartcomms("replay", str(events), "--out", str(tmp_path))
    assert_one_line_failure(result, "Is a directory")


@pytest.mark.parametrize(
    "command", [("replay", "EVENTS"), ("profile", "C1"), ("trace", "--customer", "C1")]
)
def test_a_redis_url_that_is_no_url(events: Path, command: tuple[str, ...]) -> None:
    args = [str(events) if a == "EVENTS" else a for a in command]
    result = smartcomms(*args, "--redis-url", "notaurl")
    assert_one_line_failure(result, "redis.url: not a Redis URL")


@pytest.mark.parametrize(
    "command", [("replay", "EVENTS"), ("profile", "C1"), ("trace", "--customer", "C1")]
)
def test_an_unreachable_redis_is_reported_at_once(
    events: Path, closed_redis: str, command: tuple[str, ...]
) -> None:
    args = [str(events) if a == "EVENTS" else a for a in command]
    result = smartcomms(*args, "--redis-url", closed_redis)
    assert_one_line_failure(result, f"Redis at {closed_redis}")


def test_unreachable_kafka_is_reported_at_once() -> None:
    result = smartcomms("simulate", "--brokers", f"127.0.0.1:{free_port()}", "--count", "5")
    assert_one_line_failure(result, "did not answer")


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        (b"log: {level: \xff}\n", {}, "is not UTF-8"),
        ("", {"SMARTCOMMS_CHANNELS__ORDER": "[sms"}, "SMARTCOMMS_CHANNELS__ORDER is not valid"),
        ("quiet_hours: {start: 24:00}\n", {}, "quiet_hours.start: 24:00 is not a time of day"),
        ("channels: {order: []}\n", {}, "channels.order: the cascade needs at least one"),
        (
            "templates: {bonus_earned: {sms: {text: '{{ first_name.upper() }}'}}}\n",
            {},
            "template bonus_earned.sms (for a customer without first_name",
        ),
    ],
)
def test_configuration_errors(
    events: Path, tmp_path: Path, config: str | bytes, env: dict[str, str], expected: str
) -> None:
    path = config_file(tmp_path, config)
    assert_one_line_failure(smartcomms("replay", str(events), "--config", path, env=env), expected)


def test_a_template_that_raises_when_rendered(tmp_path: Path) -> None:
    path = config_file(tmp_path, "templates: {win_back: {sms: {text: '{{ 1 // 0 }}'}}}\n")
    result = smartcomms("templates", "preview", "win_back", "--channel", "sms", "--config", path)
    assert_one_line_failure(result, "template win_back.sms: ZeroDivisionError")


def test_a_forged_web_push_contact_fails_the_send_not_the_command(tmp_path: Path) -> None:
    path = config_file(
        tmp_path, "gateways: {web_push: {kind: web_push, subject: 'mailto:ops@shop.ru'}}\n"
    )
    forged = Browser().subscription(f"https://127.0.0.1:{free_port()}\\@fcm.googleapis.com/x")
    result = smartcomms(
        "gateways",
        "test",
        "web_push",
        forged,
        "--config",
        path,
        env={"WEB_PUSH_VAPID_PRIVATE_KEY": VAPID_KEY},
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    report = orjson.loads(result.stdout)
    assert report["outcome"] == "failed" and "not a plain http(s) URL" in report["error"]


@pytest.mark.parametrize("command", ["dispatch", "run"])
@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
def test_a_flow_without_a_broker_waits_quietly_and_stops_on_sigterm_or_ctrl_c(
    redis_url: str, command: str, stop: str
) -> None:
    """SIGTERM, or Ctrl-C at a terminal: the inputs end, exit 0, no traceback."""
    brokers = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "SMARTCOMMS_OBSERVABILITY__PORT": "0", "SMARTCOMMS_LOG__FORMAT": "json"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartcomms.cli", command, "--brokers", brokers],
        env={**env, "SMARTCOMMS_REDIS__URL": redis_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _out, _err = proc.communicate(timeout=8)
    except subprocess.TimeoutExpired:  # still waiting for the broker, as it should
        proc.send_signal(getattr(signal, stop))
        _out, stderr = proc.communicate(timeout=30)
    else:
        pytest.fail(f"{command} ended without a broker: {_err}")
    assert proc.returncode == 0, stderr
    lines = stderr.strip().splitlines()
    assert lines and any("Kafka does not answer" in line for line in lines)
    assert len(lines) <= 6, stderr  # once per interval, not ~20 times a second
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["replay"], "the following arguments are required: EVENTS.jsonl"),
        (["replay", "x.jsonl", "--bogus"], "unrecognized arguments: --bogus"),
        (["nonsense"], "invalid choice: 'nonsense'"),
        (["console", "--port", "abc"], "--port: not an integer: 'abc'"),
        (["console", "--port", "70000"], "--port: must be at least 0 and at most 65535"),
        (["up", "--partitions", "0"], "--partitions: must be at least 1, not 0"),
        (["simulate", "--count", "-5"], "--count: must be at least 0, not -5"),
        (["simulate", "--rate", "-5"], "--rate: must be at least 0.0, not -5"),
        (["simulate", "--customers", "0"], "--customers: must be at least 1, not 0"),
        (["simulate", "--bad-rate", "2"], "--bad-rate: must be at least 0.0 and at most 1.0"),
        (["demo", "--customers", "0"], "--customers: must be at least 1, not 0"),
        (["demo", "--rate", "-1"], "--rate: must be at least 1.0, not -1"),
        (["trace", "--limit", "0"], "--limit: must be at least 1, not 0"),
        (["trace", "--limit", "1.5"], "--limit: not an integer: '1.5'"),
        (["simulate", "--bad-rate", "nan"], "--bad-rate: not a finite number: 'nan'"),
        (["demo", "--rate", "inf"], "--rate: not a finite number: 'inf'"),
        (["replay", "x.jsonl", "--out", ""], "argument --out: must not be empty"),
        (["replay", "", "--report", "r.json"], "argument EVENTS.jsonl: must not be empty"),
        (["report", "--redis-url", ""], "argument --redis-url: must not be empty"),
    ],
)
def test_bad_arguments_are_one_line_not_the_usage(args: list[str], expected: str) -> None:
    result = smartcomms(*args)
    message = result.stderr.strip()
    assert result.returncode == 2 and "\n" not in message and "usage:" not in message, message
    assert message.startswith("smartcomms") and expected in message, message


def test_version_is_the_installed_packages() -> None:
    from importlib.metadata import version

    result = smartcomms("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"smartcomms {version('smartcomms')}"


def test_every_command_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    from smartcomms.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in [None, *commands]:
        with pytest.raises(SystemExit) as done:
            parser.parse_args([*([name] if name else []), "--help"])
        assert done.value.code == 0 and "usage:" in capsys.readouterr().out, name


def test_ctrl_c_in_a_replay_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    people = [customer(f"C{n}", contacts={"phone": "+7999"}) for n in range(5000)]
    path.write_bytes(
        jsonl([*people, *(receipt(f"r{n}", f"C{n % 5000}", 100) for n in range(200_000))])
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartcomms.cli", "replay", str(path), "--out", os.devnull],
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4)  # started and well inside the replay
    proc.send_signal(signal.SIGINT)
    _out, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == "smartcomms replay: interrupted", stderr

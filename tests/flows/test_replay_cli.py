"""`smartcomms replay` end to end, as a user runs it (a subprocess; the state in its memory,
or in a Redis it is given)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import redis

from smartcomms.localstack import redis_server
from tests.events import customer, jsonl, receipt

EVENTS = [
    customer("C1", first_name="Анна", contacts={"push_token": "t1", "phone": "+79990001122"}),
    receipt("r1", "C1", 1000),
    receipt("r1", "C1", 1000),  # the POS resends: no second notice, no double balance
    b"{this is not json",
    receipt("r2", "C1", 500, ts="2026-11-22T11:00:00+03:00", bonus={"earned": 10, "spent": 30}),
    receipt("r3", None, 700),  # anonymous shopper
    receipt("r4", "C2", 900),  # no contacts: unreachable
    {"event_id": "bad", "type": "receipt", "ts": "2026-11-22T12:00:00+03:00"},
]


NO_REDIS = """
import sys
import redis.connection
import smartcomms.localstack

def refused(*args, **kwargs):
    raise SystemExit("replay touched Redis")

redis.connection.AbstractConnection.connect = refused
smartcomms.localstack.redis_server = refused
from smartcomms.cli import main
sys.exit(main())
"""
"""the command, in a process where connecting to or starting a Redis fails"""


def run_replay(
    tmp_path: Path, *args: str, redis_allowed: bool = True
) -> subprocess.CompletedProcess:
    path = tmp_path / "events.jsonl"
    path.write_bytes(jsonl(EVENTS))
    return replay_of(path, *args, redis_allowed=redis_allowed)


def replay_of(
    events: Path | str, *args: str, redis_allowed: bool = True
) -> subprocess.CompletedProcess:
    """`smartcomms replay EVENTS ARGS` as a user runs it."""
    command = ["-m", "smartcomms.cli"] if redis_allowed else ["-c", NO_REDIS]
    return subprocess.run(
        [sys.executable, *command, "replay", str(events), *args],
        capture_output=True,
        timeout=120,
        check=False,
    )


def notices_of(stdout: bytes) -> list[dict]:
    return [orjson.loads(line) for line in stdout.splitlines()]


def test_replay_prints_only_notices_and_reports_on_stderr(tmp_path: Path) -> None:
    result = run_replay(tmp_path)
    assert result.returncode == 0, result.stderr
    notices = notices_of(result.stdout)
    assert [(n["caused_by"], n["vars"]["balance"]) for n in notices] == [("r1", 50), ("r2", 30)]
    first = notices[0]
    assert first["channels"] == ["push", "sms"]
    assert first["text"] == "Анна, начислено 50 бонусов, на счёте 50."
    assert first["kind"] == "transactional" and first["trigger"] == "bonus_earned"
    assert first["due_ts"] == first["event_ts"] == "2026-11-22T10:15:03.120+03:00"
    err = result.stderr.decode()
    assert err.count("dead letter") == 2
    assert "line 4: not JSON" in err and "line 8:" in err and "receipt_id: Field required" in err
    summary = orjson.loads(err.split("summary: ", 1)[1])
    assert summary["duplicates"] == 1
    assert summary["dead_letters"] == 2
    assert summary["suppressed"] == {"unreachable_no_channel": 1}
    assert summary["notices_by_trigger"] == {"bonus_earned": 2}


def test_replay_is_deterministic_apart_from_created_at(tmp_path: Path) -> None:
    def strip(stdout: bytes) -> list[dict]:
        return [{k: v for k, v in n.items() if k != "created_at"} for n in notices_of(stdout)]

    first, second = run_replay(tmp_path), run_replay(tmp_path)
    assert strip(first.stdout) == strip(second.stdout)
    assert len(strip(first.stdout)) == 2


def test_out_file_and_until(tmp_path: Path) -> None:
    out = tmp_path / "notices.jsonl"
    result = run_replay(tmp_path, "--out", str(out), "--until", "2026-12-31T00:00:00+03:00")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert len(notices_of(out.read_bytes())) == 2


def test_bad_arguments_fail_with_a_clear_message(tmp_path: Path) -> None:
    result = run_replay(tmp_path, "--until", "next tuesday")
    assert result.returncode != 0 and b"--until" in result.stderr
    result = run_replay(tmp_path, "--until", "9999-12-31T23:59:59Z")  # every birthday till then
    assert result.returncode == 2 and b"outside the event times accepted" in result.stderr
    config = tmp_path / "bad.yaml"
    config.write_text("channels: {order: [sms, pigeon]}\n")
    result = run_replay(tmp_path, "--config", str(config))
    assert result.returncode != 0 and b"channels.order" in result.stderr
    missing = replay_of("/no/such.jsonl")
    assert missing.returncode != 0 and b"no such events file" in missing.stderr


def test_a_dead_letter_on_stderr_is_one_short_line_a_terminal_cannot_act_on(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\x1b[2J{not json" + b"x" * 100_000 + b"\n")
    result = replay_of(events)
    assert result.returncode == 0, result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith(b"dead letter")]
    assert b"\x1b" not in line and b"\\x1b[2J{not json" in line
    assert len(line) < 2_200 and line.endswith(b"(100,013 bytes)")


def test_a_file_that_begins_with_a_utf8_bom_reads_as_without_it(tmp_path: Path) -> None:
    events = tmp_path / "bom.jsonl"
    events.write_bytes(b"\xef\xbb\xbf" + jsonl(EVENTS))
    result = replay_of(events)
    assert result.returncode == 0, result.stderr
    assert [n["caused_by"] for n in notices_of(result.stdout)] == ["r1", "r2"]  # C1 known
    assert b"dead letter at line 1:" not in result.stderr


def test_outputs_never_overwrite_the_events_or_each_other(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    result = run_replay(tmp_path, "--out", str(events))
    assert (
        result.returncode == 2
        and b"--out" in result.stderr
        and b"is the events file" in result.stderr
    )
    assert events.read_bytes() == jsonl(EVENTS)  # read, not emptied
    same = str(tmp_path / "both.json")
    result = run_replay(tmp_path, "--out", same, "--report", same)
    assert result.returncode == 2 and b"name the same file" in result.stderr
    result = run_replay(tmp_path, "--out", str(tmp_path))  # the events' directory
    assert result.returncode == 2 and b"--out" in result.stderr


def test_replay_uses_the_configured_channel_order(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("channels: {order: [sms, push]}\n")
    result = run_replay(tmp_path, "--config", str(config))
    assert notices_of(result.stdout)[0]["channels"] == ["sms", "push"]


def test_without_a_redis_url_the_state_lives_in_memory(tmp_path: Path) -> None:
    in_memory = run_replay(tmp_path, redis_allowed=False)
    assert in_memory.returncode == 0, in_memory.stderr
    assert len(notices_of(in_memory.stdout)) == 2


def test_a_given_redis_keeps_the_state_and_gives_the_same_notices_every_run(
    tmp_path: Path, redis_client: redis.Redis, redis_url: str
) -> None:
    redis_client.set("sc:c:{C1}", b"live state")  # the live prefix: never touched
    first = run_replay(tmp_path, "--redis-url", redis_url)
    second = run_replay(tmp_path, "--redis-url", redis_url)
    in_memory = run_replay(tmp_path)
    assert first.returncode == 0, first.stderr
    stable = [without_created_at(r.stdout) for r in (first, second, in_memory)]
    assert stable[0] == stable[1] == stable[2] and len(stable[0]) == 2
    assert redis_client.get("sc:c:{C1}") == b"live state"
    assert b"state: kept in Redis under sc-replay:* (SMARTCOMMS_REDIS__PREFIX=sc-replay)" in (
        first.stderr
    )
    kept = sorted(key.decode() for key in redis_client.scan_iter("sc-replay:c:*"))
    assert kept == ["sc-replay:c:{C1}", "sc-replay:c:{C2}"]
    shown = subprocess.run(
        [sys.executable, "-m", "smartcomms.cli", "profile", "C1", "--redis-url", redis_url],
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "SMARTCOMMS_REDIS__PREFIX": "sc-replay"},
    )
    assert shown.returncode == 0, shown.stderr
    assert orjson.loads(shown.stdout)["balance"] == 30  # 50 earned on r1, then r2: +10 -30


def without_created_at(stdout: bytes) -> list[dict]:
    return [{k: v for k, v in n.items() if k != "created_at"} for n in notices_of(stdout)]


def _many_receipts(path: Path, count: int) -> None:
    profiles = [customer(f"C{n}", contacts={"push_token": f"t{n}"}) for n in range(100)]
    receipts = [receipt(f"r{n}", f"C{n % 100}", 100) for n in range(count)]
    path.write_bytes(jsonl([*profiles, *receipts]))


def test_a_redis_lost_during_replay_is_reported_not_a_silent_death(tmp_path: Path) -> None:
    """The command reports the loss in a line of its own, exit 2, whatever the moment: not
    Bytewax's panic, and not a silent death by SIGPIPE (a write to the socket Redis
    closed)."""
    events = tmp_path / "events.jsonl"
    _many_receipts(events, 200_000)
    env = {**os.environ, "SMARTCOMMS_REDIS__RETRY_FOR_S": "1"}
    env.pop("SMARTCOMMS_TRACEBACK", None)
    with redis_server() as url:
        proc = subprocess.Popen(
            [sys.executable, "-m", "smartcomms.cli", "replay", str(events), "--redis-url", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline()  # it runs: notices come out
    # the server is gone (stopped at the end of the block)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, (proc.returncode, err[-2000:])
    assert b"smartcomms replay: Redis is gone (" in err, err[-2000:]
    assert b"panicked" not in err and b"Traceback" not in err, err[-2000:]


def test_a_reader_that_leaves_ends_replay_quietly(tmp_path: Path) -> None:
    """`smartcomms replay ... | head`: exit 141, as a shell reports SIGPIPE, no message."""
    events = tmp_path / "events.jsonl"
    _many_receipts(events, 50_000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartcomms.cli", "replay", str(events)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141, err[-2000:]
    assert b"smartcomms replay" not in err and b"Traceback" not in err, err[-2000:]

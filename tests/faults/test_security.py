"""Security basics: Redis with an ACL user over TLS, Kafka SASL settings from the
environment, secrets never logged, no customer's phone, e-mail or name in the logs of a
full run."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smartcomms.config import load_settings
from smartcomms.kafka import producer_config
from smartcomms.localstack import free_port, redis_server
from smartcomms.synthetic import TrafficGenerator
from tests.events import jsonl
from tests.faults.harness import Supervised, flow_env, read_topic, topics_for, wait_until_settled
from tests.live import produce

PASSWORD = "s3cret-Pa55"


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
                 signer: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256())


def write_tls_files(folder: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1, as PEM files."""
    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smartcomms test CA")])
    ca = _certificate("smartcomms test CA", ca_key, ca_name, ca_key, ca=True)
    server = _certificate("127.0.0.1", server_key, ca_name, ca_key, ca=False)
    files = {"ca": folder / "ca.crt", "cert": folder / "redis.crt", "key": folder / "redis.key"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A Redis that speaks TLS only and knows one user: ``smartcomms`` (default user off)."""
    files = write_tls_files(tmp_path)
    port = free_port()
    args = [
        *("--tls-port", str(port), "--port", "0"),
        *("--tls-cert-file", str(files["cert"]), "--tls-key-file", str(files["key"])),
        *("--tls-ca-cert-file", str(files["ca"]), "--tls-auth-clients", "no"),
        *("--user", "default", "off"),
        *("--user", "smartcomms", "on", f">{PASSWORD}", "~*", "&*", "+@all"),
    ]
    with redis_server(*args, port=port):
        yield port, files["ca"]


def replay(events: Path, redis_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartcomms.cli", "replay", str(events), "--redis-url", redis_url],
        env={**os.environ, "SMARTCOMMS_REDIS__RETRY_FOR_S": "2"},  # a refusal is not an outage
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_engine_uses_redis_with_an_acl_user_over_tls(
    tls_redis: tuple[int, Path], tmp_path: Path
) -> None:
    port, ca = tls_redis
    events = tmp_path / "events.jsonl"
    events.write_bytes(
        jsonl([raw for _t, _k, raw in TrafficGenerator(50, seed=2).events(400)])  # type: ignore[misc]
    )
    url = f"rediss://smartcomms:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={ca}"
    done = replay(events, url)
    assert done.returncode == 0, done.stderr
    assert [orjson.loads(line)["trigger"] for line in done.stdout.splitlines()]
    refused = [
        replay(events, url.replace(PASSWORD, "wrong-password")),  # bad credentials
        replay(events, f"redis://smartcomms:{PASSWORD}@127.0.0.1:{port}/0"),  # no TLS
        replay(events, f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}"),  # default user: off
    ]
    for run in refused:
        assert run.returncode != 0 and run.stdout == ""
        assert "Traceback" not in run.stderr and "redis" in run.stderr.lower()
    assert PASSWORD not in "".join(r.stderr for r in [done, *refused])


def test_kafka_sasl_settings_come_from_the_environment_and_are_not_logged(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "SMARTCOMMS_KAFKA__CLIENT_CONFIG",
        "{security.protocol: SASL_SSL, sasl.mechanisms: SCRAM-SHA-512, "
        f"sasl.username: smartcomms, sasl.password: '{PASSWORD}'}}",
    )
    settings = load_settings(None)
    kafka = settings.kafka
    assert kafka.client_config["sasl.password"] == PASSWORD
    config = producer_config(kafka.brokers, kafka.client_config)
    assert config["security.protocol"] == "SASL_SSL" and config["enable.idempotence"] is True
    # librdkafka accepts them (this build has SASL/SCRAM and TLS): the clients are created
    Producer(config).flush(0)
    Consumer({"bootstrap.servers": kafka.brokers, "group.id": "g", **kafka.client_config})
    AdminClient({"bootstrap.servers": kafka.brokers, **kafka.client_config})
    assert PASSWORD not in repr(settings) and PASSWORD not in capsys.readouterr().err


def test_a_full_run_logs_no_phone_email_name_or_token(
    kafka_brokers: str, redis_url: str, tmp_path: Path
) -> None:
    generator = TrafficGenerator(200, seed=4, realtime=True)
    profiles = [generator.profile(n) for n in range(200)]
    secrets = {
        value
        for profile in profiles
        for value in [profile["first_name"], *profile["contacts"].values()]  # type: ignore[attr-defined]
    }
    topics = topics_for(kafka_brokers)
    env = flow_env(kafka_brokers, redis_url, topics, f"pii{os.getpid()}")
    env["SMARTCOMMS_LOG__LEVEL"] = "debug"
    flow = Supervised(env, ["-w", "1"], tmp_path / "engine")
    try:
        produce(kafka_brokers, topics.customers, profiles)  # type: ignore[arg-type]
        produce(
            kafka_brokers,
            topics.receipts,
            [orjson.loads(raw) for _t, _k, raw in generator.events(2000) if _t == "receipts"],
        )
        produce(kafka_brokers, topics.clicks, [b'{"contacts": {"phone": "+79990001122"}'])
        wait_until_settled(kafka_brokers, [topics.notices], quiet_s=4, timeout_s=120)
    finally:
        assert flow.stop() == 0
    assert read_topic(kafka_brokers, topics.notices)
    log = flow.log_text()
    assert '"level": "info"' in log  # it did log
    leaked = sorted(secret for secret in secrets if secret in log)
    assert leaked == []
    assert "+79990001122" not in log  # not even from a dead letter's reason
    assert "CONFWARN" not in log  # nor librdkafka's warnings about misplaced settings

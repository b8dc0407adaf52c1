"""k8s/: the kustomization renders (kubectl kustomize), every built-in object is valid
against the Kubernetes schemas (strict), and the pieces agree with each other and with
the code: ports, replica counts, and only metrics the processes really export."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

import smartcomms.observability as observability
from flows.stats import Stats, StatsCollector
from smartcomms.config import KafkaGatewaySettings, Settings

K8S = Path(__file__).resolve().parent.parent / "k8s"
KUBERNETES_VERSION = "1.32.0"
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule", "ScaledObject", "TriggerAuthentication"}
FOREIGN_METRICS = {"bytewax_kafka_consumer_lag", "kube_pod_status_ready"}
"""exported by Bytewax's own API and by kube-state-metrics"""


def render(target: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S / target)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=["base", "overlays/example"])
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_every_builtin_object_is_valid(objects: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in objects}
    assert {"StatefulSet", "Deployment", "Service", "PodDisruptionBudget"} <= kinds
    assert kinds >= CUSTOM_KINDS
    for obj in objects:
        if obj["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_validator_is_not_vacuous(objects: list[dict[str, Any]]) -> None:
    engine = copy.deepcopy(one(objects, "StatefulSet", "smartcomms-engine"))
    engine["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(engine, KUBERNETES_VERSION, strict=True)


def test_the_engine_cluster_is_declared_consistently(objects: list[dict[str, Any]]) -> None:
    engine = one(objects, "StatefulSet", "smartcomms-engine")
    spec = engine["spec"]
    container = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SMARTCOMMS_CLUSTER_REPLICAS"] == str(spec["replicas"])
    headless = one(objects, "Service", spec["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert env["SMARTCOMMS_CLUSTER_SERVICE"] == headless["metadata"]["name"]
    assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_services_and_probes_point_at_declared_ports(objects: list[dict[str, Any]]) -> None:
    services = [o for o in objects if o["kind"] == "Service"]
    for workload in (o for o in objects if o["kind"] in ("StatefulSet", "Deployment")):
        pod = workload["spec"]["template"]
        [container] = pod["spec"]["containers"]
        ports = {p["name"] for p in container["ports"]}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] in ports
        assert {container["livenessProbe"]["httpGet"]["path"]} == {"/healthz"}
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        labels = pod["metadata"]["labels"]
        [service] = [s for s in services if s["spec"]["selector"].items() <= labels.items()]
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    monitor = one(objects, "ServiceMonitor", "smartcomms")
    scraped = {e["port"] for e in monitor["spec"]["endpoints"]}
    assert scraped == {p["name"] for s in services for p in s["spec"]["ports"]} - {"bytewax"}
    [bytewax_api] = [e for e in monitor["spec"]["endpoints"] if e["port"] == "bytewax-api"]
    # it repeats our registry: without this filter every smartcomms_* series counts twice
    assert bytewax_api["metricRelabelings"] == [
        {"sourceLabels": ["__name__"], "regex": "bytewax_.*", "action": "keep"}
    ]
    for service in services:
        assert "metrics" in {p["name"] for p in service["spec"]["ports"]}


def exported_metrics() -> set[str]:
    """Every series name our processes export (histograms expanded into their series)."""
    registry = CollectorRegistry()
    registry.register(StatsCollector(Stats()))
    text = generate_latest(registry).decode() + generate_latest(observability.REGISTRY).decode()
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        if kind == "histogram":
            names |= {name + "_bucket", name + "_count", name + "_sum"}
        else:
            names.add(name)
    return names


def metric_names(expr: str) -> set[str]:
    return {n for n in re.findall(r"\b([a-z_]+_[a-z_]+)\b(?=[{\[ )])", expr) if "_" in n} - {
        "by",
        "histogram_quantile",
        "group_left",
    }


def test_alerts_and_dashboard_use_only_exported_metrics(objects: list[dict[str, Any]]) -> None:
    known = exported_metrics() | FOREIGN_METRICS
    assert "smartcomms_events_total" in known and "smartcomms_sends_total" in known
    rules = one(objects, "PrometheusRule", "smartcomms")["spec"]["groups"][0]["rules"]
    dashboard = json.loads((K8S / "grafana-dashboard.json").read_text())
    exprs = [r["expr"] for r in rules] + [
        t["expr"] for panel in dashboard["panels"] for t in panel["targets"]
    ]
    used = set().union(*map(metric_names, exprs))
    assert used and used <= known, used - known


def config_file(objects: list[dict[str, Any]], configmap: str, name: str) -> Settings:
    """A configuration file of a ConfigMap, validated as smartcomms validates it."""
    [found] = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith(configmap)
    ]
    return Settings.model_validate(yaml.safe_load(found["data"][name]))


def test_dispatcher_sender_and_autoscaler_agree(objects: list[dict[str, Any]]) -> None:
    dispatcher = config_file(objects, "smartcomms-config", "config.yaml")
    sender = config_file(objects, "smartcomms-sender-config", "sender.yaml")
    queued = {
        c: g.topic for c, g in dispatcher.gateways.items() if isinstance(g, KafkaGatewaySettings)
    }
    assert queued and queued == sender.sender.topics  # every queue has its sender, and back
    assert set(sender.sender.topics) <= set(sender.gateways)
    assert not any(isinstance(g, KafkaGatewaySettings) for g in sender.gateways.values())
    scaled = one(objects, "ScaledObject", "smartcomms-sender")["spec"]
    assert scaled["scaleTargetRef"] == {"kind": "Deployment", "name": "smartcomms-sender"}
    assert scaled["minReplicaCount"] >= 1
    [trigger] = scaled["triggers"]
    assert trigger["metadata"]["consumerGroup"] == sender.sender.group
    assert trigger["metadata"]["bootstrapServers"] == sender.kafka.brokers
    auth = one(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]} >= {"username", "password"}
    dispatcher_pods = one(objects, "Deployment", "smartcomms-dispatcher")["spec"]
    assert dispatcher_pods["replicas"] == 1 and dispatcher_pods["strategy"]["type"] == "Recreate"

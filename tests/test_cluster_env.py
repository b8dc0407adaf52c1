"""The Bytewax cluster of a StatefulSet pod, from its name."""

from __future__ import annotations

import pytest

from smartcomms.cluster import statefulset_env
from smartcomms.config import ConfigError


def test_pod_ordinal_and_peers_from_the_headless_service() -> None:
    env = {
        "HOSTNAME": "smartcomms-engine-2",
        "SMARTCOMMS_CLUSTER_REPLICAS": "3",
        "SMARTCOMMS_CLUSTER_SERVICE": "smartcomms-engine",
    }
    assert statefulset_env(env) == {
        "BYTEWAX_PROCESS_ID": "2",
        "BYTEWAX_ADDRESSES": "smartcomms-engine-0.smartcomms-engine:2101;"
        "smartcomms-engine-1.smartcomms-engine:2101;"
        "smartcomms-engine-2.smartcomms-engine:2101",
    }


def test_one_replica_or_explicit_addresses_need_nothing() -> None:
    assert statefulset_env({"HOSTNAME": "e-0", "SMARTCOMMS_CLUSTER_REPLICAS": "1"}) == {}
    assert statefulset_env({"HOSTNAME": "e-0"}) == {}
    explicit = {"HOSTNAME": "e-0", "SMARTCOMMS_CLUSTER_REPLICAS": "2", "BYTEWAX_ADDRESSES": "a"}
    assert statefulset_env(explicit) == {}


@pytest.mark.parametrize(
    "hostname, problem", [("engine", "not a StatefulSet pod"), ("engine-3", "beyond")]
)
def test_a_pod_outside_the_declared_cluster_stops(hostname: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        statefulset_env({"HOSTNAME": hostname, "SMARTCOMMS_CLUSTER_REPLICAS": "3"})

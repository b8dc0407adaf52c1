"""Bytewax cluster settings from a Kubernetes StatefulSet: no home-made coordination, just
the pod's stable name. Pod ``smartcomms-engine-2`` of 4 replicas behind the headless
Service ``smartcomms-engine`` is process 2 of

    smartcomms-engine-0.smartcomms-engine:2101;...;smartcomms-engine-3.smartcomms-engine:2101
"""

from __future__ import annotations

from collections.abc import Mapping

from smartcomms.config import ConfigError

REPLICAS = "SMARTCOMMS_CLUSTER_REPLICAS"
SERVICE = "SMARTCOMMS_CLUSTER_SERVICE"
PORT = "SMARTCOMMS_CLUSTER_PORT"


def statefulset_env(env: Mapping[str, str]) -> dict[str, str]:
    """``BYTEWAX_PROCESS_ID`` and ``BYTEWAX_ADDRESSES`` for this pod, when the environment
    names the replica count (and Bytewax's own variables are not set); else nothing."""
    if REPLICAS not in env or "BYTEWAX_ADDRESSES" in env:
        return {}
    replicas = int(env[REPLICAS])
    hostname = env.get("HOSTNAME", "")
    base, _, ordinal = hostname.rpartition("-")
    if not base or not ordinal.isdigit():
        raise ConfigError(f"HOSTNAME {hostname!r} is not a StatefulSet pod name (<name>-<n>)")
    if int(ordinal) >= replicas:
        raise ConfigError(
            f"pod {hostname} is beyond {REPLICAS}={replicas}: scale the StatefulSet and the "
            "variable together (see k8s/README.md)"
        )
    if replicas == 1:
        return {}
    service, port = env.get(SERVICE, base), env.get(PORT, "2101")
    peers = ";".join(f"{base}-{n}.{service}:{port}" for n in range(replicas))
    return {"BYTEWAX_PROCESS_ID": ordinal, "BYTEWAX_ADDRESSES": peers}

"""Codes: the machine-readable twin of a reason, the world's codes and the shared ones.

A code is one CamelCase word (:class:`~sim.policies.base.Decision`), so that
``events.groupby("code")`` counts decisions and world changes without parsing prose. Where the
real system has a word for the situation — an HPA condition reason, a cluster-autoscaler or
kubelet event reason, a CloudWatch alarm state — the code is that word; where it has none, the
word is coined and ``source`` says so.

This module holds the vocabulary of the world itself: the codes of what happens on its own (a
node becoming ready, a replica placed or gone, a fault, an action it refuses), which the model
and the control plane write, and the few codes that several policies share. Each policy
module declares the codes its own controllers write (its ``CODES``, handed to the registry
in its :class:`~sim.policies.base.PolicySpec`); :data:`sim.policies.registry.CODES` is the
whole table. The tests check that every code a run produces, and every code literal in the
policies, the model and the control plane, is in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """One row of the table: who ``emits`` the code (event sources or controllers), what it
    ``means``, and the ``source`` of the word (``coined`` when no real system uses it)."""

    emits: str
    means: str
    source: str


def merge_codes(*tables: Mapping[str, Code]) -> dict[str, Code]:
    """One table of several; a code declared twice is an error (declare a shared one here)."""
    merged: dict[str, Code] = {}
    for table in tables:
        for code, entry in table.items():
            if code in merged:
                raise ValueError(f"code {code!r} is declared twice: declare it once")
            merged[code] = entry
    return merged


SHARED_CODES: dict[str, Code] = {
    # --- written by more than one policy ---
    "MaxNodesTotalReached": Code(
        "cluster-autoscaler, operator; any controller's launch row (capped)",
        "the cluster's node cap (cluster.max_nodes, --max-nodes-total) stops or trims a scale-up",
        "cluster-autoscaler event reason on its status ConfigMap",
    ),
    "Cooldown": Code(
        "auto-scaling-group, vertical-scaler",
        "a change is due but the last one is too recent (cooldown_s)",
        "EC2 Auto Scaling scaling cooldown",
    ),
    # --- heartbeat monitors: node lifecycle, Swarm dispatcher ---
    "NodesHealthy": Code(
        "node-lifecycle, dispatcher",
        "every node reports in (or is already handled): nothing to do until a change",
        "coined",
    ),
    "NodeSilent": Code(
        "node-lifecycle, dispatcher",
        "a node has stopped reporting but is not yet past the grace period (or, Kubernetes, "
        "the toleration): nothing to do yet",
        "coined",
    ),
}
"""Codes written by several policies' controllers."""

WORLD_CODES: dict[str, Code] = {
    # --- the world: what happens on its own (sim.model, sim.control.actuator) ---
    "NodeReady": Code(
        "cluster (node_ready)",
        "a launched or resized node finished booting and serves",
        "kubelet node event reason (pkg/kubelet/events)",
    ),
    "Scheduled": Code(
        "scheduler (place)",
        "a pending replica is bound to a node",
        'kube-scheduler pod event reason ("Successfully assigned ...")',
    ),
    "ContainerReady": Code(
        "container (ready)",
        "a replica passed its readiness probe (first start or after a crash restart)",
        "coined (Kubernetes shows it as the pod's Ready condition, not as an event)",
    ),
    "SuccessfulDelete": Code(
        "container (terminate, cancel)",
        "the replica controller deleted a surplus replica: the desired count fell",
        "ReplicaSet controller pod-deletion event reason (replica_set.go)",
    ),
    "Drained": Code(
        "container (gone)",
        "a terminating replica finished its in-flight requests and exited",
        "coined",
    ),
    "ExceededGracePeriod": Code(
        "container (gone)",
        "a terminating replica was killed at the end of its grace period, requests and all",
        "kubelet warning event reason when a container outlives its grace period "
        "(pkg/kubelet/events)",
    ),
    "Evicted": Code(
        "container (gone)",
        "a replica dead with its node (or already gone) is deleted by the node's eviction",
        "Kubernetes pod status reason Evicted",
    ),
    "NodeTerminated": Code(
        "container (gone)", "a replica is lost with the machine it ran on", "coined"
    ),
    "NodeStopped": Code(
        "container (gone)",
        "a replica is lost as its machine stops for a resize",
        "coined (EC2 stops an instance to change its type)",
    ),
    "NodeCrash": Code(
        "fault (node_crash)",
        "a scenario fault or random failure stops a node at once; its replicas die",
        "coined",
    ),
    "ContainerCrash": Code(
        "fault (container_crash)",
        "a fault kills one replica; it restarts in place after the restart delay",
        "coined",
    ),
    "NodeNotFound": Code(
        "fault, any controller (skipped)",
        "a fault or an action names a node that does not exist (then)",
        "coined",
    ),
    "ReplicaNotFound": Code(
        "fault (skipped)", "a fault names a replica that does not exist (then)", "coined"
    ),
    "UnknownInstanceType": Code(
        "any controller (skipped)",
        "a launch names an instance type the catalogue does not have",
        "coined",
    ),
    "FailedHealthChecks": Code(
        "load-balancer (unroute)",
        "with no controller watching (static), the balancer stops sending to a dead node "
        "after its health checks fail",
        "ELB target health reason Target.FailedHealthChecks",
    ),
}
"""Codes of what happens in the world on its own (:mod:`sim.model`) and of the actions it
refuses (:mod:`sim.control.actuator`)."""

"""``kubernetes``: the HPA, kube-scheduler, the cluster autoscaler, kube-proxy and node failure.

The pieces run as they do in a cluster, each on its own period: metrics-server scrapes CPU
every 15 s; the HPA (:mod:`sim.policies.hpa`) sets the Deployment's replicas every 15 s;
kube-scheduler (:mod:`sim.policies.scheduling`) places new pods by their requests or leaves
them Pending; the cluster autoscaler (:mod:`sim.policies.autoscaler`) adds nodes for Pending
pods and removes idle ones; the node lifecycle controller below handles dead nodes; kube-proxy
in iptables mode balances at random; readiness probes run every 10 s.
"""

from __future__ import annotations

from sim.config.codes import Code, merge_codes
from sim.config.policies import Kubernetes, NodeLifecycle
from sim.config.rules import WorldRules
from sim.config.schema import Scenario
from sim.policies import autoscaler, hpa
from sim.policies.autoscaler import ClusterAutoscalerController, node_groups_for
from sim.policies.base import (
    Action,
    CapacityCeiling,
    Controller,
    Decision,
    Observation,
    PolicySetup,
    PolicySpec,
    Streams,
    silent_nodes,
)
from sim.policies.hpa import HpaController
from sim.policies.scheduling import kube_scheduler

CRASH_LOOP_FIRST_BACKOFF_S = 10.0
"""kubelet's first restart back-off for a crashed container (then doubling, up to 5 min)."""

NODE_MONITOR_PERIOD_S = 5.0
"""kube-controller-manager ``--node-monitor-period``: how often node health is checked."""


class NodeLifecycleController:
    """Marks a silent node NotReady after the grace period, evicts its pods after the
    toleration.

    A node whose kubelet stops posting status is ``Unknown`` once ``node_monitor_grace_s``
    has passed (50 s since Kubernetes 1.32); its pods are then marked not ready, so the
    endpoints controller and kube-proxy stop routing to them. After the default
    ``tolerationSeconds`` of 300 s for the ``unreachable`` taint, the pods are evicted and
    their ReplicaSet creates replacements, which the scheduler places elsewhere.

    Codes are the event reasons kube-controller-manager emits: ``NodeNotReady`` for the
    unroute (the node lifecycle controller's node status event) and ``TaintManagerEviction``
    for the eviction (the taint eviction controller's "Marking for deletion Pod" event). A
    call that acts on nothing says ``NodesHealthy``, or ``NodeSilent`` while a node has
    stopped reporting but is not yet past the grace period or the toleration (both coined).
    """

    name = "node-lifecycle"

    def __init__(self, settings: NodeLifecycle, phase_s: float = 0.0) -> None:
        self.settings = settings
        self.period_s = NODE_MONITOR_PERIOD_S
        self.phase_s = phase_s
        self._not_ready: set[str] = set()
        self._evicted: set[str] = set()

    def decide(self, observation: Observation) -> Decision:
        """Unroute nodes silent past the grace period; evict those past the toleration."""
        grace_s = self.settings.node_monitor_grace_s
        toleration_s = self.settings.pod_eviction_toleration_s
        actions: list[Action] = []
        reasons: list[str] = []
        for node in silent_nodes(observation, grace_s, self._not_ready):
            self._not_ready.add(node.name)
            actions.append(Action("unroute_node", target=node.name, code="NodeNotReady"))
            silent_s = observation.now_s - node.heartbeat_s
            reasons.append(f"{node.name} silent {silent_s:.0f} s > grace {grace_s:g} s")
        for node in silent_nodes(observation, grace_s + toleration_s, self._evicted):
            self._evicted.add(node.name)
            actions.append(Action("evict_node", target=node.name, code="TaintManagerEviction"))
            reasons.append(
                f"{node.name} NotReady past the {toleration_s:g} s toleration: pods evicted"
            )
        if actions:
            return Decision(tuple(actions), "; ".join(reasons), actions[0].code)
        # With no node silent but the ones fully handled, only a change can make it act.
        on_the_clock = silent_nodes(observation, 0.0, self._not_ready & self._evicted)
        return Decision(
            reason="all nodes healthy",
            code="NodeSilent" if on_the_clock else "NodesHealthy",
            wait_for_change=not on_the_clock,
        )


def setup(scenario: Scenario, rngs: Streams) -> PolicySetup:
    """The Kubernetes control plane for ``scenario.policy.kubernetes``.

    Each control loop starts at a random phase within its period (the ``controllers``
    stream), as the real controllers (started whenever their process started) do.
    """
    phase_rng = rngs["controllers"]
    settings = scenario.policy.kubernetes
    cluster = scenario.cluster
    hpa = settings.hpa
    autoscaling = settings.cluster_autoscaler
    controllers: list[Controller] = [
        HpaController(hpa, phase_s=float(phase_rng.uniform(0, hpa.sync_period_s))),
        NodeLifecycleController(
            settings.node_lifecycle, phase_s=float(phase_rng.uniform(0, NODE_MONITOR_PERIOD_S))
        ),
    ]
    if autoscaling.enabled:
        controllers.append(
            ClusterAutoscalerController(
                autoscaling,
                node_groups=node_groups_for(cluster, autoscaling),
                min_nodes=cluster.min_nodes,
                max_nodes=cluster.max_nodes,
                max_pods_per_node=settings.scheduler.max_pods_per_node,
                phase_s=float(phase_rng.uniform(0, autoscaling.scan_interval_s)),
                rng=phase_rng,
            )
        )
    probe = settings.readiness_probe
    return PolicySetup(
        name="kubernetes",
        controllers=controllers,
        placement=kube_scheduler(settings.scheduler.scoring, settings.scheduler.max_pods_per_node),
        balancer="random",  # kube-proxy, iptables mode
        metrics_resolution_s=settings.metrics_server.resolution_s,
        metrics_window_s=settings.metrics_server.window_s,
        rules=WorldRules(
            replace_lost_replicas=True,
            readiness_initial_delay_s=probe.initial_delay_s,
            readiness_period_s=probe.period_s,
            restart_delay_s=CRASH_LOOP_FIRST_BACKOFF_S,
        ),
    )


def capacity_ceiling(scenario: Scenario) -> CapacityCeiling:
    """The HPA's maximum replicas on the cluster autoscaler's maximum nodes."""
    cluster = scenario.cluster
    return CapacityCeiling(
        max_replicas=max(
            scenario.service.initial_replicas, scenario.policy.kubernetes.hpa.max_replicas
        ),
        max_nodes=max(cluster.initial_nodes, cluster.max_nodes),
    )


CODES: dict[str, Code] = {
    # --- the node lifecycle controller (sim.policies.kubernetes) ---
    "NodeNotReady": Code(
        "node-lifecycle",
        "a node silent past --node-monitor-grace-period: its pods stop receiving traffic",
        "kube-controller-manager node event reason (nodelifecycle, RecordNodeStatusChange)",
    ),
    "TaintManagerEviction": Code(
        "node-lifecycle",
        "a NotReady node past the pods' 300 s toleration: its pods are deleted and replaced",
        "kube-controller-manager pod event reason (taint eviction controller)",
    ),
}
"""The codes of the node lifecycle controller (the HPA's and the autoscaler's are theirs)."""


POLICY = PolicySpec(
    name="kubernetes",
    settings=Kubernetes,
    build=setup,
    capacity_ceiling=capacity_ceiling,
    defaults=(
        "HPA every 15 s (±10 % tolerance, 5 min CPU initialization, 300 s scale-down "
        "stabilization); kube-scheduler LeastAllocated; cluster autoscaler every 10 s "
        "(least-waste; scale down below 50 % requested after 10 min); readiness probe every "
        "10 s; kube-proxy random; a silent node is NotReady after 50 s, its pods evicted "
        "after 300 s."
    ),
    sources=(
        "kube-controller-manager, autoscaling/v2 and Pod API defaults; cluster-autoscaler "
        "FAQ; metrics-server manifests"
    ),
    codes=merge_codes(hpa.CODES, autoscaler.CODES, CODES),
)

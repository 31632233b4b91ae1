"""Where a new replica goes: the kube-scheduler and the Swarm scheduler, as placement functions.

Both are pure: a :data:`~sim.policies.base.Placement` takes the node views, the replica to place
and the run's scheduler generator, and returns a node name (or None: the replica stays pending).

* :func:`kube_scheduler` models the default profile's resource plugins of kube-scheduler
  (``pkg/scheduler/framework/plugins/noderesources``): the NodeResourcesFit filter (requests fit
  in allocatable, at most ``maxPods`` pods), the NodeResourcesFit score (LeastAllocated or
  MostAllocated) plus NodeResourcesBalancedAllocation, each plugin weight 1, highest total
  wins and ties are broken uniformly at random (``schedule_one.go``, ``selectHost``). The other
  default score plugins (taints, affinity, topology spread, image locality) score every node of
  a one-service cluster alike, or are not modelled.
* :func:`swarm_spread` models swarmkit's scheduler (``manager/scheduler``): nodes filtered by
  readiness, availability and resource reservations, then the node with the fewest tasks of
  the service wins, deterministically.

* :func:`spread_placement` is the default for a policy without a scheduler of its own
  (``static``: Compose's replicas spread over its hosts): the ready node with the fewest
  replicas that the requests fit on.

:func:`fits` is the shared feasibility test; the cluster autoscaler simulates with it too.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from sim.policies.base import NodeView, Placement, ReplicaView

ScoringStrategy = Literal["LeastAllocated", "MostAllocated"]
"""NodeResourcesFit scoring strategies: LeastAllocated spreads, MostAllocated packs."""

SCORING_STRATEGIES: tuple[ScoringStrategy, ...] = ("LeastAllocated", "MostAllocated")

MAX_NODE_SCORE = 100
"""A score plugin's maximum (``framework.MaxNodeScore``)."""


def fits(node: NodeView, cpu_m: int, memory_mib: int, max_pods: int | None) -> bool:
    """Whether a replica requesting ``cpu_m`` and ``memory_mib`` fits on ``node``.

    NodeResourcesFit: the node's requested CPU and memory plus the new request must not exceed
    allocatable, and the node must hold fewer than ``max_pods`` pods (kubelet ``maxPods``).
    Swarm's reservation filter is the same test on reservations with no pod limit
    (``max_pods`` None). Only requests count, never actual usage.
    """
    return (
        node.requested_cpu_m + cpu_m <= node.cpu_m
        and node.requested_memory_mib + memory_mib <= node.memory_mib
        and (max_pods is None or node.replicas < max_pods)
    )


def schedulable(node: NodeView) -> bool:
    """A node the scheduler may bind to: Ready, and not cordoned by a drain (``unroutable``)."""
    return node.state == "ready" and not node.unroutable


# --- kube-scheduler --------------------------------------------------------------------------


def least_allocated_score(requested: int, allocatable: int) -> int:
    """LeastAllocated for one resource: ``(allocatable − requested) × 100 // allocatable``.

    Integer arithmetic as upstream (``leastRequestedScore``); 0 when the node has none of the
    resource or the request exceeds it. ``requested`` includes the incoming pod.
    """
    if allocatable == 0 or requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_NODE_SCORE // allocatable


def most_allocated_score(requested: int, allocatable: int) -> int:
    """MostAllocated for one resource: ``requested × 100 // allocatable``, requested capped.

    Integer arithmetic as upstream (``mostRequestedScore``); ``requested`` includes the
    incoming pod.
    """
    if allocatable == 0:
        return 0
    return min(requested, allocatable) * MAX_NODE_SCORE // allocatable


def balanced_allocation_score(cpu_fraction: float, memory_fraction: float) -> int:
    """BalancedAllocation: ``int((1 − std) × 100)`` over the requested fractions.

    Each fraction is capped at 1; with the two resources CPU and memory the standard
    deviation is ``|f_cpu − f_mem| / 2`` (``balancedResourceScorer``). A node whose CPU and
    memory fill alike scores 100.
    """
    cpu_fraction = min(cpu_fraction, 1.0)
    memory_fraction = min(memory_fraction, 1.0)
    deviation = abs(cpu_fraction - memory_fraction) / 2
    return int((1 - deviation) * MAX_NODE_SCORE)


def resource_fit_score(node: NodeView, replica: ReplicaView, scoring: ScoringStrategy) -> int:
    """NodeResourcesFit's score: the strategy's per-resource score, weighted mean over CPU and
    memory (weights 1 and 1, the default ``scoringStrategy.resources``), integer division."""
    per_resource = least_allocated_score if scoring == "LeastAllocated" else most_allocated_score
    cpu_score = per_resource(node.requested_cpu_m + replica.cpu_request_m, node.cpu_m)
    memory_score = per_resource(
        node.requested_memory_mib + replica.memory_request_mib, node.memory_mib
    )
    return (cpu_score + memory_score) // 2


def balanced_score(node: NodeView, replica: ReplicaView) -> int:
    """NodeResourcesBalancedAllocation for ``replica`` on ``node`` (requests include it).

    Skipped (0 on every node) for a pod requesting nothing, as upstream skips best-effort
    pods; a resource the node has none of is left out, leaving a deviation of 0.
    """
    if replica.cpu_request_m == 0 and replica.memory_request_mib == 0:
        return 0
    if node.cpu_m == 0 or node.memory_mib == 0:
        return MAX_NODE_SCORE
    cpu_fraction = (node.requested_cpu_m + replica.cpu_request_m) / node.cpu_m
    memory_fraction = (node.requested_memory_mib + replica.memory_request_mib) / node.memory_mib
    return balanced_allocation_score(cpu_fraction, memory_fraction)


def node_score(node: NodeView, replica: ReplicaView, scoring: ScoringStrategy) -> int:
    """The total score of ``node``: NodeResourcesFit + BalancedAllocation, both weight 1."""
    return resource_fit_score(node, replica, scoring) + balanced_score(node, replica)


def pick_uniformly(names: list[str], rng: np.random.Generator) -> str:
    """One of ``names`` uniformly at random (``selectHost``'s reservoir sampling over the
    top-scoring nodes); the generator is used only when there is a real tie."""
    if len(names) == 1:
        return names[0]
    return names[int(rng.integers(len(names)))]


def kube_scheduler(
    scoring: ScoringStrategy = "LeastAllocated", max_pods_per_node: int = 110
) -> Placement:
    """The kube-scheduler's placement: filter, score, highest total, random among ties.

    Candidates are the :func:`schedulable` nodes that the replica :func:`fits` on (at most
    ``max_pods_per_node`` pods, the kubelet's ``maxPods``). Each scores
    :func:`node_score`; the highest wins, ties broken uniformly at random with the run's
    scheduler generator. With no candidate the pod stays Pending (``PodScheduled=False``,
    reason Unschedulable), which is what the cluster autoscaler reacts to.
    """
    if scoring not in SCORING_STRATEGIES:
        raise ValueError(f"scoring must be one of {', '.join(SCORING_STRATEGIES)}; got {scoring!r}")
    if max_pods_per_node < 1:
        raise ValueError(f"max_pods_per_node must be at least 1; got {max_pods_per_node}")

    def place(nodes: list[NodeView], replica: ReplicaView, rng: np.random.Generator) -> str | None:
        feasible = [
            node
            for node in nodes
            if schedulable(node)
            and fits(node, replica.cpu_request_m, replica.memory_request_mib, max_pods_per_node)
        ]
        if not feasible:
            return None
        scores = {node.name: node_score(node, replica, scoring) for node in feasible}
        best = max(scores.values())
        return pick_uniformly([name for name, score in scores.items() if score == best], rng)

    return place


# --- Swarm -----------------------------------------------------------------------------------


def swarm_eligible(node: NodeView) -> bool:
    """A node swarmkit may assign tasks to: Ready, availability Active (a drained manager is
    not) and still in the routing mesh."""
    return schedulable(node) and node.role != "manager-drained"


def swarm_spread() -> Placement:
    """swarmkit's spread scheduler: fewest tasks of the service first, then lowest index.

    Filters (``manager/scheduler/filter.go``): node Ready and Active, and the task's CPU and
    memory reservations fit in what the node's earlier reservations leave free. Ranking
    (``nodeLess``): fewest active tasks of this service, then fewest tasks in total — the same
    count here, as the simulated service is the only one — then the lowest node index, a
    deterministic stand-in for swarmkit's heap order. Resource usage plays no part, and no
    randomness is used.
    """

    def place(nodes: list[NodeView], replica: ReplicaView, rng: np.random.Generator) -> str | None:
        feasible = [
            node
            for node in nodes
            if swarm_eligible(node)
            and fits(node, replica.cpu_request_m, replica.memory_request_mib, None)
        ]
        if not feasible:
            return None
        return min(feasible, key=lambda node: (node.replicas, node.index)).name

    return place


# --- the default ------------------------------------------------------------------------------


def spread_placement(
    nodes: list[NodeView], replica: ReplicaView, rng: np.random.Generator
) -> str | None:
    """The ready, routable node with the fewest replicas that the requests fit on (lowest
    index on ties); no pod limit, no randomness."""
    fitting = [
        view
        for view in nodes
        if schedulable(view) and fits(view, replica.cpu_request_m, replica.memory_request_mib, None)
    ]
    if not fitting:
        return None
    return min(fitting, key=lambda view: (view.replicas, view.index)).name

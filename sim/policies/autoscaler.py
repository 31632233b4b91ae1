"""The Kubernetes cluster autoscaler: nodes added for unschedulable pods, removed when unneeded.

Modelled on kubernetes/autoscaler ``cluster-autoscaler`` (its FAQ and ``core/static_autoscaler``,
``expander/``, ``core/scaledown``). Every scan (``--scan-interval``, 10 s) it

1. deletes nodes that never became ready within ``--max-node-provision-time`` (15 min);
2. deletes nodes unready for ``--scale-down-unready-time`` (20 min);
3. scales up when pods are unschedulable: it packs them, by requests only, first onto room on
   ready and still-provisioning nodes (capacity already on its way counts), then onto template
   nodes of each node group; the expander picks one group and the group grows by as many
   nodes as the packing needed, within ``--max-nodes-total``;
4. otherwise scales down: a node whose requests are below ``--scale-down-utilization-threshold``
   of allocatable and whose pods all fit on the other nodes is unneeded; once unneeded for
   ``--scale-down-unneeded-time`` it is drained and deleted, at most one non-empty node at a
   time and ten nodes in all, never within ``--scale-down-delay-after-add`` of a scale-up.

The controller keeps only what the real one keeps between scans: when each node was first
seen unneeded or unready, and when it last scaled up. Everything else comes from the snapshot.

Codes are upstream's event reasons where it emits one: ``DeleteUnregistered`` (a node that
never came up, step 1), ``TriggeredScaleUp`` and ``NotTriggerScaleUp`` (its pod events),
``MaxNodesTotalReached`` (its status event when ``--max-nodes-total`` stops a scale-up),
``ScaleDown`` and ``ScaleDownEmpty`` (its node removal events). ``ScaleDownUnready`` (step 2) is
named after ``--scale-down-unready-time``, since upstream reports that removal as an ordinary
scale-down. A scan that acts on nothing takes its status-ConfigMap word: ``ScaleUpInProgress``
(pending pods fit on nodes that exist or are coming), ``CandidatesPresent`` (nodes are on the
unneeded clock) or ``NoCandidates``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from sim.config.codes import Code
from sim.config.policies import ClusterAutoscaler
from sim.config.schema import Cluster
from sim.policies.base import Action, Decision, NodeView, Observation, ReplicaView
from sim.policies.scheduling import fits, schedulable

NODE_UNREADY_GRACE_S = 60.0
"""How stale a heartbeat makes a node unready: the node lifecycle controller's 50 s monitor
grace period plus one 10 s kubelet status update (``nodeStatusUpdateFrequency``)."""

MAX_SCALE_DOWN_PARALLELISM = 10
"""Nodes being deleted at once, empty or not (``--max-scale-down-parallelism``)."""

MAX_DRAIN_PARALLELISM = 1
"""Non-empty nodes being drained at once (``--max-drain-parallelism``)."""


@dataclass(frozen=True)
class NodeGroup:
    """One node group's template node: what a new node of it offers pods, and its price.

    ``cpu_m`` and ``memory_mib`` are allocatable (capacity minus the node's reservations), the
    figures the autoscaler's template ``NodeInfo`` carries.
    """

    cpu_m: int
    memory_mib: int
    price_per_hour_usd: float

    def __post_init__(self) -> None:
        if self.cpu_m <= 0 or self.memory_mib <= 0:
            raise ValueError(
                "a node group's allocatable CPU and memory must be positive; got "
                f"{self.cpu_m} m and {self.memory_mib} MiB (are the reservations too large?)"
            )

    def template(self, instance_type: str, number: int) -> NodeView:
        """An empty hypothetical node of this group, as the scale-up simulation uses it."""
        return NodeView(
            name=f"{instance_type}-template-{number}",
            index=-1,
            type_name=instance_type,
            state="provisioning",
            cpu_m=self.cpu_m,
            memory_mib=self.memory_mib,
            requested_cpu_m=0,
            requested_memory_mib=0,
            replicas=0,
            launched_s=math.nan,
            ready_s=math.nan,
            heartbeat_s=math.nan,
            price_per_hour_usd=self.price_per_hour_usd,
        )


def node_groups_for(cluster: Cluster, settings: ClusterAutoscaler) -> dict[str, NodeGroup]:
    """The node groups of a scenario: ``settings.node_groups`` (or the cluster's node type
    alone), each from the catalogue with the cluster's reservations taken off."""
    catalogue = cluster.catalogue()
    names = settings.node_groups or (cluster.node_type,)
    groups: dict[str, NodeGroup] = {}
    for name in names:
        if name not in catalogue:
            raise ValueError(
                f"policy.kubernetes.cluster_autoscaler.node_groups: {name!r} is not in the "
                "catalogue; add it under cluster.instance_types"
            )
        instance = catalogue[name]
        groups[name] = NodeGroup(
            cpu_m=instance.cpu_m - cluster.reserved_cpu_m,
            memory_mib=instance.memory_mib - cluster.reserved_memory_mib,
            price_per_hour_usd=instance.price_per_hour_usd,
        )
    return groups


# --- packing simulation ----------------------------------------------------------------------


def packing_order(replicas: Iterable[ReplicaView]) -> list[ReplicaView]:
    """First-fit decreasing order: largest CPU request first, then memory, then name."""
    return sorted(replicas, key=lambda r: (-r.cpu_request_m, -r.memory_request_mib, r.name))


def with_replica(node: NodeView, replica: ReplicaView) -> NodeView:
    """``node`` as it would be with ``replica`` bound to it."""
    return replace(
        node,
        requested_cpu_m=node.requested_cpu_m + replica.cpu_request_m,
        requested_memory_mib=node.requested_memory_mib + replica.memory_request_mib,
        replicas=node.replicas + 1,
    )


def first_fit(nodes: list[NodeView], replica: ReplicaView, max_pods: int) -> int | None:
    """The position of the first node ``replica`` fits on, or None."""
    for position, node in enumerate(nodes):
        if fits(node, replica.cpu_request_m, replica.memory_request_mib, max_pods):
            return position
    return None


def pack(
    replicas: list[ReplicaView], nodes: list[NodeView], max_pods: int
) -> tuple[list[NodeView], list[ReplicaView]]:
    """First-fit ``replicas`` (in the given order) onto ``nodes``.

    Returns the nodes with the replicas that fitted added, and the replicas that did not.
    """
    packed = list(nodes)
    leftover: list[ReplicaView] = []
    for replica in replicas:
        position = first_fit(packed, replica, max_pods)
        if position is None:
            leftover.append(replica)
        else:
            packed[position] = with_replica(packed[position], replica)
    return packed, leftover


@dataclass(frozen=True)
class ScaleUpOption:
    """Growing one node group by ``node_count`` nodes, which would host ``replicas``
    (upstream's ``expander.Option``)."""

    instance_type: str
    group: NodeGroup
    node_count: int
    replicas: tuple[ReplicaView, ...]

    @property
    def idle_cpu_fraction(self) -> float:
        """Share of the new nodes' allocatable CPU left unrequested."""
        capacity_m = self.group.cpu_m * self.node_count
        return (capacity_m - sum(r.cpu_request_m for r in self.replicas)) / capacity_m

    @property
    def idle_memory_fraction(self) -> float:
        """Share of the new nodes' allocatable memory left unrequested."""
        capacity_mib = self.group.memory_mib * self.node_count
        return (capacity_mib - sum(r.memory_request_mib for r in self.replicas)) / capacity_mib

    @property
    def price_per_hour_usd(self) -> float:
        """What the new nodes cost together per hour."""
        return self.group.price_per_hour_usd * self.node_count


def scale_up_option(
    instance_type: str,
    group: NodeGroup,
    replicas: list[ReplicaView],
    node_slots: int,
    max_pods: int,
) -> ScaleUpOption | None:
    """Bin-pack ``replicas`` first-fit onto new template nodes of ``group``, at most
    ``node_slots`` of them (the binpacking estimator); None when not one replica fits."""
    new_nodes: list[NodeView] = []
    hosted: list[ReplicaView] = []
    for replica in replicas:
        position = first_fit(new_nodes, replica, max_pods)
        if position is None:
            template = group.template(instance_type, len(new_nodes))
            fits_empty = fits(template, replica.cpu_request_m, replica.memory_request_mib, max_pods)
            if len(new_nodes) >= node_slots or not fits_empty:
                continue
            new_nodes.append(template)
            position = len(new_nodes) - 1
        new_nodes[position] = with_replica(new_nodes[position], replica)
        hosted.append(replica)
    if not hosted:
        return None
    return ScaleUpOption(instance_type, group, len(new_nodes), tuple(hosted))


# --- expanders -------------------------------------------------------------------------------


def least_waste(options: list[ScaleUpOption]) -> list[ScaleUpOption]:
    """``least-waste``: the options leaving the smallest idle CPU fraction plus idle memory
    fraction on the new nodes. Upstream's code (``expander/waste``) ranks by this sum; its FAQ
    words it as "least idle CPU, ties broken by memory", which the sum refines."""
    best = min(o.idle_cpu_fraction + o.idle_memory_fraction for o in options)
    return [o for o in options if o.idle_cpu_fraction + o.idle_memory_fraction == best]


def most_pods(options: list[ScaleUpOption]) -> list[ScaleUpOption]:
    """``most-pods``: the options that would schedule the most pending pods."""
    best = max(len(o.replicas) for o in options)
    return [o for o in options if len(o.replicas) == best]


def cheapest(options: list[ScaleUpOption]) -> list[ScaleUpOption]:
    """``price``: the lowest hourly price of the new nodes per pod they schedule (upstream
    divides the nodes' price by the scheduled pods' price; with one service's identical pods
    that is per pod). When every option schedules all pods this is the cheapest total."""
    best = min(o.price_per_hour_usd / len(o.replicas) for o in options)
    return [o for o in options if o.price_per_hour_usd / len(o.replicas) == best]


def any_option(options: list[ScaleUpOption]) -> list[ScaleUpOption]:
    """``random``: every option that helps is equally good."""
    return options


EXPANDERS: dict[str, Callable[[list[ScaleUpOption]], list[ScaleUpOption]]] = {
    "least-waste": least_waste,
    "most-pods": most_pods,
    "price": cheapest,
    "random": any_option,
}
"""Each expander keeps its best options; the leftover tie is broken at random, as upstream."""


def plural(count: int, noun: str) -> str:
    """``1 pod``, ``3 pods``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def describe_choice(expander: str, option: ScaleUpOption, tied: int) -> str:
    """Why the expander chose ``option``, in a few words for the decision's reason."""
    if expander == "least-waste":
        detail = (
            f"least-waste: {option.idle_cpu_fraction:.0%} idle CPU, "
            f"{option.idle_memory_fraction:.0%} idle memory"
        )
    elif expander == "most-pods":
        detail = f"most-pods: schedules {len(option.replicas)}"
    elif expander == "price":
        detail = f"price: ${option.price_per_hour_usd:.3f}/h"
    else:
        detail = "random"
    if tied > 1:
        detail += f", picked at random among {tied}"
    return detail


# --- node conditions -------------------------------------------------------------------------


def unready(node: NodeView, now_s: float) -> bool:
    """A registered node the control plane sees as not Ready: reported failed, or silent for
    longer than :data:`NODE_UNREADY_GRACE_S`."""
    return node.state == "failed" or now_s - node.heartbeat_s > NODE_UNREADY_GRACE_S


def usable(node: NodeView, now_s: float) -> bool:
    """A Ready, schedulable node with a fresh heartbeat: where pods can run now."""
    return schedulable(node) and not unready(node, now_s)


def requested_fraction(node: NodeView) -> float:
    """Scale-down utilization: ``max(requested CPU / allocatable, requested memory /
    allocatable)``, by requests only (``simulator/utilization``)."""
    cpu = node.requested_cpu_m / node.cpu_m if node.cpu_m else 0.0
    memory = node.requested_memory_mib / node.memory_mib if node.memory_mib else 0.0
    return max(cpu, memory)


def replicas_by_node(replicas: Iterable[ReplicaView]) -> dict[str, list[ReplicaView]]:
    """The replicas bound to each node that are not already terminating."""
    by_node: dict[str, list[ReplicaView]] = defaultdict(list)
    for replica in replicas:
        if replica.node is not None and replica.state != "terminating":
            by_node[replica.node].append(replica)
    return by_node


def unneeded_nodes(
    candidates: list[NodeView],
    replicas_on: Mapping[str, list[ReplicaView]],
    *,
    threshold: float,
    max_pods: int,
    previously_unneeded: Iterable[str],
) -> dict[str, float]:
    """The nodes that could all go together, with their requested fraction.

    A node qualifies when its :func:`requested_fraction` is below ``threshold`` and its
    replicas fit, first-fit decreasing, on the remaining candidates; replicas moved in the
    simulation take up room, and a node found unneeded stops being a destination, so the
    result can be removed as a set. Nodes unneeded at the previous scan are tried first
    (upstream's previous-candidates ordering keeps the choice stable), then the least
    requested, then the newest.
    """
    previous = set(previously_unneeded)
    destinations = {node.name: node for node in candidates}
    order = sorted(
        candidates,
        key=lambda node: (node.name not in previous, requested_fraction(node), -node.index),
    )
    found: dict[str, float] = {}
    received: set[str] = set()  # nodes that took replicas in the simulation: they must stay
    for node in order:
        fraction = requested_fraction(node)
        if fraction >= threshold or node.name in received:
            continue
        others = [other for name, other in destinations.items() if name != node.name]
        moved, stranded = pack(packing_order(replicas_on.get(node.name, [])), others, max_pods)
        if stranded:
            continue
        for before, after in zip(others, moved, strict=True):
            if after.requested_cpu_m != before.requested_cpu_m or after.replicas != before.replicas:
                received.add(after.name)
        destinations = {other.name: other for other in moved}
        found[node.name] = fraction
    return found


# --- the controller --------------------------------------------------------------------------


@dataclass
class _Plan:
    """The actions chosen so far in one scan, each with its line of explanation and code."""

    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def add(self, action: Action, note: str) -> None:
        self.actions.append(action)
        self.note(note, action.code)

    def note(self, text: str, code: str) -> None:
        self.notes.append(text)
        self.codes.append(code)

    def decision(self, quiet_code: str, *, settled: bool = False) -> Decision:
        """The scan's decision; a ``settled`` scan without actions waits for a change.

        Its code is its first action's, else its last note's, else ``quiet_code``.
        """
        codes = [action.code for action in self.actions] or self.codes[-1:] or [quiet_code]
        return Decision(
            actions=tuple(self.actions),
            reason="; ".join(self.notes),
            code=codes[0],
            wait_for_change=settled and not self.actions,
        )


@dataclass(frozen=True)
class _ScaleUpOutcome:
    """What the scale-up step decided: the launch (if any), why (in words and a code), and
    whether pending pods that capacity could host exist (which holds scale-down back for this
    scan)."""

    action: Action | None = None
    note: str = ""
    code: str = ""
    needed: bool = False


class ClusterAutoscalerController:
    """cluster-autoscaler as a :class:`~sim.policies.base.Controller`.

    ``node_groups`` maps an instance type (the ``launch_nodes`` target) to its template
    (:func:`node_groups_for` builds them from a scenario). ``min_nodes`` and ``max_nodes``
    bound the whole cluster (``--max-nodes-total``; the sum of the groups' minimum sizes);
    ``max_pods_per_node`` is the scheduler's pod limit, which the packing simulations respect.
    ``rng`` breaks the expander's ties.
    """

    name: str = "cluster-autoscaler"

    def __init__(
        self,
        settings: ClusterAutoscaler,
        *,
        node_groups: Mapping[str, NodeGroup],
        min_nodes: int,
        max_nodes: int,
        max_pods_per_node: int,
        phase_s: float,
        rng: np.random.Generator,
    ) -> None:
        if not node_groups:
            raise ValueError("the cluster autoscaler needs at least one node group")
        if not 0 <= min_nodes <= max_nodes:
            raise ValueError(
                f"need 0 ≤ min_nodes ≤ max_nodes; got min_nodes {min_nodes}, max_nodes {max_nodes}"
            )
        if max_pods_per_node < 1:
            raise ValueError(f"max_pods_per_node must be at least 1; got {max_pods_per_node}")
        self.settings = settings
        self.period_s = settings.scan_interval_s
        self.phase_s = phase_s
        self.node_groups = dict(node_groups)
        self.min_nodes = min_nodes
        self.max_nodes = max_nodes
        self.max_pods_per_node = max_pods_per_node
        self._rng = rng
        # Upstream starts with its last scale-up an hour back, so it starts out of cooldown.
        self._last_scale_up_s = -math.inf
        self._unneeded_since: dict[str, float] = {}
        self._unready_since: dict[str, float] = {}

    def decide(self, observation: Observation) -> Decision:
        """One scan: watchdog, unready nodes, then scale-up or else scale-down."""
        if not self.settings.enabled:
            return Decision(code="ClusterAutoscalerDisabled")
        now_s = observation.now_s
        plan = _Plan()
        nodes = [node for node in observation.nodes if node.state != "terminated"]
        self._terminate_late_nodes(nodes, now_s, plan)
        if self.settings.scale_down_enabled:
            self._terminate_unready_nodes(nodes, now_s, plan)
        going = {action.target for action in plan.actions}
        nodes = [node for node in nodes if node.name not in going]

        scale_up = self._scale_up(observation, nodes)
        if scale_up.action is not None:
            self._last_scale_up_s = now_s
            plan.add(scale_up.action, scale_up.note)
            # no scale-down in a scan that scaled up, as upstream
            return plan.decision(scale_up.code)
        if scale_up.note:
            plan.note(scale_up.note, scale_up.code)
        if self.settings.scale_down_enabled:
            self._scale_down(observation, nodes, plan, hold=scale_up.needed)
        quiet_code = scale_up.code or (
            "CandidatesPresent" if self._unneeded_since else "NoCandidates"
        )
        return plan.decision(quiet_code, settled=self._settled(observation, nodes))

    def _settled(self, observation: Observation, nodes: list[NodeView]) -> bool:
        """Whether every later scan will decide nothing until a node or replica changes: no
        pod pending, no node booting, draining or unready, none on the unneeded clock."""
        return (
            not self._unneeded_since
            and not self._unready_since
            and all(node.state == "ready" for node in nodes)
            and not any(replica.state == "pending" for replica in observation.replicas)
        )

    # --- node health ---------------------------------------------------------------------

    def _terminate_late_nodes(self, nodes: list[NodeView], now_s: float, plan: _Plan) -> None:
        """Provisioning watchdog: a node not ready ``max_node_provision_s`` after its launch
        is deleted and stops counting as upcoming capacity (``--max-node-provision-time``)."""
        limit_s = self.settings.max_node_provision_s
        for node in nodes:
            age_s = now_s - node.launched_s
            if node.state == "provisioning" and age_s > limit_s:
                note = f"{node.name} not ready {age_s:.0f} s after launch (limit {limit_s:g} s)"
                action = Action("terminate_node", target=node.name, code="DeleteUnregistered")
                plan.add(action, f"{note}: terminate")

    def _terminate_unready_nodes(self, nodes: list[NodeView], now_s: float, plan: _Plan) -> None:
        """A registered node unready for ``scale_down_unready_s`` (counted from the first
        scan that saw it unready) is deleted (``--scale-down-unready-time``)."""
        seen = [n for n in nodes if n.state in ("ready", "failed") and unready(n, now_s)]
        self._unready_since = {n.name: self._unready_since.get(n.name, now_s) for n in seen}
        for node in seen:
            unready_s = now_s - self._unready_since[node.name]
            if unready_s >= self.settings.scale_down_unready_s:
                note = f"{node.name} unready for {unready_s:.0f} s: terminate"
                plan.add(Action("terminate_node", target=node.name, code="ScaleDownUnready"), note)

    # --- scale-up ------------------------------------------------------------------------

    def _scale_up(self, observation: Observation, nodes: list[NodeView]) -> _ScaleUpOutcome:
        """Launch nodes of one group for the pending pods that no existing or upcoming node
        has room for, or explain why not."""
        pending = packing_order(
            r for r in observation.replicas if r.state == "pending" and r.node is None
        )
        if not pending:
            return _ScaleUpOutcome()
        now_s = observation.now_s
        existing = [node for node in nodes if usable(node, now_s)]
        upcoming = [node for node in nodes if node.state == "provisioning"]
        _, unhelped = pack(pending, existing + upcoming, self.max_pods_per_node)
        if not unhelped:
            return _ScaleUpOutcome(code="ScaleUpInProgress", needed=True)
        unschedulable = f"{plural(len(unhelped), 'pod')} unschedulable"
        if not any(self._group_fits(replica) for replica in unhelped):
            note = f"{unschedulable}: no node group fits"
            return _ScaleUpOutcome(note=note, code="NotTriggerScaleUp")
        node_slots = self.max_nodes - len(nodes)
        if node_slots <= 0:
            note = f"{unschedulable}: max_nodes {self.max_nodes} reached"
            return _ScaleUpOutcome(note=note, code="MaxNodesTotalReached", needed=True)
        options: list[ScaleUpOption] = []
        for instance_type, group in self.node_groups.items():
            option = scale_up_option(
                instance_type, group, unhelped, node_slots, self.max_pods_per_node
            )
            if option is not None:
                options.append(option)
        return self._expand(options, unschedulable, len(unhelped))

    def _group_fits(self, replica: ReplicaView) -> bool:
        """Whether an empty node of some group could host ``replica``."""
        return any(
            fits(
                group.template(name, 0),
                replica.cpu_request_m,
                replica.memory_request_mib,
                self.max_pods_per_node,
            )
            for name, group in self.node_groups.items()
        )

    def _expand(
        self, options: list[ScaleUpOption], unschedulable: str, pod_count: int
    ) -> _ScaleUpOutcome:
        """Let the expander pick among ``options`` (random among its ties) and launch it."""
        best = EXPANDERS[self.settings.expander](options)
        chosen = best[0] if len(best) == 1 else best[int(self._rng.integers(len(best)))]
        detail = describe_choice(self.settings.expander, chosen, len(best))
        hosted = len(chosen.replicas)
        scope = "" if hosted == pod_count else f" for {hosted} of them"
        note = f"{unschedulable}: +{chosen.node_count} {chosen.instance_type}{scope} ({detail})"
        action = Action(
            "launch_nodes",
            value=chosen.node_count,
            target=chosen.instance_type,
            code="TriggeredScaleUp",
        )
        return _ScaleUpOutcome(action=action, note=note, code=action.code, needed=True)

    # --- scale-down ----------------------------------------------------------------------

    def _scale_down(
        self, observation: Observation, nodes: list[NodeView], plan: _Plan, *, hold: bool
    ) -> None:
        """Track unneeded nodes; remove those unneeded long enough, within the limits.

        Tracking runs in every scan without a scale-up (as upstream's ``UpdateUnneededNodes``);
        removal waits while pending pods could use capacity (``hold``) and for
        ``scale_down_delay_after_add_s`` after this controller's last scale-up.
        """
        now_s = observation.now_s
        replicas_on = replicas_by_node(observation.replicas)
        unneeded = unneeded_nodes(
            [node for node in nodes if usable(node, now_s)],
            replicas_on,
            threshold=self.settings.scale_down_utilization_threshold,
            max_pods=self.max_pods_per_node,
            previously_unneeded=self._unneeded_since,
        )
        self._unneeded_since = {name: self._unneeded_since.get(name, now_s) for name in unneeded}
        cooling = now_s - self._last_scale_up_s < self.settings.scale_down_delay_after_add_s
        if hold or cooling:
            return
        for name in self._removable(nodes, unneeded, replicas_on, now_s):
            unneeded_s = now_s - self._unneeded_since[name]
            empty = not replicas_on.get(name)
            load = "empty" if empty else f"at {unneeded[name]:.0%} requested"
            note = f"{name} unneeded for {unneeded_s:.0f} s {load}: remove"
            code = "ScaleDownEmpty" if empty else "ScaleDown"
            plan.add(Action("remove_node", target=name, code=code), note)

    def _removable(
        self,
        nodes: list[NodeView],
        unneeded: Mapping[str, float],
        replicas_on: Mapping[str, list[ReplicaView]],
        now_s: float,
    ) -> list[str]:
        """The unneeded nodes to remove now: unneeded for ``scale_down_unneeded_s``, empty ones
        first, at most :data:`MAX_DRAIN_PARALLELISM` non-empty ones draining at a time, at most
        :data:`MAX_SCALE_DOWN_PARALLELISM` in all, and never below ``min_nodes`` ready or
        provisioning nodes."""
        due = [
            name
            for name in unneeded
            if now_s - self._unneeded_since[name] >= self.settings.scale_down_unneeded_s
        ]
        draining = [node for node in nodes if node.state == "draining"]
        active = sum(1 for node in nodes if node.state in ("ready", "provisioning"))
        budget = min(MAX_SCALE_DOWN_PARALLELISM - len(draining), active - self.min_nodes)
        drain_budget = MAX_DRAIN_PARALLELISM - sum(
            1 for node in draining if node.replicas > 0 or replicas_on.get(node.name)
        )
        empty = [name for name in due if not replicas_on.get(name)]
        occupied = [name for name in due if replicas_on.get(name)]
        chosen = empty[: max(budget, 0)]
        room = min(budget - len(chosen), drain_budget)
        return chosen + occupied[: max(room, 0)]


CA = ClusterAutoscalerController.name

CODES: dict[str, Code] = {
    # --- the cluster autoscaler (sim.policies.autoscaler) ---
    "TriggeredScaleUp": Code(
        CA,
        "pending pods no existing or upcoming node can host: a node group grows",
        "cluster-autoscaler pod event reason (processors/status, eventing scale-up processor)",
    ),
    "NotTriggerScaleUp": Code(
        CA,
        "pending pods that no node group's empty node could host: no scale-up",
        "cluster-autoscaler pod event reason (processors/status, eventing scale-up processor)",
    ),
    "ScaleUpInProgress": Code(
        CA,
        "pending pods fit on ready or still-booting nodes: nothing to add (scale-down held)",
        "cluster-autoscaler status ConfigMap: condition ScaleUp, status InProgress",
    ),
    "ScaleDown": Code(
        CA,
        "a node with pods, unneeded for --scale-down-unneeded-time: drained and removed",
        "cluster-autoscaler node event reason (core/scaledown/actuation)",
    ),
    "ScaleDownEmpty": Code(
        CA,
        "an empty node, unneeded for --scale-down-unneeded-time: removed",
        "cluster-autoscaler event reason on its status ConfigMap (scale-down actuator)",
    ),
    "ScaleDownUnready": Code(
        CA,
        "a registered node unready for --scale-down-unready-time: deleted",
        "coined from the --scale-down-unready-time flag; upstream logs it as a ScaleDown",
    ),
    "DeleteUnregistered": Code(
        CA,
        "a launched node not ready within --max-node-provision-time: deleted, no longer "
        "counted as upcoming capacity",
        "cluster-autoscaler event reason (static_autoscaler removeOldUnregisteredNodes)",
    ),
    "CandidatesPresent": Code(
        CA,
        "nodes are on the unneeded clock, not yet removable (time, delay after add, limits)",
        "cluster-autoscaler status ConfigMap: condition ScaleDown, status CandidatesPresent",
    ),
    "NoCandidates": Code(
        CA,
        "nothing to add and no node is a scale-down candidate",
        "cluster-autoscaler status ConfigMap: condition ScaleDown, status NoCandidates",
    ),
    "ClusterAutoscalerDisabled": Code(
        CA, "the autoscaler is turned off (cluster_autoscaler.enabled false)", "coined"
    ),
}
"""The codes of the cluster autoscaler's scans and their actions."""

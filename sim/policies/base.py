"""What a capacity policy sees and what it may decide: plain data, no SimPy.

A policy is one or more controllers, each waking on its own period. The control plane
(:mod:`sim.control`) hands a controller an :class:`Observation` — a snapshot of what the real
control plane would know at that moment (metrics lag behind, a failed node is only a missed
heartbeat) — and applies the :class:`Decision` it returns, logging every action with the
decision's reason and code in ``Result.events``. Controllers never import SimPy and never
read a clock: ``now_s`` is in the snapshot, so their tests are tables of snapshots and
expected decisions.

A code is the machine-readable twin of a reason: one CamelCase word (``ScaleUpLimit``,
``TriggeredScaleUp``, ``NodeDown``) naming why, so that decisions can be grouped and counted
without parsing prose. Every code, who emits it and where the word comes from is listed in
:data:`sim.policies.registry.CODES`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

import numpy as np
from pydantic import BaseModel

from sim.config.codes import Code
from sim.config.rules import WorldRules
from sim.config.schema import BalancerAlgorithm, Scenario

ReplicaPhase = Literal["pending", "pulling", "starting", "ready", "terminating"]


@dataclass(frozen=True)
class ReplicaView:
    """One replica (pod, task, container) as the control plane sees it.

    ``state`` follows the model's lifecycle; in Kubernetes terms ``pending`` and ``pulling``
    are the Pending phase, ``starting`` is Running but not Ready, ``ready`` is Running and
    Ready. ``started_s`` is when a node took it (the pod's ``status.startTime``; NaN while
    no node has), ``ready_s`` when it last became ready (NaN if never) and
    ``ready_transition_s`` when its Ready condition last changed (for a replica never ready:
    ``started_s``). ``cpu_usage_m`` is the latest metrics sample (mean usage over
    ``metric_window_s`` ending at ``metric_time_s``), or None while there is no sample yet.
    """

    name: str
    node: str | None
    state: ReplicaPhase
    created_s: float
    started_s: float
    ready_s: float
    cpu_request_m: int
    memory_request_mib: int
    ready_transition_s: float = math.nan
    cpu_usage_m: float | None = None
    metric_time_s: float = math.nan
    metric_window_s: float = 0.0


@dataclass(frozen=True)
class NodeView:
    """One machine as the control plane sees it.

    ``heartbeat_s`` is the last time the node reported in (``now`` for a healthy node, the
    crash time for a dead one): controllers infer failure from its age, as the real ones do.
    ``cpu_usage_m`` is the mean CPU used over the last metrics window. ``role`` is
    ``worker``, ``manager`` or ``manager-drained`` (Swarm; a drained manager runs no tasks).
    ``unroutable`` is set once the balancer has stopped using the node's replicas.
    """

    name: str
    index: int
    type_name: str
    state: Literal["provisioning", "ready", "draining", "terminated", "failed"]
    cpu_m: int
    memory_mib: int
    requested_cpu_m: int
    requested_memory_mib: int
    replicas: int
    launched_s: float
    ready_s: float
    heartbeat_s: float
    price_per_hour_usd: float
    has_image: bool = False
    role: str = "worker"
    cpu_usage_m: float = 0.0
    unroutable: bool = False


class Observation:
    """A snapshot of the system at ``now_s``, as its control plane would see it.

    ``replicas`` and ``nodes`` may be given as tuples, or as functions that build them: the
    control plane passes functions, so that a controller that reads only the nodes (a node
    lifecycle loop every 5 s) does not pay for a view of every replica. Either way they are
    read-only tuples, built at most once.
    """

    __slots__ = (
        "_nodes",
        "_replicas",
        "arrival_rate_rps",
        "cpu_utilization",
        "desired_replicas",
        "error_rate",
        "latency_p95_s",
        "now_s",
    )

    def __init__(
        self,
        now_s: float,
        replicas: tuple[ReplicaView, ...] | Callable[[], Iterable[ReplicaView]],
        nodes: tuple[NodeView, ...] | Callable[[], Iterable[NodeView]],
        desired_replicas: int,
        arrival_rate_rps: float = 0.0,
        latency_p95_s: float = math.nan,
        error_rate: float = 0.0,
        cpu_utilization: float = 0.0,
    ) -> None:
        self.now_s = now_s
        self._replicas = replicas
        self._nodes = nodes
        self.desired_replicas = desired_replicas
        self.arrival_rate_rps = arrival_rate_rps
        self.latency_p95_s = latency_p95_s
        self.error_rate = error_rate
        self.cpu_utilization = cpu_utilization

    @property
    def replicas(self) -> tuple[ReplicaView, ...]:
        """Every replica the control plane knows of (not the ones known to be gone)."""
        if callable(self._replicas):
            self._replicas = tuple(self._replicas())
        return self._replicas

    @property
    def nodes(self) -> tuple[NodeView, ...]:
        """Every node not terminated."""
        if callable(self._nodes):
            self._nodes = tuple(self._nodes())
        return self._nodes

    @property
    def pending_replicas(self) -> tuple[ReplicaView, ...]:
        """Replicas no node has taken (Kubernetes: Unschedulable; Swarm: pending tasks)."""
        return tuple(r for r in self.replicas if r.state == "pending")

    def __repr__(self) -> str:
        return (
            f"Observation(now_s={self.now_s}, desired_replicas={self.desired_replicas}, "
            f"replicas={len(self.replicas)}, nodes={len(self.nodes)})"
        )


def silent_nodes(
    observation: Observation, silent_after_s: float, handled: set[str]
) -> list[NodeView]:
    """Nodes not terminated nor already handled whose last heartbeat is older than
    ``silent_after_s``: what a health check or heartbeat monitor sees of a dead machine."""
    now = observation.now_s
    return [
        node
        for node in observation.nodes
        if node.state != "terminated"
        and node.name not in handled
        and now - node.heartbeat_s > silent_after_s
    ]


def replace_node(node: NodeView, type_name: str, code: str) -> tuple[Action, ...]:
    """Stop routing to a dead machine, delete it, and launch a new one of ``type_name``, all
    three for the reason ``code`` names."""
    return (
        Action("unroute_node", target=node.name, code=code),
        Action("terminate_node", target=node.name, code=code),
        Action("launch_nodes", value=1, target=type_name, code=code),
    )


ActionKind = Literal[
    "set_replicas",  # value: the new replica count (Deployment spec.replicas, service scale)
    "launch_nodes",  # value: how many; target: the instance type
    "remove_node",  # target: the node, drained first (its replicas are replaced elsewhere)
    "resize_node",  # target: the node; value: the new instance type (stop, resize, start)
    "unroute_node",  # target: the node whose replicas the balancer must stop using
    "evict_node",  # target: the node whose replicas are deleted and replaced elsewhere
    "terminate_node",  # target: the node, stopped at once (a dead node's VM is deleted)
]


CODE_PATTERN = re.compile(r"[A-Z][A-Za-z0-9]*")
"""A code is one CamelCase word: a capital letter, then letters and digits."""


def check_code(code: str, owner: str) -> None:
    """Reject a non-empty ``code`` that is not one CamelCase word, naming its ``owner``."""
    if code and not CODE_PATTERN.fullmatch(code):
        raise ValueError(
            f"{owner} code must be one CamelCase word (a capital letter, then letters and "
            f"digits, like 'ScaleUpLimit'); got {code!r}"
        )


@dataclass(frozen=True)
class Action:
    """One change a controller asks for.

    ``code`` says why when it differs from the decision's (a scan that deletes a dead node
    and scales up in one decision); empty, the action takes the decision's code.
    """

    kind: ActionKind
    value: int | float | str = 0
    target: str = ""
    code: str = ""

    def __post_init__(self) -> None:
        check_code(self.code, f"the {self.kind} action's")


@dataclass(frozen=True)
class Decision:
    """The actions a controller chose, why in words (``reason``) and why in one machine-readable
    word (``code``), both logged with each action.

    An action's own code, when it has one, replaces the decision's on that action's events.
    A decision that explains several things (a scan that both deletes a node and scales up)
    gives its actions their own codes and takes as its own the code of its first action, or,
    when it acts on nothing, of the last thing its reason says: where the controller's
    procedure came to rest (an operator who evaluated the alert and then found the node cap
    says ``MaxNodesTotalReached``, not that the alert is quiet).

    ``wait_for_change`` says that, with no action now, the controller will decide nothing
    until a node or replica changes (appears, changes state, goes): its decisions until
    then depend on no clock, metric or timer. The control plane may then skip its ticks until the
    cluster changes and resume it on its own period's grid, which saves the work of a node
    monitor that wakes every 5 s in a healthy cluster without changing any result.
    """

    actions: tuple[Action, ...] = ()
    reason: str = ""
    code: str = ""
    wait_for_change: bool = False

    def __post_init__(self) -> None:
        check_code(self.code, "a decision's")
        if self.wait_for_change and self.actions:
            raise ValueError(
                "a decision with actions changes the cluster: it cannot wait for a change"
            )
        uncoded = [action.kind for action in self.actions if not action.code]
        if uncoded and not self.code:
            raise ValueError(
                "a decision with actions must say why in a code: give the decision a code, "
                f"or each action its own (none on: {', '.join(uncoded)})"
            )

    @classmethod
    def of_clauses(cls, actions: Iterable[Action], clauses: Iterable[Clause]) -> Decision:
        """The decision whose reason is ``clauses`` joined by ``; `` and whose code is its
        first action's, or, with no action, its last clause's."""
        actions = tuple(actions)
        clauses = list(clauses)
        code = actions[0].code if actions else (clauses[-1].code if clauses else "")
        return cls(actions, "; ".join(clause.text for clause in clauses), code)


class Clause(NamedTuple):
    """One thing a decision's reason says, with its code (``text`` reads on its own)."""

    code: str
    text: str


class Controller(Protocol):
    """A control loop: asked every ``period_s`` (first at ``phase_s``) for a decision."""

    name: str
    period_s: float
    phase_s: float

    def decide(self, observation: Observation) -> Decision: ...


Placement = Callable[[list[NodeView], ReplicaView, np.random.Generator], str | None]
"""``(candidate nodes, the replica to place, rng) → node name, or None to leave it pending``."""


@dataclass
class PolicySetup:
    """What a policy asks of a run: its control plane, and the rules of the world it runs in.

    The control plane is the policy's own: ``controllers`` woken on their periods, the
    ``placement`` of new replicas (None: :func:`~sim.policies.scheduling.spread_placement`),
    the load balancer's ``balancer`` algorithm unless the scenario names one, and the metrics
    pipeline (CPU usage scraped every ``metrics_resolution_s`` over ``metrics_window_s``).
    ``rules`` (:class:`~sim.config.rules.WorldRules`) say how the simulated world keeps,
    recovers and readies replicas; the model reads nothing else of the policy.
    """

    name: str
    controllers: list[Controller] = field(default_factory=list)
    placement: Placement | None = None
    balancer: BalancerAlgorithm = "round_robin"
    metrics_resolution_s: float = 15.0
    metrics_window_s: float = 15.0
    rules: WorldRules = field(default_factory=WorldRules)


Streams = Mapping[str, np.random.Generator]
"""The run's named random streams (:func:`sim.streams.streams`)."""


@dataclass(frozen=True)
class CapacityCeiling:
    """The most a policy can ever serve with: what the planner prunes candidates by.

    ``max_replicas`` (``math.inf``: bounded by the nodes alone) and ``max_nodes`` of
    ``node_vcpu`` vCPUs each (None: the scenario's node type). The planner turns this into
    cores with the CPU one replica can count on and the nodes' reserved CPU.
    """

    max_replicas: float
    max_nodes: int
    node_vcpu: float | None = None


@dataclass(frozen=True)
class PolicySpec:
    """What a policy module says about itself; :mod:`sim.policies.registry` collects them.

    ``settings`` is the pydantic model of its block under ``policy.<name>`` (None when it has
    none), ``build`` makes its :class:`PolicySetup` for a scenario and the run's streams,
    ``capacity_ceiling`` bounds what it can serve (for the planner), ``defaults`` and
    ``sources`` describe, in prose for the report, the real defaults it models and where
    they come from, and ``codes`` are the codes its controllers write
    (:class:`~sim.config.codes.Code`: who, what it means, where the word comes from).
    """

    name: str
    settings: type[BaseModel] | None
    build: Callable[[Scenario, Streams], PolicySetup]
    capacity_ceiling: Callable[[Scenario], CapacityCeiling]
    defaults: str
    sources: str
    codes: Mapping[str, Code] = field(default_factory=dict)

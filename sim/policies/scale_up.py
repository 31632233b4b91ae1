"""``scale_up``: bigger machines instead of more of them.

A Compose deployment on one VM (or a few) grows by moving each VM up its instance family's
ladder (m5.large → m5.xlarge → …), the way a team resizes a database or a monolith's host.
EC2 changes an instance's type only while it is stopped, so every step is an outage of that
machine (stop ≈ 30–60 s, boot ≈ 2 min); teams therefore resize one server at a time, in a
maintenance-window habit (ministryofjustice/modernisation-platform#13559), and a family's
largest size (m5.24xlarge, 96 vCPU) is a hard ceiling. Price is linear in size within a family,
so the ladder buys no unit-price discount: its costs are the downtime and the ceiling.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from itertools import pairwise

from sim.config.catalogue import InstanceType, family_ladder
from sim.config.codes import Code
from sim.config.policies import ScaleUp
from sim.config.rules import WorldRules
from sim.config.schema import Scenario
from sim.config.slack import FLOAT_SLACK, ceil_count
from sim.policies.base import (
    Action,
    CapacityCeiling,
    Clause,
    Decision,
    NodeView,
    Observation,
    PolicySetup,
    PolicySpec,
    Streams,
    replace_node,
    silent_nodes,
)
from sim.policies.load_balancer import ALB_HEALTH_CHECK_INTERVAL_S, ALB_HEALTHY_THRESHOLD

FAILED_HEARTBEAT_S = 60.0
"""Silence after which a node counts as failed: EC2 runs its status checks every minute, and
an auto-recovery alarm on ``StatusCheckFailed_System`` acts after one failed 1-minute
datapoint."""


def ladder_for(
    settings: ScaleUp, node_type: str, catalogue: Mapping[str, InstanceType]
) -> list[str]:
    """The sizes a node of ``node_type`` may take, smallest first.

    With no explicit ``settings.ladder``, the node type's family from the catalogue
    (``family_ladder``). An explicit ladder must name known instance types, in strictly
    ascending vCPU order, and include ``node_type`` (the size the nodes start at).
    """
    if node_type not in catalogue:
        raise ValueError(f"scale_up: unknown node type {node_type!r}")
    if not settings.ladder:
        return family_ladder(node_type, dict(catalogue))
    ladder = list(settings.ladder)
    unknown = [name for name in ladder if name not in catalogue]
    if unknown:
        raise ValueError(f"scale_up.ladder: unknown instance type(s) {', '.join(unknown)}")
    for smaller, larger in pairwise(ladder):
        if catalogue[larger].vcpu <= catalogue[smaller].vcpu:
            raise ValueError(
                f"scale_up.ladder must ascend in vCPU: {larger} ({catalogue[larger].vcpu} vCPU) "
                f"follows {smaller} ({catalogue[smaller].vcpu} vCPU)"
            )
    if node_type not in ladder:
        raise ValueError(
            f"scale_up.ladder must include the cluster's node type {node_type} "
            f"(ladder: {', '.join(ladder)})"
        )
    return ladder


class VerticalScaler:
    """Moves a node up (or down) its ladder when its CPU stays out of bounds.

    Every ``evaluation_period_s`` each ready node gives one datapoint, ``cpu_usage_m /
    cpu_m``. When a node's last ``ceil(sustained_s / evaluation_period_s)`` datapoints (at
    least one) all exceed ``scale_up_threshold``, it is resized to the next size of the
    ladder; when ``scale_down_threshold`` is set and they are all below it, to the previous
    size. A node is not resized within ``cooldown_s`` of its last resize (counted from when
    the resize was asked for), and its datapoints start afresh after a resize or any time
    it is not ready, so a resized machine is judged on its new size only.

    One resize at a time: none while any node is not ready (a node being resized shows
    ``provisioning``; a failed or draining one also waits) or any replica is not yet
    serving, and at most one per decision —
    a scale-up before a scale-down, the busiest node first. At the top of the ladder the
    reason says the node cannot grow.

    A node silent for more than ``failure_after_s`` (60 s) is recovered the way EC2
    auto-recovery does it, modelled as replacing the machine: unroute it, terminate it and
    launch one node of its current type, once per node.

    Codes: ``AutoRecovery`` (EC2's name for the recover action), ``Cooldown`` (as EC2 Auto
    Scaling's); ``ResizeUp``, ``ResizeDown``, ``AtLargestSize``, ``AtSmallestSize``,
    ``NotOnLadder``, ``WaitingForReady`` and ``WithinThresholds`` are coined, as no real
    controller resizes machines on its own.
    """

    name = "vertical-scaler"

    def __init__(
        self,
        settings: ScaleUp,
        *,
        ladder: Sequence[str],
        phase_s: float,
        failure_after_s: float = FAILED_HEARTBEAT_S,
    ) -> None:
        if not ladder:
            raise ValueError("ladder must name at least one instance type")
        self.settings = settings
        self.ladder = list(ladder)
        self.phase_s = phase_s
        self.period_s = settings.evaluation_period_s
        self.failure_after_s = failure_after_s
        self.datapoints_needed = max(
            1, ceil_count(settings.sustained_s / settings.evaluation_period_s)
        )
        self._history: dict[str, deque[float]] = {}
        self._last_resize_s: dict[str, float] = {}
        self._recovered: set[str] = set()

    def history(self, node_name: str) -> tuple[float, ...]:
        """The node's current run of datapoints, oldest first."""
        return tuple(self._history.get(node_name, ()))

    def decide(self, observation: Observation) -> Decision:
        actions: list[Action] = []
        notes: list[Clause] = []
        failed = self._recover_failed(observation, actions, notes)
        ready = [
            node
            for node in observation.nodes
            if node.state == "ready" and node.name not in self._recovered
        ]
        self._record(observation.nodes, ready)
        busy = (
            failed
            + [node.name for node in observation.nodes if node.state not in ("ready", "terminated")]
            # A machine is back in service only once its containers pass the health checks.
            + [
                r.name
                for r in observation.replicas
                if r.state in ("pending", "pulling", "starting")
            ]
        )
        if busy:
            waiting = f"waiting for {busy[0]} to be ready: one resize at a time"
            notes.append(Clause("WaitingForReady", waiting))
        else:
            actions.extend(self._resize_one(observation.now_s, ready, notes))
        if not notes:
            calm = (
                f"{len(ready)} ready nodes; none sustained above "
                f"{self.settings.scale_up_threshold:.0%}{self._below_text()}"
            )
            notes.append(Clause("WithinThresholds", calm))
        return Decision.of_clauses(actions, notes)

    # --- datapoints ---------------------------------------------------------------------------

    def _record(self, nodes: Sequence[NodeView], ready: list[NodeView]) -> None:
        ready_names = {node.name for node in ready}
        for node in nodes:
            if node.name not in ready_names:
                self._history.pop(node.name, None)
        for node in ready:
            run = self._history.setdefault(node.name, deque(maxlen=self.datapoints_needed))
            run.append(node.cpu_usage_m / node.cpu_m if node.cpu_m > 0 else 0.0)

    def _below_text(self) -> str:
        low = self.settings.scale_down_threshold
        return f" or below {low:.0%}" if low is not None else ""

    # --- failure ------------------------------------------------------------------------------

    def _recover_failed(
        self, observation: Observation, actions: list[Action], notes: list[Clause]
    ) -> list[str]:
        now = observation.now_s
        failed = silent_nodes(observation, self.failure_after_s, self._recovered)
        for node in failed:
            self._recovered.add(node.name)
            self._history.pop(node.name, None)
            actions.extend(replace_node(node, node.type_name, "AutoRecovery"))
            silent = (
                f"{node.name} silent {now - node.heartbeat_s:.0f} s "
                f"(> {self.failure_after_s:g} s): recover onto a new {node.type_name}"
            )
            notes.append(Clause("AutoRecovery", silent))
        return [node.name for node in failed]

    # --- resizing -----------------------------------------------------------------------------

    def _resize_one(self, now_s: float, ready: list[NodeView], notes: list[Clause]) -> list[Action]:
        ups: list[tuple[float, NodeView, str]] = []
        downs: list[tuple[float, NodeView, str]] = []
        for node in ready:
            run = self._history[node.name]
            if len(run) < self.datapoints_needed:
                continue
            mean = sum(run) / len(run)
            if all(value > self.settings.scale_up_threshold for value in run):
                step = self._step(now_s, node, +1, mean, notes)
                if step:
                    ups.append((mean, node, step))
            elif self._all_below(run):
                step = self._step(now_s, node, -1, mean, notes)
                if step:
                    downs.append((mean, node, step))
        if ups:
            mean, node, size = max(ups, key=lambda item: (item[0], -item[1].index))
            code = "ResizeUp"
        elif downs:
            mean, node, size = min(downs, key=lambda item: (item[0], item[1].index))
            code = "ResizeDown"
        else:
            return []
        self._last_resize_s[node.name] = now_s
        self._history.pop(node.name, None)
        held = self.datapoints_needed * self.settings.evaluation_period_s
        resize = f"{node.name} CPU {mean:.0%} for {held:g} s: resize {node.type_name} → {size}"
        notes.append(Clause(code, resize))
        return [Action("resize_node", value=size, target=node.name, code=code)]

    def _all_below(self, run: deque[float]) -> bool:
        low = self.settings.scale_down_threshold
        return low is not None and all(value < low for value in run)

    def _step(
        self, now_s: float, node: NodeView, direction: int, mean: float, notes: list[Clause]
    ) -> str | None:
        """The size ``direction`` steps from the node's, or None (with a note) if it cannot."""
        word = "up" if direction > 0 else "down"
        if node.type_name not in self.ladder:
            off = f"{node.name} is a {node.type_name}, not on the ladder: cannot scale"
            notes.append(Clause("NotOnLadder", off))
            return None
        position = self.ladder.index(node.type_name) + direction
        if position >= len(self.ladder):
            top = f"{node.type_name} is the largest: cannot scale up ({node.name})"
            notes.append(Clause("AtLargestSize", top))
            return None
        if position < 0:
            bottom = f"{node.type_name} is the smallest: cannot scale down ({node.name})"
            notes.append(Clause("AtSmallestSize", bottom))
            return None
        since = now_s - self._last_resize_s.get(node.name, -math.inf)
        if since + FLOAT_SLACK < self.settings.cooldown_s:
            cooling = (
                f"{node.name} CPU {mean:.0%}: would scale {word}, but in cooldown "
                f"({since:.0f} s since its last resize)"
            )
            notes.append(Clause("Cooldown", cooling))
            return None
        return self.ladder[position]


def setup(scenario: Scenario, rngs: Streams) -> PolicySetup:
    """Vertical scaling: each node runs ``replicas_per_node`` containers behind an
    application load balancer; a resize takes the node out for its downtime plus the health
    checks that bring it back."""
    phase_rng = rngs["controllers"]
    settings = scenario.policy.scale_up
    ladder = ladder_for(settings, scenario.cluster.node_type, scenario.cluster.catalogue())
    return PolicySetup(
        name="scale_up",
        controllers=[
            VerticalScaler(
                settings,
                ladder=ladder,
                phase_s=float(phase_rng.uniform(0, settings.evaluation_period_s)),
            )
        ],
        balancer="round_robin",
        rules=WorldRules(
            replicas_per_node=settings.replicas_per_node,
            workers_per_core=settings.workers_per_core,
            readiness_period_s=ALB_HEALTH_CHECK_INTERVAL_S,
            readiness_successes=ALB_HEALTHY_THRESHOLD,
            resize_downtime=settings.resize_downtime_s,
        ),
    )


def capacity_ceiling(scenario: Scenario) -> CapacityCeiling:
    """Every node at the top of its ladder; the replicas per node grow with the machine.

    A ladder that cannot be built leaves the bound out of the way (the run reports it).
    """
    catalogue = scenario.cluster.catalogue()
    try:
        ladder = ladder_for(scenario.policy.scale_up, scenario.cluster.node_type, catalogue)
    except ValueError:
        return CapacityCeiling(math.inf, scenario.cluster.initial_nodes, node_vcpu=math.inf)
    return CapacityCeiling(
        max_replicas=math.inf,
        max_nodes=scenario.cluster.initial_nodes,
        node_vcpu=max(catalogue[name].vcpu for name in ladder),
    )


VERTICAL = VerticalScaler.name

CODES: dict[str, Code] = {
    # --- the vertical scaler (sim.policies.scale_up) ---
    "ResizeUp": Code(
        VERTICAL,
        "CPU above scale_up_threshold for sustained_s: the node is stopped and started as the "
        "next size of its ladder",
        "coined (EC2 changes an instance's type only while it is stopped)",
    ),
    "ResizeDown": Code(
        VERTICAL,
        "CPU below scale_down_threshold for sustained_s: the node moves to the previous size",
        "coined",
    ),
    "AtLargestSize": Code(VERTICAL, "a hot node is already the largest of its ladder", "coined"),
    "AtSmallestSize": Code(
        VERTICAL, "an idle node is already the smallest of its ladder", "coined"
    ),
    "NotOnLadder": Code(
        VERTICAL, "a node's instance type is not on the ladder: it cannot be resized", "coined"
    ),
    "WaitingForReady": Code(
        VERTICAL,
        "a node or replica is not ready (a resize, a recovery, a start): one resize at a time",
        "coined",
    ),
    "WithinThresholds": Code(
        VERTICAL, "no node sustained above (or below) its thresholds", "coined"
    ),
    "AutoRecovery": Code(
        VERTICAL,
        "a node silent past its status checks is recovered: unrouted, terminated, relaunched",
        "EC2 automatic instance recovery (CloudWatch recover action on StatusCheckFailed_System)",
    ),
}
"""The codes of the vertical scaler's decisions."""


POLICY = PolicySpec(
    name="scale_up",
    settings=ScaleUp,
    build=setup,
    capacity_ceiling=capacity_ceiling,
    defaults=(
        "The node moves up its instance family when CPU stays above 75 % for 5 min (10 min "
        "cooldown, one node at a time); a resize stops the instance (~45 s), boots it "
        "(~120 s) and waits for 5 health checks 30 s apart."
    ),
    sources="EC2 stop/start to change the instance type; EKS boot times; ALB defaults",
    codes=CODES,
)

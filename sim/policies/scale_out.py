"""``scale_out``: an EC2 Auto Scaling group of VMs behind a load balancer.

The group follows a target tracking policy on its average CPU utilization (AWS "Target
tracking scaling policies for Amazon EC2 Auto Scaling"): the policy owns two CloudWatch alarms,
a high one that breaches after 3 one-minute datapoints above the target and a low one after 15
datapoints below 90 % of it, and sets the group's capacity in proportion to how far the metric
is from the target. Instances still in their warm-up do not count in the metric but do count
as capacity, so a scale-out in progress is not repeated. The load balancer's health checks
(every 30 s, unhealthy after 2 failures) make the group replace a dead instance.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sim.config.codes import Code
from sim.config.policies import ScaleOut
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

ELB_UNHEALTHY_THRESHOLD = 2
"""Consecutive failed health checks before the load balancer marks a target unhealthy
(ELB ``UnhealthyThresholdCount`` default)."""


def _utilization(node: NodeView) -> float:
    return node.cpu_usage_m / node.cpu_m if node.cpu_m > 0 else 0.0


class TargetTrackingScaler:
    """An EC2 Auto Scaling group with target tracking on average CPU utilization.

    Datapoints: every ``metric_period_s`` (CloudWatch's 1-minute detailed monitoring), the
    mean of ``cpu_usage_m / cpu_m`` over the in-service VMs — ready, routable and past
    ``warmup_s`` since they became ready (instances in warm-up are left out of the aggregate).
    With no VM in service the datapoint is missing, which breaks any run of breaching ones.

    - Scale out when the last ``scale_out_datapoints`` (3) all exceed the target: the group's
      capacity becomes ``ceil(in_service × mean / target)``, capped at ``max_vms``; VMs still
      launching or warming up count towards it, so only the difference is launched. Re-checked
      at every datapoint while the alarm stays in breach.
    - Scale in when the last ``scale_in_datapoints`` (15) are all below ``target ×
      scale_in_ratio``: capacity ``max(min_vms, ceil(in_service × mean / target))``, reached by
      removing one VM at a time — the oldest in service, drained first — and not within
      ``cooldown_s`` of the last scaling activity (a scale-out, a scale-in or a launch to
      restore ``min_vms``), nor while another VM is still draining.
    - Health: a VM whose heartbeat is older than ``health_check_interval_s ×
      ELB_UNHEALTHY_THRESHOLD`` (60 s) is unhealthy: it is unrouted, terminated and replaced by
      one new VM, once per VM. Replacement does not change the group's capacity, so it is not
      a scaling activity.
    - Fewer than ``min_vms`` VMs (a VM lost, a replacement pending): launch the difference.

    The group's VMs are those neither terminated nor draining nor replaced; a VM that died
    but has not yet failed its health checks still counts, as it does in the real group.
    The controller is called every ``min(metric_period_s, health_check_interval_s)`` and
    takes a datapoint at the first call at or after ``phase_s + k × metric_period_s``.

    Codes: ``ScaleOut``, ``ScaleIn``, ``Cooldown``, ``AtMaxSize`` and ``AtMinSize`` are EC2
    Auto Scaling's own words (scaling activities, the cooldown, the group's MaxSize and
    MinSize); ``ReplaceUnhealthy`` is the Auto Scaling process that replaces an instance
    failing its ELB health checks; ``InsufficientData`` is the CloudWatch alarm state of a
    missing datapoint. ``BelowMinimum``, ``DesiredCapacityMet``, ``DrainInProgress``,
    ``NoAlarm`` and ``NoDatapointDue`` are coined.
    """

    name = "auto-scaling-group"

    def __init__(self, settings: ScaleOut, *, node_type: str, phase_s: float) -> None:
        if settings.max_vms < settings.min_vms:
            raise ValueError(
                f"max_vms ({settings.max_vms}) must be at least min_vms ({settings.min_vms})"
            )
        self.settings = settings
        self.node_type = node_type
        self.phase_s = phase_s
        self.period_s = min(settings.metric_period_s, settings.health_check_interval_s)
        self.unhealthy_after_s = settings.health_check_interval_s * ELB_UNHEALTHY_THRESHOLD
        window = max(settings.scale_out_datapoints, settings.scale_in_datapoints)
        self._datapoints: deque[float | None] = deque(maxlen=window)
        self._datapoints_taken = 0
        self._last_scaling_s = -math.inf
        self._replaced: set[str] = set()

    @property
    def datapoints(self) -> tuple[float | None, ...]:
        """The recent datapoints, oldest first (None: no VM was in service)."""
        return tuple(self._datapoints)

    def decide(self, observation: Observation) -> Decision:
        now = observation.now_s
        actions: list[Action] = []
        notes: list[Clause] = []
        replacements = self._replace_unhealthy(observation, actions, notes)
        members = [
            node
            for node in observation.nodes
            if node.state not in ("terminated", "draining") and node.name not in self._replaced
        ]
        total = len(members) + replacements
        if total < self.settings.min_vms:
            missing = self.settings.min_vms - total
            launch = Action(
                "launch_nodes", value=missing, target=self.node_type, code="BelowMinimum"
            )
            actions.append(launch)
            below = f"{total} VMs < min_vms {self.settings.min_vms}: launch {missing}"
            notes.append(Clause(launch.code, below))
            total += missing
            self._last_scaling_s = now
        if self._datapoint_due(now):
            group = _Group(
                now_s=now,
                in_service=self._in_service(now, members),
                total=total,
                draining=[node.name for node in observation.nodes if node.state == "draining"],
            )
            actions.extend(self._track_target(group, notes))
        if not notes:
            notes.append(Clause("NoDatapointDue", f"{total} VMs healthy; no datapoint due"))
        return Decision.of_clauses(actions, notes)

    # --- membership and health ----------------------------------------------------------------

    def _in_service(self, now_s: float, members: list[NodeView]) -> list[NodeView]:
        warm_since = now_s + FLOAT_SLACK - self.settings.warmup_s
        return [
            node
            for node in members
            if node.state == "ready" and not node.unroutable and node.ready_s <= warm_since
        ]

    def _replace_unhealthy(
        self, observation: Observation, actions: list[Action], notes: list[Clause]
    ) -> int:
        now = observation.now_s
        unhealthy = silent_nodes(observation, self.unhealthy_after_s, self._replaced)
        for node in unhealthy:
            self._replaced.add(node.name)
            actions.extend(replace_node(node, self.node_type, "ReplaceUnhealthy"))
            failed = (
                f"{node.name} failed {ELB_UNHEALTHY_THRESHOLD} health checks "
                f"(silent {now - node.heartbeat_s:.0f} s): terminate and replace"
            )
            notes.append(Clause("ReplaceUnhealthy", failed))
        return len(unhealthy)

    # --- target tracking ----------------------------------------------------------------------

    def _datapoint_due(self, now_s: float) -> bool:
        period = self.settings.metric_period_s
        if now_s + FLOAT_SLACK < self.phase_s + self._datapoints_taken * period:
            return False
        self._datapoints_taken = math.floor((now_s + FLOAT_SLACK - self.phase_s) / period) + 1
        return True

    def _last_all(self, count: int, breaching: Callable[[float], bool]) -> bool:
        recent = list(self._datapoints)[-count:]
        return len(recent) == count and all(
            value is not None and breaching(value) for value in recent
        )

    def _track_target(self, group: _Group, notes: list[Clause]) -> list[Action]:
        in_service = group.in_service
        mean = sum(map(_utilization, in_service)) / len(in_service) if in_service else None
        self._datapoints.append(mean)
        if mean is None:
            notes.append(Clause("InsufficientData", "no VM in service: datapoint missing"))
            return []
        target = self.settings.target_cpu_utilization
        desired = ceil_count(len(in_service) * mean / target)
        shown = f"CPU {mean:.0%} over {len(in_service)} in-service VMs (target {target:.0%})"
        high_for = self.settings.scale_out_datapoints
        if self._last_all(high_for, lambda value: value > target):
            shown = f"{shown} for {high_for} datapoints"
            return self._scale_out(group, min(desired, self.settings.max_vms), shown, notes)
        low = target * self.settings.scale_in_ratio
        low_for = self.settings.scale_in_datapoints
        if self._last_all(low_for, lambda value: value < low):
            shown = f"{shown} below {low:.0%} for {low_for} datapoints"
            return self._scale_in(group, max(self.settings.min_vms, desired), shown, notes)
        notes.append(Clause("NoAlarm", f"{shown}: no alarm"))
        return []

    def _scale_out(
        self, group: _Group, desired: int, shown: str, notes: list[Clause]
    ) -> list[Action]:
        if desired <= group.total:
            at_max = desired == self.settings.max_vms
            cap = ", the max_vms cap" if at_max else ""
            covered = f"{shown}: {group.total} VMs already cover {desired}{cap}"
            notes.append(Clause("AtMaxSize" if at_max else "DesiredCapacityMet", covered))
            return []
        self._last_scaling_s = group.now_s
        notes.append(Clause("ScaleOut", f"{shown}: scale out {group.total} → {desired} VMs"))
        launch = desired - group.total
        return [Action("launch_nodes", value=launch, target=self.node_type, code="ScaleOut")]

    def _scale_in(
        self, group: _Group, desired: int, shown: str, notes: list[Clause]
    ) -> list[Action]:
        if group.total <= desired:
            at_min = desired == self.settings.min_vms
            enough = f"{shown}: {group.total} VMs, desired {desired}"
            notes.append(Clause("AtMinSize" if at_min else "DesiredCapacityMet", enough))
            return []
        since = group.now_s - self._last_scaling_s
        if since + FLOAT_SLACK < self.settings.cooldown_s:
            cooling = f"{shown}: in cooldown, {since:.0f} s since the last scaling"
            notes.append(Clause("Cooldown", cooling))
            return []
        if group.draining:
            waiting = f"{shown}: waiting for {group.draining[0]} to finish draining"
            notes.append(Clause("DrainInProgress", waiting))
            return []
        oldest = min(group.in_service, key=lambda node: (node.launched_s, node.index))
        self._last_scaling_s = group.now_s
        scale_in = f"{shown}: scale in {group.total} → {group.total - 1}, removing {oldest.name}"
        notes.append(Clause("ScaleIn", scale_in))
        return [Action("remove_node", target=oldest.name, code="ScaleIn")]


@dataclass(frozen=True)
class _Group:
    """The group at one datapoint: its in-service VMs, its size, the VMs draining out."""

    now_s: float
    in_service: list[NodeView]
    total: int
    draining: list[str]


def setup(scenario: Scenario, rngs: Streams) -> PolicySetup:
    """An Auto Scaling group of VMs, each running ``containers_per_vm`` containers, behind an
    application load balancer whose health checks decide when a VM serves."""
    phase_rng = rngs["controllers"]
    settings = scenario.policy.scale_out
    return PolicySetup(
        name="scale_out",
        controllers=[
            TargetTrackingScaler(
                settings,
                node_type=scenario.cluster.node_type,
                phase_s=float(phase_rng.uniform(0, settings.metric_period_s)),
            )
        ],
        balancer="round_robin",
        rules=WorldRules(
            replicas_per_node=settings.containers_per_vm,
            readiness_period_s=settings.health_check_interval_s,
            readiness_successes=settings.healthy_threshold,
        ),
    )


def capacity_ceiling(scenario: Scenario) -> CapacityCeiling:
    """The group's maximum VMs, each with its containers."""
    settings = scenario.policy.scale_out
    nodes = max(scenario.cluster.initial_nodes, settings.max_vms)
    return CapacityCeiling(max_replicas=nodes * settings.containers_per_vm, max_nodes=nodes)


ASG = TargetTrackingScaler.name

CODES: dict[str, Code] = {
    # --- the EC2 Auto Scaling group (sim.policies.scale_out) ---
    "ScaleOut": Code(
        ASG,
        "the high alarm held for scale_out_datapoints: VMs launched to reach the desired count",
        "EC2 Auto Scaling target tracking: scale-out activity",
    ),
    "ScaleIn": Code(
        ASG,
        "the low alarm held for scale_in_datapoints: the oldest in-service VM is removed",
        "EC2 Auto Scaling target tracking: scale-in activity",
    ),
    "AtMaxSize": Code(
        ASG, "the high alarm breaches but the group is at max_vms", "EC2 Auto Scaling MaxSize"
    ),
    "AtMinSize": Code(
        ASG, "the low alarm breaches but the group is at min_vms", "EC2 Auto Scaling MinSize"
    ),
    "DesiredCapacityMet": Code(
        ASG,
        "an alarm breaches but the group (launching VMs included) already has the capacity "
        "target tracking asks for",
        "coined",
    ),
    "DrainInProgress": Code(ASG, "a scale-in is due but a removed VM is still draining", "coined"),
    "BelowMinimum": Code(
        ASG, "fewer VMs than min_vms (one lost or replaced): the difference is launched", "coined"
    ),
    "ReplaceUnhealthy": Code(
        ASG,
        "a VM failed the load balancer's health checks: unrouted, terminated and replaced",
        "EC2 Auto Scaling process ReplaceUnhealthy",
    ),
    "InsufficientData": Code(
        ASG,
        "no VM in service: the datapoint is missing, breaking any run of breaching ones",
        "CloudWatch alarm state INSUFFICIENT_DATA",
    ),
    "NoAlarm": Code(ASG, "a datapoint taken; neither alarm breaches", "coined (CloudWatch OK)"),
    "NoDatapointDue": Code(ASG, "no datapoint due at this call; every VM healthy", "coined"),
}
"""The codes of the Auto Scaling group's decisions."""


POLICY = PolicySpec(
    name="scale_out",
    settings=ScaleOut,
    build=setup,
    capacity_ceiling=capacity_ceiling,
    defaults=(
        "An Auto Scaling group tracks 50 % average CPU: out after 3 one-minute datapoints "
        "above, in after 15 below; 300 s warm-up and cooldown; VMs serve after the ALB's "
        "health checks."
    ),
    sources="EC2 Auto Scaling target tracking; CloudWatch 1-minute metrics; ALB defaults",
    codes=CODES,
)

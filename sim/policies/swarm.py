"""``swarm``: Docker Swarm's controllers, and the human who stands in for its missing autoscaler.

Swarm scales only when told to (``docker service scale svc=N``); requests for a built-in
autoscaler have stayed open since 2016 (moby/swarmkit#2354, moby/moby#32054), so teams page a
person from their monitoring instead. Three controllers model that:

- :class:`SwarmOperator` — the on-call engineer: a Prometheus alert rule pages them, they act
  after a reaction delay, scale the service by a factor, add a worker when tasks stay pending,
  and scale back after a long calm.
- :class:`SwarmSchedule` — planned ``docker service scale`` steps (a known event, a sale).
- :class:`SwarmDispatcher` — swarmkit's dispatcher: a node that misses its heartbeats is Down
  and the replicated orchestrator replaces its tasks elsewhere.

Timing resolution: an action due at time T is taken by the first ``decide`` call with
``now_s ≥ T``. The control plane calls the operator every ``period_s`` (5 s by default), the
schedule every second and the dispatcher every heartbeat period, so an action is at most one
period late; ``next_due_s`` tells a control plane that prefers exact wake-ups when the next
one is due.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.config.codes import Code
from sim.config.policies import Operator, ScheduledReplicas, Swarm
from sim.config.rules import WorldRules
from sim.config.schema import Scenario
from sim.config.slack import FLOAT_SLACK, ceil_count
from sim.policies.base import (
    Action,
    CapacityCeiling,
    Clause,
    Controller,
    Decision,
    NodeView,
    Observation,
    PolicySetup,
    PolicySpec,
    Streams,
    silent_nodes,
)
from sim.policies.scheduling import swarm_spread


@dataclass
class AlertRule:
    """A Prometheus alerting rule's state: inactive → pending → firing.

    At each evaluation the condition either holds — the rule becomes pending at that
    evaluation's time, and firing once it has held for ``for_s`` — or it does not, which
    resets it to inactive: a single dip restarts the count (Prometheus ``rules/alerting.go``:
    ``ts.Sub(activeAt) >= holdDuration``). An alert with ``for_s = 0`` fires at the first
    evaluation that holds.
    """

    for_s: float
    active_since_s: float | None = None

    def evaluate(self, holds: bool, now_s: float) -> bool:
        """Record one evaluation at ``now_s``; whether the alert is firing after it."""
        if not holds:
            self.active_since_s = None
            return False
        if self.active_since_s is None:
            self.active_since_s = now_s
        return now_s - self.active_since_s + FLOAT_SLACK >= self.for_s

    def reset(self) -> None:
        """Back to inactive: the condition must hold for ``for_s`` again before it fires."""
        self.active_since_s = None


def metric_value(observation: Observation, metric: str) -> float:
    """The observed value of the alert's metric (``Operator.metric``)."""
    if metric == "cpu_utilization":
        return observation.cpu_utilization
    if metric == "latency_p95_s":
        return observation.latency_p95_s
    if metric == "error_rate":
        return observation.error_rate
    raise ValueError(f"unknown operator metric {metric!r}")


def _active_nodes(nodes: Sequence[NodeView]) -> list[NodeView]:
    """Machines that exist and work, or are joining: what an operator counts as the cluster."""
    return [node for node in nodes if node.state in ("provisioning", "ready", "draining")]


class SwarmOperator:
    """The human on call, running ``docker service scale`` when paged.

    Every ``evaluation_interval_s`` (Prometheus' default global evaluation interval, 1 min) an
    alert rule compares the metric with ``threshold`` (strictly above); once it has held for
    ``for_s`` it fires, and the operator acts after a reaction delay drawn from
    ``reaction_s`` (one draw per incident, in the order incidents open; an acknowledge-and-act
    time, median ≈ 10 min by default). Acting sets the service to ``ceil(current ×
    scale_factor)`` replicas, capped at ``max_replicas``, ``current`` being the service's
    desired count when they act. An incident is acted on even if the alert resolved while
    the operator was on the way (they follow the page). After acting the alert starts
    afresh: it must hold for ``for_s`` again before the next incident.

    A second rule pages when a task has been pending (Swarm found no node with room for its
    reservations) for more than ``pending_for_s``: after its own reaction delay the operator
    adds one worker of ``node_type``, unless ``add_nodes_when_pending`` is off or the cluster
    already has ``max_nodes`` machines (provisioning, ready or draining). The pending age
    counts from the operator's last such action, and no new page opens while a machine is
    still joining, so one shortage adds one worker at a time.

    A calm rule (metric strictly below ``calm_threshold`` for ``calm_for_s``) makes the
    operator scale back at once — no page, no delay — to ``ceil(current / scale_factor)``,
    never below ``baseline_replicas``; after that the calm must hold for ``calm_for_s``
    again. A metric with no value (NaN, e.g. p95 latency with no traffic) satisfies neither
    rule, as absent series reset a Prometheus alert.

    Rules are evaluated at ``phase_s + k × evaluation_interval_s`` (at the first call at or
    after each), then due incidents are acted on, all in one decision.

    Codes: the operator's own acts are coined — ``OperatorScaled`` (after a page),
    ``OperatorScaledBack`` (after a calm), ``OperatorAddedNode`` — and so are ``AtBaseline``,
    ``AtMaxReplicas``, ``TasksPending``, ``NodeJoining`` and ``NoRuleDue``; the alert's
    state is Prometheus' word for it (``AlertPending``, ``AlertFiring``, ``AlertInactive``)
    and ``OperatorPaged`` an incident still waiting for the operator. A node the cap forbids
    is ``MaxNodesTotalReached``, as the cluster autoscaler says it.
    """

    name = "operator"

    def __init__(
        self,
        operator: Operator,
        *,
        baseline_replicas: int,
        node_type: str,
        max_nodes: int,
        phase_s: float,
        rng: np.random.Generator,
        period_s: float = 5.0,
    ) -> None:
        if baseline_replicas < 0:
            raise ValueError(f"baseline_replicas must be ≥ 0, got {baseline_replicas}")
        if max_nodes < 1:
            raise ValueError(f"max_nodes must be ≥ 1, got {max_nodes}")
        if period_s <= 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self.operator = operator
        self.baseline_replicas = baseline_replicas
        self.node_type = node_type
        self.max_nodes = max_nodes
        self.phase_s = phase_s
        self.period_s = period_s
        self._rng = rng
        self._alert = AlertRule(operator.for_s)
        self._calm = AlertRule(operator.calm_for_s)
        self._evaluations_done = 0
        self._scale_due_s: float | None = None  # an open scale-up incident, acted on then
        self._node_due_s: float | None = None  # an open pending-tasks incident
        self._last_node_incident_s = -math.inf

    @property
    def next_evaluation_s(self) -> float:
        """When the alert rules are next evaluated."""
        return self.phase_s + self._evaluations_done * self.operator.evaluation_interval_s

    @property
    def next_due_s(self) -> float:
        """The earliest time something is due: a rule evaluation or an open incident."""
        due = [self.next_evaluation_s, self._scale_due_s, self._node_due_s]
        return min(time for time in due if time is not None)

    def decide(self, observation: Observation) -> Decision:
        now = observation.now_s
        notes: list[Clause] = []
        replicas = observation.desired_replicas
        if now + FLOAT_SLACK >= self.next_evaluation_s:
            replicas = self._evaluate(observation, replicas, notes)
        scaled = self._act_on_scale_incident(now, replicas, notes)
        # The count a page set wins over a scale-back in the same call.
        code = "OperatorScaled" if scaled != replicas else "OperatorScaledBack"
        actions = self._act_on_node_incident(observation, notes)
        if scaled != observation.desired_replicas:
            actions.insert(0, Action("set_replicas", value=scaled, code=code))
        if not notes:
            due = f"no rule or incident due (next at {self.next_due_s:.0f} s)"
            notes.append(Clause("NoRuleDue", due))
        return Decision.of_clauses(actions, notes)

    # --- rule evaluation ----------------------------------------------------------------------

    def _evaluate(self, observation: Observation, replicas: int, notes: list[Clause]) -> int:
        now = observation.now_s
        interval = self.operator.evaluation_interval_s
        self._evaluations_done = math.floor((now + FLOAT_SLACK - self.phase_s) / interval) + 1
        value = metric_value(observation, self.operator.metric)
        shown = f"{self.operator.metric} {value:.3g}"
        self._evaluate_alert(now, value, shown, notes)
        if self._calm.evaluate(value < self.operator.calm_threshold, now):
            replicas = self._scale_back(shown, replicas, notes)
        self._open_node_incident(observation, notes)
        if not notes:
            notes.append(Clause("AlertInactive", f"{shown}: no alert"))
        return replicas

    def _evaluate_alert(self, now: float, value: float, shown: str, notes: list[Clause]) -> None:
        """The high-metric rule; a firing alert with no open incident opens one."""
        high = self._alert.evaluate(value > self.operator.threshold, now)
        if high and self._scale_due_s is None:
            delay = self._draw_reaction_s()
            self._scale_due_s = now + delay
            fires = (
                f"{shown} > {self.operator.threshold:g} for {self.operator.for_s:g} s: "
                f"alert fires, operator acts in {delay:.0f} s"
            )
            notes.append(Clause("AlertFiring", fires))
        elif self._scale_due_s is not None:
            paged = f"{shown}: paged, operator acts at {self._scale_due_s:.0f} s"
            notes.append(Clause("OperatorPaged", paged))
        elif self._alert.active_since_s is not None:
            held = now - self._alert.active_since_s
            pending = f"{shown} > {self.operator.threshold:g}: pending for {held:.0f} s"
            notes.append(Clause("AlertPending", pending))

    def _scale_back(self, shown: str, replicas: int, notes: list[Clause]) -> int:
        floor = self.baseline_replicas
        if replicas <= floor:
            at_floor = f"{shown} calm, already at the baseline of {floor} replicas"
            notes.append(Clause("AtBaseline", at_floor))
            return replicas
        target = max(floor, ceil_count(replicas / self.operator.scale_factor))
        self._calm.reset()
        back = (
            f"{shown} < {self.operator.calm_threshold:g} for {self.operator.calm_for_s:g} s: "
            f"scale back {replicas} → {target} replicas (baseline {floor})"
        )
        notes.append(Clause("OperatorScaledBack", back))
        return target

    def _open_node_incident(self, observation: Observation, notes: list[Clause]) -> None:
        if not self.operator.add_nodes_when_pending or self._node_due_s is not None:
            return
        now = observation.now_s
        waited = [
            now - max(task.created_s, self._last_node_incident_s)
            for task in observation.pending_replicas
        ]
        if not waited or max(waited) <= self.operator.pending_for_s:
            return
        joining = [node.name for node in observation.nodes if node.state == "provisioning"]
        if joining:
            notes.append(Clause("NodeJoining", f"tasks pending, waiting for {joining[0]} to join"))
            return
        delay = self._draw_reaction_s()
        self._node_due_s = now + delay
        paged = (
            f"tasks pending ({len(waited)}), the oldest for {max(waited):.0f} s "
            f"> {self.operator.pending_for_s:g} s: operator adds a node in {delay:.0f} s"
        )
        notes.append(Clause("TasksPending", paged))

    def _draw_reaction_s(self) -> float:
        return float(self.operator.reaction_s.sample(self._rng, 1)[0])

    # --- acting -------------------------------------------------------------------------------

    def _act_on_scale_incident(self, now: float, replicas: int, notes: list[Clause]) -> int:
        if self._scale_due_s is None or now + FLOAT_SLACK < self._scale_due_s:
            return replicas
        self._scale_due_s = None
        self._alert.reset()
        cap = self.operator.max_replicas
        if replicas >= cap:
            at_cap = f"operator finds the service at {replicas} replicas, the cap ({cap})"
            notes.append(Clause("AtMaxReplicas", at_cap))
            return replicas
        target = min(cap, max(replicas + 1, ceil_count(replicas * self.operator.scale_factor)))
        scales = (
            f"operator scales {replicas} → {target} replicas "
            f"(×{self.operator.scale_factor:g}, cap {cap})"
        )
        notes.append(Clause("OperatorScaled", scales))
        return target

    def _act_on_node_incident(self, observation: Observation, notes: list[Clause]) -> list[Action]:
        now = observation.now_s
        if self._node_due_s is None or now + FLOAT_SLACK < self._node_due_s:
            return []
        self._node_due_s = None
        self._last_node_incident_s = now
        count = len(_active_nodes(observation.nodes))
        if count >= self.max_nodes:
            capped = f"operator cannot add a node: {count} nodes, the cap is {self.max_nodes}"
            notes.append(Clause("MaxNodesTotalReached", capped))
            return []
        adds = f"operator adds one {self.node_type} worker ({count} → {count + 1} nodes)"
        notes.append(Clause("OperatorAddedNode", adds))
        return [Action("launch_nodes", value=1, target=self.node_type, code="OperatorAddedNode")]


class SwarmSchedule:
    """Planned ``docker service scale`` steps: the service is set to ``replicas`` at ``at_s``.

    Each step is taken by the first call at or after its time (the control plane calls every
    second, ``period_s``); if several steps fell due since the last call, the latest one
    wins (steps at the same time: the last listed). A step that asks for the count the
    service already has changes nothing.

    Codes (coined): ``ScheduledScale`` for a step taken, ``AlreadyScaled`` for one that finds
    the count already set, ``NoStepDue`` between steps.
    """

    name = "schedule"

    def __init__(self, steps: Sequence[ScheduledReplicas], *, phase_s: float = 0.0) -> None:
        self.steps = sorted(steps, key=lambda step: step.at_s)
        self.period_s = 1.0
        self.phase_s = phase_s
        self._taken = 0

    @property
    def next_due_s(self) -> float:
        """When the next step is due (infinity when none is left)."""
        return self.steps[self._taken].at_s if self._taken < len(self.steps) else math.inf

    def decide(self, observation: Observation) -> Decision:
        now = observation.now_s
        due = [step for step in self.steps[self._taken :] if step.at_s <= now + FLOAT_SLACK]
        if not due:
            next_step = f"no scheduled step due (next at {self.next_due_s:g} s)"
            return Decision(reason=next_step, code="NoStepDue")
        self._taken += len(due)
        step = due[-1]
        if step.replicas == observation.desired_replicas:
            already = f"scheduled step at {step.at_s:g} s: already {step.replicas}"
            return Decision(reason=already, code="AlreadyScaled")
        return Decision(
            (Action("set_replicas", value=step.replicas),),
            f"scheduled step at {step.at_s:g} s: docker service scale "
            f"{observation.desired_replicas} → {step.replicas}",
            "ScheduledScale",
        )


class SwarmDispatcher:
    """swarmkit's dispatcher and replicated orchestrator reacting to a dead node.

    Agents heartbeat every ``heartbeat_s`` (5 s); a node whose last heartbeat is older than
    ``heartbeat_s × heartbeat_misses`` (3 periods, 15 s: ``DefaultHeartBeatPeriod`` and the
    grace multiplier in swarmkit ``manager/dispatcher``) is marked Down. Once per node the
    controller then stops routing to its tasks and evicts them; the orchestrator replaces
    them on other nodes without waiting for the old ones to stop, and the world applies the
    restart delay (the rules' ``replacement_delay_s``, 5 s). Terminated nodes are ignored.
    The heartbeat jitter (±0.5 s) is not modelled. Called every heartbeat period.

    Codes: ``NodeDown`` (swarmkit's node state ``down``) for the unroute and the eviction; a
    quiet call says ``NodesHealthy`` or, while a node misses heartbeats, ``NodeSilent``.
    """

    name = "dispatcher"

    def __init__(self, swarm: Swarm, *, phase_s: float) -> None:
        self.down_after_s = swarm.heartbeat_s * swarm.heartbeat_misses
        self.period_s = swarm.heartbeat_s
        self.phase_s = phase_s
        self._down: set[str] = set()

    def decide(self, observation: Observation) -> Decision:
        now = observation.now_s
        newly_down = silent_nodes(observation, self.down_after_s, self._down)
        if not newly_down:
            # Only a node that has begun to miss heartbeats can go Down without a change.
            missing_beats = silent_nodes(observation, 0.0, self._down)
            return Decision(
                reason=f"no node newly Down (silent > {self.down_after_s:g} s)",
                code="NodeSilent" if missing_beats else "NodesHealthy",
                wait_for_change=not missing_beats,
            )
        actions: list[Action] = []
        for node in newly_down:
            self._down.add(node.name)
            actions.append(Action("unroute_node", target=node.name))
            actions.append(Action("evict_node", target=node.name))
        silent = (f"{node.name} silent {now - node.heartbeat_s:.1f} s" for node in newly_down)
        described = ", ".join(silent)
        return Decision(
            tuple(actions),
            f"Down after missed heartbeats (> {self.down_after_s:g} s): {described}; "
            "its tasks are replaced elsewhere",
            "NodeDown",
        )


def setup(scenario: Scenario, rngs: Streams) -> PolicySetup:
    """Docker Swarm for ``scenario.policy.swarm``: spread placement, the routing mesh (round
    robin), failed-node tasks replaced after the heartbeat timeout plus the restart delay, and
    replicas changed only by the operator (its reactions on the ``operator`` stream) or the
    planned schedule."""
    phase_rng = rngs["controllers"]
    operator_rng = rngs["operator"]
    swarm = scenario.policy.swarm
    controllers: list[Controller] = [
        SwarmDispatcher(swarm, phase_s=float(phase_rng.uniform(0, swarm.heartbeat_s)))
    ]
    if swarm.operator is not None:
        controllers.append(
            SwarmOperator(
                swarm.operator,
                baseline_replicas=scenario.service.initial_replicas,
                node_type=scenario.cluster.node_type,
                max_nodes=scenario.cluster.max_nodes,
                phase_s=float(phase_rng.uniform(0, swarm.operator.evaluation_interval_s)),
                rng=operator_rng,
            )
        )
    if swarm.schedule:
        controllers.append(SwarmSchedule(swarm.schedule))
    return PolicySetup(
        name="swarm",
        controllers=controllers,
        placement=swarm_spread(),
        balancer="round_robin",
        rules=WorldRules(
            replace_lost_replicas=True,
            replacement_delay_s=swarm.restart_delay_s,
            restart_delay_s=swarm.restart_delay_s,
            manager_nodes=swarm.managers,
            drain_managers=swarm.drain_managers,
        ),
    )


def capacity_ceiling(scenario: Scenario) -> CapacityCeiling:
    """The most replicas the operator or the schedule ever sets, on the cluster's maximum."""
    settings = scenario.policy.swarm
    scheduled = [step.replicas for step in settings.schedule]
    operator = [settings.operator.max_replicas] if settings.operator is not None else []
    cluster = scenario.cluster
    return CapacityCeiling(
        max_replicas=max([scenario.service.initial_replicas, *scheduled, *operator]),
        max_nodes=max(cluster.initial_nodes, cluster.max_nodes),
    )


CODES: dict[str, Code] = {
    # --- Swarm: the on-call operator, the planned schedule, the dispatcher (sim.policies.swarm) ---
    "OperatorScaled": Code(
        "operator",
        "paged by the alert, the operator runs docker service scale: ×scale_factor, capped",
        "coined (Swarm has no autoscaler; the act is docker service scale)",
    ),
    "OperatorScaledBack": Code(
        "operator",
        "after a long calm the operator scales back ÷scale_factor, not below the baseline",
        "coined",
    ),
    "OperatorAddedNode": Code(
        "operator", "tasks stayed pending: the operator joins one more worker", "coined"
    ),
    "OperatorPaged": Code(
        "operator", "an incident is open: the operator is on the way (reaction delay)", "coined"
    ),
    "AlertPending": Code(
        "operator",
        "the metric breaches the threshold, not yet for the rule's for_s",
        "Prometheus alert state pending (rules/alerting.go)",
    ),
    "AlertFiring": Code(
        "operator",
        "the breach has held for for_s: the alert fires and pages the operator",
        "Prometheus alert state firing (rules/alerting.go)",
    ),
    "AlertInactive": Code(
        "operator",
        "the rule was evaluated and nothing breaches",
        "Prometheus alert state inactive (rules/alerting.go)",
    ),
    "AtBaseline": Code(
        "operator", "calm, but the service is already at its baseline replicas", "coined"
    ),
    "AtMaxReplicas": Code(
        "operator", "paged, but the service is already at max_replicas", "coined"
    ),
    "TasksPending": Code(
        "operator",
        "a task pending longer than pending_for_s pages the operator to add a worker",
        "coined",
    ),
    "NodeJoining": Code(
        "operator", "tasks are pending while a new worker is still joining: wait", "coined"
    ),
    "NoRuleDue": Code("operator", "no rule evaluation and no incident due at this call", "coined"),
    "ScheduledScale": Code("schedule", "a planned step runs docker service scale", "coined"),
    "AlreadyScaled": Code(
        "schedule", "a planned step finds the service already at its count", "coined"
    ),
    "NoStepDue": Code("schedule", "no planned step is due", "coined"),
    "NodeDown": Code(
        "dispatcher",
        "a node missed heartbeat_misses heartbeats: Down; its tasks are replaced elsewhere",
        "swarmkit node state down (manager/dispatcher)",
    ),
}
"""The codes of the operator, the planned schedule and the dispatcher."""


POLICY = PolicySpec(
    name="swarm",
    settings=Swarm,
    build=setup,
    capacity_ceiling=capacity_ceiling,
    defaults=(
        "No autoscaler: an operator scales after an alert (CPU above 75 % for 5 min) and a "
        "reaction delay; spread placement; routing-mesh round robin; a node is Down after 3 "
        "missed 5 s heartbeats and its tasks restart elsewhere after 5 s."
    ),
    sources="swarmkit dispatcher and service defaults; Docker CLI; Prometheus alerting rules",
    codes=CODES,
)

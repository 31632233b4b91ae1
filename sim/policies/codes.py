"""Every code an event or a decision can carry: who emits it, what it means, where the word
comes from.

A code is the machine-readable twin of a reason (:class:`~sim.policies.base.Decision`): one
CamelCase word, so that ``events.groupby("code")`` counts decisions and world changes
without parsing prose. Where the real system has a word for the situation — an HPA condition
reason, a cluster-autoscaler or kubelet event reason, a CloudWatch alarm state — the code is
that word; where it has none, the word is coined here and ``source`` says so.

Policies write their codes as literals beside their reasons; the model writes the codes of
what happens on its own (a node becoming ready, a replica placed or gone, a fault). The tests
check that every code a run produces, and every code literal in the policies, is listed
below.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """One row of the table: who ``emits`` the code (event sources or controllers), what it
    ``means``, and the ``source`` of the word (``coined`` when no real system uses it)."""

    emits: str
    means: str
    source: str


HPA = "hpa"
CA = "cluster-autoscaler"
ASG = "auto-scaling-group"
VERTICAL = "vertical-scaler"
HPA_SOURCE = "HPA status condition reason (kube-controller-manager podautoscaler/horizontal.go)"

CODES: dict[str, Code] = {
    # --- the Horizontal Pod Autoscaler (sim.policies.hpa); precedence: limit, then
    # stabilization, then SucceededRescale / DesiredWithinRange ---
    "ScalingDisabled": Code(
        HPA, "the target is scaled to zero with min_replicas above zero: left alone", HPA_SOURCE
    ),
    "FailedGetResourceMetric": Code(
        HPA,
        "no pod has a usable CPU sample (or none requests CPU): the count stays",
        "HPA ScalingActive=False reason and warning event (horizontal.go)",
    ),
    "TooManyReplicas": Code(
        HPA,
        "max_replicas set the count (above it before metrics, or the proposal beyond it)",
        HPA_SOURCE,
    ),
    "TooFewReplicas": Code(
        HPA,
        "min_replicas set the count (below it before metrics, or the proposal under it)",
        HPA_SOURCE,
    ),
    "ScaleUpLimit": Code(
        HPA,
        "the scale-up rate limit set the count (behavior scaleUp, or the legacy max(2×, 4))",
        HPA_SOURCE,
    ),
    "ScaleDownLimit": Code(HPA, "the behavior scaleDown rate limit set the count", HPA_SOURCE),
    "ScaleUpStabilized": Code(
        HPA, "the scale-up stabilization window held the count below the proposal", HPA_SOURCE
    ),
    "ScaleDownStabilized": Code(
        HPA,
        "the scale-down stabilization window held the count above the proposal (on the "
        "legacy path: the highest recent recommendation, whichever way it moves the count)",
        HPA_SOURCE,
    ),
    "SucceededRescale": Code(
        HPA,
        "the count changes to the proposal, neither limited nor stabilized",
        "HPA AbleToScale=True reason after an update (horizontal.go)",
    ),
    "DesiredWithinRange": Code(
        HPA,
        "the proposal is the current count (within tolerance, or held by its guards) and "
        "nothing limits it: no change",
        "HPA ScalingLimited=False reason (horizontal.go)",
    ),
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
    "MaxNodesTotalReached": Code(
        f"{CA}, operator; any controller's launch row (capped)",
        "the cluster's node cap (cluster.max_nodes, --max-nodes-total) stops or trims a scale-up",
        "cluster-autoscaler event reason on its status ConfigMap",
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
    "Cooldown": Code(
        f"{ASG}, vertical-scaler",
        "a change is due but the last one is too recent (cooldown_s)",
        "EC2 Auto Scaling scaling cooldown",
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
"""Every code, by name, grouped by who emits it."""

"""``hpa``: the Kubernetes Horizontal Pod Autoscaler on CPU utilization.

Modelled on kube-controller-manager's podautoscaler: ``replica_calculator.go`` for the
proposal from the metric, ``horizontal.go`` for what happens to it. Each evaluation:

1. special cases, before any metric is read: a target at 0 replicas is left alone, a count
   above ``max_replicas`` or below ``min_replicas`` is brought inside at once;
2. a proposal from CPU utilization (:func:`proposed_replicas` over :func:`group_pods`),
   conservative about pods that have no sample or are still warming up;
3. stabilization and rate limits: the legacy path when ``behavior`` is unset
   (:func:`stabilize_legacy`, :func:`limit_legacy`), the behavior path otherwise
   (:func:`stabilize_with_behavior`, :func:`limit_with_behavior`);
4. a ``set_replicas`` action when the result differs from the current count.

Everything is a pure function of a snapshot except the history the real controller keeps
between evaluations — its recent recommendations and, on the behavior path, the scale events
it made — which :class:`HpaController` holds, pruned to the longest window that reads it.
Condition names in the reasons (``ScaleUpLimit``, ``ScaleDownStabilized``, ``TooManyReplicas``
…) are the ones the HPA reports in its status, and each decision's code is the one of them
that explains its final count (:attr:`Normalization.code` gives the precedence):

- ``ScalingDisabled``, ``TooManyReplicas``, ``TooFewReplicas`` — the special cases before
  metrics (``ScalingActive=False`` and ``ScalingLimited=True`` reasons upstream);
- ``FailedGetResourceMetric`` — no usable CPU sample (upstream's ``ScalingActive=False``
  reason and event);
- ``ScaleUpLimit``, ``ScaleDownLimit``, ``TooManyReplicas``, ``TooFewReplicas`` — a rate
  limit or a bound moved the count (``ScalingLimited=True``);
- ``ScaleUpStabilized``, ``ScaleDownStabilized`` — a stabilization window moved it
  (``AbleToScale=True``);
- ``SucceededRescale`` — the count changes as proposed (``AbleToScale=True`` after an update);
- ``DesiredWithinRange`` — it stays as proposed (``ScalingLimited=False``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sim.config.codes import Code
from sim.config.policies import Hpa, HpaBehavior, HpaScalingPolicy, HpaScalingRules
from sim.policies.base import Action, Decision, Observation, ReplicaView

PodGroup = Literal["ready", "unready", "missing", "ignored"]
SelectPolicy = Literal["Max", "Min", "Disabled"]

LEGACY_SCALE_UP_FACTOR = 2
"""``scaleUpLimitFactor``: without ``behavior``, one evaluation at most doubles the count…"""
LEGACY_SCALE_UP_MINIMUM = 4
"""``scaleUpLimitMinimum``: …or raises it to 4, whichever is larger."""

DEFAULT_SCALE_UP_POLICIES = (
    HpaScalingPolicy(type="Pods", value=4, period_s=15),
    HpaScalingPolicy(type="Percent", value=100, period_s=15),
)
"""API defaulting of ``behavior.scaleUp.policies`` (autoscaling/v2 ``GenerateHPAScaleUpRules``)."""
DEFAULT_SCALE_DOWN_POLICIES = (HpaScalingPolicy(type="Percent", value=100, period_s=15),)
"""API defaulting of ``behavior.scaleDown.policies``: no rate limit, only the window damps."""
DEFAULT_SCALE_UP_WINDOW_S = 0.0
"""API defaulting of ``behavior.scaleUp.stabilizationWindowSeconds``: scale up at once."""


# --- pods -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PodGroups:
    """The pods of one evaluation as upstream's ``groupPods`` sorts them.

    ``ready`` pods have a usable CPU sample (their number is upstream's ``readyPodCount``);
    ``unready`` pods are Pending or still warming up, so their samples are set aside;
    ``missing`` pods run but have no sample yet; ``ignored`` pods are being deleted and
    count nowhere.
    """

    ready: tuple[ReplicaView, ...] = ()
    unready: tuple[ReplicaView, ...] = ()
    missing: tuple[ReplicaView, ...] = ()
    ignored: tuple[ReplicaView, ...] = ()


def ready_transition_time_s(replica: ReplicaView) -> float:
    """When the pod's Ready condition last changed.

    Falls back to ``ready_s`` for a ready pod and to ``started_s`` otherwise, the values
    :class:`ReplicaView` documents for a snapshot that does not carry the transition.
    """
    if not math.isnan(replica.ready_transition_s):
        return replica.ready_transition_s
    if replica.state == "ready" and not math.isnan(replica.ready_s):
        return replica.ready_s
    return replica.started_s


def cpu_sample_unready(replica: ReplicaView, now_s: float, hpa: Hpa) -> bool:
    """Whether a running pod's CPU sample is set aside, as for an unready pod.

    Within the CPU initialization period after start (5 min) a sample counts only if the pod
    is Ready and the sample covers a full metric window after the last readiness change, so
    start-up CPU bursts do not trigger scale-ups. Later, only a pod that is not Ready and
    never became ready (its Ready condition last changed within the initial readiness delay,
    30 s, of start) is set aside; a pod that was ready and dropped out keeps counting. A pod
    without a start time is unready, as upstream.
    """
    if math.isnan(replica.started_s):
        return True
    is_ready = replica.state == "ready"
    transition_s = ready_transition_time_s(replica)
    if now_s < replica.started_s + hpa.cpu_initialization_period_s:
        # A sample without a time (NaN) cannot prove it came after the transition.
        sample_too_early = math.isnan(replica.metric_time_s) or (
            replica.metric_time_s < transition_s + replica.metric_window_s
        )
        return not is_ready or sample_too_early
    never_became_ready = transition_s < replica.started_s + hpa.initial_readiness_delay_s
    return not is_ready and never_became_ready


def pod_group(replica: ReplicaView, now_s: float, hpa: Hpa) -> PodGroup:
    """The group of one pod, checked in upstream's order.

    Being deleted → ignored; phase Pending (``pending``, ``pulling``) → unready, sample or
    not; running without a sample → missing (before any readiness test); running with a
    sample → unready or ready by :func:`cpu_sample_unready`.
    """
    if replica.state == "terminating":
        return "ignored"
    if replica.state in ("pending", "pulling"):
        return "unready"
    if replica.cpu_usage_m is None:
        return "missing"
    return "unready" if cpu_sample_unready(replica, now_s, hpa) else "ready"


def group_pods(replicas: Iterable[ReplicaView], now_s: float, hpa: Hpa) -> PodGroups:
    """Sort the replicas of a snapshot into :class:`PodGroups` (upstream ``groupPods``)."""
    groups: dict[PodGroup, list[ReplicaView]] = {
        "ready": [],
        "unready": [],
        "missing": [],
        "ignored": [],
    }
    for replica in replicas:
        groups[pod_group(replica, now_s, hpa)].append(replica)
    return PodGroups(
        ready=tuple(groups["ready"]),
        unready=tuple(groups["unready"]),
        missing=tuple(groups["missing"]),
        ignored=tuple(groups["ignored"]),
    )


# --- the proposal from the metric -------------------------------------------------------------


@dataclass(frozen=True)
class CpuSum:
    """CPU usage and requests summed over the pods that enter one utilization figure."""

    usage_m: float
    request_m: int
    pods: int

    def plus(self, pods: Sequence[ReplicaView], percent_of_request: int) -> CpuSum:
        """Add ``pods`` as if each used ``percent_of_request`` % of its request (whole m)."""
        assumed_m = sum(pod.cpu_request_m * percent_of_request // 100 for pod in pods)
        request_m = sum(pod.cpu_request_m for pod in pods)
        return CpuSum(self.usage_m + assumed_m, self.request_m + request_m, self.pods + len(pods))


def measured_cpu(pods: Sequence[ReplicaView]) -> CpuSum:
    """Usage and requests of pods with samples (the sums ``GetResourceUtilizationRatio`` takes)."""
    usage_m = sum(pod.cpu_usage_m or 0.0 for pod in pods)
    return CpuSum(usage_m, sum(pod.cpu_request_m for pod in pods), len(pods))


def utilization_percent(usage_m: float, request_m: int) -> int:
    """``floor(100 × Σ usage / Σ requests)`` in integer arithmetic, as upstream.

    A ratio of sums, not a mean of per-pod ratios. Upstream holds usage as whole
    millicores (int64 milli-values), so the model's fractional usage is truncated to whole
    millicores before the integer division.
    """
    return int(usage_m) * 100 // request_m


def target_utilization_percent(hpa: Hpa) -> int:
    """``averageUtilization`` of the metric target: a whole percent of the CPU request."""
    return round(100 * hpa.target_cpu_utilization)


def within_tolerance(ratio: float, tolerance: float) -> bool:
    """Whether ``1 − tolerance ≤ ratio ≤ 1 + tolerance``: too small a change to act on."""
    return 1 - tolerance <= ratio <= 1 + tolerance


@dataclass(frozen=True)
class Proposal:
    """What the CPU metric asks for, before stabilization and limits.

    ``replicas`` is None when there is no usable sample (upstream returns an error and the
    evaluation stops). ``utilization_percent`` is the measured figure over ready pods, the
    one the HPA's status reports; ``rule`` says which branch of the calculation decided.
    """

    replicas: int | None
    utilization_percent: int = 0
    rule: str = ""


def no_metrics_reason(groups: PodGroups) -> str:
    """Upstream's error when no pod has a usable sample, with what the pods are doing."""
    if not (groups.unready or groups.missing or groups.ignored):
        return "no pods returned by selector while calculating replica count"
    return (
        f"did not receive metrics for targeted pods ({len(groups.unready)} unready, "
        f"{len(groups.missing)} missing)"
    )


def proposed_replicas(
    groups: PodGroups, current_replicas: int, target_percent: int, tolerance: float
) -> Proposal:
    """The replica count CPU utilization asks for (upstream ``GetResourceReplicas``).

    ``ratio = utilization% / target%`` over ready pods. With no missing pods, and no unready
    pods while scaling up: keep the count within tolerance, else ``ceil(ratio × ready
    pods)`` — ready pods, not ``spec.replicas``. Otherwise :func:`conservative_proposal`.
    """
    if not groups.ready:
        return Proposal(None, rule=no_metrics_reason(groups))
    measured = measured_cpu(groups.ready)
    if measured.request_m == 0:
        return Proposal(None, rule="ready pods request no CPU: utilization is undefined")
    utilization = utilization_percent(measured.usage_m, measured.request_m)
    ratio = utilization / target_percent
    if (groups.unready and ratio > 1) or groups.missing:
        return conservative_proposal(
            groups, utilization, target_percent, current_replicas, tolerance
        )
    if within_tolerance(ratio, tolerance):
        return Proposal(current_replicas, utilization, f"within tolerance ±{tolerance:.0%}")
    return Proposal(math.ceil(ratio * len(groups.ready)), utilization, "ceil(ratio × ready pods)")


def conservative_sum(groups: PodGroups, ratio: float, target_percent: int) -> CpuSum:
    """Measured CPU plus pods without a usable sample, at assumed usage against the move.

    Scaling down (ratio < 1), a missing pod is assumed at ``max(100 %, target %)`` of its
    request; scaling up (ratio > 1), at 0 %, and unready pods join at 0 % too. Unready pods
    stay out of a scale-down; at ratio exactly 1 missing pods stay out as well.
    """
    total = measured_cpu(groups.ready)
    if ratio < 1:
        total = total.plus(groups.missing, max(100, target_percent))
    elif ratio > 1:
        total = total.plus(groups.missing, 0).plus(groups.unready, 0)
    return total


def conservative_proposal(
    groups: PodGroups,
    utilization: int,
    target_percent: int,
    current_replicas: int,
    tolerance: float,
) -> Proposal:
    """The proposal recomputed over :func:`conservative_sum`, with upstream's guards.

    No change when the new ratio is within tolerance or points the other way than the
    measured one, nor when ``ceil(new ratio × pods counted)`` would move the count against
    the new ratio's direction.
    """
    ratio = utilization / target_percent
    total = conservative_sum(groups, ratio, target_percent)
    new_ratio = utilization_percent(total.usage_m, total.request_m) / target_percent
    if within_tolerance(new_ratio, tolerance):
        rule = "within tolerance once missing/unready pods are counted"
        return Proposal(current_replicas, utilization, rule)
    if (ratio < 1 < new_ratio) or (ratio > 1 > new_ratio):
        rule = "held: counting missing/unready pods reverses the direction"
        return Proposal(current_replicas, utilization, rule)
    replicas = math.ceil(new_ratio * total.pods)
    if (new_ratio < 1 and replicas > current_replicas) or (
        new_ratio > 1 and replicas < current_replicas
    ):
        rule = f"held: {replicas} pods would move against the ratio's direction"
        return Proposal(current_replicas, utilization, rule)
    return Proposal(replicas, utilization, f"ceil(ratio × {total.pods} pods counted)")


# --- stabilization ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TimedRecommendation:
    """One evaluation's unstabilized proposal (upstream ``timestampedRecommendation``)."""

    time_s: float
    replicas: int


def stabilize_legacy(
    history: Iterable[TimedRecommendation], now_s: float, recommendation: int, window_s: float
) -> int:
    """The highest recommendation of the last ``window_s`` (300 s), this one included.

    Without ``behavior`` only scale-down is stabilized: the count falls only once every
    recommendation in the window is lower. A recommendation exactly ``window_s`` old still
    counts (upstream drops only those *before* the cutoff).
    """
    cutoff_s = now_s - window_s
    return max([recommendation, *(r.replicas for r in history if r.time_s >= cutoff_s)])


def stabilize_with_behavior(
    history: Iterable[TimedRecommendation],
    now_s: float,
    current_replicas: int,
    recommendation: int,
    scale_up_window_s: float,
    scale_down_window_s: float,
) -> int:
    """The current count, raised to the scale-up floor and lowered to the scale-down ceiling.

    The floor is the lowest recommendation within the scale-up window, the ceiling the
    highest within the scale-down window, this one included in both: the count rises only
    as far as every recent recommendation agrees, and falls likewise. A recommendation
    exactly a window old no longer counts (upstream keeps those strictly *after* the cutoff).
    """
    recent = list(history)
    up_cutoff_s = now_s - scale_up_window_s
    down_cutoff_s = now_s - scale_down_window_s
    up_floor = min([recommendation, *(r.replicas for r in recent if r.time_s > up_cutoff_s)])
    down_ceiling = max([recommendation, *(r.replicas for r in recent if r.time_s > down_cutoff_s)])
    return min(max(current_replicas, up_floor), down_ceiling)


# --- rate limits ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleEvent:
    """A change the controller made: ``change`` replicas at ``time_s`` (negative: removed)."""

    time_s: float
    change: int


@dataclass(frozen=True)
class ScalingRules:
    """One direction of ``behavior`` after API defaulting."""

    stabilization_window_s: float
    select_policy: SelectPolicy
    policies: tuple[HpaScalingPolicy, ...]


@dataclass(frozen=True)
class ResolvedBehavior:
    """``behavior`` with every unset field filled in as the API and controller fill it."""

    scale_up: ScalingRules
    scale_down: ScalingRules

    @property
    def history_window_s(self) -> float:
        """How long a recommendation can matter."""
        return max(self.scale_up.stabilization_window_s, self.scale_down.stabilization_window_s)

    @property
    def longest_period_s(self) -> float:
        """How long a scale event can matter."""
        policies = self.scale_up.policies + self.scale_down.policies
        return max((policy.period_s for policy in policies), default=0.0)


def resolve_rules(
    rules: HpaScalingRules | None,
    default_window_s: float,
    default_policies: tuple[HpaScalingPolicy, ...],
) -> ScalingRules:
    """Fill the unset fields of one direction; an unset direction takes every default."""
    rules = rules or HpaScalingRules()
    window_s = rules.stabilization_window_s
    return ScalingRules(
        stabilization_window_s=default_window_s if window_s is None else float(window_s),
        select_policy=rules.select_policy,
        policies=default_policies if rules.policies is None else rules.policies,
    )


def resolve_behavior(behavior: HpaBehavior, downscale_stabilization_s: float) -> ResolvedBehavior:
    """API defaults for ``behavior``: scale up at once by max(+4 pods, +100 %) per 15 s;
    scale down by up to 100 % per 15 s after the controller's stabilization window."""
    return ResolvedBehavior(
        scale_up=resolve_rules(
            behavior.scale_up, DEFAULT_SCALE_UP_WINDOW_S, DEFAULT_SCALE_UP_POLICIES
        ),
        scale_down=resolve_rules(
            behavior.scale_down, downscale_stabilization_s, DEFAULT_SCALE_DOWN_POLICIES
        ),
    )


def net_change_within(events: Iterable[ScaleEvent], now_s: float, period_s: float) -> int:
    """Replicas added minus removed by events strictly within the last ``period_s``."""
    cutoff_s = now_s - period_s
    return sum(event.change for event in events if event.time_s > cutoff_s)


def policy_scale_up_limit(policy: HpaScalingPolicy, period_start_replicas: int) -> int:
    """The most one policy allows: ``start + value`` pods, or ``ceil(start × (1 + value %))``
    (rounded up so a small percentage can still add a pod)."""
    if policy.type == "Pods":
        return period_start_replicas + policy.value
    return math.ceil(period_start_replicas * (1 + policy.value / 100))


def policy_scale_down_limit(policy: HpaScalingPolicy, period_start_replicas: int) -> int:
    """The fewest one policy allows: ``start − value`` pods, or ``start × (1 − value %)``
    truncated (so the count may fall by slightly less than the percentage)."""
    if policy.type == "Pods":
        return period_start_replicas - policy.value
    return int(period_start_replicas * (1 - policy.value / 100))


def scale_up_limit(
    current_replicas: int, rules: ScalingRules, events: Sequence[ScaleEvent], now_s: float
) -> int:
    """The highest count ``behavior.scaleUp`` allows now, never below the current count.

    Each policy counts from the replicas at the start of its period (the current count less
    the net change of the scale events within it); ``Max`` takes the most permissive policy,
    ``Min`` the least, ``Disabled`` allows no scale-up. No policy: no scale-up (the API
    rejects an empty list).
    """
    if rules.select_policy == "Disabled":
        return current_replicas
    limits = [
        policy_scale_up_limit(
            policy, current_replicas - net_change_within(events, now_s, policy.period_s)
        )
        for policy in rules.policies
    ]
    if not limits:
        return current_replicas
    limit = max(limits) if rules.select_policy == "Max" else min(limits)
    return max(limit, current_replicas)


def scale_down_limit(
    current_replicas: int, rules: ScalingRules, events: Sequence[ScaleEvent], now_s: float
) -> int:
    """The lowest count ``behavior.scaleDown`` allows now, never above the current count.

    The mirror of :func:`scale_up_limit`: ``Max`` picks the lowest floor (the largest
    change), ``Min`` the highest, ``Disabled`` allows no scale-down.
    """
    if rules.select_policy == "Disabled":
        return current_replicas
    limits = [
        policy_scale_down_limit(
            policy, current_replicas - net_change_within(events, now_s, policy.period_s)
        )
        for policy in rules.policies
    ]
    if not limits:
        return current_replicas
    limit = min(limits) if rules.select_policy == "Max" else max(limits)
    return min(limit, current_replicas)


@dataclass(frozen=True)
class Limited:
    """The count after rate limits and bounds, with the HPA condition that explains it."""

    replicas: int
    condition: str = "DesiredWithinRange"


def legacy_scale_up_limit(current_replicas: int) -> int:
    """Without ``behavior``: at most ``max(2 × current, 4)`` per evaluation, a guard against
    bogus usage reports."""
    return max(LEGACY_SCALE_UP_FACTOR * current_replicas, LEGACY_SCALE_UP_MINIMUM)


def limit_legacy(current_replicas: int, desired_replicas: int, hpa: Hpa) -> Limited:
    """Bounds without ``behavior``: the scale-up cap and ``max_replicas``, whichever is
    lower, then ``min_replicas`` (upstream ``convertDesiredReplicasWithRules``)."""
    cap = legacy_scale_up_limit(current_replicas)
    if hpa.max_replicas > cap:
        maximum, condition = cap, "ScaleUpLimit"
    else:
        maximum, condition = hpa.max_replicas, "TooManyReplicas"
    if desired_replicas < hpa.min_replicas:
        return Limited(hpa.min_replicas, "TooFewReplicas")
    if desired_replicas > maximum:
        return Limited(maximum, condition)
    return Limited(desired_replicas)


def limit_with_behavior(
    current_replicas: int,
    desired_replicas: int,
    hpa: Hpa,
    behavior: ResolvedBehavior,
    events: Sequence[ScaleEvent],
    now_s: float,
) -> Limited:
    """Bounds with ``behavior``: the direction's rate limit or ``max_replicas`` /
    ``min_replicas``, whichever binds first (upstream
    ``convertDesiredReplicasWithBehaviorRate``)."""
    if desired_replicas > current_replicas:
        limit = scale_up_limit(current_replicas, behavior.scale_up, events, now_s)
        if hpa.max_replicas > limit:
            maximum, condition = limit, "ScaleUpLimit"
        else:
            maximum, condition = hpa.max_replicas, "TooManyReplicas"
        if desired_replicas > maximum:
            return Limited(maximum, condition)
    elif desired_replicas < current_replicas:
        limit = scale_down_limit(current_replicas, behavior.scale_down, events, now_s)
        if hpa.min_replicas < limit:
            minimum, condition = limit, "ScaleDownLimit"
        else:
            minimum, condition = hpa.min_replicas, "TooFewReplicas"
        if desired_replicas < minimum:
            return Limited(minimum, condition)
    return Limited(desired_replicas)


def bounds_before_metrics(current_replicas: int, hpa: Hpa) -> Limited | None:
    """The special cases settled before any metric is read, with no stabilization or rate
    limit: a target at 0 replicas means autoscaling is off (``ScalingDisabled``); a count
    outside ``[min_replicas, max_replicas]`` goes to the nearest bound. None otherwise."""
    if current_replicas == 0 and hpa.min_replicas != 0:
        return Limited(0, "ScalingDisabled")
    if current_replicas > hpa.max_replicas:
        return Limited(hpa.max_replicas, "TooManyReplicas")
    if current_replicas < hpa.min_replicas:
        return Limited(hpa.min_replicas, "TooFewReplicas")
    return None


# --- reasons ----------------------------------------------------------------------------------


def describe_metric(groups: PodGroups, proposal: Proposal, target_percent: int) -> str:
    """``cpu 93% of requests vs target 60% over 4 ready pods (1 missing, 2 unready)``."""
    ready = len(groups.ready)
    text = (
        f"cpu {proposal.utilization_percent}% of requests vs target {target_percent}% "
        f"over {ready} ready pod{'' if ready == 1 else 's'}"
    )
    others = [
        f"{len(pods)} {label}"
        for pods, label in ((groups.missing, "missing"), (groups.unready, "unready"))
        if pods
    ]
    return f"{text} ({', '.join(others)})" if others else text


def describe_limit(limited: Limited, hpa: Hpa, legacy: bool) -> str:
    """What held the count back, in words, with the condition name."""
    bound = {
        "ScaleUpLimit": "the legacy cap max(2×current, 4)" if legacy else "behavior scaleUp",
        "ScaleDownLimit": "behavior scaleDown",
        "TooManyReplicas": f"max_replicas {hpa.max_replicas}",
        "TooFewReplicas": f"min_replicas {hpa.min_replicas}",
    }[limited.condition]
    return f"limited by {bound} ({limited.condition})"


def describe_change(current_replicas: int, replicas: int) -> str:
    """``4 → 7`` or ``stays at 4``."""
    if replicas == current_replicas:
        return f"stays at {current_replicas}"
    return f"{current_replicas} → {replicas}"


@dataclass(frozen=True)
class Normalization:
    """One evaluation from proposal to result, for its reason line."""

    current_replicas: int
    proposal: int
    proposal_rule: str
    stabilized: int
    limited: Limited
    hpa: Hpa
    legacy: bool

    @property
    def code(self) -> str:
        """The condition that explains the final count, by precedence: limit, then
        stabilization, then the plain outcome.

        A rate limit or bound that moved the count (``ScaleUpLimit``, ``ScaleDownLimit``,
        ``TooManyReplicas``, ``TooFewReplicas``) comes first, since it acted last and set the
        number; else a stabilization window that moved the proposal
        (:attr:`stabilization_condition`); else ``SucceededRescale`` when the count changes
        and ``DesiredWithinRange`` when it stays (within tolerance, or the proposal is the
        current count).
        """
        final = self.limited.replicas
        if final != self.stabilized:
            return self.limited.condition
        if self.stabilized != self.proposal:
            return self.stabilization_condition
        return "SucceededRescale" if final != self.current_replicas else "DesiredWithinRange"

    @property
    def stabilization_condition(self) -> str:
        """``ScaleUpStabilized`` or ``ScaleDownStabilized``, by the proposal's direction
        (the legacy path stabilizes scale-down only)."""
        up = not self.legacy and self.proposal >= self.current_replicas
        return "ScaleUpStabilized" if up else "ScaleDownStabilized"

    def reason(self, summary: str) -> str:
        """``summary: 4 → 7, proposal 10, limited by behavior scaleUp (ScaleUpLimit)``."""
        current, final = self.current_replicas, self.limited.replicas
        notes = [f"{summary}: {describe_change(current, final)}"]
        if self.proposal == current:
            notes.append(self.proposal_rule)
        elif self.proposal != final:
            notes.append(f"proposal {self.proposal}")
        if self.stabilized != self.proposal:
            notes.append(f"stabilized to {self.stabilized} ({self.stabilization_condition})")
        if final != self.stabilized:
            notes.append(describe_limit(self.limited, self.hpa, self.legacy))
        return ", ".join(notes)


# --- the controller ---------------------------------------------------------------------------


class HpaController:
    """One HorizontalPodAutoscaler on one Deployment, evaluated every ``sync_period_s``.

    ``phase_s`` is when the first evaluation falls (the policy's ``setup`` draws it at random,
    as the real controller's work queue spreads HPAs over its period). The controller keeps what
    kube-controller-manager keeps per HPA: the recommendations of recent evaluations
    (seeded with the current count at the first one) and, when ``behavior`` is set, the
    scale events it made. Both are pruned to the longest window or period that reads them.
    """

    name = "hpa"

    def __init__(self, hpa: Hpa, phase_s: float = 0.0) -> None:
        if not (math.isfinite(phase_s) and phase_s >= 0):
            raise ValueError(f"phase_s must be a finite number ≥ 0, got {phase_s}")
        self.target_percent = target_utilization_percent(hpa)
        if self.target_percent < 1:
            raise ValueError(
                "hpa.target_cpu_utilization must be at least 0.005 (a whole 1 % of the "
                f"request), got {hpa.target_cpu_utilization}"
            )
        self.hpa = hpa
        self.period_s = hpa.sync_period_s
        self.phase_s = phase_s
        self.behavior = (
            None
            if hpa.behavior is None
            else resolve_behavior(hpa.behavior, hpa.downscale_stabilization_s)
        )
        self._recommendations: deque[TimedRecommendation] = deque()  # oldest first
        self._scale_events: list[ScaleEvent] = []
        self._seeded = False

    @property
    def recommendations(self) -> tuple[TimedRecommendation, ...]:
        """The recommendations still inside the stabilization window(s), oldest first."""
        return tuple(self._recommendations)

    @property
    def scale_events(self) -> tuple[ScaleEvent, ...]:
        """The scale events still inside the longest policy period (behavior path only)."""
        return tuple(self._scale_events)

    def decide(self, observation: Observation) -> Decision:
        """One evaluation: special cases, proposal, stabilization, limits, action."""
        now_s = observation.now_s
        current = observation.desired_replicas
        self._seed_history(now_s, current)
        special = bounds_before_metrics(current, self.hpa)
        if special is not None:
            return self._special_decision(now_s, current, special)
        groups = group_pods(observation.replicas, now_s, self.hpa)
        proposal = proposed_replicas(groups, current, self.target_percent, self.hpa.tolerance)
        if proposal.replicas is None:
            reason = f"stays at {current}: {proposal.rule} (FailedGetResourceMetric)"
            return Decision(reason=reason, code="FailedGetResourceMetric")
        outcome = self._normalize(now_s, current, proposal.replicas, proposal.rule)
        self._record_recommendation(now_s, proposal.replicas)
        summary = describe_metric(groups, proposal, self.target_percent)
        final = outcome.limited.replicas
        return self._apply(now_s, current, final, outcome.reason(summary), outcome.code)

    def _normalize(self, now_s: float, current: int, proposal: int, rule: str) -> Normalization:
        """Stabilize and limit ``proposal`` by the legacy or the behavior path."""
        if self.behavior is None:
            window_s = self.hpa.downscale_stabilization_s
            stabilized = stabilize_legacy(self._recommendations, now_s, proposal, window_s)
            limited = limit_legacy(current, stabilized, self.hpa)
            return Normalization(current, proposal, rule, stabilized, limited, self.hpa, True)
        stabilized = stabilize_with_behavior(
            self._recommendations,
            now_s,
            current,
            proposal,
            self.behavior.scale_up.stabilization_window_s,
            self.behavior.scale_down.stabilization_window_s,
        )
        limited = limit_with_behavior(
            current, stabilized, self.hpa, self.behavior, self._scale_events, now_s
        )
        return Normalization(current, proposal, rule, stabilized, limited, self.hpa, False)

    def _special_decision(self, now_s: float, current: int, special: Limited) -> Decision:
        if special.condition == "ScalingDisabled":
            reason = (
                f"stays at 0: the target is scaled to zero and min_replicas is "
                f"{self.hpa.min_replicas}, so autoscaling is disabled (ScalingDisabled)"
            )
            return Decision(reason=reason, code=special.condition)
        side = (
            "above max_replicas" if special.condition == "TooManyReplicas" else "below min_replicas"
        )
        reason = (
            f"{describe_change(current, special.replicas)}: current replicas {side} "
            f"({special.condition}), before metrics, stabilization and rate limits"
        )
        return self._apply(now_s, current, special.replicas, reason, special.condition)

    def _apply(self, now_s: float, current: int, replicas: int, reason: str, code: str) -> Decision:
        """The decision; a change is recorded as a scale event on the behavior path."""
        if replicas == current:
            return Decision(reason=reason, code=code)
        if self.behavior is not None:
            self._scale_events.append(ScaleEvent(now_s, replicas - current))
            cutoff_s = now_s - self.behavior.longest_period_s
            self._scale_events = [e for e in self._scale_events if e.time_s > cutoff_s]
        return Decision(actions=(Action("set_replicas", replicas),), reason=reason, code=code)

    def _seed_history(self, now_s: float, current: int) -> None:
        """Upstream ``recordInitialRecommendation``: the first evaluation remembers the
        current count, so a fresh HPA does not scale down within its first window."""
        if not self._seeded:
            self._seeded = True
            self._recommendations.append(TimedRecommendation(now_s, current))

    def _record_recommendation(self, now_s: float, replicas: int) -> None:
        window_s = (
            self.hpa.downscale_stabilization_s
            if self.behavior is None
            else self.behavior.history_window_s
        )
        history = self._recommendations
        cutoff_s = now_s - window_s
        while history and history[0].time_s < cutoff_s:
            history.popleft()
        history.append(TimedRecommendation(now_s, replicas))


HPA = HpaController.name
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
}
"""The codes of the HPA's decisions (one per evaluation: the reason for its final count)."""

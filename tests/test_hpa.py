"""The Horizontal Pod Autoscaler against upstream's rules, as named case tables.

Modelled on Kubernetes' ``replica_calculator_test.go``: each case is a snapshot of pods and
the count the real controller would propose, with boundary pairs just inside and just outside
each threshold (tolerance, CPU initialization period, readiness delay, stabilization windows,
policy periods). Times are in seconds; every pod requests 1000 m unless a case says otherwise,
so a pod's usage in millicores reads as tenths of a percent.
"""

from __future__ import annotations

import ast
import inspect
import math
from collections.abc import Sequence
from typing import Any, Literal

import pytest

from sim.config.policies import Hpa, HpaBehavior, HpaScalingPolicy, HpaScalingRules
from sim.policies import hpa as hpa_module
from sim.policies.base import Controller, Observation, ReplicaPhase, ReplicaView
from sim.policies.hpa import (
    HpaController,
    Limited,
    PodGroups,
    ScaleEvent,
    ScalingRules,
    SelectPolicy,
    TimedRecommendation,
    bounds_before_metrics,
    group_pods,
    limit_legacy,
    limit_with_behavior,
    proposed_replicas,
    resolve_behavior,
    scale_down_limit,
    scale_up_limit,
    stabilize_legacy,
    stabilize_with_behavior,
    utilization_percent,
)

OLD_S = 1000.0
"""A time well past every pod's CPU initialization period (pods start at 0)."""


def pod(
    usage_m: float | None = 500,
    state: ReplicaPhase = "ready",
    *,
    request_m: int = 1000,
    started_s: float = 0.0,
    transition_s: float | None = None,
    metric_time_s: float | None = None,
    window_s: float = 15.0,
    name: str = "pod",
) -> ReplicaView:
    """A pod started at ``started_s`` and ready 10 s later, with a sample taken at
    ``metric_time_s`` (default: well after every readiness change)."""
    if transition_s is None:
        transition_s = started_s + 10 if state == "ready" else started_s
    return ReplicaView(
        name=name,
        node="node-0",
        state=state,
        created_s=started_s,
        started_s=started_s,
        ready_s=transition_s if state == "ready" else math.nan,
        cpu_request_m=request_m,
        memory_request_mib=256,
        ready_transition_s=transition_s,
        cpu_usage_m=usage_m,
        metric_time_s=OLD_S if metric_time_s is None else metric_time_s,
        metric_window_s=window_s,
    )


def pods(
    count: int, usage_m: float | None = 500, state: ReplicaPhase = "ready"
) -> list[ReplicaView]:
    """``count`` alike old pods."""
    return [pod(usage_m, state, name=f"{state}-{i}") for i in range(count)]


def groups(
    ready: Sequence[float] = (),
    missing: int = 0,
    unready: int = 0,
    request_m: int = 1000,
) -> PodGroups:
    """Pod groups for the proposal tables: ready pods with the given usages."""
    return PodGroups(
        ready=tuple(pod(usage, request_m=request_m) for usage in ready),
        missing=tuple(pod(None, request_m=request_m) for _ in range(missing)),
        unready=tuple(pod(None, "pending", request_m=request_m) for _ in range(unready)),
    )


def rules(
    *policies: tuple[Literal["Pods", "Percent"], int, int],
    select: SelectPolicy = "Max",
    window_s: float = 0.0,
) -> ScalingRules:
    """Resolved rules from ``(type, value, period_s)`` triples."""
    return ScalingRules(
        stabilization_window_s=window_s,
        select_policy=select,
        policies=tuple(
            HpaScalingPolicy(type=kind, value=value, period_s=period)
            for kind, value, period in policies
        ),
    )


def observe(
    now_s: float, current: int, replicas: Sequence[ReplicaView] | None = None, usage_m: float = 500
) -> Observation:
    """A snapshot with ``current`` as spec.replicas and, by default, that many old pods."""
    replicas = pods(current, usage_m) if replicas is None else replicas
    return Observation(now_s=now_s, replicas=tuple(replicas), nodes=(), desired_replicas=current)


# --- utilization ------------------------------------------------------------------------------

UTILIZATION_CASES = {
    "exact-half": ((500, 1000), 50),
    "floored-not-rounded": ((669, 1000), 66),
    "just-below-a-whole-percent": ((999, 1000), 99),
    "over-the-request": ((1500, 1000), 150),
    "fractional-usage-truncated-to-whole-millicores-first": ((10.9, 10), 100),
    "zero-usage": ((0, 1000), 0),
}


@pytest.mark.parametrize(
    ("totals", "expected"), UTILIZATION_CASES.values(), ids=UTILIZATION_CASES.keys()
)
def test_utilization_is_integer_percent_of_summed_requests(
    totals: tuple[float, int], expected: int
) -> None:
    assert utilization_percent(*totals) == expected


def test_utilization_is_a_ratio_of_sums_not_a_mean_of_ratios() -> None:
    # 100 m of 1000 (10 %) and 400 m of 250 (160 %): the sums give 40 %, the mean 85 %.
    mixed = PodGroups(ready=(pod(100, request_m=1000), pod(400, request_m=250)))
    proposal = proposed_replicas(mixed, 2, target_percent=40, tolerance=0.1)
    assert proposal.utilization_percent == 40
    assert proposal.replicas == 2


# --- the proposal: ready pods only -------------------------------------------------------------

# (ready usages m, current, target %, tolerance) → proposed replicas
PLAIN_CASES = {
    "ratio-1.10-just-inside-upper-tolerance": (([1100] * 10, 10, 100, 0.1), 10),
    "ratio-1.11-just-outside-upper-tolerance": (([1110] * 10, 10, 100, 0.1), 12),
    "ratio-0.90-just-inside-lower-tolerance": (([900] * 10, 10, 100, 0.1), 10),
    "ratio-0.89-just-outside-lower-tolerance": (([890] * 10, 10, 100, 0.1), 9),
    "ratio-exactly-1": (([600] * 4, 4, 60, 0.1), 4),
    "ceil-of-ratio-times-ready": (([930] * 3, 3, 60, 0.1), 5),  # 1.55 × 3 = 4.65
    "exact-product-not-rounded-up": (([750] * 4, 4, 50, 0.1), 6),  # 1.5 × 4 = 6
    "multiplies-ready-pods-not-spec-replicas": (([750] * 4, 10, 50, 0.1), 6),
    "scale-down-to-ceil": (([100] * 4, 4, 50, 0.1), 1),  # 0.2 × 4 = 0.8
    "tolerance-setting-read": (([1150] * 10, 10, 100, 0.2), 10),
    "zero-usage-proposes-zero": (([0] * 4, 4, 50, 0.1), 0),
}


@pytest.mark.parametrize(("inputs", "expected"), PLAIN_CASES.values(), ids=PLAIN_CASES.keys())
def test_proposal_over_ready_pods(inputs: tuple[list[int], int, int, float], expected: int) -> None:
    usages, current, target, tolerance = inputs
    assert proposed_replicas(groups(usages), current, target, tolerance).replicas == expected


# --- the proposal: missing and unready pods ---------------------------------------------------

# (ready usages m, missing, unready, current, target %) → proposed replicas; tolerance 0.1
CONSERVATIVE_CASES = {
    # 0.2 alone would give 1; the missing pod at 100 %: 1300/4000 = 32 % → 0.64 × 4
    "missing-on-scale-down-counted-at-100%": (([100] * 3, 1, 0, 4, 50), 3),
    # target 150 %: missing pods at 150 %: 4800/4000 = 120 % → 0.8 × 4 (at 100 %: 3)
    "missing-on-scale-down-counted-at-target-above-100%": (([300], 3, 0, 4, 150), 4),
    # 3000/4000 = 75 % → 1.5 × 4 (at 100 % it would be 8)
    "missing-on-scale-up-counted-at-0%": (([1000] * 3, 1, 0, 4, 50), 6),
    # 1800/4000 = 45 % → 0.9: inside tolerance
    "missing-on-scale-up-within-tolerance-after-recount": (([900] * 2, 2, 0, 4, 50), 4),
    "missing-at-ratio-exactly-1-left-out": (([500] * 2, 2, 0, 4, 50), 4),
    # 2100/4000 = 52 % → 1.04: inside tolerance (ready pods alone: ceil(2.1 × 2) = 5)
    "unready-damps-scale-up-into-tolerance": (([1050] * 2, 0, 2, 4, 50), 4),
    # 4000/5000 = 80 % → 1.6 × 5
    "unready-counted-at-0%-on-scale-up": (([1000] * 4, 0, 1, 5, 50), 8),
    "unready-ignored-on-scale-down": (([100] * 2, 0, 2, 4, 50), 1),
    "unready-and-missing-on-scale-up": (([1000] * 2, 1, 1, 4, 50), 4),
    # 2000/5000 = 40 % → 0.8 < 1 < 2.0: direction flips (ready pods alone: 4)
    "flip-guard-scale-up-turned-down": (([1000] * 2, 0, 3, 5, 50), 5),
    # 0.25 → 1100/2000 = 55 % → 1.375 > 1: direction flips (without the guard: 3)
    "flip-guard-scale-down-turned-up": (([100], 1, 0, 2, 40), 2),
    # 0.1 → 2100/3000 = 70 % → 0.7, ceil(2.1) = 3 > current 2: held
    "count-guard-scale-down-would-grow": (([100], 2, 0, 2, 100), 2),
    # 2.0 → 2000/3000 = 66 % → 1.32, ceil(3.96) = 4 < current 10: held
    "count-guard-scale-up-would-shrink": (([1000] * 2, 0, 1, 10, 50), 10),
}


@pytest.mark.parametrize(
    ("inputs", "expected"), CONSERVATIVE_CASES.values(), ids=CONSERVATIVE_CASES.keys()
)
def test_proposal_with_missing_and_unready_pods(
    inputs: tuple[list[int], int, int, int, int], expected: int
) -> None:
    usages, missing, unready, current, target = inputs
    pod_groups = groups(usages, missing, unready)
    assert proposed_replicas(pod_groups, current, target, 0.1).replicas == expected


NO_METRIC_CASES = {
    "no-pods": (PodGroups(), "no pods returned by selector"),
    "only-unready-and-missing": (groups([], 1, 2), "(2 unready, 1 missing)"),
    "zero-requests": (groups([0, 0], request_m=0), "request no CPU"),
}


@pytest.mark.parametrize(
    ("pod_groups", "why"), NO_METRIC_CASES.values(), ids=NO_METRIC_CASES.keys()
)
def test_no_usable_metric_no_proposal(pod_groups: PodGroups, why: str) -> None:
    proposal = proposed_replicas(pod_groups, 3, 50, 0.1)
    assert proposal.replicas is None
    assert why in proposal.rule


# --- pod grouping -----------------------------------------------------------------------------

# CPU initialization 300 s, initial readiness delay 30 s, metric window 15 s; pods start at 0.
GROUPING_CASES: dict[str, tuple[float, dict[str, Any], str]] = {
    "terminating-ignored": (OLD_S, {"state": "terminating"}, "ignored"),
    "pending-unready-even-with-sample": (OLD_S, {"state": "pending"}, "unready"),
    "pulling-unready": (OLD_S, {"state": "pulling", "usage_m": None}, "unready"),
    "running-without-sample-missing": (OLD_S, {"usage_m": None}, "missing"),
    "not-ready-without-sample-missing-not-unready": (
        100,
        {"state": "starting", "usage_m": None},
        "missing",
    ),
    "young-ready-sample-a-window-after-ready": (100, {"metric_time_s": 25.0}, "ready"),
    "young-ready-sample-just-before-window-end": (100, {"metric_time_s": 24.9}, "unready"),
    "young-not-ready": (100, {"state": "starting"}, "unready"),
    "young-just-inside-init-period-early-sample": (299.9, {"metric_time_s": 5.0}, "unready"),
    "init-period-over-early-sample-counts": (300, {"metric_time_s": 5.0}, "ready"),
    "old-ready-stale-sample-counts": (OLD_S, {"metric_time_s": 5.0}, "ready"),
    "old-never-ready": (OLD_S, {"state": "starting", "transition_s": 0.0}, "unready"),
    "old-not-ready-transition-just-inside-delay": (
        OLD_S,
        {"state": "starting", "transition_s": 29.9},
        "unready",
    ),
    "old-not-ready-transition-at-delay-counts": (
        OLD_S,
        {"state": "starting", "transition_s": 30.0},
        "ready",
    ),
    "old-was-ready-then-dropped-counts": (
        OLD_S,
        {"state": "starting", "transition_s": 600.0},
        "ready",
    ),
    "no-start-time-unready": (OLD_S, {"started_s": math.nan, "transition_s": 10.0}, "unready"),
}


@pytest.mark.parametrize(
    ("now_s", "fields", "expected"), GROUPING_CASES.values(), ids=GROUPING_CASES.keys()
)
def test_pod_grouping(now_s: float, fields: dict[str, Any], expected: str) -> None:
    pod_groups = group_pods([pod(**fields)], now_s, Hpa())
    found = [
        name for name in ("ready", "unready", "missing", "ignored") if getattr(pod_groups, name)
    ]
    assert found == [expected]


def test_grouping_periods_come_from_the_settings() -> None:
    dropped_out = pod(state="starting", transition_s=50.0)
    assert group_pods([dropped_out], 100, Hpa()).unready
    assert group_pods([dropped_out], 100, Hpa(cpu_initialization_period_s=60)).ready
    never_ready = pod(state="starting", transition_s=20.0)
    assert group_pods([never_ready], OLD_S, Hpa()).unready
    assert group_pods([never_ready], OLD_S, Hpa(initial_readiness_delay_s=10)).ready


# --- special cases before metrics -------------------------------------------------------------

SPECIAL_CASES = {
    "zero-replicas-disabled": ((0, Hpa(min_replicas=1)), Limited(0, "ScalingDisabled")),
    "above-max": ((12, Hpa(max_replicas=10)), Limited(10, "TooManyReplicas")),
    "below-min": ((1, Hpa(min_replicas=2)), Limited(2, "TooFewReplicas")),
    "at-max-goes-on": ((10, Hpa(max_replicas=10)), None),
    "at-min-goes-on": ((2, Hpa(min_replicas=2)), None),
}


@pytest.mark.parametrize(("inputs", "expected"), SPECIAL_CASES.values(), ids=SPECIAL_CASES.keys())
def test_bounds_before_metrics(inputs: tuple[int, Hpa], expected: Limited | None) -> None:
    assert bounds_before_metrics(*inputs) == expected


SCALE_UP_DISABLED = HpaBehavior(scale_up=HpaScalingRules(select_policy="Disabled"))
SCALE_DOWN_DISABLED = HpaBehavior(scale_down=HpaScalingRules(select_policy="Disabled"))

# (current, settings, usage per pod m) → new count; the behavior cases would stay put if the
# count went through the metric, stabilization and rate limits
DECIDE_SPECIAL_CASES = {
    "target-at-zero-disabled-despite-load": ((0, Hpa(), 1000), None),
    "above-max-at-once-though-scale-down-disabled": (
        (12, Hpa(max_replicas=10, behavior=SCALE_DOWN_DISABLED), 0),
        10,
    ),
    "below-min-at-once-though-scale-up-disabled": (
        (1, Hpa(min_replicas=3, behavior=SCALE_UP_DISABLED), 1000),
        3,
    ),
    "above-max-at-once-legacy": ((12, Hpa(max_replicas=10), 1000), 10),
    "below-min-at-once-legacy": ((1, Hpa(min_replicas=3), 0), 3),
}


@pytest.mark.parametrize(
    ("inputs", "expected"), DECIDE_SPECIAL_CASES.values(), ids=DECIDE_SPECIAL_CASES.keys()
)
def test_special_cases_skip_metrics_stabilization_and_limits(
    inputs: tuple[int, Hpa, float], expected: int | None
) -> None:
    current, settings, usage_m = inputs
    controller = HpaController(settings)
    decision = controller.decide(observe(OLD_S, current, usage_m=usage_m))
    assert [action.value for action in decision.actions] == ([] if expected is None else [expected])
    # only the count seen at the first evaluation is remembered: no recommendation
    assert controller.recommendations == (TimedRecommendation(OLD_S, current),)


def test_no_usable_metric_leaves_the_count_and_says_why() -> None:
    decision = HpaController(Hpa()).decide(observe(OLD_S, 3, pods(3, None, "pending")))
    assert decision.actions == ()
    assert decision.reason.startswith("stays at 3: did not receive metrics")
    assert "FailedGetResourceMetric" in decision.reason


# --- legacy path (behavior unset) -------------------------------------------------------------


def history(*entries: tuple[float, int]) -> list[TimedRecommendation]:
    return [TimedRecommendation(time_s, replicas) for time_s, replicas in entries]


# (history, now, recommendation) → stabilized; window 300 s
LEGACY_STABILIZATION_CASES = {
    "max-over-window": ((history((0, 8), (100, 5)), 200, 3), 8),
    "current-recommendation-highest": ((history((0, 2), (100, 5)), 200, 7), 7),
    "scale-up-not-delayed": ((history((0, 2)), 15, 6), 6),
    "entry-exactly-300-s-old-still-counts": ((history((0, 8)), 300, 3), 8),
    "entry-just-over-300-s-old-expired": ((history((0, 8)), 300.1, 3), 3),
    "empty-history": (([], 0, 4), 4),
}


@pytest.mark.parametrize(
    ("inputs", "expected"),
    LEGACY_STABILIZATION_CASES.values(),
    ids=LEGACY_STABILIZATION_CASES.keys(),
)
def test_legacy_stabilization(
    inputs: tuple[list[TimedRecommendation], float, int], expected: int
) -> None:
    entries, now_s, recommendation = inputs
    assert stabilize_legacy(entries, now_s, recommendation, 300) == expected


# (current, desired, min, max) → limited
LEGACY_LIMIT_CASES = {
    "cap-current-1-to-4": ((1, 10, 1, 100), Limited(4, "ScaleUpLimit")),
    "cap-current-3-to-6": ((3, 10, 1, 100), Limited(6, "ScaleUpLimit")),
    "cap-current-10-to-20": ((10, 50, 1, 100), Limited(20, "ScaleUpLimit")),
    "within-cap": ((3, 6, 1, 100), Limited(6)),
    "max-below-cap": ((3, 10, 1, 5), Limited(5, "TooManyReplicas")),
    "max-equal-to-cap-reports-max": ((3, 10, 1, 6), Limited(6, "TooManyReplicas")),
    "below-min": ((4, 0, 2, 10), Limited(2, "TooFewReplicas")),
    "scale-down-not-rate-limited": ((10, 1, 1, 10), Limited(1)),
}


@pytest.mark.parametrize(
    ("inputs", "expected"), LEGACY_LIMIT_CASES.values(), ids=LEGACY_LIMIT_CASES.keys()
)
def test_legacy_limits(inputs: tuple[int, int, int, int], expected: Limited) -> None:
    current, desired, minimum, maximum = inputs
    settings = Hpa(min_replicas=minimum, max_replicas=maximum)
    assert limit_legacy(current, desired, settings) == expected


# --- behavior path: defaults and stabilization ------------------------------------------------

RESOLVE_CASES = {
    "empty-behavior-takes-all-defaults": (
        HpaBehavior(),
        (
            rules(("Pods", 4, 15), ("Percent", 100, 15)),
            rules(("Percent", 100, 15), window_s=300),
        ),
    ),
    "scale-down-window-from-controller-setting": (
        HpaBehavior(scale_down=HpaScalingRules(select_policy="Min")),
        (
            rules(("Pods", 4, 15), ("Percent", 100, 15)),
            rules(("Percent", 100, 15), select="Min", window_s=300),
        ),
    ),
    "set-fields-kept": (
        HpaBehavior(
            scale_up=HpaScalingRules(
                stabilization_window_s=60,
                policies=(HpaScalingPolicy(type="Pods", value=1, period_s=60),),
            ),
            scale_down=HpaScalingRules(stabilization_window_s=0),
        ),
        (rules(("Pods", 1, 60), window_s=60), rules(("Percent", 100, 15))),
    ),
}


@pytest.mark.parametrize(("given", "expected"), RESOLVE_CASES.values(), ids=RESOLVE_CASES.keys())
def test_behavior_defaults(given: HpaBehavior, expected: tuple[ScalingRules, ScalingRules]) -> None:
    resolved = resolve_behavior(given, downscale_stabilization_s=300)
    assert (resolved.scale_up, resolved.scale_down) == expected


# (history, now, current, recommendation, up window, down window) → stabilized
BEHAVIOR_STABILIZATION_CASES = {
    "default-scale-up-at-once": ((history((0, 3)), 100, 3, 8, 0, 300), 8),
    "scale-down-held-by-recent-high": ((history((0, 8)), 100, 8, 3, 0, 300), 8),
    "scale-down-to-highest-recent": ((history((0, 8), (50, 6)), 305, 8, 3, 0, 300), 6),
    "down-entry-just-inside-window": ((history((0, 8)), 299.9, 8, 3, 0, 300), 8),
    "down-entry-exactly-window-old-expired": ((history((0, 8)), 300, 8, 3, 0, 300), 3),
    "up-window-holds-at-current": ((history((30, 4)), 60, 4, 8, 60, 300), 4),
    "up-window-rises-to-lowest-recent": ((history((30, 6), (40, 7)), 60, 4, 8, 60, 300), 6),
    "up-entry-exactly-window-old-expired": ((history((0, 4)), 60, 4, 8, 60, 300), 8),
    "both-windows-straddle-current": ((history((0, 3)), 30, 5, 6, 60, 60), 5),
}


@pytest.mark.parametrize(
    ("inputs", "expected"),
    BEHAVIOR_STABILIZATION_CASES.values(),
    ids=BEHAVIOR_STABILIZATION_CASES.keys(),
)
def test_behavior_stabilization(
    inputs: tuple[list[TimedRecommendation], float, int, int, float, float], expected: int
) -> None:
    assert stabilize_with_behavior(*inputs) == expected


# --- behavior path: rate limits ---------------------------------------------------------------

DEFAULT_UP = rules(("Pods", 4, 15), ("Percent", 100, 15))
DEFAULT_DOWN = rules(("Percent", 100, 15), window_s=300)


def events(*entries: tuple[float, int]) -> list[ScaleEvent]:
    return [ScaleEvent(time_s, change) for time_s, change in entries]


# (current, rules, events, now) → highest count allowed
SCALE_UP_LIMIT_CASES = {
    "defaults-current-2-allows-6": ((2, DEFAULT_UP, [], 100), 6),
    "defaults-current-10-allows-20": ((10, DEFAULT_UP, [], 100), 20),
    "pods-policy": ((5, rules(("Pods", 2, 60)), [], 100), 7),
    "percent-policy-rounds-up": ((3, rules(("Percent", 50, 60)), [], 100), 5),
    "percent-policy-adds-at-least-one": ((1, rules(("Percent", 10, 60)), [], 100), 2),
    "select-min-current-10": (
        (10, rules(("Pods", 4, 15), ("Percent", 100, 15), select="Min"), [], 100),
        14,
    ),
    "select-min-current-2": (
        (2, rules(("Pods", 4, 15), ("Percent", 100, 15), select="Min"), [], 100),
        4,
    ),
    "select-disabled": ((5, rules(("Pods", 4, 15), select="Disabled"), [], 100), 5),
    "event-just-inside-period-counts": (
        (6, rules(("Percent", 100, 60)), events((40.1, 2)), 100),
        8,
    ),
    "event-exactly-period-old-expired": (
        (6, rules(("Percent", 100, 60)), events((40, 2)), 100),
        12,
    ),
    "period-used-up-frozen-at-current": ((6, rules(("Percent", 100, 60)), events((90, 4)), 100), 6),
    "scale-down-in-period-raises-start": ((4, rules(("Pods", 4, 60)), events((90, -2)), 100), 10),
    "each-policy-its-own-period": (
        (8, rules(("Pods", 2, 15), ("Pods", 1, 120)), events((50, 4)), 100),
        10,
    ),
}


@pytest.mark.parametrize(
    ("inputs", "expected"), SCALE_UP_LIMIT_CASES.values(), ids=SCALE_UP_LIMIT_CASES.keys()
)
def test_scale_up_limit(
    inputs: tuple[int, ScalingRules, list[ScaleEvent], float], expected: int
) -> None:
    assert scale_up_limit(*inputs) == expected


# (current, rules, events, now) → lowest count allowed
SCALE_DOWN_LIMIT_CASES = {
    "default-percent-100-allows-0": ((10, DEFAULT_DOWN, [], 100), 0),
    "pods-policy": ((5, rules(("Pods", 1, 60)), [], 100), 4),
    "percent-truncates-2.5-to-2": ((5, rules(("Percent", 50, 60)), [], 100), 2),
    "percent-truncates-8.1-to-8": ((9, rules(("Percent", 10, 60)), [], 100), 8),
    "select-max-picks-lowest": ((10, rules(("Pods", 1, 60), ("Percent", 50, 60)), [], 100), 5),
    "select-min-picks-highest": (
        (10, rules(("Pods", 1, 60), ("Percent", 50, 60), select="Min"), [], 100),
        9,
    ),
    "select-disabled": ((10, rules(("Percent", 100, 15), select="Disabled"), [], 100), 10),
    "period-used-up-frozen-at-current": ((5, rules(("Percent", 50, 60)), events((90, -5)), 100), 5),
    "event-exactly-period-old-expired": ((5, rules(("Percent", 50, 60)), events((40, -5)), 100), 2),
    "scale-up-in-period-lowers-start": ((6, rules(("Pods", 3, 60)), events((90, 2)), 100), 1),
}


@pytest.mark.parametrize(
    ("inputs", "expected"), SCALE_DOWN_LIMIT_CASES.values(), ids=SCALE_DOWN_LIMIT_CASES.keys()
)
def test_scale_down_limit(
    inputs: tuple[int, ScalingRules, list[ScaleEvent], float], expected: int
) -> None:
    assert scale_down_limit(*inputs) == expected


# (current, desired, min, max) → limited, with default behavior and no events
BEHAVIOR_LIMIT_CASES = {
    "scale-up-rate-limited": ((2, 10, 1, 100), Limited(6, "ScaleUpLimit")),
    "scale-up-max-binds-first": ((2, 10, 1, 5), Limited(5, "TooManyReplicas")),
    "scale-up-within-limits": ((2, 5, 1, 100), Limited(5)),
    "scale-down-min-binds": ((10, 0, 2, 100), Limited(2, "TooFewReplicas")),
    "scale-down-within-limits": ((10, 3, 1, 100), Limited(3)),
    "no-change": ((4, 4, 1, 10), Limited(4)),
}


@pytest.mark.parametrize(
    ("inputs", "expected"), BEHAVIOR_LIMIT_CASES.values(), ids=BEHAVIOR_LIMIT_CASES.keys()
)
def test_behavior_limits(inputs: tuple[int, int, int, int], expected: Limited) -> None:
    current, desired, minimum, maximum = inputs
    settings = Hpa(min_replicas=minimum, max_replicas=maximum, behavior=HpaBehavior())
    resolved = resolve_behavior(HpaBehavior(), 300)
    assert limit_with_behavior(current, desired, settings, resolved, [], 100) == expected


def test_scale_down_limit_condition() -> None:
    slow_down = HpaBehavior(
        scale_down=HpaScalingRules(
            stabilization_window_s=0,
            policies=(HpaScalingPolicy(type="Pods", value=1, period_s=60),),
        )
    )
    settings = Hpa(max_replicas=20, behavior=slow_down)
    resolved = resolve_behavior(slow_down, 300)
    assert limit_with_behavior(10, 3, settings, resolved, [], 100) == Limited(9, "ScaleDownLimit")


# --- the controller over time -----------------------------------------------------------------


def run(
    controller: HpaController, loads: Sequence[tuple[float, float]], start: int, until_s: float
) -> list[tuple[float, int]]:
    """Evaluate every ``period_s`` until ``until_s``, with old ready pods sharing the total
    CPU load of the latest ``(from_s, total_m)`` step; spec.replicas and the pods follow each
    action at once. Returns ``(time, new count)`` for each action."""
    current, changes = start, []
    now_s = controller.phase_s
    while now_s <= until_s:
        total_m = [total for from_s, total in loads if from_s <= now_s][-1]
        decision = controller.decide(observe(now_s, current, usage_m=total_m / current))
        for action in decision.actions:
            current = int(action.value)
            changes.append((now_s, current))
        now_s += controller.period_s
    return changes


# Target 50 %, two pods. Load 1000 m (on target) until 15 s, 4000 m until 60 s (a spike that
# needs 8 pods), then 800 m (a drop that needs 2).
SPIKE = [(0.0, 1000.0), (15.0, 4000.0), (60.0, 800.0)]
SEQUENCE_CASES = {
    # Capped at max(2 × 2, 4) = 4, then 8. The last recommendation of 8 (at 45 s) still
    # counts at 345 s, exactly 300 s later, and no longer at 360 s.
    "legacy-cap-then-300-s-scale-down-delay": (
        Hpa(target_cpu_utilization=0.5, max_replicas=20),
        [(15, 4), (30, 8), (360, 2)],
    ),
    # Default behavior allows 2 + 4 = 6, then 8; at 345 s the 45 s recommendation is
    # exactly a window old, and out.
    "behavior-defaults-then-300-s-scale-down-delay": (
        Hpa(target_cpu_utilization=0.5, max_replicas=20, behavior=HpaBehavior()),
        [(15, 6), (30, 8), (345, 2)],
    ),
    "behavior-scale-down-window-from-rules": (
        Hpa(
            target_cpu_utilization=0.5,
            max_replicas=20,
            behavior=HpaBehavior(scale_down=HpaScalingRules(stabilization_window_s=60)),
        ),
        [(15, 6), (30, 8), (105, 2)],
    ),
    "legacy-window-setting-read": (
        Hpa(target_cpu_utilization=0.5, max_replicas=20, downscale_stabilization_s=60),
        [(15, 4), (30, 8), (120, 2)],
    ),
}


@pytest.mark.parametrize(
    ("settings", "expected"), SEQUENCE_CASES.values(), ids=SEQUENCE_CASES.keys()
)
def test_load_spike_then_drop(settings: Hpa, expected: list[tuple[float, int]]) -> None:
    assert run(HpaController(settings), SPIKE, start=2, until_s=600) == expected


def test_behavior_rate_limit_counts_own_scale_events_over_the_period() -> None:
    one_pod_a_minute = HpaBehavior(
        scale_up=HpaScalingRules(policies=(HpaScalingPolicy(type="Pods", value=1, period_s=60),))
    )
    controller = HpaController(Hpa(target_cpu_utilization=0.5, behavior=one_pod_a_minute))
    changes = run(controller, [(0.0, 100_000.0)], start=2, until_s=200)
    # +1 at 0 s; the event still counts at 15–45 s and at 60 s (exactly a period old) it
    # no longer does.
    assert changes == [(0, 3), (60, 4), (120, 5), (180, 6)]
    assert controller.scale_events == (ScaleEvent(180, 1),)


def test_behavior_scale_up_stabilization_window() -> None:
    slow_up = HpaBehavior(scale_up=HpaScalingRules(stabilization_window_s=60))
    controller = HpaController(Hpa(target_cpu_utilization=0.5, behavior=slow_up))
    changes = run(controller, [(0.0, 1000.0), (30.0, 4000.0)], start=2, until_s=150)
    # Recommendations are 8 from 30 s; the lowest of the last 60 s stays 2 until the 15 s
    # one is exactly 60 s old, at 75 s. Then the default policies: 2 + 4 = 6, then 8.
    assert changes == [(75, 6), (90, 8)]


def test_fresh_controller_remembers_the_current_count() -> None:
    # No load from the start: the count seeded at the first evaluation holds for 300 s.
    changes = run(HpaController(Hpa(target_cpu_utilization=0.5)), [(0.0, 0.0)], 8, 400)
    assert changes == [(315, 1)]


def test_legacy_path_records_no_scale_events() -> None:
    controller = HpaController(Hpa(target_cpu_utilization=0.5))
    assert run(controller, [(0.0, 100_000.0)], start=2, until_s=15) == [(0, 4), (15, 8)]
    assert controller.scale_events == ()


def test_history_stays_bounded() -> None:
    controller = HpaController(Hpa(target_cpu_utilization=0.5, behavior=HpaBehavior()))
    loads = [(0.0, 1000.0), (1000.0, 8000.0), (2000.0, 500.0)]
    assert run(controller, loads, start=2, until_s=5000)
    assert len(controller.recommendations) <= 300 / 15 + 1
    assert len(controller.scale_events) <= 2


def test_reason_reads_as_one_line() -> None:
    replicas = [
        *(pod(1500, name=f"ready-{i}") for i in range(4)),
        pod(None, name="missing"),
        *(pod(None, "pending", name=f"pending-{i}") for i in range(2)),
    ]
    slow_up = HpaBehavior(
        scale_up=HpaScalingRules(policies=(HpaScalingPolicy(type="Pods", value=3, period_s=60),))
    )
    controller = HpaController(Hpa(target_cpu_utilization=0.6, behavior=slow_up))
    decision = controller.decide(observe(OLD_S, 4, replicas))
    assert decision.reason == (
        "cpu 150% of requests vs target 60% over 4 ready pods (1 missing, 2 unready): 4 → 7, "
        "proposal 10, limited by behavior scaleUp (ScaleUpLimit)"
    )
    assert [action.value for action in decision.actions] == [7]


def test_no_action_when_the_count_stays() -> None:
    decision = HpaController(Hpa(target_cpu_utilization=0.5)).decide(observe(OLD_S, 4))
    assert decision.actions == ()
    assert decision.reason.endswith(": stays at 4, within tolerance ±10%")


# --- codes ------------------------------------------------------------------------------------

HALF = 0.5
"""Target utilization of the code cases: 50 % of a 1000 m request, so 500 m per pod."""
SLOW_DOWN = HpaBehavior(
    scale_down=HpaScalingRules(
        stabilization_window_s=0,
        policies=(HpaScalingPolicy(type="Pods", value=1, period_s=60),),
    )
)
SLOW_UP = HpaBehavior(scale_up=HpaScalingRules(stabilization_window_s=60))

# (settings, evaluations (now, spec.replicas, usage per pod m; None: every pod pending)) →
# (code of the last decision, its new count or None). Times below OLD_S are fine: the pods'
# samples are old enough at any time.
CODE_CASES: dict[str, tuple[tuple[Hpa, list[tuple[float, int, float | None]]], tuple[str, Any]]] = {
    # 55 % vs 50 %: ratio 1.10, the edge of the ±10 % tolerance
    "ratio-1.10-just-inside-tolerance": (
        (Hpa(target_cpu_utilization=HALF), [(0, 4, 550)]),
        ("DesiredWithinRange", None),
    ),
    # 56 %: ratio 1.12, the first whole percent outside; ceil(1.12 × 4) = 5
    "ratio-1.12-just-outside-tolerance": (
        (Hpa(target_cpu_utilization=HALF), [(0, 4, 560)]),
        ("SucceededRescale", 5),
    ),
    "ratio-exactly-1": (
        (Hpa(target_cpu_utilization=HALF), [(0, 4, 500)]),
        ("DesiredWithinRange", None),
    ),
    # ratio 4 asks for 8; the legacy cap max(2 × 2, 4) allows 4
    "legacy-cap": ((Hpa(target_cpu_utilization=HALF), [(0, 2, 2000)]), ("ScaleUpLimit", 4)),
    # ratio 2 asks for 8 (within the cap of 8); max_replicas 5 binds
    "max-replicas-binds": (
        (Hpa(target_cpu_utilization=HALF, max_replicas=5), [(0, 4, 1000)]),
        ("TooManyReplicas", 5),
    ),
    "max-replicas-holds-at-current": (
        (Hpa(target_cpu_utilization=HALF, max_replicas=4), [(0, 4, 1000)]),
        ("TooManyReplicas", None),
    ),
    # proposal 1, held by the count remembered at the first evaluation
    "scale-down-stabilized": (
        (Hpa(target_cpu_utilization=HALF), [(0, 4, 100)]),
        ("ScaleDownStabilized", None),
    ),
    # a zero window: the second evaluation no longer sees the first's recommendations
    "scale-down-past-the-window": (
        (
            Hpa(target_cpu_utilization=HALF, downscale_stabilization_s=0),
            [(0, 4, 100), (15, 4, 100)],
        ),
        ("SucceededRescale", 1),
    ),
    "scale-down-to-min-replicas": (
        (
            Hpa(target_cpu_utilization=HALF, min_replicas=2, downscale_stabilization_s=0),
            [(0, 4, 100), (15, 4, 100)],
        ),
        ("TooFewReplicas", 2),
    ),
    "scale-down-rate-limited": (
        (Hpa(target_cpu_utilization=HALF, behavior=SLOW_DOWN), [(0, 4, 100)]),
        ("ScaleDownLimit", 3),
    ),
    # the lowest recommendation of the last 60 s is the current count
    "scale-up-stabilized": (
        (Hpa(target_cpu_utilization=HALF, behavior=SLOW_UP), [(0, 2, 2000)]),
        ("ScaleUpStabilized", None),
    ),
    # Stabilized up to the 8 remembered from 0 s (the count was cut to 3 meanwhile), then
    # capped at max(2 × 3, 4) = 6: the limit set the number, so it names the decision.
    "limit-over-stabilization": (
        (Hpa(target_cpu_utilization=HALF), [(0, 8, 500), (15, 3, 100)]),
        ("ScaleUpLimit", 6),
    ),
    "no-usable-metric": (
        (Hpa(target_cpu_utilization=HALF), [(0, 3, None)]),
        ("FailedGetResourceMetric", None),
    ),
    "target-at-zero": (
        (Hpa(target_cpu_utilization=HALF), [(0, 0, 500)]),
        ("ScalingDisabled", None),
    ),
    "above-max-before-metrics": (
        (Hpa(target_cpu_utilization=HALF, max_replicas=10), [(0, 12, 0)]),
        ("TooManyReplicas", 10),
    ),
    "below-min-before-metrics": (
        (Hpa(target_cpu_utilization=HALF, min_replicas=3), [(0, 1, 1000)]),
        ("TooFewReplicas", 3),
    ),
}


@pytest.mark.parametrize(("inputs", "expected"), CODE_CASES.values(), ids=CODE_CASES.keys())
def test_decision_code_explains_the_final_count(
    inputs: tuple[Hpa, list[tuple[float, int, float | None]]], expected: tuple[str, int | None]
) -> None:
    settings, evaluations = inputs
    controller = HpaController(settings)
    for now_s, current, usage_m in evaluations:
        replicas = pods(current, None, "pending") if usage_m is None else pods(current, usage_m)
        decision = controller.decide(observe(now_s, current, replicas))
    code, count = expected
    assert decision.code == code
    assert [action.value for action in decision.actions] == ([] if count is None else [count])
    if code not in ("DesiredWithinRange", "SucceededRescale"):
        assert f"({code})" in decision.reason  # the prose names the same condition


def test_no_action_decision_has_a_code() -> None:
    decision = HpaController(Hpa(target_cpu_utilization=0.5)).decide(observe(OLD_S, 4))
    assert (decision.actions, decision.code) == ((), "DesiredWithinRange")


# --- the controller's shape -------------------------------------------------------------------


def test_controller_fits_the_protocol() -> None:
    controller: Controller = HpaController(Hpa(sync_period_s=30), phase_s=7.5)
    assert (controller.name, controller.period_s, controller.phase_s) == ("hpa", 30, 7.5)


@pytest.mark.parametrize("phase_s", [-1.0, math.nan, math.inf], ids=["negative", "nan", "inf"])
def test_constructor_rejects_a_bad_phase(phase_s: float) -> None:
    with pytest.raises(ValueError, match="phase_s must be a finite number"):
        HpaController(Hpa(), phase_s=phase_s)


def test_constructor_rejects_a_target_below_one_percent() -> None:
    with pytest.raises(ValueError, match="target_cpu_utilization must be at least"):
        HpaController(Hpa(target_cpu_utilization=0.004))


def test_module_reads_no_clock_and_imports_no_simpy() -> None:
    tree = ast.parse(inspect.getsource(hpa_module))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert imported.isdisjoint({"simpy", "time", "datetime", "random", "numpy"})

"""The Auto Scaling group's target tracking, health replacement and minimum size.

Snapshots are hand-built VMs with a given CPU utilization; ``decide`` is called on the 60 s
metric grid (one datapoint per call) unless a test says otherwise. Default settings: target
50 %, scale out after 3 datapoints above it, scale in after 15 below 45 %, warm-up and
cooldown 300 s, unhealthy after 2 × 30 s of silence.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from sim.config.policies import ScaleOut
from sim.policies.base import Action, NodeView, Observation
from sim.policies.scale_out import TargetTrackingScaler

Log = list[tuple[float, str, Any]]


def vm(
    index: int,
    cpu: float,
    *,
    state: str = "ready",
    ready_s: float = -1000.0,
    heartbeat_s: float = math.nan,
    unroutable: bool = False,
) -> NodeView:
    """An m5.large VM (2000 m) at ``cpu`` utilization; heartbeat NaN: healthy (now)."""
    return NodeView(
        name=f"vm-{index}",
        index=index,
        type_name="m5.large",
        state=state,  # type: ignore[arg-type]
        cpu_m=2000,
        memory_mib=8192,
        requested_cpu_m=0,
        requested_memory_mib=0,
        replicas=2,
        launched_s=ready_s - 120.0 + index,  # lower index: launched earlier
        ready_s=ready_s,
        heartbeat_s=heartbeat_s,
        price_per_hour_usd=0.096,
        cpu_usage_m=cpu * 2000,
        unroutable=unroutable,
    )


def snapshot(now_s: float, vms: list[NodeView]) -> Observation:
    nodes = tuple(
        replace(node, heartbeat_s=now_s) if math.isnan(node.heartbeat_s) else node for node in vms
    )
    return Observation(now_s=now_s, replicas=(), nodes=nodes, desired_replicas=2 * len(vms))


def scaler(**changes: Any) -> TargetTrackingScaler:
    return TargetTrackingScaler(ScaleOut.model_validate(changes), node_type="m5.large", phase_s=0.0)


def actions_of(
    controller: TargetTrackingScaler,
    now_s: float,
    vms: list[NodeView],
    codes: dict[float, str] | None = None,
) -> Log:
    """The call's actions; ``codes`` collects its decision code by time."""
    decision = controller.decide(snapshot(now_s, vms))
    assert decision.reason and "\n" not in decision.reason
    assert decision.code
    if codes is not None:
        codes[now_s] = decision.code
    return [(now_s, action.kind, action.value or action.target) for action in decision.actions]


def run(
    controller: TargetTrackingScaler,
    utilizations: list[float],
    count: int = 2,
    codes: dict[float, str] | None = None,
) -> Log:
    """One call per minute, all ``count`` VMs at the minute's utilization."""
    log: Log = []
    for minute, cpu in enumerate(utilizations):
        vms = [vm(i, cpu) for i in range(count)]
        log += actions_of(controller, 60.0 * minute, vms, codes)
    return log


# --- scale out --------------------------------------------------------------------------------

# name: (utilization of both VMs, minute by minute; expected actions, the last call's code).
# 2 VMs at 80 % against a 50 % target want ceil(2 × 0.8 / 0.5) = 4 VMs: launch 2.
SCALE_OUT_CASES: dict[str, tuple[list[float], Log, str]] = {
    "2 breaching datapoints: nothing": ([0.8, 0.8], [], "NoAlarm"),
    "3 breaching datapoints: out": ([0.8, 0.8, 0.8], [(120, "launch_nodes", 2)], "ScaleOut"),
    "a dip resets the run": ([0.8, 0.4, 0.8, 0.8], [], "NoAlarm"),
    "at the target (not above): nothing": ([0.5, 0.5, 0.5], [], "NoAlarm"),
    "just above the target: one more VM": (
        [0.51, 0.51, 0.51],
        [(120, "launch_nodes", 1)],
        "ScaleOut",
    ),
    "uses the latest datapoint": ([0.6, 0.6, 0.9], [(120, "launch_nodes", 2)], "ScaleOut"),
}


@pytest.mark.parametrize(
    ("utilizations", "expected", "code"),
    SCALE_OUT_CASES.values(),
    ids=list(SCALE_OUT_CASES.keys()),
)
def test_scale_out_needs_three_breaching_datapoints(
    utilizations: list[float], expected: Log, code: str
) -> None:
    codes: dict[float, str] = {}
    assert run(scaler(), utilizations, codes=codes) == expected
    assert codes[60.0 * (len(utilizations) - 1)] == code


# name: (in-service VMs, their utilization, target, extra VMs launching, max_vms, VMs launched,
# the code of the call at 120 s)
OUT = "ScaleOut"
DESIRED_CASES = {
    "2 at 80 %, target 50 %: 4": (2, 0.8, 0.5, 0, 10, 2, OUT),
    "4 at 75 %: exactly 6": (4, 0.75, 0.5, 0, 10, 2, OUT),
    "3 at 80 %, target 60 %: 4.000000000000001 in floats, 4": (3, 0.8, 0.6, 0, 10, 1, OUT),
    "2 at 75 %: exactly 3": (2, 0.75, 0.5, 0, 10, 1, OUT),
    "3 at 60 %: 3.6 → 4": (3, 0.6, 0.5, 0, 10, 1, OUT),
    "target 70 %, 5 at 99 %: 7.07 → 8": (5, 0.99, 0.7, 0, 10, 3, OUT),
    "one launching counts as capacity": (2, 0.8, 0.5, 1, 10, 1, OUT),
    "two launching cover it": (2, 0.8, 0.5, 2, 10, 0, "DesiredCapacityMet"),
    "capped at max_vms": (2, 0.9, 0.5, 0, 3, 1, OUT),
    "at max_vms: nothing": (3, 0.9, 0.5, 0, 3, 0, "AtMaxSize"),
}


@pytest.mark.parametrize(
    ("count", "cpu", "target", "launching", "max_vms", "launched", "code"),
    DESIRED_CASES.values(),
    ids=list(DESIRED_CASES.keys()),
)
def test_desired_count(
    count: int,
    cpu: float,
    target: float,
    launching: int,
    max_vms: int,
    launched: int,
    code: str,
) -> None:
    controller = scaler(target_cpu_utilization=target, max_vms=max_vms)
    vms = [vm(i, cpu) for i in range(count)]
    vms += [vm(count + i, 0.0, state="provisioning") for i in range(launching)]
    log: Log = []
    codes: dict[float, str] = {}
    for minute in range(3):
        log += actions_of(controller, 60.0 * minute, vms, codes)
    assert log == ([(120.0, "launch_nodes", launched)] if launched else [])
    assert codes[120.0] == code


def test_at_the_target_the_alarm_does_not_breach() -> None:
    controller = scaler()
    reasons = [
        controller.decide(snapshot(60.0 * minute, [vm(0, 0.5), vm(1, 0.5)])).reason
        for minute in range(3)
    ]
    assert reasons[-1].endswith("no alarm")


def test_cap_is_explained() -> None:
    controller = scaler(max_vms=3)
    reasons = [
        controller.decide(snapshot(60.0 * minute, [vm(i, 0.9) for i in range(3)])).reason
        for minute in range(3)
    ]
    assert "max_vms" in reasons[-1]


# name: (seconds since the third VM became ready, datapoint): the warming VM at 20 % CPU
# beside two in service at 80 % is left out of the mean until its 300 s warm-up is over.
WARMUP_CASES = {
    "ready 299.9 s ago: warming, excluded": (299.9, 0.8),
    "ready 300 s ago: in service": (300.0, 0.6),
    "ready long ago: in service": (5000.0, 0.6),
}


@pytest.mark.parametrize(
    ("ready_for_s", "datapoint"), WARMUP_CASES.values(), ids=list(WARMUP_CASES.keys())
)
def test_warming_vms_are_left_out_of_the_metric(ready_for_s: float, datapoint: float) -> None:
    controller = scaler()
    now = 1000.0
    controller.decide(
        snapshot(now, [vm(0, 0.8), vm(1, 0.8), vm(2, 0.2, ready_s=now - ready_for_s)])
    )
    [only] = controller.datapoints
    assert only == pytest.approx(datapoint)


# name: (the third VM, datapoint): VMs not ready, or already unrouted, give no datapoint either.
EXCLUDED_CASES = {
    "provisioning": (vm(2, 0.2, state="provisioning"), 0.8),
    "draining": (vm(2, 0.2, state="draining"), 0.8),
    "unroutable": (vm(2, 0.2, unroutable=True), 0.8),
    "ready and warm": (vm(2, 0.2), 0.6),
}


@pytest.mark.parametrize(
    ("third", "datapoint"), EXCLUDED_CASES.values(), ids=list(EXCLUDED_CASES.keys())
)
def test_metric_covers_only_in_service_vms(third: NodeView, datapoint: float) -> None:
    controller = scaler()
    controller.decide(snapshot(0.0, [vm(0, 0.8), vm(1, 0.8), third]))
    [only] = controller.datapoints
    assert only == pytest.approx(datapoint)


def test_warming_vms_count_as_capacity() -> None:
    """2 in service at 80 % want 4 VMs; a third, warming, counts: launch only 1."""
    controller = scaler()
    log: Log = []
    for minute in range(3):
        now = 60.0 * minute
        warming = vm(2, 0.0, ready_s=now - 100.0)
        log += actions_of(controller, now, [vm(0, 0.8), vm(1, 0.8), warming])
    assert log == [(120.0, "launch_nodes", 1)]


def test_no_vm_in_service_is_a_missing_datapoint() -> None:
    """A minute with no VM in service breaks the run of breaching datapoints."""
    controller = scaler(min_vms=0)
    groups = [[vm(0, 0.8), vm(1, 0.8)]] * 2 + [[vm(0, 0.8, state="provisioning")]]
    groups += [[vm(0, 0.8), vm(1, 0.8)]] * 2
    log: Log = []
    for minute, vms in enumerate(groups):
        log += actions_of(controller, 60.0 * minute, vms)
    assert controller.datapoints == (0.8, 0.8, None, 0.8, 0.8)
    assert log == []
    assert controller.decide(snapshot(300.0, groups[2])).code == "InsufficientData"


def test_datapoints_follow_the_metric_grid() -> None:
    """Called every 30 s (the health-check period), a datapoint is taken once a minute."""
    controller = scaler()
    assert controller.period_s == 30.0
    for now in (0.0, 30.0, 60.0, 90.0, 119.9):
        controller.decide(snapshot(now, [vm(0, 0.8)]))
    assert len(controller.datapoints) == 2
    controller.decide(snapshot(120.0, [vm(0, 0.8)]))
    assert len(controller.datapoints) == 3


# --- scale in ---------------------------------------------------------------------------------


class Group:
    """VMs at a fixed utilization; a removed VM drains for one call, then is gone."""

    def __init__(self, count: int, cpu: float) -> None:
        self.vms = {f"vm-{i}": vm(i, cpu) for i in range(count)}
        self.codes: dict[float, str] = {}

    def run(self, controller: TargetTrackingScaler, minutes: int) -> Log:
        log: Log = []
        for minute in range(minutes):
            now = 60.0 * minute
            entries = actions_of(controller, now, list(self.vms.values()), self.codes)
            self.vms = {name: node for name, node in self.vms.items() if node.state == "ready"}
            for _, kind, target in entries:
                if kind == "remove_node":
                    self.vms[target] = replace(self.vms[target], state="draining")
            log += entries
        return log


# name: (utilization of the 4 VMs, settings, expected actions over 30 minutes). At 20 % the group
# wants ceil(n × 0.2 / 0.5): 2 of 4, 2 of 3, 1 of 2; one VM per cooldown, the oldest first.
SCALE_IN_CASES: dict[str, tuple[float, dict[str, Any], Log]] = {
    "15 low datapoints, then one VM per cooldown": (
        0.2,
        {},
        [
            (840, "remove_node", "vm-0"),
            (1140, "remove_node", "vm-1"),
            (1440, "remove_node", "vm-2"),
        ],
    ),
    "cooldown 330 s: the next datapoint after it": (
        0.2,
        {"cooldown_s": 330},
        [
            (840, "remove_node", "vm-0"),
            (1200, "remove_node", "vm-1"),
            (1560, "remove_node", "vm-2"),
        ],
    ),
    "never below min_vms": (
        0.2,
        {"min_vms": 3},
        [(840, "remove_node", "vm-0")],
    ),
    "30 %: the desired count stops the removals at 2": (
        0.3,
        {},
        [(840, "remove_node", "vm-0"), (1140, "remove_node", "vm-1")],
    ),
    "40 %: low, but the group still wants ceil(4 × 0.4 / 0.5) = 4": (0.4, {}, []),
    "at 90 % of the target (not below): nothing": (0.45, {}, []),
    "ratio 0.5: at 25 % (not below): nothing": (0.25, {"scale_in_ratio": 0.5}, []),
    "ratio 0.5: just below 25 %": (
        0.2499,
        {"scale_in_ratio": 0.5},
        [
            (840, "remove_node", "vm-0"),
            (1140, "remove_node", "vm-1"),
            (1440, "remove_node", "vm-2"),
        ],
    ),
    "scale_in_datapoints 5": (
        0.2,
        {"scale_in_datapoints": 5},
        [(240, "remove_node", "vm-0"), (540, "remove_node", "vm-1"), (840, "remove_node", "vm-2")],
    ),
}


@pytest.mark.parametrize(
    ("cpu", "changes", "expected"), SCALE_IN_CASES.values(), ids=list(SCALE_IN_CASES.keys())
)
def test_scale_in(cpu: float, changes: dict[str, Any], expected: Log) -> None:
    group = Group(4, cpu)
    assert group.run(scaler(**changes), 30) == expected
    assert all(group.codes[time] == "ScaleIn" for time, _, _ in expected)


# name: (utilization of the 4 VMs, settings, {call time: code}) along the scale-in cases
SCALE_IN_CODE_CASES: dict[str, tuple[float, dict[str, Any], dict[float, str]]] = {
    "14 low datapoints, the 15th": (0.2, {}, {780: "NoAlarm", 840: "ScaleIn"}),
    "within the cooldown, then past it": (0.2, {}, {1080: "Cooldown", 1140: "ScaleIn"}),
    "the desired count reached": (0.3, {}, {1440: "DesiredCapacityMet"}),
    "min_vms reached": (0.2, {"min_vms": 3}, {1140: "AtMinSize"}),
    "low, but all 4 wanted": (0.4, {}, {1740: "DesiredCapacityMet"}),
}


@pytest.mark.parametrize(
    ("cpu", "changes", "expected"),
    SCALE_IN_CODE_CASES.values(),
    ids=list(SCALE_IN_CODE_CASES.keys()),
)
def test_scale_in_codes(cpu: float, changes: dict[str, Any], expected: dict[float, str]) -> None:
    group = Group(4, cpu)
    group.run(scaler(**changes), 30)
    assert {time: group.codes[time] for time in expected} == expected


def test_no_scale_in_within_cooldown_of_a_scale_out() -> None:
    controller = scaler(scale_in_datapoints=3)
    run(controller, [0.8, 0.8, 0.8])  # scale out at 120 s
    log: Log = []
    for minute in range(3, 9):
        log += actions_of(controller, 60.0 * minute, [vm(i, 0.1) for i in range(4)])
    assert log == [(420.0, "remove_node", "vm-0")]  # 120 + 300 s


def test_no_scale_in_while_a_vm_drains() -> None:
    controller = scaler(scale_in_datapoints=1, cooldown_s=0)
    vms = [vm(0, 0.1), vm(1, 0.1), vm(2, 0.1), vm(3, 0.0, state="draining")]
    decision = controller.decide(snapshot(0.0, vms))
    assert decision.actions == ()
    assert "vm-3" in decision.reason
    assert decision.code == "DrainInProgress"


# --- health and minimum size ------------------------------------------------------------------

# name: (seconds since the VM's last heartbeat at the call, replaced?)
HEALTH_CASES = {
    "59.9 s silent: healthy": (59.9, False),
    "exactly 60 s (2 × 30 s): healthy": (60.0, False),
    "60.1 s silent: replaced": (60.1, True),
}


@pytest.mark.parametrize(("silent_s", "replaced"), HEALTH_CASES.values(), ids=list(HEALTH_CASES))
def test_unhealthy_vm_is_replaced(silent_s: float, replaced: bool) -> None:
    controller = scaler(min_vms=2)
    now = 500.0
    vms = [vm(0, 0.4), vm(1, 0.0, heartbeat_s=now - silent_s)]
    decision = controller.decide(snapshot(now, vms))
    expected = [
        Action("unroute_node", target="vm-1", code="ReplaceUnhealthy"),
        Action("terminate_node", target="vm-1", code="ReplaceUnhealthy"),
        Action("launch_nodes", value=1, target="m5.large", code="ReplaceUnhealthy"),
    ]
    assert list(decision.actions) == (expected if replaced else [])


def test_unhealthy_vm_is_replaced_once() -> None:
    controller = scaler(min_vms=2)
    dead = vm(1, 0.0, state="failed", heartbeat_s=0.0)
    first = actions_of(controller, 90.0, [vm(0, 0.4), dead])
    assert [kind for _, kind, _ in first] == ["unroute_node", "terminate_node", "launch_nodes"]
    again = actions_of(controller, 120.0, [vm(0, 0.4), dead, vm(2, 0.0, state="provisioning")])
    assert again == []


# name: (VMs present, min_vms, VMs launched)
MIN_CASES = {
    "empty group, min 2": (0, 2, 2),
    "one left after a failure, min 2": (1, 2, 1),
    "at min: nothing": (2, 2, 0),
    "min 0, empty: nothing": (0, 0, 0),
}


@pytest.mark.parametrize(
    ("present", "min_vms", "launched"), MIN_CASES.values(), ids=list(MIN_CASES)
)
def test_min_vms(present: int, min_vms: int, launched: int) -> None:
    controller = scaler(min_vms=min_vms)
    codes: dict[float, str] = {}
    log = actions_of(controller, 0.0, [vm(i, 0.4) for i in range(present)], codes)
    assert log == ([(0.0, "launch_nodes", launched)] if launched else [])
    if launched:
        assert codes[0.0] == "BelowMinimum"


def test_no_datapoint_due_between_minutes() -> None:
    controller = scaler()
    controller.decide(snapshot(0.0, [vm(0, 0.4)]))
    assert controller.decide(snapshot(30.0, [vm(0, 0.4)])).code == "NoDatapointDue"


def test_identity_and_bad_bounds() -> None:
    controller = scaler()
    assert (controller.name, controller.phase_s) == ("auto-scaling-group", 0.0)
    with pytest.raises(ValueError, match=r"max_vms \(2\) must be at least min_vms \(3\)"):
        scaler(min_vms=3, max_vms=2)

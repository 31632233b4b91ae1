"""The vertical scaler: sustained CPU moves a node along its ladder, one resize at a time.

Default settings: a datapoint a minute, 5 of them (300 s) above 75 % to step up, a 600 s
cooldown per node, no scale-down unless ``scale_down_threshold`` is set. The fake cluster in
:class:`Machines` applies resizes the way the engine does (the node is ``provisioning`` for a
while, then ready at its new size), so multi-step timelines can be read off the log.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from sim.config.catalogue import CATALOGUE
from sim.config.policies import ScaleUp
from sim.policies.base import Action, NodeView, Observation
from sim.policies.scale_up import VerticalScaler, ladder_for

Log = list[tuple[float, str, str, Any]]  # (time, action kind, target node, value)
M5 = ladder_for(ScaleUp(), "m5.large", CATALOGUE)


def machine(
    index: int, type_name: str, cpu: float, *, state: str = "ready", heartbeat_s: float = 0.0
) -> NodeView:
    """A node of ``type_name`` at ``cpu`` utilization; ready nodes heartbeat at every call."""
    cpu_m = CATALOGUE[type_name].cpu_m
    return NodeView(
        name=f"node-{index}",
        index=index,
        type_name=type_name,
        state=state,  # type: ignore[arg-type]
        cpu_m=cpu_m,
        memory_mib=CATALOGUE[type_name].memory_mib,
        requested_cpu_m=0,
        requested_memory_mib=0,
        replicas=1,
        launched_s=0.0,
        ready_s=0.0,
        heartbeat_s=heartbeat_s,
        price_per_hour_usd=CATALOGUE[type_name].price_per_hour_usd,
        cpu_usage_m=cpu * cpu_m,
    )


def scaler(ladder: list[str] | None = None, **changes: Any) -> VerticalScaler:
    return VerticalScaler(ScaleUp.model_validate(changes), ladder=ladder or M5, phase_s=0.0)


def decide(
    controller: VerticalScaler,
    now_s: float,
    nodes: list[NodeView],
    codes: dict[float, str] | None = None,
) -> Log:
    """One decision; nodes not ``failed`` heartbeat now. ``codes`` collects its code by time."""
    fresh = [replace(node, heartbeat_s=now_s) if node.state != "failed" else node for node in nodes]
    decision = controller.decide(Observation(now_s, (), tuple(fresh), desired_replicas=len(nodes)))
    assert decision.reason and "\n" not in decision.reason
    assert decision.code
    if codes is not None:
        codes[now_s] = decision.code
    return [(now_s, a.kind, a.target, a.value) for a in decision.actions]


class Machines:
    """Nodes at fixed utilizations; a resized node is provisioning for ``downtime_s``, then
    ready at its new size with the same utilization."""

    def __init__(self, *nodes: NodeView, downtime_s: float = 165.0) -> None:
        self.nodes = {node.name: node for node in nodes}
        self.downtime_s = downtime_s
        self.back_at_s: dict[str, float] = {}

    def run(self, controller: VerticalScaler, until_s: float) -> Log:
        log: Log = []
        for call in range(int(until_s // controller.period_s) + 1):
            now = call * controller.period_s
            for name, back_s in list(self.back_at_s.items()):
                if now >= back_s:
                    self.nodes[name] = replace(self.nodes[name], state="ready")
                    del self.back_at_s[name]
            entries = decide(controller, now, list(self.nodes.values()))
            for _, kind, target, size in entries:
                if kind == "resize_node":
                    self.resize(target, str(size), now)
            log += entries
        return log

    def resize(self, name: str, size: str, now_s: float) -> None:
        node = self.nodes[name]
        cpu = node.cpu_usage_m / node.cpu_m
        cpu_m = CATALOGUE[size].cpu_m
        self.nodes[name] = replace(
            node, type_name=size, cpu_m=cpu_m, cpu_usage_m=cpu * cpu_m, state="provisioning"
        )
        self.back_at_s[name] = now_s + self.downtime_s


# --- stepping up ------------------------------------------------------------------------------

# name: (utilization minute by minute, settings, expected actions, the last call's code). One
# m5.large node.
CALM = "WithinThresholds"
SUSTAINED_CASES: dict[str, tuple[list[float], dict[str, Any], Log, str]] = {
    "4 datapoints above: nothing": ([0.9] * 4, {}, [], CALM),
    "5 datapoints (300 s) above: next size": (
        [0.9] * 5,
        {},
        [(240, "resize_node", "node-0", "m5.xlarge")],
        "ResizeUp",
    ),
    "at the threshold (not above): nothing": ([0.75] * 5, {}, [], CALM),
    "just above the threshold": (
        [0.7501] * 5,
        {},
        [(240, "resize_node", "node-0", "m5.xlarge")],
        "ResizeUp",
    ),
    "a dip restarts the count": (
        [0.9, 0.9, 0.7, 0.9, 0.9, 0.9, 0.9, 0.9],
        {},
        [(420, "resize_node", "node-0", "m5.xlarge")],
        "ResizeUp",
    ),
    "sustained 0 s: one datapoint": (
        [0.9],
        {"sustained_s": 0},
        [(0, "resize_node", "node-0", "m5.xlarge")],
        "ResizeUp",
    ),
    "sustained 301 s: 6 datapoints": (
        [0.9] * 6,
        {"sustained_s": 301},
        [(300, "resize_node", "node-0", "m5.xlarge")],
        "ResizeUp",
    ),
    "low CPU, no scale-down threshold: nothing": ([0.05] * 10, {}, [], CALM),
}


@pytest.mark.parametrize(
    ("utilizations", "changes", "expected", "code"),
    SUSTAINED_CASES.values(),
    ids=list(SUSTAINED_CASES.keys()),
)
def test_sustained_breach_steps_up(
    utilizations: list[float], changes: dict[str, Any], expected: Log, code: str
) -> None:
    controller = scaler(**changes)
    log: Log = []
    codes: dict[float, str] = {}
    for minute, cpu in enumerate(utilizations):
        log += decide(controller, 60.0 * minute, [machine(0, "m5.large", cpu)], codes)
    assert log == expected
    assert codes[60.0 * (len(utilizations) - 1)] == code


def test_datapoints_start_afresh_after_a_resize() -> None:
    controller = scaler()
    for minute in range(4):
        decide(controller, 60.0 * minute, [machine(0, "m5.large", 0.9)])
    assert controller.history("node-0") == (0.9, 0.9, 0.9, 0.9)
    assert decide(controller, 240.0, [machine(0, "m5.large", 0.9)])
    assert controller.history("node-0") == ()


def test_top_of_the_ladder() -> None:
    controller = scaler()
    log: Log = []
    for minute in range(6):
        now = 60.0 * minute
        decision = controller.decide(
            Observation(now, (), (replace(machine(0, "m5.24xlarge", 0.95), heartbeat_s=now),), 1)
        )
        log += [(now, a.kind, a.target, a.value) for a in decision.actions]
    assert log == []
    assert "m5.24xlarge is the largest: cannot scale up" in decision.reason
    assert decision.code == "AtLargestSize"


def test_off_ladder_node_is_explained() -> None:
    controller = scaler(sustained_s=0)
    decision = controller.decide(Observation(0.0, (), (machine(0, "c6i.large", 0.95),), 1))
    assert decision.actions == ()
    assert "not on the ladder" in decision.reason
    assert decision.code == "NotOnLadder"


# name: (cooldown_s, expected resizes). m5.large at 90 %: first step at 240 s; the node is back
# at 405 s, gives 5 datapoints by 660 s, steps again once its cooldown since 240 s is over.
COOLDOWN_CASES = {
    "no cooldown": (0, [240, 660, 1080, 1500]),
    "600 s: second step at 840 s": (600, [240, 840, 1440]),
    "just over 600 s: the next datapoint": (600.1, [240, 900, 1560]),
}


@pytest.mark.parametrize(("cooldown_s", "times"), COOLDOWN_CASES.values(), ids=list(COOLDOWN_CASES))
def test_cooldown(cooldown_s: float, times: list[float]) -> None:
    log = Machines(machine(0, "m5.large", 0.9)).run(scaler(cooldown_s=cooldown_s), 1600)
    assert [(time, size) for time, _, _, size in log] == list(
        zip(times, M5[1 : len(times) + 1], strict=True)
    )


def test_a_step_within_the_cooldown_says_so() -> None:
    controller = scaler(sustained_s=0)
    codes: dict[float, str] = {}
    for now in (0.0, 60.0, 600.0):  # the fake node is ready again at once
        decide(controller, now, [machine(0, "m5.large", 0.9)], codes)
    assert codes == {0.0: "ResizeUp", 60.0: "Cooldown", 600.0: "ResizeUp"}


def test_one_resize_at_a_time() -> None:
    """Both nodes hot: the busier one goes first, the other waits until it is back."""
    machines = Machines(machine(0, "m5.large", 0.8), machine(1, "m5.large", 0.95))
    log = machines.run(scaler(), 600)
    assert log == [
        (240, "resize_node", "node-1", "m5.xlarge"),
        # node-1 back at 405 s; node-0's datapoints were recorded meanwhile
        (420, "resize_node", "node-0", "m5.xlarge"),
    ]


def test_waits_for_a_node_that_is_not_ready() -> None:
    controller = scaler(sustained_s=0)
    nodes = [machine(0, "m5.large", 0.9), machine(1, "m5.large", 0.1, state="provisioning")]
    decision = controller.decide(Observation(0.0, (), tuple(nodes), 2))
    assert decision.actions == ()
    assert "waiting for node-1" in decision.reason
    assert decision.code == "WaitingForReady"


# name: (node type, utilization, scale_down_threshold, expected new size or None, the code at
# 240 s)
SCALE_DOWN_CASES = {
    "no threshold: stays": ("m5.xlarge", 0.1, None, None, CALM),
    "below the threshold: previous size": ("m5.xlarge", 0.1, 0.3, "m5.large", "ResizeDown"),
    "at the threshold (not below): stays": ("m5.xlarge", 0.3, 0.3, None, CALM),
    "just below": ("m5.xlarge", 0.2999, 0.3, "m5.large", "ResizeDown"),
    "bottom of the ladder: stays": ("m5.large", 0.1, 0.3, None, "AtSmallestSize"),
}


@pytest.mark.parametrize(
    ("type_name", "cpu", "threshold", "expected", "code"),
    SCALE_DOWN_CASES.values(),
    ids=list(SCALE_DOWN_CASES),
)
def test_optional_scale_down(
    type_name: str, cpu: float, threshold: float | None, expected: str | None, code: str
) -> None:
    controller = scaler(scale_down_threshold=threshold)
    log: Log = []
    codes: dict[float, str] = {}
    for minute in range(5):
        log += decide(controller, 60.0 * minute, [machine(0, type_name, cpu)], codes)
    assert log == ([(240, "resize_node", "node-0", expected)] if expected else [])
    assert codes[240] == code


def test_scale_up_comes_before_scale_down() -> None:
    controller = scaler(scale_down_threshold=0.3, sustained_s=0)
    nodes = [machine(0, "m5.xlarge", 0.1), machine(1, "m5.large", 0.9)]
    assert decide(controller, 0.0, nodes) == [(0.0, "resize_node", "node-1", "m5.xlarge")]


def test_bottom_of_the_ladder_is_explained() -> None:
    controller = scaler(scale_down_threshold=0.3, sustained_s=0)
    decision = controller.decide(Observation(0.0, (), (machine(0, "m5.large", 0.1),), 1))
    assert "m5.large is the smallest: cannot scale down" in decision.reason


# --- failed nodes -----------------------------------------------------------------------------

# name: (seconds since the node's last heartbeat, recovered?)
FAILURE_CASES = {
    "59.9 s silent: alive": (59.9, False),
    "exactly 60 s: alive": (60.0, False),
    "60.1 s silent: recovered": (60.1, True),
}


@pytest.mark.parametrize(("silent_s", "recovered"), FAILURE_CASES.values(), ids=list(FAILURE_CASES))
def test_failed_node_is_recovered(silent_s: float, recovered: bool) -> None:
    controller = scaler()
    now = 1000.0
    dead = machine(0, "m5.2xlarge", 0.0, state="failed", heartbeat_s=now - silent_s)
    alive = machine(1, "m5.large", 0.5, heartbeat_s=now)
    decision = controller.decide(Observation(now, (), (dead, alive), 2))
    expected = [
        Action("unroute_node", target="node-0", code="AutoRecovery"),
        Action("terminate_node", target="node-0", code="AutoRecovery"),
        Action("launch_nodes", value=1, target="m5.2xlarge", code="AutoRecovery"),
    ]
    assert list(decision.actions) == (expected if recovered else [])


def test_failed_node_is_recovered_once_and_blocks_resizes() -> None:
    controller = scaler(sustained_s=0)
    dead = machine(0, "m5.large", 0.0, state="failed", heartbeat_s=0.0)
    first = decide(controller, 120.0, [dead, machine(1, "m5.large", 0.9)])
    assert [kind for _, kind, _, _ in first] == ["unroute_node", "terminate_node", "launch_nodes"]
    again = decide(controller, 180.0, [dead, machine(1, "m5.large", 0.9)])
    assert again == []


# --- the ladder -------------------------------------------------------------------------------

# name: (ladder setting, node type, expected ladder)
LADDER_CASES = {
    "family by default": ((), "m5.xlarge", M5),
    "explicit, across families": (
        ("m5.large", "m6i.2xlarge", "m7i.8xlarge"),
        "m5.large",
        ["m5.large", "m6i.2xlarge", "m7i.8xlarge"],
    ),
}


@pytest.mark.parametrize(
    ("ladder", "node_type", "expected"), LADDER_CASES.values(), ids=list(LADDER_CASES)
)
def test_ladder_for(ladder: tuple[str, ...], node_type: str, expected: list[str]) -> None:
    assert ladder_for(ScaleUp(ladder=ladder), node_type, CATALOGUE) == expected


def test_default_ladder_is_the_m5_family() -> None:
    assert M5[0] == "m5.large" and M5[-1] == "m5.24xlarge" and len(M5) == 8


# name: (ladder setting, node type, error message pattern)
LADDER_ERRORS = {
    "unknown type": (("m5.large", "m5.huge"), "m5.large", r"unknown instance type\(s\) m5.huge"),
    "descending": (
        ("m5.xlarge", "m5.large"),
        "m5.xlarge",
        r"must ascend in vCPU: m5.large \(2 vCPU\) follows m5.xlarge \(4 vCPU\)",
    ),
    "same vCPU twice": (("m5.large", "t3.large"), "m5.large", r"t3.large \(2 vCPU\) follows"),
    "node type not on it": (("m5.xlarge", "m5.2xlarge"), "m5.large", r"must include .* m5.large"),
    "unknown node type": ((), "m9.large", r"unknown node type 'm9.large'"),
}


@pytest.mark.parametrize(
    ("ladder", "node_type", "message"), LADDER_ERRORS.values(), ids=list(LADDER_ERRORS)
)
def test_ladder_validation(ladder: tuple[str, ...], node_type: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ladder_for(ScaleUp(ladder=ladder), node_type, CATALOGUE)


def test_identity() -> None:
    controller = scaler()
    assert (controller.name, controller.period_s, controller.datapoints_needed) == (
        "vertical-scaler",
        60.0,
        5,
    )
    with pytest.raises(ValueError, match="at least one instance type"):
        VerticalScaler(ScaleUp(), ladder=[], phase_s=0.0)

"""The Swarm policy's controllers: the on-call operator, the planned scale steps, the dispatcher.

Each test replays hand-built snapshots through ``decide`` on the controller's own period and
logs ``(time, action kind, value or target)``, so the expected timelines are read off the
rules: an alert evaluated every 60 s, firing after ``for_s``, acted on after a constant
reaction delay.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sim.config.policies import Operator, ScheduledReplicas, Swarm
from sim.policies.base import NodeView, Observation, ReplicaView
from sim.policies.swarm import SwarmDispatcher, SwarmOperator, SwarmSchedule

Log = list[tuple[float, str, Any]]
REACTION_S = 90.0


def node(name: str = "node-1", *, state: str = "ready", heartbeat_s: float = 0.0) -> NodeView:
    return NodeView(
        name=name,
        index=int(name.rsplit("-", 1)[-1]),
        type_name="m5.xlarge",
        state=state,  # type: ignore[arg-type]
        cpu_m=4000,
        memory_mib=16384,
        requested_cpu_m=0,
        requested_memory_mib=0,
        replicas=0,
        launched_s=0.0,
        ready_s=0.0,
        heartbeat_s=heartbeat_s,
        price_per_hour_usd=0.192,
    )


def task(name: str, *, state: str = "pending", created_s: float = 0.0) -> ReplicaView:
    return ReplicaView(
        name=name,
        node=None if state == "pending" else "node-1",
        state=state,  # type: ignore[arg-type]
        created_s=created_s,
        started_s=math.nan if state == "pending" else created_s,
        ready_s=math.nan,
        cpu_request_m=500,
        memory_request_mib=256,
    )


def snapshot(
    now_s: float,
    desired: int,
    *,
    cpu: float = 0.5,
    latency_p95_s: float = math.nan,
    tasks: tuple[ReplicaView, ...] = (),
    nodes: tuple[NodeView, ...] = (),
) -> Observation:
    return Observation(
        now_s=now_s,
        replicas=tasks,
        nodes=nodes or (node("node-1"), node("node-2")),
        desired_replicas=desired,
        latency_p95_s=latency_p95_s,
        cpu_utilization=cpu,
    )


def settings(**changes: Any) -> Operator:
    base: dict[str, Any] = {"reaction_s": {"dist": "constant", "value": REACTION_S}}
    return Operator.model_validate(base | changes)


def operator(
    rng: np.random.Generator | None = None,
    *,
    baseline: int = 4,
    max_nodes: int = 10,
    **changes: Any,
) -> SwarmOperator:
    return SwarmOperator(
        settings(**changes),
        baseline_replicas=baseline,
        node_type="m5.xlarge",
        max_nodes=max_nodes,
        phase_s=0.0,
        rng=rng if rng is not None else np.random.default_rng(0),
    )


def cpu_steps(*steps: tuple[float, float]) -> Callable[[float], float]:
    """A piecewise-constant CPU utilization: ``(from_s, value)`` pairs in time order."""

    def cpu(now_s: float) -> float:
        return [value for start_s, value in steps if start_s <= now_s][-1]

    return cpu


def replay(
    controller: SwarmOperator | SwarmSchedule,
    until_s: float,
    observe: Callable[[float, int], Observation],
    *,
    desired: int = 4,
    codes: dict[float, str] | None = None,
) -> Log:
    """Call ``decide`` every period from the phase to ``until_s``; the service follows
    ``set_replicas``. Returns every action taken, with its time; ``codes`` collects each
    call's decision code by time."""
    log: Log = []
    calls = math.floor((until_s - controller.phase_s) / controller.period_s) + 1
    for call in range(calls):
        now = controller.phase_s + call * controller.period_s
        decision = controller.decide(observe(now, desired))
        assert decision.reason and "\n" not in decision.reason
        assert decision.code
        if codes is not None:
            codes[now] = decision.code
        for action in decision.actions:
            log.append((now, action.kind, action.value if action.value != 0 else action.target))
            if action.kind == "set_replicas":
                desired = int(action.value)
    return log


def cpu_replay(
    cpu: Callable[[float], float],
    until_s: float,
    *,
    desired: int = 4,
    codes: dict[float, str] | None = None,
    **changes: Any,
) -> Log:
    controller = operator(**changes)
    return replay(
        controller,
        until_s,
        lambda now, count: snapshot(now, count, cpu=cpu(now)),
        desired=desired,
        codes=codes,
    )


# --- the alert rule ---------------------------------------------------------------------------

# name: (CPU over time, operator settings, expected actions up to 1000 s). The rule is evaluated
# at 0, 60, 120, …; with for 300 s a breach from 0 fires at 300, acted on 90 s later.
ALERT_CASES: dict[str, tuple[Callable[[float], float], dict[str, Any], Log]] = {
    "below threshold: nothing": (cpu_steps((0, 0.5)), {}, []),
    "at threshold (not above): nothing": (cpu_steps((0, 0.75)), {}, []),
    "just above threshold: fires": (
        cpu_steps((0, 0.7501), (500, 0.5)),
        {},
        [(390, "set_replicas", 6)],
    ),
    "held for_s, then reaction delay": (
        cpu_steps((0, 0.9), (500, 0.5)),
        {},
        [(390, "set_replicas", 6)],
    ),
    "for_s just inside the hold: fires at the evaluation at 300 s": (
        cpu_steps((0, 0.9), (500, 0.5)),
        {"for_s": 300},
        [(390, "set_replicas", 6)],
    ),
    "for_s just outside: fires one evaluation later": (
        cpu_steps((0, 0.9), (500, 0.5)),
        {"for_s": 300.1},
        [(450, "set_replicas", 6)],
    ),
    "held one evaluation short of for_s: nothing": (
        cpu_steps((0, 0.9), (241, 0.5)),
        {},
        [],
    ),
    "a dip resets the pending alert": (
        cpu_steps((0, 0.9), (120, 0.5), (121, 0.9), (800, 0.5)),
        {},
        [(570, "set_replicas", 6)],
    ),
    "for_s 0 fires at the first evaluation": (
        cpu_steps((0, 0.9), (60, 0.5)),
        {"for_s": 0},
        [(90, "set_replicas", 6)],
    ),
    "after acting the alert must hold for_s again": (
        cpu_steps((0, 0.9)),
        {},
        [(390, "set_replicas", 6), (810, "set_replicas", 9)],
    ),
    "acts even if the alert resolved during the reaction delay": (
        cpu_steps((0, 0.9), (330, 0.5)),
        {},
        [(390, "set_replicas", 6)],
    ),
}


@pytest.mark.parametrize(
    ("cpu", "changes", "expected"), ALERT_CASES.values(), ids=list(ALERT_CASES.keys())
)
def test_alert_rule(cpu: Callable[[float], float], changes: dict[str, Any], expected: Log) -> None:
    assert cpu_replay(cpu, 1000, **changes) == expected


# name: (CPU over time, {call time: decision code}): the alert's Prometheus state, then the
# operator's page and act; between evaluations nothing is due.
ALERT_CODE_CASES: dict[str, tuple[Callable[[float], float], dict[float, str]]] = {
    "quiet": (cpu_steps((0, 0.5)), {0: "AlertInactive", 5: "NoRuleDue", 60: "AlertInactive"}),
    "breach held, paged, acted on": (
        cpu_steps((0, 0.9)),
        {
            0: "AlertPending",
            240: "AlertPending",
            300: "AlertFiring",
            360: "OperatorPaged",
            385: "NoRuleDue",
            390: "OperatorScaled",
        },
    ),
}


@pytest.mark.parametrize(
    ("cpu", "expected"), ALERT_CODE_CASES.values(), ids=list(ALERT_CODE_CASES.keys())
)
def test_alert_codes(cpu: Callable[[float], float], expected: dict[float, str]) -> None:
    codes: dict[float, str] = {}
    cpu_replay(cpu, 400, codes=codes)
    assert {time: codes[time] for time in expected} == expected


# name: (p95 latency over time, expected actions): the rule reads the metric it is told to.
LATENCY_CASES = {
    "slow: fires": (2.0, [(90, "set_replicas", 6)]),
    "fast: nothing": (0.2, []),
    "no traffic (NaN): nothing": (math.nan, []),
}


@pytest.mark.parametrize(
    ("latency_s", "expected"), LATENCY_CASES.values(), ids=list(LATENCY_CASES.keys())
)
def test_alert_on_latency(latency_s: float, expected: Log) -> None:
    controller = operator(metric="latency_p95_s", threshold=0.5, for_s=0, calm_for_s=100_000)
    log = replay(
        controller,
        100,
        lambda now, count: snapshot(now, count, cpu=0.9, latency_p95_s=latency_s),
    )
    assert log == expected


def test_reaction_delay_boundary() -> None:
    """Fired at 300 s, the operator acts at 300 + 90 s exactly: not a moment before."""
    controller = operator()
    for now in range(0, 361, 60):
        assert not controller.decide(snapshot(now, 4, cpu=0.9)).actions
    assert controller.next_due_s == 390
    assert not controller.decide(snapshot(389.9, 4, cpu=0.9)).actions
    decision = controller.decide(snapshot(390.0, 4, cpu=0.9))
    assert [(a.kind, a.value) for a in decision.actions] == [("set_replicas", 6)]
    assert "4 → 6" in decision.reason


def test_reaction_delays_are_drawn_from_the_rng_one_per_incident_in_order() -> None:
    reaction = {"dist": "lognormal", "mean": 600, "cv": 0.5}
    controller = operator(np.random.default_rng(7), reaction_s=reaction)
    log = replay(controller, 4000, lambda now, count: snapshot(now, count, cpu=0.9))
    draws = settings(reaction_s=reaction).reaction_s.sample(np.random.default_rng(7), 2)
    first_act = math.ceil((300.0 + draws[0]) / 5) * 5  # the first 5 s call at or after the due time
    pending_again = (first_act // 60 + 1) * 60  # the first evaluation after acting
    second_act = math.ceil((pending_again + 300.0 + draws[1]) / 5) * 5
    assert [(time, kind) for time, kind, _ in log][:2] == [
        (first_act, "set_replicas"),
        (second_act, "set_replicas"),
    ]
    assert draws[0] != draws[1]


# name: (replicas when the operator acts, scale factor, max_replicas, expected action or None,
# the code of the call that acts)
SCALED = "OperatorScaled"
SCALING_CASES = {
    "4 × 1.5 = 6": (4, 1.5, 50, 6, SCALED),
    "5 × 1.5 = 7.5 → 8": (5, 1.5, 50, 8, SCALED),
    "100 × 1.1 = 110 (110.00000000000001 in floats) stays 110": (100, 1.1, 200, 110, SCALED),
    "1 × 1.5 → 2": (1, 1.5, 50, 2, SCALED),
    "0 replicas → 1": (0, 1.5, 50, 1, SCALED),
    "capped at max_replicas": (40, 1.5, 50, 50, SCALED),
    "one below the cap": (49, 1.5, 50, 50, SCALED),
    "already at the cap: nothing": (50, 1.5, 50, None, "AtMaxReplicas"),
}


@pytest.mark.parametrize(
    ("current", "factor", "cap", "expected", "code"),
    SCALING_CASES.values(),
    ids=list(SCALING_CASES.keys()),
)
def test_scaling_rule(
    current: int, factor: float, cap: int, expected: int | None, code: str
) -> None:
    codes: dict[float, str] = {}
    log = cpu_replay(
        cpu_steps((0, 0.9)),
        90,
        desired=current,
        codes=codes,
        for_s=0,
        scale_factor=factor,
        max_replicas=cap,
    )
    assert log == ([] if expected is None else [(90, "set_replicas", expected)])
    assert codes[90] == code


# --- pending tasks → a new worker -------------------------------------------------------------

# name: (task created at, operator settings, max_nodes, nodes, expected actions up to 400 s).
# Evaluations at 0, 60, 120, 180; a task pending more than 120 s pages, the node comes 90 s later.
PENDING_CASES: dict[str, tuple[float, dict[str, Any], int, tuple[NodeView, ...], Log]] = {
    "pending 120.1 s at the 120 s evaluation: node at 210 s": (
        -0.1,
        {},
        10,
        (),
        [(210, "launch_nodes", 1)],
    ),
    "pending 119.9 s at the 120 s evaluation: node at 270 s": (
        0.1,
        {},
        10,
        (),
        [(270, "launch_nodes", 1)],
    ),
    "add_nodes_when_pending off: nothing": (
        0.0,
        {"add_nodes_when_pending": False},
        10,
        (),
        [],
    ),
    "at max_nodes: nothing": (0.0, {}, 2, (), []),
    "a node still joining: wait": (
        0.0,
        {},
        10,
        (node("node-1"), node("node-2", state="provisioning")),
        [],
    ),
    "terminated and failed nodes do not count towards max_nodes": (
        0.0,
        {},
        2,
        (node("node-1"), node("node-2", state="failed"), node("node-3", state="terminated")),
        [(270, "launch_nodes", 1)],
    ),
}


@pytest.mark.parametrize(
    ("created_s", "changes", "max_nodes", "nodes", "expected"),
    PENDING_CASES.values(),
    ids=list(PENDING_CASES.keys()),
)
def test_pending_tasks_add_a_worker(
    created_s: float,
    changes: dict[str, Any],
    max_nodes: int,
    nodes: tuple[NodeView, ...],
    expected: Log,
) -> None:
    controller = operator(max_nodes=max_nodes, **changes)
    tasks = (task("web.5", created_s=created_s), task("web.4", state="ready"))
    log = replay(controller, 400, lambda now, count: snapshot(now, count, tasks=tasks, nodes=nodes))
    assert log == expected


def test_after_adding_a_worker_tasks_must_stay_pending_again() -> None:
    """Still pending after the node was added: the next page comes pending_for_s later."""
    controller = operator()
    tasks = (task("web.5", created_s=0.0),)
    log = replay(controller, 700, lambda now, count: snapshot(now, count, tasks=tasks))
    # page at 180, node at 270; pending again counts from 270: > 120 s at 420, node at 510
    assert [time for time, kind, _ in log if kind == "launch_nodes"] == [270, 510]


def test_node_at_the_cap_is_explained() -> None:
    controller = operator(max_nodes=2)
    tasks = (task("web.5", created_s=0.0),)
    decisions = [controller.decide(snapshot(now, 4, tasks=tasks)) for now in (180, 270)]
    reasons = [decision.reason for decision in decisions]
    assert "adds a node in 90 s" in reasons[0]
    assert "cannot add a node" in reasons[1] and "cap is 2" in reasons[1]
    assert [decision.code for decision in decisions] == ["TasksPending", "MaxNodesTotalReached"]


def test_a_joining_node_and_an_added_worker_have_codes() -> None:
    controller = operator()
    tasks = (task("web.5", created_s=0.0),)
    paged = controller.decide(snapshot(180, 4, tasks=tasks))
    added = controller.decide(snapshot(270, 4, tasks=tasks))
    assert (paged.code, added.code) == ("TasksPending", "OperatorAddedNode")
    assert [action.code for action in added.actions] == ["OperatorAddedNode"]
    joining = (node("node-1"), node("node-3", state="provisioning"))
    waiting = operator().decide(snapshot(180, 4, tasks=tasks, nodes=joining))
    assert waiting.code == "NodeJoining"


# --- calm → scale back ------------------------------------------------------------------------

# name: (CPU, replicas at the start, baseline, expected actions up to 2000 s); calm for 600 s,
# counted afresh from the evaluation after each scale-back.
CALM_CASES = {
    "calm: back by ÷1.5 each 600 s down to the baseline": (
        0.1,
        12,
        4,
        [(600, "set_replicas", 8), (1260, "set_replicas", 6), (1920, "set_replicas", 4)],
    ),
    "never below the baseline": (0.1, 6, 5, [(600, "set_replicas", 5)]),
    "at the baseline: nothing": (0.1, 4, 4, []),
    "at calm_threshold (not below): nothing": (0.3, 12, 4, []),
    "just below calm_threshold": (
        0.2999,
        12,
        4,
        [(600, "set_replicas", 8), (1260, "set_replicas", 6), (1920, "set_replicas", 4)],
    ),
}


@pytest.mark.parametrize(
    ("cpu", "desired", "baseline", "expected"), CALM_CASES.values(), ids=list(CALM_CASES.keys())
)
def test_calm_scale_back(cpu: float, desired: int, baseline: int, expected: Log) -> None:
    codes: dict[float, str] = {}
    log = cpu_replay(
        cpu_steps((0, cpu)), 2000, desired=desired, codes=codes, baseline=baseline, calm_for_s=600
    )
    assert log == expected
    assert all(codes[time] == "OperatorScaledBack" for time, _, _ in log)
    if cpu < 0.3 and not expected:
        assert codes[600] == "AtBaseline"


def test_calm_broken_by_one_busy_evaluation() -> None:
    log = cpu_replay(cpu_steps((0, 0.1), (300, 0.5), (301, 0.1)), 1000, desired=12, calm_for_s=600)
    assert log == [(960, "set_replicas", 8)]


def test_constructor_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_nodes must be ≥ 1, got 0"):
        operator(max_nodes=0)
    with pytest.raises(ValueError, match="baseline_replicas must be ≥ 0, got -1"):
        operator(baseline=-1)


# --- planned steps ----------------------------------------------------------------------------

# name: (steps as (at_s, replicas), replicas at the start, expected actions up to 120 s)
SCHEDULE_CASES: dict[str, tuple[list[tuple[float, int]], int, Log]] = {
    "two steps at their times": (
        [(30, 6), (90, 3)],
        4,
        [(30, "set_replicas", 6), (90, "set_replicas", 3)],
    ),
    "listed out of order": (
        [(90, 3), (30, 6)],
        4,
        [(30, "set_replicas", 6), (90, "set_replicas", 3)],
    ),
    "a step at 0 s": ([(0, 8)], 4, [(0, "set_replicas", 8)]),
    "between calls: taken at the next second": ([(29.5, 6)], 4, [(30, "set_replicas", 6)]),
    "the count it already has: nothing": ([(30, 4)], 4, []),
    "after the run: nothing": ([(500, 6)], 4, []),
}


@pytest.mark.parametrize(
    ("steps", "desired", "expected"), SCHEDULE_CASES.values(), ids=list(SCHEDULE_CASES.keys())
)
def test_schedule(steps: list[tuple[float, int]], desired: int, expected: Log) -> None:
    schedule = SwarmSchedule([ScheduledReplicas(at_s=at, replicas=count) for at, count in steps])
    codes: dict[float, str] = {}
    log = replay(
        schedule, 120, lambda now, count: snapshot(now, count), desired=desired, codes=codes
    )
    assert log == expected
    acted = {time for time, _, _ in log}
    assert {codes[time] for time in acted} <= {"ScheduledScale"}
    assert {code for time, code in codes.items() if time not in acted} <= {
        "NoStepDue",
        "AlreadyScaled",
    }


def test_a_step_to_the_current_count_says_so() -> None:
    schedule = SwarmSchedule([ScheduledReplicas(at_s=30, replicas=4)])
    assert schedule.decide(snapshot(29, 4)).code == "NoStepDue"
    assert schedule.decide(snapshot(30, 4)).code == "AlreadyScaled"


def test_schedule_step_boundary_and_catch_up() -> None:
    schedule = SwarmSchedule(
        [ScheduledReplicas(at_s=30, replicas=6), ScheduledReplicas(at_s=31, replicas=9)]
    )
    assert not schedule.decide(snapshot(29.9, 4)).actions
    assert schedule.next_due_s == 30
    decision = schedule.decide(snapshot(40.0, 4))  # both due: the later one wins
    assert [(a.kind, a.value) for a in decision.actions] == [("set_replicas", 9)]
    assert schedule.next_due_s == math.inf
    assert not schedule.decide(snapshot(41.0, 9)).actions


# --- the dispatcher ---------------------------------------------------------------------------

# name: (heartbeat age at the call, swarm settings, node Down?)
DISPATCHER_CASES: dict[str, tuple[float, dict[str, Any], bool]] = {
    "14.9 s silent: alive": (14.9, {}, False),
    "exactly 15 s: alive": (15.0, {}, False),
    "15.1 s silent: Down": (15.1, {}, True),
    "2 s × 5 misses, 10.1 s: Down": (10.1, {"heartbeat_s": 2, "heartbeat_misses": 5}, True),
    "2 s × 5 misses, 9.9 s: alive": (9.9, {"heartbeat_s": 2, "heartbeat_misses": 5}, False),
}


@pytest.mark.parametrize(
    ("age_s", "changes", "down"), DISPATCHER_CASES.values(), ids=list(DISPATCHER_CASES.keys())
)
def test_dispatcher_marks_silent_nodes_down(
    age_s: float, changes: dict[str, Any], down: bool
) -> None:
    dispatcher = SwarmDispatcher(Swarm.model_validate(changes), phase_s=0.0)
    nodes = (node("node-1", heartbeat_s=100.0 - age_s), node("node-2", heartbeat_s=100.0))
    decision = dispatcher.decide(snapshot(100.0, 4, nodes=nodes))
    expected = [("unroute_node", "node-1"), ("evict_node", "node-1")] if down else []
    assert [(a.kind, a.target) for a in decision.actions] == expected
    assert not decision.wait_for_change  # a node missing heartbeats is on the clock
    assert decision.code == ("NodeDown" if down else "NodeSilent")


def test_dispatcher_waits_for_a_change_while_every_node_heartbeats_or_is_down() -> None:
    dispatcher = SwarmDispatcher(Swarm(), phase_s=0.0)
    healthy = (node("node-1", heartbeat_s=100.0), node("node-2", heartbeat_s=100.0))
    quiet = dispatcher.decide(snapshot(100.0, 4, nodes=healthy))
    assert quiet.wait_for_change and quiet.code == "NodesHealthy"
    dead = (node("node-1", heartbeat_s=80.0, state="failed"), node("node-2", heartbeat_s=100.0))
    assert dispatcher.decide(snapshot(100.0, 4, nodes=dead)).actions  # Down: handled now
    later = (dead[0], node("node-2", heartbeat_s=105.0))
    assert dispatcher.decide(snapshot(105.0, 4, nodes=later)).wait_for_change


def test_dispatcher_acts_once_per_node_and_ignores_terminated_ones() -> None:
    dispatcher = SwarmDispatcher(Swarm(), phase_s=0.0)
    assert (dispatcher.name, dispatcher.period_s) == ("dispatcher", 5.0)
    nodes = (
        node("node-1", heartbeat_s=0.0, state="failed"),
        node("node-2", heartbeat_s=0.0, state="terminated"),
        node("node-3", heartbeat_s=25.0),
    )
    first = dispatcher.decide(snapshot(20.0, 4, nodes=nodes))
    assert [(a.kind, a.target) for a in first.actions] == [
        ("unroute_node", "node-1"),
        ("evict_node", "node-1"),
    ]
    assert "node-1 silent 20.0 s" in first.reason
    assert not dispatcher.decide(snapshot(25.0, 4, nodes=nodes)).actions


def test_controller_identities() -> None:
    rng = np.random.default_rng(0)
    swarm_operator = SwarmOperator(
        Operator(), baseline_replicas=2, node_type="m5.large", max_nodes=4, phase_s=3.0, rng=rng
    )
    assert (swarm_operator.name, swarm_operator.period_s, swarm_operator.phase_s) == (
        "operator",
        5.0,
        3.0,
    )
    schedule = SwarmSchedule([])
    assert (schedule.name, schedule.period_s) == ("schedule", 1.0)
    assert schedule.decide(snapshot(0.0, 4)).reason

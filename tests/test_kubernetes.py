"""The node lifecycle controller: a silent node is unrouted after the grace period, its pods
evicted after the toleration, and a healthy cluster lets the controller wait for a change."""

from __future__ import annotations

import math

import pytest
from test_swarm_policy import node

from sim.config.policies import NodeLifecycle
from sim.policies.base import NodeView, Observation
from sim.policies.kubernetes import NodeLifecycleController

SETTINGS = NodeLifecycle()
GRACE_S = SETTINGS.node_monitor_grace_s
EVICT_S = GRACE_S + SETTINGS.pod_eviction_toleration_s


def observe(now_s: float, *nodes: NodeView) -> Observation:
    return Observation(now_s=now_s, replicas=(), nodes=nodes, desired_replicas=0)


CASES = {
    # (seconds since the crash) -> (actions, waits for a change, code)
    "healthy": (None, [], True, "NodesHealthy"),
    "silent-within-grace": (GRACE_S, [], False, "NodeSilent"),
    "just-past-grace": (GRACE_S + 1, [("unroute_node", "node-1")], False, "NodeNotReady"),
    "within-toleration": (EVICT_S, [], False, "NodeSilent"),  # unrouted at the previous call
    "just-past-toleration": (
        EVICT_S + 1,
        [("evict_node", "node-1")],
        False,
        "TaintManagerEviction",
    ),
    "handled": (EVICT_S + 60, [], True, "NodesHealthy"),
}


def test_node_lifecycle_case_table() -> None:
    # One controller called as time goes on: it keeps what it has already done.
    controller = NodeLifecycleController(SETTINGS)
    crash_s = 1000.0
    for name, (silent_s, actions, waits, code) in CASES.items():
        now_s = crash_s + (silent_s if silent_s is not None else -crash_s / 2)
        dead = node(
            "node-1", heartbeat_s=crash_s if silent_s is not None else now_s, state="failed"
        )
        decision = controller.decide(observe(now_s, node("node-0", heartbeat_s=now_s), dead))
        assert [(a.kind, a.target) for a in decision.actions] == actions, name
        assert decision.wait_for_change is waits, name
        assert decision.code == code, name
        assert all(action.code == code for action in decision.actions), name


def test_terminated_nodes_are_ignored() -> None:
    decision = NodeLifecycleController(SETTINGS).decide(
        observe(
            5000.0,
            node("node-0", heartbeat_s=5000.0),
            node("node-1", heartbeat_s=0.0, state="terminated"),
        )
    )
    assert decision.actions == () and decision.wait_for_change


def test_a_node_without_a_heartbeat_time_is_not_silent() -> None:
    decision = NodeLifecycleController(SETTINGS).decide(
        observe(10.0, node("node-0", heartbeat_s=math.nan))
    )
    assert decision.actions == () and decision.wait_for_change


def test_a_decision_with_actions_cannot_wait() -> None:
    from sim.policies.base import Action, Decision

    with pytest.raises(ValueError, match="cannot wait"):
        Decision(actions=(Action("set_replicas", 3),), wait_for_change=True)


def test_nodes_that_fail_together_are_unrouted_before_any_is_evicted() -> None:
    # node-1 died long ago, node-2 just now: one call unroutes node-2 and evicts node-1,
    # unroutes first (node order within each), as the taint manager runs after the monitor.
    controller = NodeLifecycleController(SETTINGS)
    now_s = 2000.0
    first, second = (
        node("node-1", heartbeat_s=now_s - EVICT_S - 1, state="failed"),
        node("node-2", heartbeat_s=0.0, state="failed"),
    )
    decision = controller.decide(observe(now_s, first, second))
    assert [(a.kind, a.target, a.code) for a in decision.actions] == [
        ("unroute_node", "node-1", "NodeNotReady"),
        ("unroute_node", "node-2", "NodeNotReady"),
        ("evict_node", "node-1", "TaintManagerEviction"),
        ("evict_node", "node-2", "TaintManagerEviction"),
    ]
    assert decision.code == "NodeNotReady"  # the first action's

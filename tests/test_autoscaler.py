"""The cluster autoscaler: scale-up sizing and expanders, scale-down timing and limits, and the
watchdogs for nodes that never boot or stop reporting.

Clusters are written as layouts: each node is a list of its pods' CPU requests (m5.xlarge-sized
nodes, 4000 m / 16384 MiB allocatable, 512 MiB per pod unless a case says otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from sim.config.policies import ClusterAutoscaler
from sim.config.schema import Cluster
from sim.policies.autoscaler import (
    ClusterAutoscalerController,
    NodeGroup,
    node_groups_for,
)
from sim.policies.base import Decision, NodeView, Observation, ReplicaView

M5_XLARGE = NodeGroup(cpu_m=4000, memory_mib=16384, price_per_hour_usd=0.192)
C6I_2XLARGE = NodeGroup(cpu_m=8000, memory_mib=16384, price_per_hour_usd=0.34)
R6I_LARGE = NodeGroup(cpu_m=2000, memory_mib=16384, price_per_hour_usd=0.126)
C6I_XLARGE = NodeGroup(cpu_m=4000, memory_mib=8192, price_per_hour_usd=0.17)


def make_node(name: str, index: int, **fields: Any) -> NodeView:
    """An empty ready m5.xlarge; :func:`observe` sets a heartbeat left NaN to its ``now_s``."""
    values: dict[str, Any] = {
        "type_name": "m5.xlarge",
        "state": "ready",
        "cpu_m": 4000,
        "memory_mib": 16384,
        "requested_cpu_m": 0,
        "requested_memory_mib": 0,
        "replicas": 0,
        "launched_s": 0.0,
        "ready_s": 0.0,
        "heartbeat_s": math.nan,
        "price_per_hour_usd": 0.192,
    }
    return NodeView(name=name, index=index, **{**values, **fields})


def make_replica(
    name: str, node: str | None, cpu_m: int = 1000, memory_mib: int = 512
) -> ReplicaView:
    """A ready replica on ``node``, or a pending one when ``node`` is None."""
    return ReplicaView(
        name=name,
        node=node,
        state="ready" if node is not None else "pending",
        created_s=0.0,
        started_s=0.0 if node is not None else math.nan,
        ready_s=0.0 if node is not None else math.nan,
        cpu_request_m=cpu_m,
        memory_request_mib=memory_mib,
    )


def observe(
    now_s: float,
    layout: Sequence[Sequence[int]],
    *,
    pending: Sequence[int] = (),
    pod_memory_mib: int = 512,
    extra_nodes: Sequence[NodeView] = (),
    node_fields: dict[int, dict[str, Any]] | None = None,
) -> Observation:
    """Nodes ``node-i`` holding pods with the CPU requests of ``layout[i]``, plus pending pods
    with the CPU requests in ``pending`` and any ``extra_nodes``; heartbeats are ``now_s``
    unless set."""
    nodes: list[NodeView] = []
    replicas: list[ReplicaView] = []
    for index, pods in enumerate(layout):
        name = f"node-{index}"
        on_node = [
            make_replica(f"{name}-pod-{k}", name, cpu_m, pod_memory_mib)
            for k, cpu_m in enumerate(pods)
        ]
        replicas += on_node
        fields = {
            "requested_cpu_m": sum(pods),
            "requested_memory_mib": pod_memory_mib * len(pods),
            "replicas": len(pods),
            **(node_fields or {}).get(index, {}),
        }
        nodes.append(make_node(name, index, **fields))
    nodes += extra_nodes
    nodes = [
        replace(node, heartbeat_s=now_s) if math.isnan(node.heartbeat_s) else node for node in nodes
    ]
    replicas += [
        make_replica(f"pending-{k}", None, cpu_m, pod_memory_mib) for k, cpu_m in enumerate(pending)
    ]
    return Observation(
        now_s=now_s, replicas=tuple(replicas), nodes=tuple(nodes), desired_replicas=len(replicas)
    )


def controller(
    *,
    groups: dict[str, NodeGroup] | None = None,
    min_nodes: int = 0,
    max_nodes: int = 20,
    max_pods_per_node: int = 110,
    seed: int = 0,
    **settings: Any,
) -> ClusterAutoscalerController:
    return ClusterAutoscalerController(
        ClusterAutoscaler(**settings),
        node_groups=groups or {"m5.xlarge": M5_XLARGE},
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        max_pods_per_node=max_pods_per_node,
        phase_s=0.0,
        rng=np.random.default_rng(seed),
    )


def launches(decision: Decision) -> list[tuple[int | float | str, str]]:
    return [(a.value, a.target) for a in decision.actions if a.kind == "launch_nodes"]


def targets(decision: Decision, kind: str) -> list[str]:
    return [a.target for a in decision.actions if a.kind == kind]


FULL = [1000, 1000, 1000, 1000]

# --- scale-up sizing -------------------------------------------------------------------------

UP = "TriggeredScaleUp"
SCALE_UP_CASES = {
    # (layout, pending CPU requests) -> nodes launched (None: no scale-up), the scan's code
    "5-pods-2-full-nodes": ([FULL, FULL], [1000] * 5, 2, UP),  # 4 + 1 on new nodes
    # 3 + 3 free cores: the pods will be placed where they are
    "5-pods-fit-existing-room": ([[1000], [1000]], [1000] * 5, None, "ScaleUpInProgress"),
    "one-fits-existing-4-need-1": ([[1000] * 3], [1000] * 5, 1, UP),
    "two-fit-existing-3-need-1": ([[1000, 1000]], [1000] * 5, 1, UP),
    "1500m-pods-two-per-node": ([FULL], [1500] * 9, 5, UP),
    "first-fit-decreasing": ([FULL], [1000, 1000, 3000, 3000], 2, UP),  # plain first fit needs 3
    "exactly-one-node-of-work": ([FULL], [1000] * 4, 1, UP),
    "one-core-more": ([FULL], [1000] * 5, 2, UP),
    "no-pending": ([FULL], [], None, "NoCandidates"),
}


@pytest.mark.parametrize(
    ("layout", "pending", "expected", "code"), SCALE_UP_CASES.values(), ids=SCALE_UP_CASES.keys()
)
def test_scale_up_count(
    layout: list[list[int]], pending: list[int], expected: int | None, code: str
) -> None:
    decision = controller().decide(observe(0, layout, pending=pending))
    assert launches(decision) == ([] if expected is None else [(expected, "m5.xlarge")])
    assert decision.code == code


def test_memory_bound_pods_pack_by_memory() -> None:
    # 500 m / 6000 MiB: two per 16384 MiB node, so 3 pods need 2 nodes.
    decision = controller().decide(observe(0, [], pending=[500] * 3, pod_memory_mib=6000))
    assert launches(decision) == [(2, "m5.xlarge")]


def test_max_pods_per_node_limits_the_packing() -> None:
    decision = controller(max_pods_per_node=2).decide(observe(0, [], pending=[100] * 5))
    assert launches(decision) == [(3, "m5.xlarge")]


def test_scale_up_reason() -> None:
    decision = controller().decide(observe(0, [FULL, FULL], pending=[1000] * 5))
    # 2 new nodes: idle CPU 3000/8000, idle memory (32768 − 2560)/32768.
    assert decision.reason == (
        "5 pods unschedulable: +2 m5.xlarge (least-waste: 38% idle CPU, 92% idle memory)"
    )


# --- upcoming capacity -----------------------------------------------------------------------

UPCOMING_CASES = {
    "provisioning-node-absorbs-4": (4, None, "ScaleUpInProgress"),
    "fifth-pod-needs-another": (5, 1, UP),
}


@pytest.mark.parametrize(
    ("pending", "expected", "code"), UPCOMING_CASES.values(), ids=UPCOMING_CASES
)
def test_upcoming_capacity_counts(pending: int, expected: int | None, code: str) -> None:
    booting = make_node("node-1", 1, state="provisioning", launched_s=0.0)
    decision = controller().decide(
        observe(60, [FULL], pending=[1000] * pending, extra_nodes=[booting])
    )
    assert launches(decision) == ([] if expected is None else [(expected, "m5.xlarge")])
    assert decision.code == code


def test_no_double_scale_up_while_nodes_boot() -> None:
    autoscaler = controller()
    first = autoscaler.decide(observe(0, [FULL], pending=[1000] * 6))
    assert launches(first) == [(2, "m5.xlarge")]
    booting = [make_node(f"node-{i}", i, state="provisioning", launched_s=0.0) for i in (1, 2)]
    second = autoscaler.decide(observe(10, [FULL], pending=[1000] * 6, extra_nodes=booting))
    assert launches(second) == []


# --- max_nodes -------------------------------------------------------------------------------

MAX_NODES_CASES = {
    # 3 full nodes and 9 pending one-core pods (3 nodes of work) -> launched, code
    "room-for-all-3": (6, [(3, "m5.xlarge")], UP),
    "room-for-2": (5, [(2, "m5.xlarge")], UP),
    "room-for-1": (4, [(1, "m5.xlarge")], UP),
    "at-max": (3, [], "MaxNodesTotalReached"),
}


@pytest.mark.parametrize(
    ("max_nodes", "expected", "code"), MAX_NODES_CASES.values(), ids=MAX_NODES_CASES
)
def test_max_nodes_caps_the_scale_up(
    max_nodes: int, expected: list[tuple[int, str]], code: str
) -> None:
    decision = controller(max_nodes=max_nodes).decide(
        observe(0, [FULL, FULL, FULL], pending=[1000] * 9)
    )
    assert launches(decision) == expected
    assert decision.code == code


def test_partial_scale_up_and_max_reached_reasons() -> None:
    observation = observe(0, [FULL, FULL, FULL], pending=[1000] * 9)
    partial = controller(max_nodes=5).decide(observation)
    assert partial.reason.startswith("9 pods unschedulable: +2 m5.xlarge for 8 of them (")
    capped = controller(max_nodes=3).decide(observation)
    assert capped.reason == "9 pods unschedulable: max_nodes 3 reached"


def test_max_nodes_counts_every_node_not_terminated() -> None:
    extra = [
        make_node("node-2", 2, state="failed", heartbeat_s=0.0),
        make_node("node-3", 3, state="provisioning", requested_cpu_m=4000),
        make_node("node-4", 4, state="terminated"),
    ]
    decision = controller(max_nodes=5).decide(
        observe(0, [FULL, FULL], pending=[1000] * 9, extra_nodes=extra)
    )
    assert launches(decision) == [(1, "m5.xlarge")]


# --- expanders -------------------------------------------------------------------------------

TWO_GROUPS = {"m5.xlarge": M5_XLARGE, "c6i.2xlarge": C6I_2XLARGE}

EXPANDER_CASES = {
    # (expander, groups, pending CPU requests, pod memory, max nodes) -> launch
    # 6 pods: m5 ×2 wastes 25% CPU + 90.6% memory, c6i ×1 25% CPU + 81.3% memory.
    "least-waste-cpu-tie-memory-decides": (
        "least-waste",
        TWO_GROUPS,
        [1000] * 6,
        512,
        20,
        (1, "c6i.2xlarge"),
    ),
    # 3 pods: m5 ×1 wastes 25% CPU, c6i ×1 62.5%.
    "least-waste-less-idle-cpu": ("least-waste", TWO_GROUPS, [1000] * 3, 512, 20, (1, "m5.xlarge")),
    # 3 pods of 1000 m / 2048 MiB: A (4000 m, 16384 MiB) wastes 25% CPU + 62.5% memory = 0.875,
    # B (5000 m, 8192 MiB) 40% CPU + 25% memory = 0.65: upstream's sum picks B although its
    # CPU waste is higher.
    "least-waste-sums-cpu-and-memory": (
        "least-waste",
        {"a": NodeGroup(4000, 16384, 0.2), "b": NodeGroup(5000, 8192, 0.2)},
        [1000] * 3,
        2048,
        20,
        (1, "b"),
    ),
    # 3 pods: m5 ×1 at $0.192/h, c6i ×1 at $0.34/h.
    "price-small-wins": ("price", TWO_GROUPS, [1000] * 3, 512, 20, (1, "m5.xlarge")),
    # 6 pods: m5 ×2 at $0.384/h, c6i ×1 at $0.34/h.
    "price-one-large-cheaper": ("price", TWO_GROUPS, [1000] * 6, 512, 20, (1, "c6i.2xlarge")),
    # One node of room (1 existing): m5 hosts 4 of 6 pods, c6i all 6.
    "most-pods-larger-hosts-more": (
        "most-pods",
        TWO_GROUPS,
        [1000] * 6,
        512,
        2,
        (1, "c6i.2xlarge"),
    ),
    # 500 m / 4096 MiB pods, one node of room: r6i.large hosts 4 (CPU 4, memory 4),
    # c6i.xlarge only 2 (memory-bound).
    "most-pods-memory-bound": (
        "most-pods",
        {"r6i.large": R6I_LARGE, "c6i.xlarge": C6I_XLARGE},
        [500] * 6,
        4096,
        2,
        (1, "r6i.large"),
    ),
}


@pytest.mark.parametrize(
    ("expander", "groups", "pending", "memory_mib", "max_nodes", "expected"),
    EXPANDER_CASES.values(),
    ids=EXPANDER_CASES.keys(),
)
def test_expander_choice(
    expander: str,
    groups: dict[str, NodeGroup],
    pending: list[int],
    memory_mib: int,
    max_nodes: int,
    expected: tuple[int, str],
) -> None:
    autoscaler = controller(expander=expander, groups=groups, max_nodes=max_nodes)
    decision = autoscaler.decide(
        observe(0, [[1000] * 4], pending=pending, pod_memory_mib=memory_mib)
    )
    assert launches(decision) == [expected]


@pytest.mark.parametrize("expander", ["random", "least-waste"])
def test_ties_and_random_expander_use_the_generator(expander: str) -> None:
    twins = {"m5.xlarge": M5_XLARGE, "m6i.xlarge": M5_XLARGE}
    groups = twins if expander == "least-waste" else TWO_GROUPS

    def chosen(seed: int) -> str:
        decision = controller(expander=expander, groups=groups, seed=seed).decide(
            observe(0, [FULL], pending=[1000] * 3)
        )
        return str(decision.actions[0].target)

    picks = [chosen(seed) for seed in range(40)]
    assert set(picks) == set(groups)
    assert picks == [chosen(seed) for seed in range(40)]


def test_pods_no_group_can_host_trigger_nothing() -> None:
    decision = controller().decide(observe(0, [FULL], pending=[6000]))
    assert decision.actions == ()
    assert decision.reason == "1 pod unschedulable: no node group fits"
    assert decision.code == "NotTriggerScaleUp"


# --- scale-down timing -----------------------------------------------------------------------

# node-0 at 75% can take node-1's single one-core pod; node-1 (25%) is unneeded.
SHRINKABLE = [[1000, 1000, 1000], [1000]]

UNNEEDED_TIME_CASES = {
    "599-s-kept": (599, [], "CandidatesPresent"),
    "600-s-removed": (600, ["node-1"], "ScaleDown"),
}


@pytest.mark.parametrize(
    ("later_s", "expected", "code"), UNNEEDED_TIME_CASES.values(), ids=UNNEEDED_TIME_CASES
)
def test_unneeded_time(later_s: float, expected: list[str], code: str) -> None:
    autoscaler = controller()
    assert autoscaler.decide(observe(0, SHRINKABLE)).actions == ()
    decision = autoscaler.decide(observe(later_s, SHRINKABLE))
    assert targets(decision, "remove_node") == expected
    assert decision.code == code


def test_scale_down_reason() -> None:
    autoscaler = controller()
    autoscaler.decide(observe(0, SHRINKABLE))
    decision = autoscaler.decide(observe(600, SHRINKABLE))
    assert decision.reason == "node-1 unneeded for 600 s at 25% requested: remove"


def test_a_needed_scan_restarts_the_unneeded_clock() -> None:
    autoscaler = controller()
    autoscaler.decide(observe(0, SHRINKABLE))
    autoscaler.decide(observe(300, [[1000, 1000, 1000], [1000, 1000]]))  # 50%: needed
    assert autoscaler.decide(observe(600, SHRINKABLE)).actions == ()
    assert targets(autoscaler.decide(observe(1200, SHRINKABLE)), "remove_node") == ["node-1"]


DELAY_AFTER_ADD_CASES = {"599-s-after-add-kept": (599, []), "600-s-after-add": (600, ["node-1"])}


@pytest.mark.parametrize(
    ("later_s", "expected"), DELAY_AFTER_ADD_CASES.values(), ids=DELAY_AFTER_ADD_CASES
)
def test_delay_after_add(later_s: float, expected: list[str]) -> None:
    autoscaler = controller(scale_down_unneeded_s=0)
    assert launches(autoscaler.decide(observe(0, [FULL], pending=[1000]))) == [(1, "m5.xlarge")]
    decision = autoscaler.decide(observe(later_s, SHRINKABLE))
    assert targets(decision, "remove_node") == expected


THRESHOLD_CASES = {
    # node-1's one pod (node-0 holds 2000 m and has room for it)
    "cpu-0.49-unneeded": (1960, 512, ["node-1"]),
    "cpu-0.50-needed": (2000, 512, []),
    "memory-0.50-needed": (400, 8192, []),
    "memory-0.49-unneeded": (400, 8028, ["node-1"]),
}


@pytest.mark.parametrize(
    ("cpu_m", "memory_mib", "expected"), THRESHOLD_CASES.values(), ids=THRESHOLD_CASES
)
def test_utilization_threshold(cpu_m: int, memory_mib: int, expected: list[str]) -> None:
    observation = observe(
        0,
        [[2000], [cpu_m]],
        node_fields={1: {"requested_memory_mib": memory_mib}},
    )
    decision = controller(scale_down_unneeded_s=0).decide(observation)
    assert targets(decision, "remove_node") == expected


# --- what may be removed ---------------------------------------------------------------------


def test_pods_that_cannot_move_block_removal() -> None:
    decision = controller(scale_down_unneeded_s=0).decide(observe(0, [FULL, [1000]]))
    assert targets(decision, "remove_node") == []


def test_two_quarter_nodes_cannot_both_go() -> None:
    # Either pod fits on the other node, but not both gone: the newer node goes.
    decision = controller(scale_down_unneeded_s=0).decide(observe(0, [[1000], [1000]]))
    assert targets(decision, "remove_node") == ["node-1"]


def test_unready_nodes_are_no_destination() -> None:
    observation = observe(0, [[], [1000]], node_fields={0: {"state": "failed", "heartbeat_s": 0.0}})
    decision = controller(scale_down_unneeded_s=0).decide(observation)
    assert targets(decision, "remove_node") == []


MIN_NODES_CASES = {
    # three empty ready nodes -> how many removed, the scan's code
    "min-0": (0, 3, "ScaleDownEmpty"),
    "min-1": (1, 2, "ScaleDownEmpty"),
    "min-2": (2, 1, "ScaleDownEmpty"),
    "min-3": (3, 0, "CandidatesPresent"),
}


@pytest.mark.parametrize(
    ("min_nodes", "expected", "code"), MIN_NODES_CASES.values(), ids=MIN_NODES_CASES
)
def test_min_nodes(min_nodes: int, expected: int, code: str) -> None:
    decision = controller(min_nodes=min_nodes, scale_down_unneeded_s=0).decide(
        observe(0, [[], [], []])
    )
    assert len(targets(decision, "remove_node")) == expected
    assert decision.code == code


def test_min_nodes_counts_provisioning_nodes() -> None:
    booting = make_node("node-2", 2, state="provisioning", launched_s=0.0)
    decision = controller(min_nodes=2, scale_down_unneeded_s=0).decide(
        observe(60, [[], []], extra_nodes=[booting])
    )
    assert len(targets(decision, "remove_node")) == 1


def test_empty_nodes_go_first_with_one_non_empty() -> None:
    # node-3..node-5 are empty; node-1 and node-2 can both move onto node-0.
    layout = [[1000], [1000], [1000], [], [], []]
    decision = controller(scale_down_unneeded_s=0).decide(observe(0, layout))
    assert targets(decision, "remove_node") == ["node-5", "node-4", "node-3", "node-2"]
    codes = [action.code for action in decision.actions]
    assert codes == ["ScaleDownEmpty"] * 3 + ["ScaleDown"]  # upstream's two removal events


def test_at_most_ten_nodes_at_once() -> None:
    decision = controller(scale_down_unneeded_s=0).decide(observe(0, [[] for _ in range(12)]))
    assert len(targets(decision, "remove_node")) == 10


def test_one_non_empty_node_per_scan() -> None:
    decision = controller(scale_down_unneeded_s=0).decide(observe(0, [[1000], [1000], [1000]]))
    assert targets(decision, "remove_node") == ["node-2"]


def test_a_drain_in_progress_blocks_another_non_empty_removal() -> None:
    draining = make_node("node-9", 9, state="draining", replicas=1, requested_cpu_m=1000)
    decision = controller(scale_down_unneeded_s=0).decide(
        observe(0, [[1000], [1000], []], extra_nodes=[draining])
    )
    assert targets(decision, "remove_node") == ["node-2"]


def test_pending_pods_hold_scale_down() -> None:
    # The pending pod fits node-0's room: the scheduler is about to use it.
    decision = controller(scale_down_unneeded_s=0).decide(observe(0, [[1000], []], pending=[1000]))
    assert decision.actions == ()
    assert decision.code == "ScaleUpInProgress"


def test_unhelpable_pending_pods_do_not_hold_scale_down() -> None:
    decision = controller(scale_down_unneeded_s=0).decide(observe(0, [[1000], []], pending=[9000]))
    assert targets(decision, "remove_node") == ["node-1"]


def test_scale_down_disabled() -> None:
    decision = controller(scale_down_enabled=False, scale_down_unneeded_s=0).decide(
        observe(0, [[], []])
    )
    assert decision.actions == ()


def test_disabled_autoscaler_does_nothing() -> None:
    decision = controller(enabled=False).decide(observe(0, [FULL], pending=[1000] * 5))
    assert decision == Decision(code="ClusterAutoscalerDisabled")


# --- node health -----------------------------------------------------------------------------

WATCHDOG_CASES = {
    "899-s-waiting": (899, [], "NoCandidates"),
    "900-s-limit": (900, [], "NoCandidates"),
    "901-s-gone": (901, ["b"], "DeleteUnregistered"),
}


@pytest.mark.parametrize(("now_s", "expected", "code"), WATCHDOG_CASES.values(), ids=WATCHDOG_CASES)
def test_provisioning_watchdog(now_s: float, expected: list[str], code: str) -> None:
    booting = make_node("b", 5, state="provisioning", launched_s=0.0)
    decision = controller().decide(observe(now_s, [FULL], extra_nodes=[booting]))
    assert targets(decision, "terminate_node") == expected
    assert decision.code == code


def test_a_late_node_is_no_longer_upcoming_capacity() -> None:
    booting = make_node("b", 5, state="provisioning", launched_s=0.0)
    autoscaler = controller(max_nodes=2)
    waiting = autoscaler.decide(observe(899, [FULL], pending=[1000] * 2, extra_nodes=[booting]))
    assert waiting.actions == ()
    decision = autoscaler.decide(observe(901, [FULL], pending=[1000] * 2, extra_nodes=[booting]))
    assert targets(decision, "terminate_node") == ["b"]
    assert launches(decision) == [(1, "m5.xlarge")]
    assert decision.reason.startswith("b not ready 901 s after launch (limit 900 s): terminate; ")
    # two causes in one scan: each action says its own, the decision takes the first
    assert [action.code for action in decision.actions] == ["DeleteUnregistered", UP]
    assert decision.code == "DeleteUnregistered"


UNREADY_CASES = {
    # (last heartbeat, state, scan times) -> terminated at the last scan, its code
    "heartbeat-60-s-old-is-not-unready-yet": (940, "ready", [1000, 1010, 2200], [], "NoCandidates"),
    "unready-1199-s": (939, "ready", [1000, 2199], [], "NoCandidates"),
    "unready-1200-s": (939, "ready", [1000, 2200], ["node-1"], "ScaleDownUnready"),
    "failed-1200-s": (1000, "failed", [1000, 2200], ["node-1"], "ScaleDownUnready"),
}


@pytest.mark.parametrize(
    ("heartbeat_s", "state", "scans_s", "expected", "code"),
    UNREADY_CASES.values(),
    ids=UNREADY_CASES,
)
def test_unready_node_removal(
    heartbeat_s: float, state: str, scans_s: list[float], expected: list[str], code: str
) -> None:
    autoscaler = controller()
    fields = {1: {"state": state, "heartbeat_s": heartbeat_s}}
    decisions = [
        autoscaler.decide(observe(now_s, [FULL, FULL], node_fields=fields)) for now_s in scans_s
    ]
    assert all(decision.actions == () for decision in decisions[:-1])
    assert targets(decisions[-1], "terminate_node") == expected
    assert decisions[-1].code == code


# --- construction ----------------------------------------------------------------------------


def test_node_groups_from_the_catalogue_minus_reservations() -> None:
    cluster = Cluster(reserved_cpu_m=100, reserved_memory_mib=512)
    groups = node_groups_for(cluster, ClusterAutoscaler())
    assert groups == {"m5.xlarge": NodeGroup(3900, 15872, 0.192)}
    both = node_groups_for(cluster, ClusterAutoscaler(node_groups=("m5.xlarge", "c6i.2xlarge")))
    assert list(both) == ["m5.xlarge", "c6i.2xlarge"]


def test_construction_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"'m9\.huge' is not in the catalogue"):
        node_groups_for(Cluster(), ClusterAutoscaler(node_groups=("m9.huge",)))
    with pytest.raises(ValueError, match="allocatable CPU and memory must be positive"):
        node_groups_for(Cluster(reserved_cpu_m=4000), ClusterAutoscaler())
    with pytest.raises(ValueError, match="min_nodes 3, max_nodes 2"):
        controller(min_nodes=3, max_nodes=2)
    with pytest.raises(ValueError, match="at least one node group"):
        ClusterAutoscalerController(
            ClusterAutoscaler(),
            node_groups={},
            min_nodes=0,
            max_nodes=1,
            max_pods_per_node=110,
            phase_s=0.0,
            rng=np.random.default_rng(0),
        )


def test_controller_timing_attributes() -> None:
    autoscaler = controller(scan_interval_s=15)
    assert (autoscaler.name, autoscaler.period_s, autoscaler.phase_s) == (
        "cluster-autoscaler",
        15,
        0.0,
    )


# --- waiting for a change ----------------------------------------------------------------------

BOOTING = make_node("node-9", 9, state="provisioning", launched_s=0.0, ready_s=math.nan)
DRAINING = make_node("node-9", 9, state="draining")
SETTLED_CASES = {
    # (layout, pending, extra nodes) -> whether the scan may wait for a change
    "full-cluster-nothing-to-do": ([FULL, FULL], [], [], True),
    "above-threshold-nodes-stay": ([[1000, 1000, 1000], [1000, 1000, 1000]], [], [], True),
    "pending-pods-that-fit": ([[1000]], [1000], [], False),
    "a-node-booting": ([FULL], [], [BOOTING], False),
    "a-node-draining": ([FULL], [], [DRAINING], False),
    "a-node-on-the-unneeded-clock": ([[1000, 1000], [1000]], [], [], False),
}


@pytest.mark.parametrize(
    ("layout", "pending", "extra", "settled"), SETTLED_CASES.values(), ids=SETTLED_CASES.keys()
)
def test_a_scan_waits_for_a_change_only_when_no_clock_or_pod_can_make_it_act(
    layout: list[list[int]], pending: list[int], extra: list[NodeView], settled: bool
) -> None:
    decision = controller().decide(observe(100, layout, pending=pending, extra_nodes=extra))
    assert decision.wait_for_change is settled


def test_an_unready_node_keeps_the_scans_going_until_it_is_removed() -> None:
    autoscaler = controller()
    failed = {0: {"state": "failed", "heartbeat_s": 0.0}}
    first = autoscaler.decide(observe(10, [FULL, FULL], node_fields=failed))
    assert first.actions == () and not first.wait_for_change
    assert targets(
        autoscaler.decide(observe(1210, [FULL, FULL], node_fields=failed)), "terminate_node"
    ) == ["node-0"]

"""Placement: the kube-scheduler's filter, scores and tie-break, and Swarm's spread.

Scores are checked against upstream's integer formulas on hand-computed examples; every filter
has its boundary pair (exactly full, one unit over).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from sim.policies.base import NodeView, ReplicaView
from sim.policies.scheduling import (
    balanced_allocation_score,
    balanced_score,
    fits,
    kube_scheduler,
    least_allocated_score,
    most_allocated_score,
    node_score,
    resource_fit_score,
    swarm_spread,
)


def node(name: str = "node-0", index: int = 0, **fields: Any) -> NodeView:
    """An m5.xlarge-sized ready worker (4000 m, 16384 MiB), empty unless ``fields`` say."""
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
        "heartbeat_s": 0.0,
        "price_per_hour_usd": 0.192,
    }
    return NodeView(name=name, index=index, **{**values, **fields})


def replica(cpu_m: int = 1000, memory_mib: int = 512) -> ReplicaView:
    """A pending replica with these requests."""
    return ReplicaView(
        name="web-0",
        node=None,
        state="pending",
        created_s=0.0,
        started_s=math.nan,
        ready_s=math.nan,
        cpu_request_m=cpu_m,
        memory_request_mib=memory_mib,
    )


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- filter ------------------------------------------------------------------------------------

FIT_CASES = {
    # (node fields, replica cpu m, replica memory MiB, max pods) -> fits
    "cpu-exactly-full": ({"requested_cpu_m": 3000}, 1000, 512, 110, True),
    "cpu-one-millicore-over": ({"requested_cpu_m": 3001}, 1000, 512, 110, False),
    "memory-exactly-full": ({"requested_memory_mib": 15872}, 1000, 512, 110, True),
    "memory-one-mib-over": ({"requested_memory_mib": 15873}, 1000, 512, 110, False),
    "109-pods-of-110": ({"replicas": 109}, 10, 1, 110, True),
    "110-pods-of-110": ({"replicas": 110}, 10, 1, 110, False),
    "no-pod-limit": ({"replicas": 500}, 10, 1, None, True),
    "zero-request-on-full-node": ({"requested_cpu_m": 4000}, 0, 0, 110, True),
}


@pytest.mark.parametrize(
    ("fields", "cpu_m", "memory_mib", "max_pods", "expected"),
    FIT_CASES.values(),
    ids=FIT_CASES.keys(),
)
def test_fits_boundaries(
    fields: dict[str, Any], cpu_m: int, memory_mib: int, max_pods: int | None, expected: bool
) -> None:
    assert fits(node(**fields), cpu_m, memory_mib, max_pods) is expected


@pytest.mark.parametrize(
    ("fields", "cpu_m", "memory_mib", "max_pods", "expected"),
    [case for case in FIT_CASES.values() if case[3] is not None],
    ids=[name for name, case in FIT_CASES.items() if case[3] is not None],
)
def test_kube_scheduler_filters_by_fit(
    fields: dict[str, Any], cpu_m: int, memory_mib: int, max_pods: int, expected: bool
) -> None:
    place = kube_scheduler(max_pods_per_node=max_pods)
    chosen = place([node(**fields)], replica(cpu_m, memory_mib), rng())
    assert chosen == ("node-0" if expected else None)


EXCLUDED_NODES = {
    "provisioning": {"state": "provisioning"},
    "draining": {"state": "draining"},
    "failed": {"state": "failed"},
    "terminated": {"state": "terminated"},
    "unroutable": {"unroutable": True},
}


@pytest.mark.parametrize("fields", EXCLUDED_NODES.values(), ids=EXCLUDED_NODES.keys())
def test_kube_scheduler_skips_nodes_that_are_not_ready(fields: dict[str, Any]) -> None:
    place = kube_scheduler()
    assert place([node(**fields)], replica(), rng()) is None
    assert place([node(**fields), node("node-1", 1)], replica(), rng()) == "node-1"


# --- scores: upstream's integer formulas ---------------------------------------------------

LEAST_ALLOCATED_CASES = {
    # (requested incl. the pod, allocatable) -> score
    "quarter-free": (3000, 4000, 25),
    "floor-of-two-thirds": (1, 3, 66),
    "empty": (0, 4000, 100),
    "full": (4000, 4000, 0),
    "over-allocatable": (5000, 4000, 0),
    "no-allocatable": (0, 0, 0),
}


@pytest.mark.parametrize(
    ("requested", "allocatable", "expected"),
    LEAST_ALLOCATED_CASES.values(),
    ids=LEAST_ALLOCATED_CASES.keys(),
)
def test_least_allocated_score(requested: int, allocatable: int, expected: int) -> None:
    assert least_allocated_score(requested, allocatable) == expected


MOST_ALLOCATED_CASES = {
    "three-quarters": (3000, 4000, 75),
    "floor-of-two-thirds": (2, 3, 66),
    "empty": (0, 4000, 0),
    "over-allocatable-capped": (5000, 4000, 100),
    "no-allocatable": (0, 0, 0),
}


@pytest.mark.parametrize(
    ("requested", "allocatable", "expected"),
    MOST_ALLOCATED_CASES.values(),
    ids=MOST_ALLOCATED_CASES.keys(),
)
def test_most_allocated_score(requested: int, allocatable: int, expected: int) -> None:
    assert most_allocated_score(requested, allocatable) == expected


BALANCED_CASES = {
    # (cpu fraction, memory fraction) -> int((1 - |f_cpu - f_mem| / 2) * 100)
    "equal": (0.5, 0.5, 100),
    "quarter-apart": (0.25, 0.75, 75),
    "float-just-above-70": (0.7, 0.1, 70),
    "cpu-capped-at-1": (1.5, 0.5, 75),
    "one-resource-empty": (0.3, 0.0, 85),
    "truncated-fraction": (0.5, 0.28125, 89),  # 89.0625
    "truncated-not-rounded": (0.5, 0.25, 87),  # 87.5
}


@pytest.mark.parametrize(
    ("cpu_fraction", "memory_fraction", "expected"),
    BALANCED_CASES.values(),
    ids=BALANCED_CASES.keys(),
)
def test_balanced_allocation_score(
    cpu_fraction: float, memory_fraction: float, expected: int
) -> None:
    assert balanced_allocation_score(cpu_fraction, memory_fraction) == expected


def test_node_score_hand_computed() -> None:
    # 4000 m / 16384 MiB with 1000 m / 4096 MiB requested; the pod asks 1000 m / 512 MiB.
    # After placing: cpu 2000/4000, memory 4608/16384.
    # LeastAllocated: cpu 2000·100//4000 = 50, memory 11776·100//16384 = 71 → (50+71)//2 = 60.
    # MostAllocated:  cpu 50, memory 4608·100//16384 = 28 → (50+28)//2 = 39.
    # Balanced: |0.5 − 0.28125|/2 = 0.109375 → int(89.0625) = 89.
    loaded = node(requested_cpu_m=1000, requested_memory_mib=4096)
    pod = replica(1000, 512)
    assert resource_fit_score(loaded, pod, "LeastAllocated") == 60
    assert resource_fit_score(loaded, pod, "MostAllocated") == 39
    assert balanced_score(loaded, pod) == 89
    assert node_score(loaded, pod, "LeastAllocated") == 149
    assert node_score(loaded, pod, "MostAllocated") == 128


def test_best_effort_pod_gets_no_balance_score() -> None:
    assert balanced_score(node(requested_cpu_m=3000), replica(0, 0)) == 0


# --- scoring strategies ----------------------------------------------------------------------

# A is half used (2000 m, 1024 MiB), B is empty; the pod asks 1000 m / 512 MiB.
# LeastAllocated: A 57 + 67 = 124, B 85 + 89 = 174 → B.  MostAllocated: A 42 + 67 = 109,
# B 14 + 89 = 103 → A.
STRATEGY_CASES = {
    "least-allocated-spreads": ("LeastAllocated", "node-b"),
    "most-allocated-packs": ("MostAllocated", "node-a"),
}


@pytest.mark.parametrize(("scoring", "expected"), STRATEGY_CASES.values(), ids=STRATEGY_CASES)
def test_scoring_strategy_spreads_or_packs(scoring: Any, expected: str) -> None:
    nodes = [
        node("node-a", 0, requested_cpu_m=2000, requested_memory_mib=1024, replicas=2),
        node("node-b", 1),
    ]
    assert kube_scheduler(scoring)(nodes, replica(1000, 512), rng()) == expected


@pytest.mark.parametrize("scoring", ["LeastAllocated", "MostAllocated"])
def test_balanced_allocation_breaks_an_equal_fit_score(scoring: Any) -> None:
    # The pod asks 1000 m / 4096 MiB. After it, X is 0.5 cpu / 0.5 memory and Y 0.25 / 0.75:
    # both fit scores are 50, but X is balanced (100) and Y is not (75).
    balanced_after = node("node-x", 0, requested_cpu_m=1000, requested_memory_mib=4096)
    lopsided_after = node("node-y", 1, requested_cpu_m=0, requested_memory_mib=8192)
    pod = replica(1000, 4096)
    assert resource_fit_score(balanced_after, pod, scoring) == 50
    assert resource_fit_score(lopsided_after, pod, scoring) == 50
    place = kube_scheduler(scoring)
    assert place([lopsided_after, balanced_after], pod, rng()) == "node-x"


def test_max_pods_sends_the_pod_elsewhere() -> None:
    # node-0 would win on score (empty resources) but holds its 3 pods already.
    nodes = [node("node-0", 0, replicas=3), node("node-1", 1, requested_cpu_m=3000)]
    assert kube_scheduler(max_pods_per_node=3)(nodes, replica(), rng()) == "node-1"
    assert kube_scheduler(max_pods_per_node=4)(nodes, replica(), rng()) == "node-0"


# --- tie-break -------------------------------------------------------------------------------


def test_ties_are_broken_at_random_with_the_generator() -> None:
    place = kube_scheduler()
    twins = [node("node-0", 0), node("node-1", 1)]
    generator = rng(7)
    chosen = [place(twins, replica(), generator) for _ in range(200)]
    assert set(chosen) == {"node-0", "node-1"}
    assert 60 < chosen.count("node-0") < 140


def test_a_fixed_seed_gives_a_fixed_sequence() -> None:
    place = kube_scheduler()
    twins = [node(f"node-{i}", i) for i in range(3)]
    first, second = rng(3), rng(3)
    assert [place(twins, replica(), first) for _ in range(20)] == [
        place(twins, replica(), second) for _ in range(20)
    ]


def test_no_tie_leaves_the_generator_untouched() -> None:
    generator = rng(5)
    before = generator.bit_generator.state
    nodes = [node("node-0", 0, requested_cpu_m=2000), node("node-1", 1)]
    assert kube_scheduler()(nodes, replica(), generator) == "node-1"
    assert generator.bit_generator.state == before


def test_kube_scheduler_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="scoring must be one of"):
        kube_scheduler("MostRequested")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_pods_per_node must be at least 1; got 0"):
        kube_scheduler(max_pods_per_node=0)


# --- Swarm spread ----------------------------------------------------------------------------

SPREAD_CASES = {
    # (nodes as (name, index, fields)) -> chosen
    "fewest-replicas": (
        [("a", 0, {"replicas": 3}), ("b", 1, {"replicas": 1}), ("c", 2, {"replicas": 2})],
        "b",
    ),
    "tie-goes-to-lowest-index-not-list-order": (
        [("late", 5, {"replicas": 1}), ("early", 2, {"replicas": 1})],
        "early",
    ),
    "usage-does-not-matter": (
        [("busy", 0, {"replicas": 1, "requested_cpu_m": 3000}), ("idle", 1, {"replicas": 2})],
        "busy",
    ),
    "drained-manager-excluded": (
        [("manager", 0, {"role": "manager-drained"}), ("worker", 1, {"replicas": 3})],
        "worker",
    ),
    "active-manager-runs-tasks": (
        [("manager", 0, {"role": "manager"}), ("worker", 1, {"replicas": 3})],
        "manager",
    ),
    "reservation-exactly-full": (
        [("full", 0, {"requested_cpu_m": 3000}), ("other", 1, {"replicas": 3})],
        "full",
    ),
    "reservation-one-millicore-over": (
        [("full", 0, {"requested_cpu_m": 3001}), ("other", 1, {"replicas": 3})],
        "other",
    ),
    "memory-reservation-over": (
        [("full", 0, {"requested_memory_mib": 15873}), ("other", 1, {"replicas": 3})],
        "other",
    ),
    "no-pod-limit": ([("crowded", 0, {"replicas": 500})], "crowded"),
    "not-ready-excluded": (
        [("booting", 0, {"state": "provisioning"}), ("up", 1, {"replicas": 9})],
        "up",
    ),
    "unroutable-excluded": (
        [("leaving", 0, {"unroutable": True}), ("up", 1, {"replicas": 9})],
        "up",
    ),
    "nothing-fits": ([("full", 0, {"requested_cpu_m": 4000})], None),
}


@pytest.mark.parametrize(("layout", "expected"), SPREAD_CASES.values(), ids=SPREAD_CASES.keys())
def test_swarm_spread(layout: list[tuple[str, int, dict[str, Any]]], expected: str | None) -> None:
    nodes = [node(name, index, **fields) for name, index, fields in layout]
    generator = rng(1)
    before = generator.bit_generator.state
    assert swarm_spread()(nodes, replica(1000, 512), generator) == expected
    assert generator.bit_generator.state == before

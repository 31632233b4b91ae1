"""Policies describe themselves: the registry collects one PolicySpec per policy name.

The planner and the report read only these declarations; the capacity ceilings are checked
against the bound each real system puts on capacity (booking_surge.yaml: 6 replicas of
2 cores each on 3 m5.xlarge nodes of 4 vCPUs, at most 20 nodes).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.config.schema import POLICY_NAMES, Policy
from sim.planning import capacity_ceiling_cores
from sim.policies import registry
from sim.policies.base import CapacityCeiling, PolicySpec
from sim.streams import streams

BOOKING = Path(__file__).resolve().parents[1] / "scenarios" / "booking_surge.yaml"
REPLICA_CORES = 2.0  # the booking container's CPU limit
NODE_CORES = 4.0  # m5.xlarge


def booking(policy: str, **overrides: Any) -> sim.Scenario:
    return sim.load_scenario(BOOKING).with_overrides({**overrides, "policy.name": policy})


def test_every_policy_name_has_exactly_one_spec() -> None:
    assert tuple(registry.POLICIES) == POLICY_NAMES
    for name, spec in registry.POLICIES.items():
        assert spec.name == name
        assert spec.defaults.strip() and spec.sources.strip(), name


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_a_spec_declares_the_settings_model_of_its_block(name: str) -> None:
    spec = registry.policy_spec(name)
    field = Policy.model_fields.get(name)
    assert spec.settings is (None if field is None else field.annotation)


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_a_spec_builds_the_policy_it_names(name: str) -> None:
    scenario = booking(name)
    setup = registry.make_setup(scenario, streams(1))
    assert setup.name == name


def test_an_unknown_policy_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="expected a policy among static"):
        registry.policy_spec("autopilot")


CEILINGS = {
    # policy, overrides → cores: min(replicas × replica cores, nodes × node cores)
    "static: what it starts with": ("static", {}, min(6 * REPLICA_CORES, 3 * NODE_CORES)),
    "kubernetes: HPA max on CA max": ("kubernetes", {}, min(40 * REPLICA_CORES, 20 * NODE_CORES)),
    "kubernetes: a low HPA max binds": (
        "kubernetes",
        {"policy.kubernetes.hpa.max_replicas": 9},
        9 * REPLICA_CORES,
    ),
    "scale_out: VMs × containers": ("scale_out", {}, min(20 * 2 * REPLICA_CORES, 20 * NODE_CORES)),
    "swarm: operator max on max nodes": ("swarm", {}, min(40 * REPLICA_CORES, 20 * NODE_CORES)),
    "swarm: a schedule's top step": (
        "swarm",
        {"policy.swarm.operator": None, "policy.swarm.schedule": [{"at_s": 10, "replicas": 15}]},
        15 * REPLICA_CORES,
    ),
    "scale_up: every node at the top of the ladder": ("scale_up", {}, 3 * 96.0),  # m5.24xlarge
    "reserved CPU comes off every node": (
        "kubernetes",
        {"cluster.reserved_cpu_m": 500},
        20 * (NODE_CORES - 0.5),
    ),
}


@pytest.mark.parametrize(("policy", "overrides", "cores"), CEILINGS.values(), ids=list(CEILINGS))
def test_capacity_ceiling(policy: str, overrides: dict[str, Any], cores: float) -> None:
    assert capacity_ceiling_cores(booking(policy, **overrides)) == pytest.approx(cores)


def test_the_planner_reads_the_ceiling_from_the_policy_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No branch per policy name: a spec with another ceiling changes the planner's bound.
    spec = registry.POLICIES["static"]
    capped = PolicySpec(
        name=spec.name,
        settings=spec.settings,
        build=spec.build,
        capacity_ceiling=lambda scenario: CapacityCeiling(max_replicas=1, max_nodes=1),
        defaults=spec.defaults,
        sources=spec.sources,
    )
    monkeypatch.setitem(registry.POLICIES, "static", capped)
    assert capacity_ceiling_cores(booking("static")) == REPLICA_CORES


def test_an_unbuildable_ladder_leaves_the_bound_out_of_the_way() -> None:
    scenario = booking("scale_up", **{"policy.scale_up.ladder": ["m5.xlarge", "c6i.large"]})
    assert capacity_ceiling_cores(scenario) == math.inf


def test_the_code_table_is_each_policy_s_codes_and_the_world_s() -> None:
    from sim.config.codes import SHARED_CODES, WORLD_CODES

    parts = [SHARED_CODES, WORLD_CODES, *(spec.codes for spec in registry.POLICIES.values())]
    assert sum(len(part) for part in parts) == len(registry.CODES)
    assert registry.POLICIES["kubernetes"].codes["ScaleUpLimit"].emits == "hpa"
    assert registry.POLICIES["swarm"].codes["NodeDown"].emits == "dispatcher"


def test_a_code_declared_twice_is_an_error() -> None:
    from sim.config.codes import Code, merge_codes

    entry = Code("hpa", "a meaning", "coined")
    with pytest.raises(ValueError, match="'ScaleUpLimit' is declared twice"):
        merge_codes({"ScaleUpLimit": entry}, {"ScaleUpLimit": entry})

"""The capacity planner: racing decisions, the theory bound, and answers theory knows."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from sim import theory
from sim.cli import main
from sim.config import ScenarioError
from sim.config.loading import load_scenario, validate_scenario
from sim.config.schema import Scenario
from sim.experiment.runs import execute, replication_specs
from sim.planning import (
    DOMINATED,
    FAILS,
    HOLDS,
    PRUNED,
    UNDECIDED,
    Estimate,
    candidates_of,
    needs_more_runs,
    plan,
    plan_section,
    race,
    theory_bound,
)

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

# --- racing decisions: a pure function of per-candidate statistics ------------------------------

TARGET = 0.9


def _estimate(cost: float, cost_hw: float, attainment: float, attainment_hw: float) -> Estimate:
    return Estimate(3, cost, cost_hw, attainment, attainment_hw)


RACE_CASES = {
    "clearly failing": (
        [_estimate(1.0, 0.1, 0.5, 0.1), _estimate(2.0, 0.1, 0.99, 0.01)],
        [FAILS, HOLDS],
    ),
    "failing just outside the target": (
        [_estimate(1.0, 0.1, 0.85, 0.0499), _estimate(2.0, 0.1, 0.99, 0.01)],
        [FAILS, HOLDS],
    ),
    "undecided just inside the target": (
        [_estimate(1.0, 0.1, 0.85, 0.0501), _estimate(2.0, 0.1, 0.99, 0.01)],
        [UNDECIDED, HOLDS],
    ),
    "holding at the target exactly": ([_estimate(1.0, 0.1, 0.95, 0.05)], [HOLDS]),
    "dearer holder dominated": (
        [_estimate(1.0, 0.1, 0.99, 0.01), _estimate(2.0, 0.1, 0.99, 0.01)],
        [HOLDS, DOMINATED],
    ),
    "overlapping costs both hold": (
        [_estimate(1.0, 0.6, 0.99, 0.01), _estimate(2.0, 0.6, 0.99, 0.01)],
        [HOLDS, HOLDS],
    ),
    "dear undecided dominated": (
        [_estimate(1.0, 0.1, 0.99, 0.01), _estimate(3.0, 0.1, 0.9, 0.2)],
        [HOLDS, DOMINATED],
    ),
    "cheap undecided stays": (
        [_estimate(1.0, 0.1, 0.9, 0.2), _estimate(3.0, 0.1, 0.99, 0.01)],
        [UNDECIDED, HOLDS],
    ),
    "one replication is undecided": (
        [Estimate(1, 1.0, math.nan, 1.0, math.nan)],
        [UNDECIDED],
    ),
}


@pytest.mark.parametrize(("estimates", "expected"), list(RACE_CASES.values()), ids=list(RACE_CASES))
def test_race_sorts_candidates(estimates: list[Estimate], expected: list[str]) -> None:
    assert [verdict.status for verdict in race(estimates, TARGET)] == expected


def test_dominated_candidate_remembers_whether_it_holds() -> None:
    estimates = [
        _estimate(1.0, 0.1, 0.99, 0.01),
        _estimate(2.0, 0.1, 0.99, 0.01),
        _estimate(3.0, 0.1, 0.9, 0.2),
    ]
    assert [verdict.holds_slo for verdict in race(estimates, TARGET)] == [True, True, False]


NEEDS_CASES = {
    "decided: one holder, the rest fail or are dominated": (
        [_estimate(1.0, 0.1, 0.5, 0.1), _estimate(2.0, 0.1, 0.99, 0.01), _estimate(3, 0.1, 1, 0)],
        [],
    ),
    "an undecided candidate gets more runs": (
        [_estimate(1.0, 0.1, 0.9, 0.2), _estimate(3.0, 0.1, 0.99, 0.01)],
        [0],
    ),
    "overlapping holders get more runs": (
        [_estimate(1.0, 0.6, 0.99, 0.01), _estimate(2.0, 0.6, 0.99, 0.01)],
        [0, 1],
    ),
    "holders with certain costs need none": (
        [_estimate(1.0, 0.0, 0.99, 0.01), _estimate(1.0, 0.0, 0.99, 0.01)],
        [],
    ),
}


@pytest.mark.parametrize(
    ("estimates", "expected"), list(NEEDS_CASES.values()), ids=list(NEEDS_CASES)
)
def test_runs_go_where_the_decision_is_close(
    estimates: list[Estimate], expected: list[int]
) -> None:
    assert needs_more_runs(estimates, race(estimates, TARGET)) == expected


# --- the search space --------------------------------------------------------------------------


def test_space_is_the_cartesian_product_with_bundles() -> None:
    space = {
        "policy.name": ["static", "kubernetes"],
        "size": [{"service.container.concurrency": 2, "cluster.node_type": "m5.large"}],
    }
    points = candidates_of(space)
    assert [point.values["policy.name"] for point in points] == ["static", "kubernetes"]
    assert points[1].overrides == {
        "policy.name": "kubernetes",
        "service.container.concurrency": 2,
        "cluster.node_type": "m5.large",
    }


def test_bad_key_fails_before_any_run() -> None:
    scenario = load_scenario(SCENARIOS / "booking_surge.yaml")
    with pytest.raises(ScenarioError):
        plan(scenario, {"service.no_such_field": [1, 2]}, executor="serial")


# --- a scenario whose answer theory knows: one container as an M/M/c queue -----------------------

ARRIVAL_RATE_RPS = 40.0
SERVICE_MEAN_S = 0.1
LATENCY_TARGET_S = 0.37  # p95 of M/M/5 is 0.42 s, of M/M/6 0.32 s: neighbours clearly apart
MAX_SERVERS = 10


def _mmc_scenario() -> Scenario:
    """Poisson arrivals, exponential demand, one container whose worker slots each have a core
    of their own on a node priced by its cores: an M/M/c queue whose cost grows with c."""
    types = {
        f"w{cores}": {"vcpu": cores, "memory_mib": 4096 * cores, "price_per_hour_usd": 0.05 * cores}
        for cores in range(1, MAX_SERVERS + 1)
    }
    data: dict[str, Any] = {
        "name": "mmc-plan",
        "duration_s": 2100,
        "warmup_s": 300,
        "sample_interval_s": 300,  # long intervals: each interval's p95 is near the steady state
        "slo": {"latency_s": LATENCY_TARGET_S, "percentile": 95, "attainment_target": 0.9},
        "service": {
            "endpoints": [
                {"name": "work", "weight": 1, "cpu_demand_s": {"dist": "exponential", "mean": 0.1}}
            ],
            "timeout_s": 1e6,
            "container": {"queue_limit": 10**9, "cpu_request_m": 1000},
            "initial_replicas": 1,
        },
        "cluster": {"instance_types": types, "node_type": "w1", "initial_nodes": 1},
        "traffic": {"rate_rps": ARRIVAL_RATE_RPS},
    }
    return validate_scenario(data, source="mmc-plan")


def _servers_space() -> dict[str, list[dict[str, Any]]]:
    return {
        "servers": [
            {
                "service.container.concurrency": servers,
                "service.container.cpu_limit_m": 1000 * servers,
                "cluster.node_type": f"w{servers}",
            }
            for servers in range(1, MAX_SERVERS + 1)
        ]
    }


def _expected_servers() -> int:
    return theory.min_servers_for_response_quantile(
        ARRIVAL_RATE_RPS, 1 / SERVICE_MEAN_S, 0.95, LATENCY_TARGET_S
    )


def test_theory_bound_prunes_exactly_below_the_erlang_c_answer() -> None:
    scenario = _mmc_scenario()
    expected = _expected_servers()
    for point in candidates_of(_servers_space()):
        bound = theory_bound(scenario.with_overrides(point.overrides))
        servers = point.overrides["service.container.concurrency"]
        assert bound.possible == (servers >= expected), servers


def test_plan_finds_the_erlang_c_answer_and_prunes_without_running() -> None:
    expected = _expected_servers()
    result = plan(_mmc_scenario(), _servers_space(), replications=3, executor="serial")
    assert result.best is not None
    assert result.best["servers"]["service.container.concurrency"] == expected
    assert result.runner_up is not None
    assert result.runner_up["servers"]["service.container.concurrency"] == expected + 1
    statuses = result.table["status"].tolist()
    assert statuses[: expected - 1] == [PRUNED] * (expected - 1)
    assert result.pruned == expected - 1
    assert (result.table["replications"][: expected - 1] == 0).all()
    assert result.runs_used < result.full_factorial_runs
    section = plan_section(result)
    for heading in ("Cheapest safe configuration", "Runner-up", "What it would cost to be wrong"):
        assert heading in section


def test_racing_alone_rejects_the_server_short_of_the_answer() -> None:
    expected = _expected_servers()
    space = {"servers": _servers_space()["servers"][expected - 2 : expected + 1]}
    result = plan(_mmc_scenario(), space, replications=3, executor="serial", prune=False)
    assert result.table["status"].tolist()[0] == FAILS
    assert result.best is not None
    assert result.best["servers"]["service.container.concurrency"] == expected
    wrong = result.cost_of_being_wrong
    assert wrong.cheapest_failing == {"servers": space["servers"][0]}
    assert wrong.saving_usd > 0
    assert wrong.failing_attainment < 0.9


# --- the booking surge: the answer holds on fresh seeds ---------------------------------------


def _short_surge() -> Scenario:
    """The booking surge in 25 minutes: the promotion lands at 400 s, holds 500 s."""
    scenario = load_scenario(SCENARIOS / "booking_surge.yaml")
    surge = {"start_s": 400, "ramp_s": 300, "hold_s": 500, "decay_s": 200, "multiplier": 4}
    return scenario.with_overrides({"duration_s": 1500, "traffic.surges": [surge]})


@pytest.mark.slow
def test_booking_surge_plan_holds_on_fresh_seeds() -> None:
    scenario = _short_surge()
    # Half the short run is surge, and the backlog collapses until capacity arrives (every
    # answer late once the queue passes the 10 s timeout), so the team's 90 % is out of reach
    # for every policy here; kubernetes holds about 65 % of intervals, scale_out 57 %.
    slo = {"attainment_target": 0.5}
    space = {"policy.name": ["static", "kubernetes", "scale_out"]}
    result = plan(scenario, space, slo=slo, replications=3, executor="process", jobs=2)
    assert result.best is not None
    assert result.table["status"].tolist()[0] == PRUNED  # six replicas of two cores: too few
    chosen = scenario.with_overrides(result.best)
    specs = replication_specs(chosen, 2, seed=100)
    attainments = [execute(spec).summary["slo_attainment"] for spec in specs]
    assert sum(attainments) / len(attainments) >= slo["attainment_target"]


# --- the command line --------------------------------------------------------------------------


def test_cli_plan_rejects_a_bad_key(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "plan",
            str(SCENARIOS / "booking_surge.yaml"),
            "--space",
            "service.no_such_field=1,2",
            "--executor",
            "serial",
        ]
    )
    assert code == 2
    assert "no_such_field" in capsys.readouterr().err


def test_cli_plan_rejects_a_bad_confidence(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "plan",
            str(SCENARIOS / "booking_surge.yaml"),
            "--space",
            "policy.name=static",
            "--confidence",
            "1.5",
        ]
    )
    assert code == 2
    assert "confidence" in capsys.readouterr().err


def test_a_plan_adds_its_answer_to_the_report(tmp_path: Path) -> None:
    import sim

    result = plan(_mmc_scenario(), _servers_space(), replications=2, executor="serial")
    comparison = sim.compare(_mmc_scenario(), ["static"], replications=2, executor="serial")
    index = sim.report(comparison, tmp_path / "report", plan=result)
    text = (index.parent / "report.md").read_text()
    for heading in ("Cheapest safe configuration", "Runner-up", "What it would cost to be wrong",
                    "Runs used"):  # fmt: skip
        assert f"## {heading}" in text
    assert result.best_text() in text
    assert "Runs used" in index.read_text()

"""Elasticity metrics: hand-made demand and supply curves, and the demand model."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sim
from sim import theory
from sim.elasticity import (
    cores_per_replica,
    demand_replicas,
    elasticity_metrics,
    mean_demand_s,
)

CURVES = {
    # name: (demand, supply, interval_s, expected metrics)
    "exact-match": (
        [2, 2, 3, 3],
        [2, 2, 3, 3],
        60,
        {"under_accuracy": 0, "over_accuracy": 0, "under_timeshare": 0, "over_timeshare": 0,
         "jitter_per_min": 0},
    ),
    "always-one-short": (
        [2, 2, 4, 4],
        [1, 1, 3, 3],
        60,
        {"under_accuracy": (0.5 + 0.5 + 0.25 + 0.25) / 4, "over_accuracy": 0,
         "under_timeshare": 1, "over_timeshare": 0, "jitter_per_min": 0},
    ),
    "late-supply-is-sluggish": (
        # demand steps up at minute 1, supply a minute later: under for one of four minutes
        [2, 4, 4, 4],
        [2, 2, 4, 4],
        60,
        {"under_accuracy": 0.5 / 4, "over_accuracy": 0, "under_timeshare": 0.25,
         "over_timeshare": 0, "jitter_per_min": 0},
    ),
    "oscillating-supply": (
        [2, 2, 2, 2],
        [2, 3, 2, 3],
        30,
        {"under_accuracy": 0, "over_accuracy": 0.25, "under_timeshare": 0,
         "over_timeshare": 0.5, "jitter_per_min": 3 / 2},
    ),
    "supply-frozen-while-demand-moves": (
        [1, 2, 3, 2],
        [2, 2, 2, 2],
        60,
        {"under_accuracy": (1 / 3) / 4, "over_accuracy": 1 / 4, "under_timeshare": 0.25,
         "over_timeshare": 0.25, "jitter_per_min": -3 / 4},
    ),
}  # fmt: skip


@pytest.mark.parametrize(("demand", "supply", "interval_s", "expected"), CURVES.values(),
                         ids=CURVES.keys())  # fmt: skip
def test_metrics_of_hand_made_curves(
    demand: list[int], supply: list[int], interval_s: float, expected: dict[str, float]
) -> None:
    metrics = elasticity_metrics(np.array(demand), np.array(supply), interval_s)
    for name, value in expected.items():
        assert metrics[f"elasticity_{name}"] == pytest.approx(value), name


def test_no_intervals_gives_nan() -> None:
    metrics = elasticity_metrics(np.array([], dtype=int), np.array([], dtype=int), 10)
    assert all(math.isnan(value) for value in metrics.values())


def scenario(**changes: object) -> sim.Scenario:
    base = sim.Scenario.model_validate(
        {
            "name": "demand",
            "duration_s": 600,
            "slo": {"latency_s": 0.5, "percentile": 95},
            "service": {
                "endpoints": [
                    {
                        "name": "a",
                        "weight": 3,
                        "cpu_demand_s": {"dist": "exponential", "mean": 0.02},
                    },
                    {"name": "b", "weight": 1, "cpu_demand_s": {"dist": "constant", "value": 0.06}},
                ],
                "container": {"concurrency": 16, "cpu_limit_m": 2000},
            },
            "traffic": {"rate_rps": 10},
        }
    )
    return base.with_overrides(changes) if changes else base


def test_demand_model_inputs() -> None:
    sc = scenario()
    assert mean_demand_s(sc) == pytest.approx(0.75 * 0.02 + 0.25 * 0.06)
    assert cores_per_replica(sc) == 2.0
    unlimited = scenario(**{"service.container.cpu_limit_m": None})
    assert cores_per_replica(unlimited) == 1.0  # its fair share of a full node: its request


def test_demand_is_the_fewest_replicas_meeting_the_slo() -> None:
    sc = scenario()
    rates = np.array([0.0, 50.0, 300.0, 1000.0])
    demand = demand_replicas(sc, rates)
    service_rate = 1 / mean_demand_s(sc)
    for rate, replicas in zip(rates, demand, strict=True):
        cores = theory.min_servers_for_response_quantile(rate, service_rate, 0.95, 0.5)
        assert replicas == max(1, math.ceil(cores / 2))
    assert list(demand) == sorted(demand)  # more load never needs fewer replicas


def test_unreachable_target_falls_back_to_ninety_percent_busy() -> None:
    sc = scenario(**{"slo.latency_s": 0.001})
    demand = demand_replicas(sc, np.array([300.0]))
    assert demand[0] == math.ceil(300 * mean_demand_s(sc) / 0.9 / 2)


def test_a_run_reports_demand_and_the_metrics() -> None:
    result = sim.run(scenario(**{"service.initial_replicas": 1}), seed=1)
    assert "replicas_demand" in result.timeseries
    for key in ("elasticity_under_accuracy", "elasticity_jitter_per_min"):
        assert key in result.summary
    # 10 req/s × 0.03 CPU-s is far below one replica: one replica is exactly the demand.
    assert result.summary["elasticity_under_timeshare"] == 0
    assert result.summary["elasticity_over_timeshare"] == 0

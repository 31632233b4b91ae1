"""recovery_s: the time from the end of the last surge or crash until the SLO holds for good.

The reduction is checked on hand-made interval sequences; a run is checked against the drain
time of a full backlog, derived from the arrival and service rates.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import sim
from sim.measure.recovery import disturbance_end_s, recovery_s

GOOD, BAD = True, False
ENDS_10S = np.arange(10.0, 110.0, 10.0)  # ten intervals of 10 s: (0, 10] … (90, 100]

CASES = {
    # name: (slo_met per interval, since_s, hold_s, expected recovery_s)
    "held through the disturbance's interval": ([GOOD] * 10, 35.0, 30.0, 0.0),
    "bad until 50 s, then good": ([BAD] * 5 + [GOOD] * 5, 35.0, 30.0, 15.0),
    "a stretch shorter than the hold does not count": (
        [BAD] * 3 + [GOOD] * 2 + [BAD] + [GOOD] * 4,
        25.0,
        30.0,
        35.0,
    ),
    "a stretch exactly as long as the hold counts": (
        [BAD] * 3 + [GOOD] * 3 + [BAD] + [GOOD] * 3,
        25.0,
        30.0,
        5.0,
    ),
    "a good stretch cut by the end of the run counts": ([BAD] * 8 + [GOOD] * 2, 5.0, 30.0, 75.0),
    "never a stretch as long as the hold: never recovered": (
        [GOOD, BAD] * 5,
        5.0,
        30.0,
        math.inf,
    ),
    "a break after a full stretch does not undo it": ([GOOD] * 9 + [BAD], 5.0, 30.0, 0.0),
    "a disturbance at an interval's end looks at the next one": (
        [GOOD] * 3 + [BAD] + [GOOD] * 6,
        30.0,
        30.0,
        10.0,
    ),
}


@pytest.mark.parametrize(("met", "since_s", "hold_s", "expected"), CASES.values(), ids=list(CASES))
def test_recovery_of_an_interval_sequence(
    met: list[bool], since_s: float, hold_s: float, expected: float
) -> None:
    assert recovery_s(ENDS_10S, np.array(met), since_s, hold_s) == expected


@pytest.mark.parametrize("since_s", [None, 100.0, 150.0], ids=["nothing", "at the end", "after"])
def test_nothing_to_recover_from_is_nan(since_s: float | None) -> None:
    assert math.isnan(recovery_s(ENDS_10S, np.array([BAD] * 10), since_s, 30.0))


def _scenario(**overrides: Any) -> sim.Scenario:
    data: dict[str, Any] = {
        "name": "recovery",
        "duration_s": 1200,
        "sample_interval_s": 10,
        "slo": {"latency_s": 0.5, "percentile": 95, "max_error_rate": 0.01},
        "service": {
            "endpoints": [
                {"name": "api", "weight": 1, "cpu_demand_s": {"dist": "constant", "value": 0.1}}
            ],
            "timeout_s": 60,
            "initial_replicas": 1,
            "container": {
                "concurrency": 1,
                "queue_limit": 50,
                "cpu_request_m": 1000,
                "cpu_limit_m": 1000,
            },
        },
        "cluster": {"node_type": "m5.large", "initial_nodes": 1},
        "traffic": {
            "rate_rps": 5,
            "surges": [{"start_s": 600, "hold_s": 300, "multiplier": 4}],
        },
        "policy": {"name": "static"},
    }
    return sim.Scenario.model_validate(data).with_overrides(overrides)


def test_disturbance_end_is_the_last_surge_end_or_crash() -> None:
    scenario = _scenario()
    assert disturbance_end_s(scenario, []) == 900.0
    assert disturbance_end_s(scenario, [300.0, 950.0]) == 950.0
    assert disturbance_end_s(scenario.with_overrides({"traffic.surges": []}), []) is None


def test_recovery_after_a_surge_is_the_drain_time_of_the_backlog() -> None:
    # Model: one worker on its own core, constant 0.1 s per request (μ = 10/s), Poisson
    # arrivals at λ = 5/s, ×4 for 300 s: the queue of K = 50 fills and requests are refused.
    # When the surge ends at T = 900 s the backlog drains at μ − λ = 5/s, so it is gone by
    # T + K/(μ − λ) = 910 s; a request arriving then waits ~K/μ = 5 s, missing the 0.5 s p95,
    # so the interval (900, 910] fails. After the drain the queue is an M/D/1 at ρ = 0.5,
    # whose p95 response (≈ 0.3 s) meets the SLO: recovery is at least one interval and at most
    # the drain time plus the interval it ends in and the next.
    result = sim.run(_scenario(), seed=4)
    drain_s = 50 / (10 - 5)
    recovered = result.summary["recovery_s"]
    assert 10.0 <= recovered <= drain_s + 2 * 10.0, recovered


def test_a_bounded_backlog_recovers_faster_than_a_deep_one() -> None:
    deep = sim.run(_scenario(), seed=4).summary["recovery_s"]
    shallow = sim.run(
        _scenario(**{"service.container.queue_limit": 5, "slo.max_error_rate": 0.05}), seed=4
    ).summary["recovery_s"]
    assert shallow < deep


def test_a_crash_after_the_surge_is_the_reference() -> None:
    # With nothing to bring it back, a static service whose only node crashed never recovers.
    result = sim.run(_scenario(faults=[{"kind": "node_crash", "at_s": 1000}]), seed=4)
    assert result.summary["recovery_s"] == math.inf


def test_a_scenario_without_surge_or_fault_has_nothing_to_recover_from() -> None:
    result = sim.run(_scenario(**{"traffic.surges": []}), seed=4)
    assert math.isnan(result.summary["recovery_s"])


def test_static_recovers_from_a_crash_when_the_balancer_gives_up_on_the_dead_node() -> None:
    # Documented behaviour: an ALB marks a target unhealthy after 2 failed checks 30 s apart,
    # so requests balanced to the crashed node fail for 60 s; the other node carries the load
    # alone (ρ = 0.5, where an M/D/1's response passes 1 s with negligible probability). The
    # crash at 1000 s comes after the surge: recovery is exactly 60 s.
    scenario = _scenario(
        duration_s=1500,
        **{
            "slo.latency_s": 1.0,
            "service.initial_replicas": 2,
            "cluster.initial_nodes": 2,
            "faults": [{"kind": "node_crash", "at_s": 1000, "node": 1}],
        },
    )
    assert sim.run(scenario, seed=4).summary["recovery_s"] == 60.0

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
    # so requests are balanced to the crashed node for 60 s, and the last of them fail when
    # their client's 10 s connect timeout runs out; the other node carries the load alone
    # (ρ = 0.5, where an M/D/1's response passes 1 s with negligible probability). The crash
    # at 1000 s comes after the surge: recovery is exactly 60 + 10 s.
    scenario = _scenario(
        duration_s=1500,
        **{
            "slo.latency_s": 1.0,
            "service.initial_replicas": 2,
            "cluster.initial_nodes": 2,
            "faults": [{"kind": "node_crash", "at_s": 1000, "node": 1}],
        },
    )
    assert sim.run(scenario, seed=4).summary["recovery_s"] == 70.0


# --- abandoned work -----------------------------------------------------------------------------


def _overload(cancel: bool) -> sim.Scenario:
    # One worker on its own core, constant 0.1 s per request (μ = 10/s), Poisson arrivals at
    # λ₀ = 5/s, ×3 (λ = 15/s) for 300 s from t₀ = 600 s; an unbounded queue; clients give up
    # after T = 5 s.
    return _scenario(
        duration_s=1800,
        **{
            "service.timeout_s": 5,
            "service.container.queue_limit": 100_000,
            "service.cancel_on_timeout": cancel,
            "slo.latency_s": 5.0,
            "traffic.surges": [{"start_s": 600, "hold_s": 300, "multiplier": 3}],
        },
    )


def _mean(result: sim.Result, column: str, start_s: float, end_s: float) -> float:
    rows = result.timeseries[
        (result.timeseries["time_s"] > start_s) & (result.timeseries["time_s"] <= end_s)
    ]
    return float(rows[column].mean())


def test_a_server_that_works_for_clients_that_left_collapses_and_recovers_late() -> None:
    # Theory (FCFS, no cancellation): the backlog grows at λ − μ = 5/s, so a request arriving
    # x s into the surge waits x(λ − μ)/μ; past x = Tμ/(λ − μ) = 10 s every answer reaches a
    # client that has left: goodput falls to 0 while the server stays busy, all its CPU
    # wasted. When the surge ends at t₁ = 900 s the backlog B = (λ − μ)·300 = 1500 drains at
    # μ − λ₀ = 5/s; arrivals see waits under T again once it is below Tμ = 50, after
    # (B − Tμ)/(μ − λ₀) = 290 s, and the SLO (no timeouts) returns then.
    result = sim.run(_overload(cancel=False), seed=4)
    assert _mean(result, "goodput_rps", 630, 1170) < 0.2
    assert _mean(result, "throughput_rps", 630, 1170) == pytest.approx(10.0, rel=0.03)
    assert _mean(result, "wasted_cpu_s", 630, 1170) == pytest.approx(10.0, rel=0.03)  # per 10 s
    assert _mean(result, "goodput_rps", 1250, 1800) == pytest.approx(5.0, rel=0.1)
    assert result.summary["recovery_s"] == pytest.approx(290.0, abs=30.0)


def test_a_server_that_cancels_at_the_deadline_keeps_part_of_its_goodput() -> None:
    # With deadline propagation the requests whose clients left are dropped unserved, but the
    # oldest request still waiting has little patience left: with Poisson arrivals at λ its
    # remaining patience is at least an exponential(λ) draw, so at least a share e^(−λd) of
    # the requests started finish in time, a goodput of at least λe^(−λd)/(1 − e^(−λd)) =
    # 4.3/s (15 × 0.223 / 0.777), short of μ = 10/s. The server is never idle: the CPU it
    # does not spend on answers that arrive in time is wasted (busy time = useful + wasted).
    result = sim.run(_overload(cancel=True), seed=4)
    lambda_rps, demand_s = 15.0, 0.1
    floor_rps = (
        lambda_rps * math.exp(-lambda_rps * demand_s) / (1 - math.exp(-lambda_rps * demand_s))
    )
    goodput_rps = _mean(result, "goodput_rps", 630, 900)
    assert floor_rps < goodput_rps < 10.0
    wasted_per_s = _mean(result, "wasted_cpu_s", 630, 900) / 10
    assert goodput_rps * demand_s + wasted_per_s == pytest.approx(1.0, abs=0.02)
    assert result.summary["recovery_s"] < 30.0
    collapsed = sim.run(_overload(cancel=False), seed=4)
    assert _mean(collapsed, "goodput_rps", 630, 900) < goodput_rps / 10


@pytest.mark.parametrize("cancel", [False, True], ids=["works on", "cancels"])
def test_outcomes_are_conserved_with_abandoned_work(cancel: bool) -> None:
    summary = sim.run(_overload(cancel), seed=4).summary
    outcomes = summary["completed"] + summary["rejected"] + summary["timed_out"]
    assert outcomes + summary["in_flight"] == summary["attempts"]


@pytest.mark.parametrize("cancel", [False, True], ids=["works on", "cancels"])
def test_cpu_used_is_useful_plus_wasted(cancel: bool) -> None:
    # Every CPU-second the server spends goes to an answer that arrives in time (0.1 s each)
    # or is wasted on a client that left, including work lost when the container crashes
    # in the middle of the overload; only the requests still in service at the end are in
    # neither.
    scenario = _overload(cancel).with_overrides(
        {"faults": [{"kind": "container_crash", "at_s": 800, "replica": 0}]}
    )
    result = sim.run(scenario, seed=4)
    frame = result.timeseries
    span_s = frame["time_s"].diff().fillna(frame["time_s"].iloc[0])
    used_s = float((frame["cpu_utilization"] * 2 * span_s).sum())  # m5.large: 2 vCPUs
    useful_s = result.summary["completed"] * 0.1
    assert useful_s + result.summary["wasted_cpu_s"] == pytest.approx(used_s, abs=1.0)

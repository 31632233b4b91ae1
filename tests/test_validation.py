"""Slow tier: the simulator against the closed forms of ``sim.theory``.

Each test runs the engine on a textbook queue with a fixed seed, drops a warm-up in which the
queue forgets its empty start, and compares a simulated mean with its closed form. Tolerances
are derived, not chosen: every comparison uses a 99.9 % Student-t confidence interval from batch
means (:func:`batch_estimate`), with batches that each span many relaxation times of the queue,
so that their totals are close to independent. A correct simulator fails a single comparison
with probability about 0.1 %; the seeds are fixed, so a run either passes or fails for good.

Run lengths are sized for about 100,000 simulated requests per wall second: the whole module
takes under a minute on one core, about half that with ``pytest -n 2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest
from scipy import stats  # type: ignore[import-untyped]

import sim
from sim import engine, histogram, theory

pytestmark = pytest.mark.slow

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

CONFIDENCE = 0.999
BATCHES = 30

# Join-the-shortest-queue has no closed form. The reference value is the mean wait of a long
# simulation (800 M arrivals) of a balancer sending to 8 single-server FIFO queues with
# λ = 7.2/s and μ = 1/s: Wq = 1.134 ± 0.001 s (reference/performance.md, last section).
JSQ_REFERENCE_RATE_RPS = 7.2
JSQ_REFERENCE_QUEUES = 8
JSQ_REFERENCE_WAIT_S = 1.134
JSQ_REFERENCE_HALF_WIDTH_S = 0.001


# --- statistics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A simulated mean and the half-width of its confidence interval."""

    value: float
    half_width: float

    def assert_close_to(self, expected: float, what: str, slack: float = 0.0) -> None:
        """Fail unless ``expected`` lies in the interval (widened by a known ``slack``)."""
        error = abs(self.value - expected)
        assert error <= self.half_width + slack, (
            f"{what}: simulated {self.value:.6g} ± {self.half_width:.3g} "
            f"(+ slack {slack:.3g}), theory {expected:.6g}, off by {error:.3g}"
        )


def _t_half_width(standard_error: float, batches: int, confidence: float) -> float:
    return float(stats.t.ppf(0.5 + confidence / 2, batches - 1) * standard_error)


def batch_estimate(
    numerators: np.ndarray,
    denominators: np.ndarray,
    batches: int = BATCHES,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """The ratio Σ numerators / Σ denominators over rows in time order, with its CI.

    The rows (one per sample interval) are cut into ``batches`` consecutive groups. When each
    group spans many relaxation times of the queue, the group totals (Y_b, X_b) are nearly
    independent and identically distributed, and the ratio R = ΣY/ΣX has the standard error
    sd(Y_b − R·X_b) / (√n · mean X_b) (the delta method for a ratio of means; for X_b equal it is
    the plain batch-means formula). The half-width is that error times the two-sided Student-t
    quantile with n − 1 degrees of freedom.

    A mean latency is latency_mean_s·completed over completed; a fraction is rejected over
    arrivals; a time average of a gauge is the gauge over ones.
    """
    numerator_batches = np.array([part.sum() for part in np.array_split(numerators, batches)])
    denominator_batches = np.array([part.sum() for part in np.array_split(denominators, batches)])
    ratio = numerator_batches.sum() / denominator_batches.sum()
    residuals = numerator_batches - ratio * denominator_batches
    standard_error = residuals.std(ddof=1) / (math.sqrt(batches) * denominator_batches.mean())
    return Estimate(float(ratio), _t_half_width(standard_error, batches, confidence))


def steady_rows(result: sim.Result) -> pd.DataFrame:
    """Timeseries rows whose interval starts at or after the warm-up."""
    scenario = result.scenario
    frame = result.timeseries
    starts_s = frame["time_s"] - scenario.sample_interval_s
    return frame[starts_s >= scenario.warmup_s - 1e-9]


def response_estimate(result: sim.Result, batches: int = BATCHES) -> Estimate:
    """Mean response time (wait + service) of the requests completed after the warm-up."""
    rows = steady_rows(result)
    completed = rows["completed"].to_numpy(dtype=np.float64)
    latency_sum_s = rows["latency_mean_s"].fillna(0.0).to_numpy() * completed
    return batch_estimate(latency_sum_s, completed, batches)


def quantile_estimate(result: sim.Result, quantile: float, batches: int = BATCHES) -> Estimate:
    """The summary's latency quantile with a sectioning confidence interval.

    The point estimate is the run's own figure (the summary histogram over requests that arrived
    after the warm-up). Its sampling error is estimated from the exact quantile of each of
    ``batches`` consecutive groups of requests (in arrival order), taken from the per-request
    frame: sd/√n of the group quantiles, times the Student-t quantile.
    """
    requests = result.requests
    assert requests is not None, "run with record_requests=True"
    done = requests[
        (requests["outcome"] == "completed") & (requests["arrival_s"] >= result.scenario.warmup_s)
    ]
    groups = np.array_split(done["latency_s"].to_numpy(), batches)
    group_quantiles = np.array([np.quantile(group, quantile) for group in groups])
    standard_error = group_quantiles.std(ddof=1) / math.sqrt(batches)
    value = float(result.summary[f"latency_p{round(quantile * 100)}_s"])
    return Estimate(value, _t_half_width(standard_error, batches, CONFIDENCE))


# --- scenarios ---------------------------------------------------------------------------------

ONE_CORE_NODE = {"tiny": {"vcpu": 1, "memory_mib": 8192, "price_per_hour_usd": 0.01}}


def exponential(mean_s: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean": mean_s}


def queue_scenario(
    name: str,
    *,
    rate_rps: float,
    demand: dict[str, Any],
    duration_s: float,
    warmup_s: float,
    sample_interval_s: float = 100.0,
    replicas: int = 1,
    concurrency: int = 1,
    queue_limit: int = 10**9,
    cpu_request_m: int = 1000,
    cpu_limit_m: int | None = 1000,
    algorithm: str = "round_robin",
    node_type: str = "m5.2xlarge",
) -> sim.Scenario:
    """A service of identical replicas on one node fed by Poisson arrivals, with no timeout.

    The defaults give each replica one worker slot and a core of its own (an M/M/1 station when
    the demand is exponential). The replicas start ready, so nothing is rejected for want of one.
    """
    return sim.Scenario.model_validate(
        {
            "name": name,
            "duration_s": duration_s,
            "warmup_s": warmup_s,
            "sample_interval_s": sample_interval_s,
            "service": {
                "endpoints": [{"name": "work", "weight": 1, "cpu_demand_s": demand}],
                "timeout_s": 1e9,
                "initial_replicas": replicas,
                "container": {
                    "concurrency": concurrency,
                    "queue_limit": queue_limit,
                    "overflow": "reject",  # M/M/c/K: an arrival finding K in the system is lost
                    "cpu_request_m": cpu_request_m,
                    "cpu_limit_m": cpu_limit_m,
                },
            },
            "cluster": {
                "instance_types": ONE_CORE_NODE,
                "node_type": node_type,
                "initial_nodes": 1,
            },
            "load_balancer": {"algorithm": algorithm},
            "traffic": {"rate_rps": rate_rps},
        }
    )


# Every test's mean CPU demand: one CPU-second, so μ = 1/s on a core of its own.
SERVICE_MEAN_S = 1.0
SERVICE_RATE = 1 / SERVICE_MEAN_S

# M/M/1 at ρ = 0.8. Its relaxation time is 1/(√μ − √λ)² ≈ 90 s, so the default 30 batches of a
# 1,250,000 s run are about 460 relaxation times long, and the 1,000,000 requests give a 99.9 %
# interval of about ±3 % on the mean response.
MM1_RATE_RPS = 0.8
MM1_DURATION_S = 1_250_000.0

# The other single-server tests run at ρ = 0.7: the wait is still 70 % of an M/M/1 response, and
# the relative variance of a mean response is less than half of that at ρ = 0.8 (per request
# it grows like (1 + ρ)/(1 − ρ)²), so far fewer requests give the same interval.
MODERATE_RATE_RPS = 0.7

LOGNORMAL_CV = 2.0
LOGNORMAL_CV2 = {"dist": "lognormal", "mean": SERVICE_MEAN_S, "cv": LOGNORMAL_CV}


@pytest.fixture(scope="module")
def mm1_result() -> sim.Result:
    """One M/M/1 run at ρ = 0.8 shared by the M/M/1 and Little's-law tests."""
    scenario = queue_scenario(
        "mm1",
        rate_rps=MM1_RATE_RPS,
        demand=exponential(SERVICE_MEAN_S),
        duration_s=MM1_DURATION_S,
        warmup_s=2_000,
    )
    return sim.run(scenario, seed=11, record_requests=True)


# --- the tests ---------------------------------------------------------------------------------


def test_mm1_mean_and_p95_response(mm1_result: sim.Result) -> None:
    # Model: one container, one worker slot, one core of its own: M/M/1 with λ = 0.8, μ = 1.
    # Theory: W = 1/(μ − λ); the response time is exponential with rate μ − λ, so its p95 is
    # ln(20)/(μ − λ). The summary's p95 comes from a log-bucketed histogram good to 0.5 %,
    # which is added to the sampling half-width. Run length: see MM1_DURATION_S.
    expected = theory.mm1(MM1_RATE_RPS, SERVICE_RATE)
    response = response_estimate(mm1_result)
    response.assert_close_to(expected.response_mean_s, "M/M/1 mean W")
    summary_mean = Estimate(float(mm1_result.summary["latency_mean_s"]), response.half_width)
    summary_mean.assert_close_to(expected.response_mean_s, "M/M/1 summary mean W")
    expected_p95_s = theory.mmc_response_quantile_s(MM1_RATE_RPS, SERVICE_RATE, 1, 0.95)
    quantile_estimate(mm1_result, 0.95).assert_close_to(
        expected_p95_s, "M/M/1 p95 W", slack=histogram.RELATIVE_ACCURACY * expected_p95_s
    )


def test_mmc_erlang_c_response() -> None:
    # Model: scenarios/queueing_mmc.yaml, one container with c = 8 worker slots on 8 cores, each
    # request on a core of its own: M/M/8 at ρ = 0.9. Theory: W = C(c, A)/(cμ − λ) + 1/μ
    # (Erlang C). Run length: the relaxation time is about 1/(√(cμ) − √λ)² ≈ 50 s; the file's
    # 100,000 s in 30 batches is 3,300 s (about 70 relaxation times) per batch, 720,000 requests.
    scenario = sim.load_scenario(SCENARIOS / "queueing_mmc.yaml")
    rate_rps = scenario.traffic.rate_rps
    assert rate_rps is not None
    service_rate = 1 / scenario.service.endpoints[0].cpu_demand_s.mean
    servers = scenario.service.container.concurrency
    result = sim.run(scenario, seed=12)
    expected = theory.mmc(rate_rps, service_rate, servers)
    response_estimate(result).assert_close_to(expected.response_mean_s, "M/M/8 mean W")


def test_mmck_blocking_and_admitted_response() -> None:
    # Model: one container with c = 2 worker slots on 2 cores and an accept queue of 3, so at
    # most K = 5 requests: M/M/2/5 with λ = 5/s, μ = 3/s (reference table rows 23-24, hours
    # read as seconds). Theory: an arrival is refused with probability P_K (PASTA), and the
    # admitted ones stay W = L/λ_eff. Run length: a queue of at most 5 forgets its past within
    # seconds; 40,000 s gives 200,000 arrivals in batches of 1,300 s.
    rate_rps, service_rate, servers, capacity = 5.0, 3.0, 2, 5
    scenario = queue_scenario(
        "mm2-5",
        rate_rps=rate_rps,
        demand=exponential(1 / service_rate),
        duration_s=40_000,
        warmup_s=100,
        sample_interval_s=10,
        concurrency=servers,
        queue_limit=capacity - servers,
        cpu_request_m=servers * 1000,
        cpu_limit_m=servers * 1000,
    )
    result = sim.run(scenario, seed=13)
    expected = theory.mmck(rate_rps, service_rate, servers, capacity)
    rows = steady_rows(result)
    blocking = batch_estimate(
        rows["rejected"].to_numpy(dtype=np.float64), rows["arrivals"].to_numpy(dtype=np.float64)
    )
    blocking.assert_close_to(expected.blocking_probability, "M/M/2/5 P_K")
    response_estimate(result).assert_close_to(expected.response_mean_s, "M/M/2/5 admitted W")


def test_md1_wait_is_half_of_mm1() -> None:
    # Model: M/D/1, a constant demand of 1 CPU-second at ρ = 0.7 on a core of its own. Theory
    # (Pollaczek–Khinchine with scv = 0): Wq = ρ·D/(2(1 − ρ)), half the M/M/1 wait at the same
    # ρ; the response is Wq + D. Run length: constant service relaxes no slower than M/M/1 at
    # the same load (1/(√μ − √λ)² ≈ 40 s); 430,000 s is 300,000 requests in batches of
    # 14,000 s.
    scenario = queue_scenario(
        "md1",
        rate_rps=MODERATE_RATE_RPS,
        demand={"dist": "constant", "value": SERVICE_MEAN_S},
        duration_s=430_000,
        warmup_s=2_000,
    )
    result = sim.run(scenario, seed=14)
    expected_wait_s = theory.mm1(MODERATE_RATE_RPS, SERVICE_RATE).wait_mean_s / 2
    expected = theory.md1(MODERATE_RATE_RPS, SERVICE_MEAN_S)
    assert expected.wait_mean_s == pytest.approx(expected_wait_s, rel=1e-12)
    response_estimate(result).assert_close_to(expected.response_mean_s, "M/D/1 mean W")


def test_mg1_lognormal_pollaczek_khinchine() -> None:
    # Model: M/G/1 FCFS, lognormal demand with mean 1 s and cv = 2 (scv = 4) at ρ = 0.5, on a
    # core of its own. Theory (Pollaczek–Khinchine): Wq = ρ·E[S]·(1 + scv)/(2(1 − ρ)), 2.5 times
    # the M/M/1 wait. Run length: the rare very long demands (E[S³] = 125 E[S]³) make the mean
    # wait converge slowly: per request its variance is about three times that of M/M/1 at
    # ρ = 0.8, and the batch means are skewed (a few batches hold a very long job), so here the
    # t-interval is only approximately 99.9 %. ρ = 0.5 and 600,000 requests in batches of
    # 40,000 s keep the interval near ±15 %, which still tells scv = 4 from scv = 1
    # (W = 3.5 s against 2 s) by a wide margin.
    rate_rps = 0.5
    scenario = queue_scenario(
        "mg1", rate_rps=rate_rps, demand=LOGNORMAL_CV2, duration_s=1_200_000, warmup_s=5_000
    )
    result = sim.run(scenario, seed=15)
    expected = theory.mg1(rate_rps, SERVICE_MEAN_S, LOGNORMAL_CV**2)
    response_estimate(result).assert_close_to(expected.response_mean_s, "M/G/1 mean W")


@pytest.mark.parametrize(
    "demand",
    [
        pytest.param(exponential(SERVICE_MEAN_S), id="exponential"),
        pytest.param(LOGNORMAL_CV2, id="lognormal-cv2"),
    ],
)
def test_processor_sharing_mean_is_insensitive(demand: dict[str, Any]) -> None:
    # Model: one container with 1,000 worker slots (never all busy) limited to one core: every
    # request in service gets 1/n of the core, i.e. M/G/1 processor sharing at ρ = 0.7.
    # Theory: W = E[S]/(1 − ρ) for any service law with that mean (insensitivity); FCFS with
    # the lognormal demand would wait 2.5 times longer. Run length: 570,000 s, 400,000
    # requests, in batches of 19,000 s (M/M/1 at ρ = 0.7 relaxes in ≈ 40 s); under PS a long
    # job does not hold up the others, so the lognormal interval is less than twice as wide
    # as the exponential one.
    scenario = queue_scenario(
        "ps",
        rate_rps=MODERATE_RATE_RPS,
        demand=demand,
        duration_s=570_000,
        warmup_s=2_000,
        concurrency=1000,
    )
    result = sim.run(scenario, seed=16)
    expected_s = theory.mm1_ps_response_mean_s(MODERATE_RATE_RPS, SERVICE_MEAN_S)
    response_estimate(result).assert_close_to(expected_s, "M/G/1-PS mean W")


@pytest.mark.parametrize("algorithm", ["random", "round_robin"])
def test_independent_queues_random_and_round_robin(
    algorithm: Literal["random", "round_robin"],
) -> None:
    # Model: 4 replicas with one worker slot and a core each, λ = 2.8/s, μ = 1/s. Random routing
    # splits the Poisson stream into 4 Poisson streams: each replica is M/M/1 at ρ = 0.7. Round
    # robin deals every 4th arrival to a replica: Erlang-4 interarrivals, an E4/M/1 queue
    # (GI/M/1 theory). Run length: each replica relaxes like an M/M/1 at ρ = 0.7 (≈ 40 s) or
    # faster; 143,000 s is 400,000 requests in batches of 4,800 s.
    queues = 4
    rate_rps = queues * MODERATE_RATE_RPS
    scenario = queue_scenario(
        f"independent-{algorithm}",
        rate_rps=rate_rps,
        demand=exponential(SERVICE_MEAN_S),
        duration_s=143_000,
        warmup_s=1_000,
        replicas=queues,
        algorithm=algorithm,
    )
    result = sim.run(scenario, seed=17)
    expected = theory.independent_queues(rate_rps, SERVICE_RATE, queues, kind=algorithm)
    response_estimate(result).assert_close_to(expected.response_mean_s, f"{algorithm} mean W")


def test_least_connections_matches_join_shortest_queue_reference() -> None:
    # Model: 8 replicas with one worker slot and a core each, λ = 7.2/s, μ = 1/s, routed by
    # least connections (fewest requests waiting or in service): join-the-shortest-queue.
    # With identical exponential servers the tie-break does not change the law of the sorted
    # queue lengths, so the first-routable tie-break is fine. Theory: none in closed form; the
    # reference is a long published simulation (JSQ_REFERENCE_WAIT_S), whose own ± 0.001 s is
    # added to the half-width. Round robin at the same load (E8/M/1, from sim.theory) waits
    # about four times longer. Run length: pooled almost like M/M/8 (relaxation ≈ 50 s);
    # 200,000 s is 1,440,000 requests in batches of 6,600 s.
    scenario = queue_scenario(
        "jsq",
        rate_rps=JSQ_REFERENCE_RATE_RPS,
        demand=exponential(SERVICE_MEAN_S),
        duration_s=200_000,
        warmup_s=1_000,
        replicas=JSQ_REFERENCE_QUEUES,
        algorithm="least_connections",
    )
    result = sim.run(scenario, seed=18)
    response = response_estimate(result)
    wait = Estimate(response.value - SERVICE_MEAN_S, response.half_width)
    wait.assert_close_to(
        JSQ_REFERENCE_WAIT_S, "least-connections Wq", slack=JSQ_REFERENCE_HALF_WIDTH_S
    )
    round_robin = theory.independent_queues(
        JSQ_REFERENCE_RATE_RPS, SERVICE_RATE, JSQ_REFERENCE_QUEUES, kind="round_robin"
    )
    assert wait.value + wait.half_width < round_robin.wait_mean_s / 2


@pytest.mark.parametrize(
    "cpu_requests_m", [pytest.param((500, 500), id="equal"), pytest.param((300, 700), id="300-700")]
)
def test_cfs_sharing_is_work_conserving(cpu_requests_m: tuple[int, int]) -> None:
    # Model: two replicas on one 1-vCPU node, no CPU limit, 1,000 worker slots each, round robin
    # at λ = 0.7/s, exponential demand of mean 1 s. While both have work the node's core is
    # split by their CPU requests (CFS weights); while one is idle the other gets all of it. The
    # node never idles with work present and the split never looks at remaining demand, so with
    # exponential demand the total in system is the M/M/1 birth–death chain at the node's load.
    # Theory: mean response over all requests = 1/(μ − λ) (Little), whatever the weights; a
    # node that kept each replica to its requested share would roughly double it.
    # The schema gives every replica the same request, so the unequal case sets the requests on
    # the built model before it runs (both fit: together they ask exactly the node's core).
    # Run length: as M/M/1 at ρ = 0.7 (≈ 40 s relaxation); 430,000 s is 300,000 requests in
    # batches of 14,000 s.
    scenario = queue_scenario(
        "cfs",
        rate_rps=MODERATE_RATE_RPS,
        demand=exponential(SERVICE_MEAN_S),
        duration_s=430_000,
        warmup_s=2_000,
        replicas=2,
        concurrency=1000,
        cpu_request_m=500,
        cpu_limit_m=None,
        node_type="tiny",
    )
    built = engine.build(scenario, "static", seed=19)
    containers = built.cluster.containers
    assert [container.node for container in containers] == [built.cluster.nodes[0]] * 2
    for container, request_m in zip(containers, cpu_requests_m, strict=True):
        container.request_m = request_m
    engine.execute(built, progress=False)
    result = engine.collect(built, wall_time_s=0.0)
    expected = theory.mm1(MODERATE_RATE_RPS, SERVICE_RATE)
    response_estimate(result).assert_close_to(expected.response_mean_s, "CFS node mean W")


def test_littles_law_on_timeseries(mm1_result: sim.Result) -> None:
    # Model: the M/M/1 run above. Theory: Little's law L = λ·W ties the time average of the
    # in-flight gauge to the measured arrival rate and mean response. Each batch b gives
    # D_b = L̄_b − λ_b·W_b, which is 0 up to edge effects of order L/(batch length) and the
    # noise of sampling the gauge every 100 s; the batch-means interval of D must contain 0.
    # A gauge read at fixed times estimates the time average of a stationary process. The
    # gauge must also agree with M/M/1's L = ρ/(1 − ρ).
    rows = steady_rows(mm1_result)
    interval_s = mm1_result.scenario.sample_interval_s
    differences = []
    for positions in np.array_split(np.arange(len(rows)), BATCHES):
        part = rows.iloc[positions]
        completed = part["completed"].sum()
        response_s = (part["latency_mean_s"].fillna(0.0) * part["completed"]).sum() / completed
        arrival_rate = part["arrivals"].sum() / (len(part) * interval_s)
        in_system = theory.littles_law_in_system(arrival_rate, response_s)
        differences.append(part["in_flight"].mean() - in_system)
    difference = batch_estimate(np.array(differences), np.ones(len(differences)))
    difference.assert_close_to(0.0, "L − λW")
    gauge = batch_estimate(rows["in_flight"].to_numpy(dtype=np.float64), np.ones(len(rows)))
    expected = theory.mm1(MM1_RATE_RPS, SERVICE_RATE)
    gauge.assert_close_to(expected.in_system_mean, "M/M/1 L")


def test_same_seed_same_frames_and_other_seed_differs() -> None:
    # Model: a short M/M/1 run. Theory: none; one seed fixes every random stream, so two runs
    # with it must give identical frames (wall time aside), and another seed different ones.
    scenario = queue_scenario(
        "determinism",
        rate_rps=MM1_RATE_RPS,
        demand=exponential(SERVICE_MEAN_S),
        duration_s=20_000,
        warmup_s=1_000,
    )
    first, again, other = (sim.run(scenario, seed=seed) for seed in (7, 7, 8))
    pd.testing.assert_frame_equal(first.timeseries, again.timeseries)
    pd.testing.assert_frame_equal(first.events, again.events)
    pd.testing.assert_series_equal(
        first.summary.drop("wall_time_s"), again.summary.drop("wall_time_s")
    )
    assert not first.timeseries["arrivals"].equals(other.timeseries["arrivals"])
    assert first.summary["latency_mean_s"] != other.summary["latency_mean_s"]

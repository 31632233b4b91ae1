"""The benchmark baselines simulate the M/M/c workload they are timed on, and memory is isolated."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from collections.abc import Callable

import pytest

from sim.benchmark.baselines import BaselineResult, ciw_mmc, simpy_idiomatic_mmc
from sim.benchmark.memory import peak_rss_mb_of

Baseline = Callable[..., BaselineResult]
BASELINES_WITH_NAMES = [
    pytest.param(simpy_idiomatic_mmc, "simpy_idiomatic", id="simpy_idiomatic"),
    pytest.param(ciw_mmc, "ciw", id="ciw"),
]
BASELINES = [
    pytest.param(simpy_idiomatic_mmc, id="simpy_idiomatic"),
    pytest.param(ciw_mmc, id="ciw"),
]

# The mean of N waits in M/M/8 at ρ = 0.9 varies a lot from seed to seed: a busy period lasts
# hundreds of arrivals, so consecutive waits are strongly correlated. Over 3,000 independent
# runs of 20,000 requests (separate recursion, Erlang C as reference) the relative standard
# deviation of the mean was 18 %, i.e. a variance of about 650 / N; 13 % of runs fell outside
# ±25 % of theory and 0.5 % outside ±60 %. The tolerance is 3.3 standard deviations for the run
# length, ±59 % at 20,000 requests: loose, but it still fails a wrong arrival rate, a server too
# many or too few, or service counted as waiting, without tying the test to one seed's luck.
RELATIVE_VARIANCE_TIMES_REQUESTS = 650.0
TOLERANCE_STANDARD_DEVIATIONS = 3.3
THEORY_REQUESTS = 20_000
QUICK_REQUESTS = 2_000


def erlang_c_wait_mean_s(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Mean wait in queue of M/M/c (Erlang C): P(wait) / (c·μ - λ)."""
    offered_load = arrival_rate / service_rate
    utilization = offered_load / servers
    partial_sum = sum(offered_load**k / math.factorial(k) for k in range(servers))
    all_busy_term = offered_load**servers / math.factorial(servers) / (1.0 - utilization)
    probability_of_wait = all_busy_term / (partial_sum + all_busy_term)
    return probability_of_wait / (servers * service_rate - arrival_rate)


def relative_wait_tolerance(requests: int) -> float:
    return TOLERANCE_STANDARD_DEVIATIONS * math.sqrt(RELATIVE_VARIANCE_TIMES_REQUESTS / requests)


def test_erlang_c_gives_the_documented_wait_for_the_benchmark_workload() -> None:
    assert erlang_c_wait_mean_s(8, 7.2, 1.0) == pytest.approx(0.877, abs=5e-4)


@pytest.mark.parametrize(("baseline", "name"), BASELINES_WITH_NAMES)
def test_baseline_completes_the_requested_count_with_erlang_c_mean_wait(
    baseline: Baseline, name: str
) -> None:
    result = baseline(THEORY_REQUESTS, servers=8, utilization=0.9, service_rate=1.0, seed=1)

    expected_wait_s = erlang_c_wait_mean_s(servers=8, arrival_rate=7.2, service_rate=1.0)
    assert result.name == name
    assert result.requests == THEORY_REQUESTS
    assert result.wall_s > 0.0
    assert result.wait_mean_s == pytest.approx(
        expected_wait_s, rel=relative_wait_tolerance(THEORY_REQUESTS)
    )


@pytest.mark.parametrize("baseline", BASELINES)
def test_same_seed_gives_same_mean_wait(baseline: Baseline) -> None:
    first = baseline(QUICK_REQUESTS, seed=7)
    again = baseline(QUICK_REQUESTS, seed=7)
    other_seed = baseline(QUICK_REQUESTS, seed=8)

    assert again.wait_mean_s == first.wait_mean_s
    assert other_seed.wait_mean_s != first.wait_mean_s


@pytest.mark.parametrize("baseline", BASELINES)
def test_doubling_every_rate_halves_the_mean_wait(baseline: Baseline) -> None:
    # Same seed, every rate doubled: the same sample path on a clock running twice as fast.
    # This catches a rate used as a mean, which μ = 1 would hide.
    unit_rate = baseline(QUICK_REQUESTS, service_rate=1.0, seed=3)
    double_rate = baseline(QUICK_REQUESTS, service_rate=2.0, seed=3)

    assert double_rate.wait_mean_s == pytest.approx(unit_rate.wait_mean_s / 2.0, rel=1e-9)


def test_ciw_baseline_leaves_global_random_state_untouched() -> None:
    random.seed(12345)
    expected_next = random.random()
    random.seed(12345)

    ciw_mmc(QUICK_REQUESTS, seed=5)

    assert random.random() == expected_next


@pytest.mark.parametrize("baseline", BASELINES)
@pytest.mark.parametrize(
    ("workload", "message"),
    [
        pytest.param({"requests": 0}, "requests must be at least 1", id="no-requests"),
        pytest.param({"servers": 0}, "servers must be at least 1", id="no-servers"),
        pytest.param({"utilization": 1.0}, "strictly between 0 and 1", id="utilization-1"),
        pytest.param({"utilization": 0.0}, "strictly between 0 and 1", id="utilization-0"),
        pytest.param({"service_rate": 0.0}, "service_rate must be positive", id="rate-0"),
    ],
)
def test_baseline_rejects_an_impossible_workload(
    baseline: Baseline, workload: dict[str, float], message: str
) -> None:
    arguments: dict[str, float] = {"requests": 10, **workload}
    with pytest.raises(ValueError, match=message):
        baseline(**arguments)


@pytest.mark.parametrize("baseline", BASELINES)
@pytest.mark.parametrize(
    "workload",
    [
        pytest.param({"requests": 1}, id="one-request"),
        pytest.param({"servers": 1}, id="one-server"),
        pytest.param({"utilization": 0.999}, id="utilization-just-below-1"),
        pytest.param({"utilization": 0.001}, id="utilization-just-above-0"),
    ],
)
def test_baseline_accepts_a_boundary_workload(
    baseline: Baseline, workload: dict[str, float]
) -> None:
    arguments: dict[str, float] = {"requests": 10, **workload}
    result = baseline(**arguments)

    assert result.requests == arguments["requests"]
    assert result.wait_mean_s >= 0.0


def test_requests_per_second_divides_requests_by_wall_time() -> None:
    result = BaselineResult("example", requests=1_000, wall_s=0.5, wait_mean_s=0.9)

    assert result.requests_per_s == pytest.approx(2_000.0)


def test_peak_rss_is_the_measured_child_own_not_the_largest_so_far() -> None:
    large_mb, _ = peak_rss_mb_of([sys.executable, "-c", "x = bytearray(200 * 1024 * 1024)"])
    # Measured after the large child: RUSAGE_CHILDREN would still report the large peak here.
    small_mb, _ = peak_rss_mb_of([sys.executable, "-c", "pass"])

    assert 200.0 <= large_mb <= 400.0
    assert 0.0 < small_mb < 100.0


def test_peak_rss_returns_the_child_stdout() -> None:
    _, stdout = peak_rss_mb_of([sys.executable, "-c", "print('requests_per_s=123')"])

    assert stdout == "requests_per_s=123\n"


def test_peak_rss_raises_with_the_stderr_tail_when_the_child_fails() -> None:
    failing = [sys.executable, "-c", "import sys; sys.exit('bench failed: no scenario')"]

    with pytest.raises(RuntimeError, match=r"(?s)status 1.*bench failed: no scenario"):
        peak_rss_mb_of(failing)


def test_peak_rss_kills_a_child_that_outlives_its_timeout() -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        peak_rss_mb_of([sys.executable, "-c", "import time; time.sleep(60)"], timeout_s=0.5)


def test_peak_rss_rejects_an_empty_command() -> None:
    with pytest.raises(ValueError, match="empty"):
        peak_rss_mb_of([])

"""Closed forms of ``sim.theory`` against published reference values and against each other.

Reference cases are numbered as rows of the queueing reference table (reference/queueing.md).
Where a source printed a wrong figure, the expectation is the recomputed value from that table
and the case id says so. An expectation written as a string is a printed decimal, checked at its
own precision (the value must round to it); a float is an exact value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import pytest
from scipy import integrate, special  # type: ignore[import-untyped]

from sim import theory
from sim.theory import QueueMetrics

Expected = str | float


def assert_matches(value: float, expected: Expected) -> None:
    if isinstance(expected, str):
        decimals = len(expected.partition(".")[2])
        tolerance = 0.5 * 10.0**-decimals
        assert abs(value - float(expected)) <= tolerance * (1 + 1e-9), (
            f"{value!r} does not round to {expected}"
        )
    else:
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-15)


# --- published reference values -------------------------------------------------------------------

CALLS_RATE_PER_S = 100 / 1800  # 100 calls per 30 min (rows 7-9)
CALL_SERVICE_RATE = 1 / 180  # 180 s per call, so A = 10 Erlangs

MM1_CASES = [
    pytest.param(0.25, 1 / 3, "queue_length_mean", 2.25, id="row01-Lq"),
    pytest.param(0.25, 1 / 3, "wait_mean_s", 9.0, id="row01-Wq"),
    pytest.param(0.25, 1 / 3, "in_system_mean", 3.0, id="row01-L"),
    pytest.param(0.25, 1 / 3, "response_mean_s", 12.0, id="row01-W"),
    pytest.param(0.8, 1.0, "in_system_mean", 4.0, id="row02-L"),
    pytest.param(0.8, 1.0, "wait_mean_s", 4.0, id="row02-Wq"),
    pytest.param(0.8, 1.0, "queue_length_mean", 3.2, id="row02-Lq"),
    pytest.param(20, 30, "wait_mean_s", "0.06667", id="row03-Wq"),
    pytest.param(20, 30, "queue_length_mean", "1.3333", id="row03-Lq"),
    pytest.param(20, 30, "wait_probability", "0.6667", id="row04-Pwait-not-published-0.33"),
]


@pytest.mark.parametrize(("arrival_rate", "service_rate", "field", "expected"), MM1_CASES)
def test_mm1_matches_reference(
    arrival_rate: float, service_rate: float, field: str, expected: Expected
) -> None:
    assert_matches(getattr(theory.mm1(arrival_rate, service_rate), field), expected)


MMC_CASES = [
    pytest.param(9, 5, 2, "queue_length_mean", "7.6737", id="row05-Lq"),
    pytest.param(9, 5, 2, "response_mean_s", "1.05263", id="row05-W"),
    pytest.param(9, 5, 4, "queue_length_mean", "0.10516", id="row06-Lq"),
    pytest.param(9, 5, 4, "response_mean_s", "0.21168", id="row06-W"),
    pytest.param(
        CALLS_RATE_PER_S, CALL_SERVICE_RATE, 14, "wait_probability", "0.17413193", id="row07-Pwait"
    ),
    pytest.param(
        CALLS_RATE_PER_S, CALL_SERVICE_RATE, 14, "wait_mean_s", "7.8359370", id="row08-ASA"
    ),
    pytest.param(
        CALLS_RATE_PER_S, CALL_SERVICE_RATE, 11, "wait_probability", "0.6821182", id="row09-Pwait"
    ),
    pytest.param(0.2, 1 / 240, 55, "wait_probability", "0.238701", id="row10-Pwait"),
    pytest.param(0.2, 1 / 240, 55, "wait_mean_s", "8.18403", id="row11-Wq"),
    pytest.param(5, 3, 2, "wait_mean_s", "0.75758", id="row12-Wq"),
    pytest.param(5, 3, 2, "response_mean_s", "1.0909", id="row13-W-not-published-1.901"),
    pytest.param(0.1, 0.05, 3, "queue_length_mean", "0.88889", id="row14-Lq"),
    pytest.param(0.1, 0.05, 3, "response_mean_s", "28.889", id="row14-W"),
    pytest.param(0.55, 1 / 3, 2, "in_system_mean", "5.1663", id="row15-L"),
]


@pytest.mark.parametrize(
    ("arrival_rate", "service_rate", "servers", "field", "expected"), MMC_CASES
)
def test_mmc_matches_reference(
    arrival_rate: float, service_rate: float, servers: int, field: str, expected: Expected
) -> None:
    assert_matches(getattr(theory.mmc(arrival_rate, service_rate, servers), field), expected)


SERVICE_LEVEL_CASES = [
    pytest.param(CALLS_RATE_PER_S, CALL_SERVICE_RATE, 14, 20.0, "0.8883500", id="row08-SL20s"),
    pytest.param(CALLS_RATE_PER_S, CALL_SERVICE_RATE, 11, 20.0, "0.3896138", id="row09-SL20s"),
    pytest.param(0.2, 1 / 240, 55, 15.0, "0.845883", id="row11-SL15s"),
]


@pytest.mark.parametrize(
    ("arrival_rate", "service_rate", "servers", "wait_s", "expected"), SERVICE_LEVEL_CASES
)
def test_service_level_matches_reference(
    arrival_rate: float, service_rate: float, servers: int, wait_s: float, expected: Expected
) -> None:
    assert_matches(theory.service_level(arrival_rate, service_rate, servers, wait_s), expected)


STATE_PROBABILITY_CASES = [
    pytest.param(0.25, 1 / 3, 1, 0, 0.25, id="row01-P0"),
    pytest.param(5, 3, 2, 1, "0.15152", id="row12-P1"),
    pytest.param(5, 3, 2, 5, "0.07307", id="row12-P5"),
    pytest.param(5, 3, 2, 0, "0.0909", id="row13-P0-not-published-0.901"),
]


@pytest.mark.parametrize(
    ("arrival_rate", "service_rate", "servers", "customers", "expected"), STATE_PROBABILITY_CASES
)
def test_mmc_state_probability_matches_reference(
    arrival_rate: float, service_rate: float, servers: int, customers: int, expected: Expected
) -> None:
    probability = theory.mmc_state_probability(arrival_rate, service_rate, servers, customers)
    assert_matches(probability, expected)


ERLANG_B_MAX_LOAD_CASES = [
    pytest.param(15, 0.01, "8.10804", id="row16-c15-1pct"),
    pytest.param(5, 0.02, "1.65714", id="row19-c5-2pct"),
    pytest.param(15, 0.02, "9.00962", id="row19-c15-2pct"),
    pytest.param(21, 0.02, "14.03600", id="row19-c21-2pct"),
    pytest.param(31, 0.02, "22.82679", id="row20-c31-2pct"),
    pytest.param(89, 0.02, "77.34183", id="row20-c89-2pct"),
    pytest.param(45, 0.02, "35.60689", id="row21-c45-2pct-not-published-35.507"),
    pytest.param(16, 0.02, "9.83", id="note-e-c16-2pct"),
]


@pytest.mark.parametrize(("servers", "blocking", "expected"), ERLANG_B_MAX_LOAD_CASES)
def test_erlang_b_max_load_matches_reference(
    servers: int, blocking: float, expected: Expected
) -> None:
    assert_matches(theory.erlang_b_max_load(servers, blocking), expected)


ERLANG_B_SERVERS_CASES = [
    pytest.param(55, 0.02, 66, id="row17-55E-2pct"),
    pytest.param(55, 0.03, 64, id="row18-55E-3pct-not-published-63"),
    pytest.param(55, 0.04, 62, id="row18-55E-4pct-not-published-61"),
    pytest.param(55, 0.05, 61, id="row18-55E-5pct-not-published-60"),
    pytest.param(10, 0.02, 17, id="row22-10E-2pct-not-published-16"),
]


@pytest.mark.parametrize(("offered_load", "blocking", "expected"), ERLANG_B_SERVERS_CASES)
def test_erlang_b_servers_needed_matches_reference(
    offered_load: float, blocking: float, expected: int
) -> None:
    servers = theory.erlang_b_servers_needed(offered_load, blocking)
    assert servers == expected
    # The boundary pair: one server fewer is just outside the target.
    assert theory.erlang_b(servers, offered_load) <= blocking
    assert theory.erlang_b(servers - 1, offered_load) > blocking


ERLANG_B_VALUE_CASES = [
    pytest.param(63, 55, "0.0330", id="note-d-B63"),
    pytest.param(62, 55, "0.0391", id="note-d-B62"),
    pytest.param(60, 55, "0.0533", id="note-d-B60"),
    pytest.param(16, 10, "0.0223", id="note-e-B16"),
    pytest.param(45, 35.607, "0.0200", id="note-e-B45"),
]


@pytest.mark.parametrize(("servers", "offered_load", "expected"), ERLANG_B_VALUE_CASES)
def test_erlang_b_matches_reference(servers: int, offered_load: float, expected: Expected) -> None:
    assert_matches(theory.erlang_b(servers, offered_load), expected)


MMCK_CASES = [
    pytest.param(5, 3, 2, 5, "response_mean_s", "0.51132", id="row23-W"),
    pytest.param(5, 3, 2, 5, "wait_mean_s", "0.17799", id="row23-Wq"),
    pytest.param(5, 3, 2, 5, "throughput_rps", "4.42435", id="row23-throughput"),
    pytest.param(5, 3, 2, 5, "blocking_probability", "0.11513", id="row24-P5"),
    pytest.param(4, 2, 2, 5, "wait_mean_s", 1 / 3, id="row25-Wq-admitted-not-3-over-11"),
    pytest.param(2, 2.4, 1, 5, "queue_length_mean", "1.2294", id="row26-Lq"),
    pytest.param(2, 2.4, 1, 5, "in_system_mean", "1.9788", id="row26-L"),
    pytest.param(2, 2.4, 1, 5, "response_mean_s", "1.1002", id="row26-W"),
    pytest.param(2, 2.4, 1, 5, "wait_mean_s", "0.6835", id="row26-Wq"),
    pytest.param(2, 2.4, 1, 5, "blocking_probability", "0.1007", id="row26-P5"),
    pytest.param(1, 1 / 6, 3, 7, "in_system_mean", "6.0631", id="row27-L"),
    pytest.param(1, 1 / 6, 3, 7, "response_mean_s", "12.244", id="row27-W"),
]


@pytest.mark.parametrize(
    ("arrival_rate", "service_rate", "servers", "capacity", "field", "expected"), MMCK_CASES
)
def test_mmck_matches_reference(
    arrival_rate: float,
    service_rate: float,
    servers: int,
    capacity: int,
    field: str,
    expected: Expected,
) -> None:
    metrics = theory.mmck(arrival_rate, service_rate, servers, capacity)
    assert_matches(getattr(metrics, field), expected)


def test_mmck_row24_empty_probability() -> None:
    assert_matches(theory.mmck_state_probabilities(5, 3, 2, 5)[0], "0.14324")


def test_mmck_row27_lost_customers_per_hour() -> None:
    # λ = 1 per minute, so 60·P7 is the number of customers turned away per hour.
    assert_matches(60 * theory.mmck(1, 1 / 6, 3, 7).blocking_probability, "30.289")


def test_mmck_row25_offered_rate_convention_gives_the_published_figure() -> None:
    # The published 3/11 divides Lq by the offered rate; no admitted customer waits that long.
    metrics = theory.mmck(4, 2, 2, 5)
    assert metrics.queue_length_mean / 4 == pytest.approx(3 / 11, rel=1e-12)
    assert metrics.wait_mean_s == pytest.approx(metrics.queue_length_mean / (4 * (1 - 2 / 11)))


MG1_CASES = [
    pytest.param(20, 1 / 30, 0.0, "queue_length_mean", "0.66667", id="row28-MD1-Lq"),
    pytest.param(20, 1 / 30, 0.0, "in_system_mean", "1.33333", id="row28-MD1-L"),
    pytest.param(20, 1 / 30, 0.0, "wait_mean_s", "0.03333", id="row28-MD1-Wq-h"),
    pytest.param(20, 1 / 30, 0.0, "response_mean_s", "0.06667", id="row28-MD1-W-h"),
    # Row 29 in minutes: λ = 25/h = 25/60 per min, mean service 2 min in three phases.
    pytest.param(25 / 60, 2.0, 1 / 3, "queue_length_mean", "2.7778", id="row29-ME3-Lq"),
    pytest.param(25 / 60, 2.0, 1 / 3, "wait_mean_s", "6.6667", id="row29-ME3-Wq-min"),
    # Var(S) = 1 with E[S] = 1/3 is scv = 9.
    pytest.param(2, 1 / 3, 9.0, "in_system_mean", "7.3333", id="row30-MG1-L-not-published-6.67"),
]


@pytest.mark.parametrize(
    ("arrival_rate", "service_mean_s", "service_scv", "field", "expected"), MG1_CASES
)
def test_mg1_matches_reference(
    arrival_rate: float, service_mean_s: float, service_scv: float, field: str, expected: Expected
) -> None:
    metrics = theory.mg1(arrival_rate, service_mean_s, service_scv)
    assert_matches(getattr(metrics, field), expected)


def test_md1_waits_half_as_long_as_mm1_rows_3_and_28() -> None:
    deterministic = theory.md1(20, 1 / 30)
    exponential = theory.mm1(20, 30)
    assert deterministic.wait_mean_s == pytest.approx(exponential.wait_mean_s / 2, rel=1e-12)
    assert deterministic.response_mean_s == pytest.approx(0.06667, abs=5e-6)


# --- consistency between the models ---------------------------------------------------------------

MODEL_CASES: list[Any] = [
    pytest.param(lambda: theory.mm1(0.7, 1.0), 1.0, id="mm1"),
    pytest.param(lambda: theory.mmc(7.5, 1.0, 9), 1.0, id="mmc"),
    pytest.param(lambda: theory.mmck(9.5, 1.0, 8, 12), 1.0, id="mmck-overloaded"),
    pytest.param(lambda: theory.mmck(4, 2, 2, 5), 0.5, id="mmck-row25"),
    pytest.param(lambda: theory.mg1(2, 1 / 3, 9.0), 1 / 3, id="mg1"),
    pytest.param(lambda: theory.md1(20, 1 / 30), 1 / 30, id="md1"),
    pytest.param(lambda: theory.independent_queues(3.0, 1.0, 4), 1.0, id="queues-random"),
    pytest.param(
        lambda: theory.independent_queues(3.0, 1.0, 4, kind="round_robin"),
        1.0,
        id="queues-round-robin",
    ),
]


@pytest.mark.parametrize(("build", "service_mean_s"), MODEL_CASES)
def test_littles_law_holds_for_admitted_customers(
    build: Callable[[], QueueMetrics], service_mean_s: float
) -> None:
    metrics = build()
    rate = metrics.throughput_rps
    assert metrics.in_system_mean == pytest.approx(
        theory.littles_law_in_system(rate, metrics.response_mean_s), rel=1e-12
    )
    assert metrics.queue_length_mean == pytest.approx(rate * metrics.wait_mean_s, rel=1e-12)
    assert metrics.response_mean_s - metrics.wait_mean_s == pytest.approx(service_mean_s)
    assert 0 <= metrics.wait_probability <= 1


def test_mmc_with_one_server_is_mm1() -> None:
    one_server = asdict(theory.mmc(0.6, 0.8, 1))
    assert one_server == pytest.approx(asdict(theory.mm1(0.6, 0.8)), rel=1e-12)


@pytest.mark.parametrize(
    ("arrival_rate", "servers"),
    [pytest.param(0.9, 1, id="mm1-busy"), pytest.param(45.0, 50, id="c50"), (250.0, 300)],
)
def test_mmck_with_huge_capacity_approaches_mmc(arrival_rate: float, servers: int) -> None:
    bounded = theory.mmck(arrival_rate, 1.0, servers, servers + 5000)
    unbounded = theory.mmc(arrival_rate, 1.0, servers)
    assert bounded.blocking_probability < 1e-12
    for field in ("wait_mean_s", "queue_length_mean", "in_system_mean", "wait_probability"):
        assert getattr(bounded, field) == pytest.approx(getattr(unbounded, field), rel=1e-9)


@pytest.mark.parametrize(("servers", "offered_load"), [(1, 0.5), (3, 4.0), (20, 17.0), (40, 60)])
def test_mmck_without_waiting_room_is_erlang_b(servers: int, offered_load: float) -> None:
    metrics = theory.mmck(offered_load, 1.0, servers, servers)
    assert metrics.blocking_probability == pytest.approx(
        theory.erlang_b(servers, offered_load), rel=1e-12
    )
    assert metrics.wait_probability == 0.0


def test_mmck_state_probabilities_sum_to_one_at_heavy_load() -> None:
    probabilities = theory.mmck_state_probabilities(800.0, 1.0, 600, 900)
    assert probabilities.sum() == pytest.approx(1.0, rel=1e-12)
    assert (probabilities >= 0).all()


def test_mmc_state_probabilities_reproduce_queue_length() -> None:
    arrival_rate, servers = 8.0, 10
    probabilities = [
        theory.mmc_state_probability(arrival_rate, 1.0, servers, customers)
        for customers in range(400)
    ]
    queue_length = sum(max(n - servers, 0) * p for n, p in enumerate(probabilities))
    assert sum(probabilities) == pytest.approx(1.0, rel=1e-12)
    assert queue_length == pytest.approx(
        theory.mmc(arrival_rate, 1.0, servers).queue_length_mean, rel=1e-10
    )


@pytest.mark.parametrize(("servers", "offered_load"), [(1, 0.3), (5, 4.2), (30, 22.0), (300, 290)])
def test_erlang_c_is_at_least_erlang_b(servers: int, offered_load: float) -> None:
    assert theory.erlang_c(servers, offered_load) >= theory.erlang_b(servers, offered_load)


@pytest.mark.parametrize(
    ("servers", "offered_load"),
    [(1, 0.4), (12, 10.0), (150, 160.0), (500, 450.0), (800, 750.0), (60, 10.0)],
)
def test_erlang_b_equals_truncated_poisson_tail(servers: int, offered_load: float) -> None:
    log_poisson_at_servers = (
        servers * math.log(offered_load) - offered_load - math.lgamma(servers + 1)
    )
    expected = math.exp(log_poisson_at_servers) / special.pdtr(servers, offered_load)
    assert theory.erlang_b(servers, offered_load) == pytest.approx(expected, rel=1e-10)


def test_erlang_c_for_one_server_is_the_load() -> None:
    assert theory.erlang_c(1, 0.37) == pytest.approx(0.37, rel=1e-14)


def test_erlang_c_many_servers_stays_finite() -> None:
    probability = theory.erlang_c(800, 790.0)
    assert 0.5 < probability < 1.0


# --- wait and response time distributions ---------------------------------------------------------


@pytest.mark.parametrize("quantile", [0.01, 0.5, 0.9, 0.99, 0.999999])
def test_mm1_response_quantile_is_exponential(quantile: float) -> None:
    arrival_rate, service_rate = 3.0, 4.0
    expected = -math.log1p(-quantile) / (service_rate - arrival_rate)
    result = theory.mmc_response_quantile_s(arrival_rate, service_rate, 1, quantile)
    assert result == pytest.approx(expected, rel=1e-12)


def test_mm1_response_median_is_ln2_over_drain_rate() -> None:
    assert theory.mmc_response_quantile_s(0.5, 2.0, 1, 0.5) == pytest.approx(
        math.log(2) / 1.5, rel=1e-12
    )


def test_response_quantile_for_a_tiny_probability_is_small_and_non_negative() -> None:
    result = theory.mmc_response_quantile_s(7.0, 1.0, 8, 1e-9)
    assert 0.0 <= result < 1e-8


RESPONSE_DISTRIBUTION_CASES = [
    pytest.param(0.5, 2.0, 1, id="mm1"),
    pytest.param(1.0, 1.0, 2, id="rates-coincide"),
    pytest.param(1.0 - 1e-9, 1.0, 2, id="rates-nearly-coincide"),
    pytest.param(9.0, 5.0, 2, id="row05-drain-slower-than-service"),
    pytest.param(0.2, 1 / 240, 55, id="row10-drain-faster-than-service"),
    pytest.param(290.0, 1.0, 300, id="c300"),
]


@pytest.mark.parametrize(("arrival_rate", "service_rate", "servers"), RESPONSE_DISTRIBUTION_CASES)
def test_response_cdf_integrates_to_mean_response(
    arrival_rate: float, service_rate: float, servers: int
) -> None:
    def survival(time_s: float) -> float:
        return 1.0 - theory.mmc_response_cdf(arrival_rate, service_rate, servers, time_s)

    mean_s = theory.mmc(arrival_rate, service_rate, servers).response_mean_s
    integral, _ = integrate.quad(survival, 0.0, math.inf, epsabs=0.0, epsrel=1e-10, limit=200)
    assert integral == pytest.approx(mean_s, rel=1e-8)


@pytest.mark.parametrize(("arrival_rate", "service_rate", "servers"), RESPONSE_DISTRIBUTION_CASES)
@pytest.mark.parametrize("quantile", [0.05, 0.5, 0.95, 0.999])
def test_response_quantile_inverts_the_cdf(
    arrival_rate: float, service_rate: float, servers: int, quantile: float
) -> None:
    time_s = theory.mmc_response_quantile_s(arrival_rate, service_rate, servers, quantile)
    cdf = theory.mmc_response_cdf(arrival_rate, service_rate, servers, time_s)
    assert cdf == pytest.approx(quantile, abs=1e-12)


def test_response_cdf_when_drain_and_service_rates_coincide_is_erlang_2_mixture() -> None:
    # c = 2, λ = μ = 1: drain rate 2μ − λ = μ, so a waiting customer's time is Erlang-2.
    wait_probability = theory.erlang_c(2, 1.0)
    for time_s in (0.1, 1.0, 3.0, 10.0):
        expected_survival = (1 - wait_probability) * math.exp(-time_s) + wait_probability * (
            1 + time_s
        ) * math.exp(-time_s)
        cdf = theory.mmc_response_cdf(1.0, 1.0, 2, time_s)
        assert cdf == pytest.approx(1 - expected_survival, rel=1e-13)


def test_response_cdf_matches_two_exponential_formula() -> None:
    arrival_rate, service_rate, servers = 9.0, 5.0, 2
    drain_rate = servers * service_rate - arrival_rate
    wait_probability = theory.erlang_c(servers, arrival_rate / service_rate)
    for time_s in (0.05, 0.5, 2.0):
        sum_survival = (
            drain_rate * math.exp(-service_rate * time_s)
            - service_rate * math.exp(-drain_rate * time_s)
        ) / (drain_rate - service_rate)
        expected_survival = (1 - wait_probability) * math.exp(
            -service_rate * time_s
        ) + wait_probability * sum_survival
        cdf = theory.mmc_response_cdf(arrival_rate, service_rate, servers, time_s)
        assert cdf == pytest.approx(1 - expected_survival, rel=1e-12)


@pytest.mark.parametrize("quantile", [0.9, 0.95, 0.999])
def test_wait_quantile_meets_its_service_level(quantile: float) -> None:
    arrival_rate, service_rate, servers = 0.2, 1 / 240, 55
    wait_s = theory.mmc_wait_quantile_s(arrival_rate, service_rate, servers, quantile)
    assert wait_s > 0
    assert theory.service_level(arrival_rate, service_rate, servers, wait_s) == pytest.approx(
        quantile, rel=1e-12
    )


def test_wait_quantile_is_zero_when_that_share_never_waits() -> None:
    # Row 10: P(wait) = 0.2387, so 76 % of callers are answered at once.
    assert theory.mmc_wait_quantile_s(0.2, 1 / 240, 55, 0.76) == 0.0
    assert theory.mmc_wait_quantile_s(0.2, 1 / 240, 55, 0.77) > 0.0


# --- capacity planning ----------------------------------------------------------------------------


def test_min_servers_is_the_smallest_that_meets_the_target() -> None:
    arrival_rate, service_rate, quantile, target_s = 100.0, 1.0, 0.99, 6.0
    servers = theory.min_servers_for_response_quantile(
        arrival_rate, service_rate, quantile, target_s
    )
    assert servers == 102
    assert theory.mmc_response_quantile_s(arrival_rate, service_rate, servers, quantile) <= target_s
    assert (
        theory.mmc_response_quantile_s(arrival_rate, service_rate, servers - 1, quantile) > target_s
    )


@pytest.mark.parametrize(
    ("target_scale", "expected_servers"),
    [pytest.param(1 + 1e-9, 12, id="just-inside"), pytest.param(1 - 1e-9, 13, id="just-outside")],
)
def test_min_servers_boundary_pair(target_scale: float, expected_servers: int) -> None:
    arrival_rate, service_rate, quantile = 10.0, 1.0, 0.95
    exact_s = theory.mmc_response_quantile_s(arrival_rate, service_rate, 12, quantile)
    servers = theory.min_servers_for_response_quantile(
        arrival_rate, service_rate, quantile, exact_s * target_scale
    )
    assert servers == expected_servers


def test_min_servers_with_no_traffic_is_one() -> None:
    assert theory.min_servers_for_response_quantile(0.0, 1.0, 0.9, 3.0) == 1


def test_min_servers_rejects_a_target_below_the_service_time() -> None:
    # The 0.9 quantile of an exponential service of mean 1 s is ln 10 = 2.30 s.
    with pytest.raises(ValueError, match=r"target_s=2\.2 is unreachable.*2\.30259 s"):
        theory.min_servers_for_response_quantile(5.0, 1.0, 0.9, 2.2)


def test_min_servers_reports_when_max_servers_is_too_small() -> None:
    with pytest.raises(ValueError, match="more than max_servers=50 servers"):
        theory.min_servers_for_response_quantile(100.0, 1.0, 0.9, 5.0, max_servers=50)


# --- separate queues and processor sharing --------------------------------------------------------


def test_random_routing_gives_mm1_queues_with_split_rate() -> None:
    assert theory.independent_queues(6.0, 2.0, 4) == theory.mm1(1.5, 2.0)


def test_round_robin_to_one_queue_is_mm1() -> None:
    result = asdict(theory.independent_queues(0.8, 1.0, 1, kind="round_robin"))
    assert result == pytest.approx(asdict(theory.mm1(0.8, 1.0)), rel=1e-12)


def test_round_robin_to_two_queues_solves_the_e2_m1_root() -> None:
    # Erlang-2 arrivals at phase rate 1 into μ = 1: σ = 1/(2 − σ)², so σ = (3 − √5)/2.
    sigma = (3 - math.sqrt(5)) / 2
    result = theory.independent_queues(1.0, 1.0, 2, kind="round_robin")
    assert result.wait_probability == pytest.approx(sigma, rel=1e-12)
    assert result.wait_mean_s == pytest.approx(sigma / (1 - sigma), rel=1e-12)


def test_pooling_beats_round_robin_beats_random_routing() -> None:
    arrival_rate, service_rate, servers = 8.0, 1.0, 10
    pooled = theory.mmc(arrival_rate, service_rate, servers).response_mean_s
    dealt = theory.independent_queues(arrival_rate, service_rate, servers, "round_robin")
    scattered = theory.independent_queues(arrival_rate, service_rate, servers, "random")
    assert pooled < dealt.response_mean_s < scattered.response_mean_s


def test_processor_sharing_mean_equals_fcfs_mm1() -> None:
    assert theory.mm1_ps_response_mean_s(3.0, 0.25) == pytest.approx(
        theory.mm1(3.0, 4.0).response_mean_s, rel=1e-12
    )


def test_processor_sharing_slows_each_job_by_the_same_factor() -> None:
    assert theory.mg1_ps_conditional_response_s(2.0, 0.75) == pytest.approx(8.0, rel=1e-14)
    assert theory.mg1_ps_conditional_response_s(0.0, 0.75) == 0.0


def test_littles_law_helper() -> None:
    assert theory.littles_law_in_system(4.0, 0.25) == 1.0


# --- invalid arguments ----------------------------------------------------------------------------

INVALID_CASES = [
    pytest.param(theory.erlang_b, (0, 1.0), r"servers must be an integer >= 1, got 0", id="b-c0"),
    pytest.param(theory.erlang_b, (2.5, 1.0), r"servers must be an integer", id="b-c-float"),
    pytest.param(theory.erlang_b, (True, 1.0), r"servers must be an integer", id="b-c-bool"),
    pytest.param(theory.erlang_b, (3, -1.0), r"offered_load must be .* >= 0", id="b-negative"),
    pytest.param(theory.erlang_b, (3, math.nan), r"offered_load must be a finite", id="b-nan"),
    pytest.param(theory.erlang_c, (3, 3.0), r"M/M/c is unstable: .*rho = 1 ", id="c-rho1"),
    pytest.param(theory.erlang_b_max_load, (5, 1.0), r"blocking must be strictly", id="maxload"),
    pytest.param(theory.erlang_b_servers_needed, (5.0, 0.0), r"blocking must be", id="needed"),
    pytest.param(theory.mm1, (-1.0, 2.0), r"arrival_rate must be .* >= 0", id="mm1-negative"),
    pytest.param(theory.mm1, (1.0, 0.0), r"service_rate must be .* > 0", id="mm1-mu0"),
    pytest.param(theory.mm1, (2.0, 2.0), r"M/M/1 is unstable", id="mm1-rho1"),
    pytest.param(theory.mmc, (10.0, 1.0, 9), r"M/M/c is unstable: .*rho = 1\.11", id="mmc-rho"),
    pytest.param(theory.mmc, (1.0, 1.0, 0), r"servers must be an integer >= 1", id="mmc-c0"),
    pytest.param(
        theory.mmck, (1.0, 1.0, 3, 2), r"capacity must be >= servers", id="mmck-k-below-c"
    ),
    pytest.param(theory.mg1, (1.0, 1.0, 0.5), r"M/G/1 is unstable", id="mg1-rho1"),
    pytest.param(theory.mg1, (1.0, 0.5, -0.1), r"service_scv must be .* >= 0", id="mg1-scv"),
    pytest.param(theory.md1, (1.0, -0.5), r"service_time_s must be .* > 0", id="md1-negative"),
    pytest.param(theory.mm1_ps_response_mean_s, (4.0, 0.25), r"M/G/1-PS is unstable", id="ps"),
    pytest.param(
        theory.mg1_ps_conditional_response_s, (1.0, 1.0), r"M/G/1-PS is unstable", id="ps-x"
    ),
    pytest.param(theory.mmc_wait_quantile_s, (1.0, 1.0, 2, 1.0), r"quantile must be", id="q1"),
    pytest.param(theory.mmc_response_quantile_s, (1.0, 1.0, 2, 0.0), r"quantile must", id="q0"),
    pytest.param(theory.mmc_response_cdf, (1.0, 1.0, 2, -1.0), r"time_s must be", id="cdf-t"),
    pytest.param(theory.service_level, (1.0, 1.0, 2, -1.0), r"wait_s must be", id="sl-t"),
    pytest.param(
        theory.mmc_state_probability, (1.0, 1.0, 2, -1), r"customers must be", id="state-n"
    ),
    pytest.param(
        theory.independent_queues, (4.0, 1.0, 4), r"random routing to 4 queues is unstable", id="iq"
    ),
    pytest.param(
        theory.independent_queues, (1.0, 1.0, 2, "hash"), r"kind must be 'random'", id="iq-kind"
    ),
    pytest.param(
        theory.min_servers_for_response_quantile,
        (1.0, 1.0, 0.9, 0.0),
        r"target_s must be .* > 0",
        id="planner-target",
    ),
    pytest.param(
        theory.littles_law_in_system, (1.0, -2.0), r"response_mean_s must be", id="little"
    ),
]


@pytest.mark.parametrize(("function", "arguments", "message"), INVALID_CASES)
def test_invalid_arguments_are_rejected(
    function: Callable[..., object], arguments: tuple[object, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        function(*arguments)

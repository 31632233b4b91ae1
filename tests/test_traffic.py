"""The rate function λ(t), its upper bounds, and the arrival process drawn from it.

Statistical tests run at fixed seeds with tolerances of about four standard errors, so they
are deterministic and fail only when the process is wrong.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from sim.config.schema import Burst, Diurnal, Growth, Surge, Traffic
from sim.traffic import (
    ArrivalGenerator,
    BurstFactors,
    RateBoundError,
    RateFunction,
    RateTrace,
    rate_function,
)
from sim.traffic.rate import surge_envelope

TRACES = Path(__file__).resolve().parent / "data" / "traces"
DAY_S = 86400.0


def traffic(**fields: Any) -> Traffic:
    return Traffic.model_validate(fields)


def generator(fields: dict[str, Any], duration_s: float, seed: int = 1) -> ArrivalGenerator:
    return ArrivalGenerator(
        traffic(**fields), duration_s, np.random.default_rng(seed), TRACES.joinpath
    )


def arrivals(
    fields: dict[str, Any], duration_s: float, seed: int = 1, **options: int
) -> np.ndarray:
    chunks = list(generator(fields, duration_s, seed).chunks(**options))
    return np.concatenate(chunks) if chunks else np.empty(0)


# --- the rate function -------------------------------------------------------------------------

SURGE = {"start_s": 100, "ramp_s": 100, "hold_s": 200, "decay_s": 100, "multiplier": 5}

RATE_CASES = {
    # name: (traffic fields, time, expected λ)
    "constant": ({"rate_rps": 50}, 1234.5, 50.0),
    "diurnal peak": (
        {"rate_rps": 100, "diurnal": {"amplitude": 0.6, "peak_at_s": 50400}},
        50400.0,
        160.0,
    ),
    "diurnal trough half a period later": (
        {"rate_rps": 100, "diurnal": {"amplitude": 0.6, "peak_at_s": 50400}},
        50400.0 + 43200.0,
        40.0,
    ),
    "diurnal quarter period: mean": (
        {"rate_rps": 100, "diurnal": {"amplitude": 0.6, "period_s": 3600, "peak_at_s": 0}},
        900.0,
        100.0,
    ),
    "exponential growth after one day": (
        {"rate_rps": 100, "growth": {"rate_per_day": 0.1}},
        DAY_S,
        110.0,
    ),
    "exponential growth compounds over two days": (
        {"rate_rps": 100, "growth": {"rate_per_day": 0.1}},
        2 * DAY_S,
        121.0,
    ),
    "linear growth after two days": (
        {"rate_rps": 100, "growth": {"rate_per_day": 0.1, "kind": "linear"}},
        2 * DAY_S,
        120.0,
    ),
    "linear decline stops at zero": (
        {"rate_rps": 100, "growth": {"rate_per_day": -0.5, "kind": "linear"}},
        3 * DAY_S,
        0.0,
    ),
    "surge: before start": ({"rate_rps": 10, "surges": [SURGE]}, 99.0, 10.0),
    "surge: ramp midpoint": ({"rate_rps": 10, "surges": [SURGE]}, 150.0, 30.0),
    "surge: hold": ({"rate_rps": 10, "surges": [SURGE]}, 300.0, 50.0),
    "surge: decay midpoint": ({"rate_rps": 10, "surges": [SURGE]}, 450.0, 30.0),
    "surge: after": ({"rate_rps": 10, "surges": [SURGE]}, 500.0, 10.0),
    "dip: hold": (
        {"rate_rps": 10, "surges": [{**SURGE, "multiplier": 0.2}]},
        300.0,
        2.0,
    ),
    "step surge: at start": (
        {"rate_rps": 10, "surges": [{"start_s": 100, "hold_s": 10, "multiplier": 3}]},
        100.0,
        30.0,
    ),
    "step surge: at end of hold": (
        {"rate_rps": 10, "surges": [{"start_s": 100, "hold_s": 10, "multiplier": 3}]},
        110.0,
        10.0,
    ),
    "two overlapping surges multiply": (
        {
            "rate_rps": 10,
            "surges": [SURGE, {"start_s": 250, "ramp_s": 100, "hold_s": 50, "multiplier": 3}],
        },
        300.0,  # first in its hold (×5), second half-way up its ramp (×2)
        100.0,
    ),
    "all terms multiply": (
        {
            "rate_rps": 10,
            "diurnal": {"amplitude": 0.5, "period_s": 1000, "peak_at_s": 300},
            "growth": {"rate_per_day": 1.0},
            "surges": [SURGE],
        },
        300.0,
        10 * 1.5 * 2 ** (300 / DAY_S) * 5,
    ),
}


@pytest.mark.parametrize(
    ("fields", "time_s", "expected_rps"), RATE_CASES.values(), ids=RATE_CASES.keys()
)
def test_rate_function_value(fields: dict[str, Any], time_s: float, expected_rps: float) -> None:
    rate = rate_function(traffic(**fields))
    assert rate(np.array([time_s]))[0] == pytest.approx(expected_rps, rel=1e-12, abs=1e-12)


def test_rate_function_is_vectorised_and_keeps_shape() -> None:
    rate = rate_function(traffic(rate_rps=10, surges=[SURGE]))
    times = np.array([[99.0, 150.0], [300.0, 450.0]])
    np.testing.assert_allclose(rate(times), [[10.0, 30.0], [50.0, 30.0]])


def test_rate_function_of_a_rate_trace_is_piecewise_constant_and_ends() -> None:
    trace = RateTrace(np.array([0.0, 60.0, 120.0]), np.array([2.0, 5.0, 1.0]), 180.0)
    rate = RateFunction(trace, surges=[Surge(start_s=60, hold_s=60, multiplier=2)])
    times = np.array([0.0, 59.9, 60.0, 119.9, 120.0, 179.9, 180.0, 1e6])
    np.testing.assert_array_equal(rate(times), [2, 2, 10, 10, 1, 1, 0, 0])


def test_surge_envelope_is_a_trapezoid() -> None:
    surge = Surge(**SURGE)
    times = np.array([0, 100, 125, 200, 399.999, 400, 475, 500, 600], dtype=float)
    np.testing.assert_allclose(
        surge_envelope(surge, times), [0, 0, 0.25, 1, 1, 1, 0.25, 0, 0], atol=1e-4
    )


# --- upper bounds ------------------------------------------------------------------------------

BOUND_CASES = {
    # name: (traffic fields, interval, expected bound); boundary pairs just inside/outside
    "constant": ({"rate_rps": 7}, (0.0, 1e9), 7.0),
    "diurnal: interval holds the peak": (
        {"rate_rps": 10, "diurnal": {"amplitude": 0.5, "period_s": 100, "peak_at_s": 30}},
        (20.0, 30.0),
        15.0,
    ),
    "diurnal: interval ends just before the peak": (
        {"rate_rps": 10, "diurnal": {"amplitude": 0.5, "period_s": 100, "peak_at_s": 30}},
        (20.0, 29.0),
        10 * (1 + 0.5 * math.cos(2 * math.pi / 100)),
    ),
    "diurnal: peak of a later cycle": (
        {"rate_rps": 10, "diurnal": {"amplitude": 0.5, "period_s": 100, "peak_at_s": 30}},
        (200.0, 330.0),
        15.0,
    ),
    "growth: exponential at the end": (
        {"rate_rps": 10, "growth": {"rate_per_day": 1.0}},
        (0.0, DAY_S),
        20.0,
    ),
    "decline: at the start": (
        {"rate_rps": 10, "growth": {"rate_per_day": -0.5}},
        (0.0, DAY_S),
        10.0,
    ),
    "surge: interval reaches the hold": ({"rate_rps": 10, "surges": [SURGE]}, (0.0, 200.0), 50.0),
    "surge: interval ends in the ramp": ({"rate_rps": 10, "surges": [SURGE]}, (0.0, 150.0), 30.0),
    "surge: interval starts in the decay": (
        {"rate_rps": 10, "surges": [SURGE]},
        (450.0, 1000.0),
        30.0,
    ),
    "surge: interval after it": ({"rate_rps": 10, "surges": [SURGE]}, (500.0, 1000.0), 10.0),
    "dip: the least dip on the interval": (
        {"rate_rps": 10, "surges": [{**SURGE, "multiplier": 0.2}]},
        (150.0, 300.0),
        10 * (1 - 0.8 * 0.5),
    ),
}


@pytest.mark.parametrize(
    ("fields", "interval", "expected_rps"), BOUND_CASES.values(), ids=BOUND_CASES.keys()
)
def test_upper_bound_value(
    fields: dict[str, Any], interval: tuple[float, float], expected_rps: float
) -> None:
    bound = rate_function(traffic(**fields)).upper_bound(*interval)
    assert bound == pytest.approx(expected_rps, rel=1e-8)


def random_rate_function(rng: np.random.Generator, horizon_s: float) -> RateFunction:
    """A rate function with random terms, steps included (zero ramps, trace bins)."""
    diurnal = None
    if rng.random() < 0.7:
        diurnal = Diurnal(
            amplitude=rng.uniform(0, 0.99),
            period_s=10 ** rng.uniform(1, 5),
            peak_at_s=rng.uniform(-horizon_s, horizon_s),
        )
    growth = None
    if rng.random() < 0.6:
        growth = Growth(
            rate_per_day=rng.uniform(-0.99, 20),
            kind="exponential" if rng.random() < 0.5 else "linear",
        )
    surges = [
        Surge(
            start_s=rng.uniform(0, horizon_s),
            ramp_s=rng.choice([0.0, rng.uniform(0, horizon_s / 4)]),
            hold_s=rng.choice([0.0, rng.uniform(0, horizon_s / 4)]),
            decay_s=rng.choice([0.0, rng.uniform(0, horizon_s / 4)]),
            multiplier=rng.choice([rng.uniform(0.05, 1), rng.uniform(1, 20)]),
        )
        for _ in range(rng.integers(0, 4))
    ]
    base: float | RateTrace = float(rng.uniform(0, 1000))
    if rng.random() < 0.4:
        edges = np.sort(rng.uniform(0, horizon_s, size=rng.integers(2, 50)))
        starts = edges[:-1] - edges[0]
        base = RateTrace(starts, rng.uniform(0, 500, starts.size), edges[-1] - edges[0])
    return RateFunction(base, diurnal=diurnal, growth=growth, surges=surges)


def test_upper_bound_holds_on_dense_grids_of_random_intervals() -> None:
    rng = np.random.default_rng(2024)
    horizon_s = 200_000.0
    for _ in range(400):
        rate = random_rate_function(rng, horizon_s)
        start_s = rng.uniform(0, horizon_s)
        end_s = start_s + 10 ** rng.uniform(-3, 5)
        grid = np.linspace(start_s, end_s, 4001)
        bound = rate.upper_bound(start_s, end_s)
        assert np.all(rate(grid) <= bound), (start_s, end_s)


def test_upper_bound_is_tight_on_short_smooth_intervals() -> None:
    rate = rate_function(
        traffic(
            rate_rps=40,
            diurnal={"amplitude": 0.8, "period_s": 3600},
            growth={"rate_per_day": 3},
            surges=[{**SURGE, "ramp_s": 30, "decay_s": 30}],
        )
    )
    for start_s in np.linspace(0, 7200, 97):
        ratio = rate.upper_bound(start_s, start_s + 0.001) / rate(np.array([start_s]))[0]
        assert 1 <= ratio < 1.001


# --- the arrival process -----------------------------------------------------------------------


def test_constant_rate_counts_are_poisson_over_seeds() -> None:
    rate_rps, duration_s, runs = 5.0, 100.0, 400
    counts = np.array(
        [arrivals({"rate_rps": rate_rps}, duration_s, seed).size for seed in range(runs)]
    )
    expected = rate_rps * duration_s
    assert abs(counts.mean() - expected) < 4 * math.sqrt(expected / runs)
    dispersion = counts.var(ddof=1) / counts.mean()
    assert abs(dispersion - 1) < 4 * math.sqrt(2 / (runs - 1))


def test_constant_rate_over_many_windows_is_poisson_and_exponential() -> None:
    # Long enough for dozens of internal thinning windows, so their seams are tested too.
    rate_rps, duration_s = 50.0, 20_000.0
    times = arrivals({"rate_rps": rate_rps}, duration_s, seed=7)
    expected = rate_rps * duration_s
    assert abs(times.size - expected) < 4 * math.sqrt(expected)
    per_second = np.bincount(times.astype(np.int64), minlength=int(duration_s))
    dispersion = per_second.var(ddof=1) / per_second.mean()
    assert abs(dispersion - 1) < 4 * math.sqrt(2 / (per_second.size - 1))
    gaps = np.diff(times)
    assert stats.kstest(gaps, "expon", args=(0, 1 / rate_rps)).pvalue > 0.01


def test_surge_counts_per_window_match_the_integral_of_the_rate() -> None:
    fields = {"rate_rps": 20, "surges": [{**SURGE, "start_s": 200, "multiplier": 6}]}
    duration_s, window_s, seeds = 800.0, 20.0, 10
    edges = np.arange(0, duration_s + window_s, window_s)
    counts = sum(
        np.histogram(arrivals(fields, duration_s, seed), bins=edges)[0] for seed in range(seeds)
    )
    # λ is piecewise linear between window edges, so the midpoint rule is exact.
    fine = np.arange(0, duration_s, 0.05) + 0.025
    rates = generator(fields, duration_s).rate_rps(fine)
    expected = seeds * rates.reshape(edges.size - 1, -1).sum(axis=1) * 0.05
    z = (counts - expected) / np.sqrt(expected)
    assert np.abs(z).max() < 4
    assert 0.5 < np.mean(z**2) < 1.6


def test_burst_slot_counts_are_overdispersed_as_a_gamma_mixture() -> None:
    rate_rps, period_s, cv = 50.0, 10.0, 0.5
    fields = {"rate_rps": rate_rps, "burst": {"cv": cv, "period_s": period_s}}
    duration_s = 20_000.0
    times = arrivals(fields, duration_s, seed=11)
    slots = np.bincount((times // period_s).astype(np.int64), minlength=int(duration_s / period_s))
    assert slots.mean() == pytest.approx(rate_rps * period_s, rel=0.05)
    dispersion = slots.var(ddof=1) / slots.mean()
    assert dispersion == pytest.approx(1 + rate_rps * period_s * cv**2, rel=0.15)


def test_burst_factors_are_gamma_with_mean_one() -> None:
    factors = BurstFactors(Burst(cv=0.8, period_s=2), np.random.default_rng(3))
    values = factors.at(np.arange(0, 40_000, 2.0))
    assert values.mean() == pytest.approx(1, abs=4 * 0.8 / math.sqrt(values.size))
    assert values.std() / values.mean() == pytest.approx(0.8, rel=0.05)
    assert stats.kstest(values, "gamma", args=(1 / 0.8**2, 0, 0.8**2)).pvalue > 0.01


def test_a_bound_below_the_rate_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RateFunction, "upper_bound", lambda self, start_s, end_s: 1.0)
    with pytest.raises(RateBoundError, match="exceeds the thinning bound"):
        arrivals({"rate_rps": 5}, 100.0)


# --- chunks ------------------------------------------------------------------------------------

CHUNK_SCENARIOS = {
    "constant": {"rate_rps": 30},
    "surge and diurnal": {
        "rate_rps": 30,
        "diurnal": {"amplitude": 0.5, "period_s": 600},
        "surges": [SURGE],
    },
    "burst": {"rate_rps": 30, "burst": {"cv": 1.0, "period_s": 5}},
    "replayed rate trace": {
        "replay": {"path": "requests_per_minute.csv", "format": "rate_csv", "speedup": 0.5},
        "surges": [SURGE],
    },
    "replayed arrivals": {
        "replay": {"path": "access_combined.log", "format": "access_log", "speedup": 0.01},
        "growth": {"rate_per_day": 50_000, "kind": "linear"},
    },
}


@pytest.mark.parametrize("fields", CHUNK_SCENARIOS.values(), ids=CHUNK_SCENARIOS.keys())
def test_chunks_are_sorted_in_range_and_reproducible(fields: dict[str, Any]) -> None:
    duration_s = 600.0
    chunks = list(generator(fields, duration_s, seed=5).chunks(max_chunk=200))
    assert chunks, "the scenario should produce arrivals"
    assert all(chunk.size == 200 for chunk in chunks[:-1])
    assert 0 < chunks[-1].size <= 200
    times = np.concatenate(chunks)
    assert times.dtype == np.float64
    assert np.all(np.diff(times) >= 0)
    assert times[0] >= 0 and times[-1] < duration_s
    again = np.concatenate(list(generator(fields, duration_s, seed=5).chunks(max_chunk=200)))
    np.testing.assert_array_equal(times, again)
    other_size = np.concatenate(list(generator(fields, duration_s, seed=5).chunks(max_chunk=7)))
    np.testing.assert_array_equal(times, other_size)
    other_seed = np.concatenate(list(generator(fields, duration_s, seed=6).chunks()))
    assert not np.array_equal(times, other_seed)


def test_chunks_are_lazy() -> None:
    # A run this long could never be drawn eagerly: the first chunk must come at once.
    chunks = generator({"rate_rps": 1000}, 1e12).chunks(max_chunk=50_000)
    started = time.perf_counter()
    first = next(chunks)
    assert first.size == 50_000
    assert time.perf_counter() - started < 1.0


def test_chunks_can_be_drawn_once() -> None:
    arrival_generator = generator({"rate_rps": 1}, 10)
    arrival_generator.chunks()
    with pytest.raises(RuntimeError, match="only once"):
        arrival_generator.chunks()


@pytest.mark.parametrize("max_chunk", [0, -5], ids=["zero", "negative"])
def test_chunk_size_must_be_positive(max_chunk: int) -> None:
    with pytest.raises(ValueError, match="max_chunk"):
        generator({"rate_rps": 1}, 10).chunks(max_chunk)


@pytest.mark.parametrize("duration_s", [0.0, -1.0, math.inf, math.nan])
def test_duration_must_be_positive_and_finite(duration_s: float) -> None:
    with pytest.raises(ValueError, match="duration_s"):
        generator({"rate_rps": 1}, duration_s)


def test_zero_rate_gives_no_arrivals() -> None:
    assert list(generator({"rate_rps": 0}, 1000).chunks()) == []


# --- replays through the generator -------------------------------------------------------------


def test_replayed_rate_trace_drives_the_rate_and_ends_with_the_trace() -> None:
    fields = {"replay": {"path": "requests_per_minute.csv", "format": "rate_csv"}}
    arrival_generator = generator(fields, duration_s=1000)
    np.testing.assert_array_equal(
        arrival_generator.rate_rps(np.array([30.0, 90.0, 150.0, 210.0, 270.0, 330.0, 400.0])),
        [2.0, 1.0, 0.5, 0.0, 4.0, 0.0, 0.0],
    )
    counts = sum(
        np.histogram(arrivals(fields, 1000, seed), bins=[0, 60, 120, 180, 240, 300, 1000])[0]
        for seed in range(40)
    )
    expected = 40 * np.array([120, 60, 30, 0, 240, 0])
    assert counts[3] == 0 and counts[5] == 0  # a gap, then the trace has ended
    nonzero = expected > 0
    assert np.all(np.abs(counts[nonzero] - expected[nonzero]) < 4 * np.sqrt(expected[nonzero]))


def test_replayed_arrivals_are_the_trace_when_nothing_shapes_them() -> None:
    fields = {"replay": {"path": "interarrivals.txt", "format": "interarrival"}}
    np.testing.assert_array_equal(arrivals(fields, 100.0), [0.5, 0.75, 0.75, 2.0, 4.0])
    np.testing.assert_array_equal(arrivals(fields, 2.0), [0.5, 0.75, 0.75])


def test_replayed_arrivals_follow_the_shaping_factor(tmp_path: Path) -> None:
    # Arrivals every 1/64 s (exact in binary) for 200 s; a surge triples and a half them.
    path = tmp_path / "even_gaps.txt"
    path.write_text("0.015625\n" * 12_800)
    fields = {
        "replay": {"path": str(path), "format": "interarrival"},
        "surges": [{"start_s": 50, "hold_s": 50, "multiplier": 3.5}],
    }
    times = arrivals(fields, 200.0, seed=3)
    counts = np.histogram(times, bins=[0, 50, 100, 150, 200])[0]
    # Outside the surge every arrival is kept as it is; the last one, at 200 s, is after the
    # run. Inside, each yields 3 or 4: a spread of sqrt(3200 · 0.25).
    assert counts[[0, 2, 3]].tolist() == [3199, 3200, 3200]
    assert abs(counts[1] - 3.5 * 3200) < 4 * math.sqrt(3200 * 0.25)
    surge_times = times[(times >= 50) & (times < 100)]
    np.testing.assert_array_equal(np.unique(np.floor(surge_times * 64)), np.arange(3200, 6400))


def test_rate_of_replayed_arrivals_is_their_count_per_peak_window() -> None:
    fields = {"replay": {"path": "interarrivals.txt", "format": "interarrival", "peak_window_s": 2}}
    arrival_generator = generator(fields, 100)
    np.testing.assert_array_equal(
        arrival_generator.rate_rps(np.array([1.0, 3.0, 5.0, 7.0])), [1.5, 0.5, 0.5, 0.0]
    )

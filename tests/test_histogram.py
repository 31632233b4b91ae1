"""The log-bucketed latency histogram against exact sample statistics.

Quantiles are compared with numpy's ``inverted_cdf`` (the smallest value with at least a share
``q`` of the sample at or below it), which is the definition the histogram answers to within
its relative accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from sim.histogram import (
    BUCKETS,
    MAX_VALUE_S,
    MIN_VALUE_S,
    RELATIVE_ACCURACY,
    bucket_indices,
    counts_of,
    fraction_at_most,
    quantile_of_counts,
    quantiles_of_counts,
)

QUANTILES = (0.5, 0.9, 0.95, 0.99, 0.999)
TOLERANCE = 0.005
"""Relative error allowed by DESIGN.md's histogram (0.5 %), plus float rounding below."""
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
"""Ratio of a bucket's upper to its lower edge."""


def lognormal(size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(math.log(0.05), 1.5, size)


def exponential(size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).exponential(0.2, size)


def mixed(size: int, seed: int) -> np.ndarray:
    """Log-uniform over 1e-5…1e3 s, with a lognormal bulk and an exponential tail."""
    rng = np.random.default_rng(seed)
    third = size // 3
    return rng.permutation(
        np.concatenate(
            (
                10 ** rng.uniform(-5, 3, size - 2 * third),
                rng.lognormal(math.log(0.03), 1.0, third),
                rng.exponential(5.0, third),
            )
        )
    )


Sampler = Callable[[int, int], np.ndarray]
SAMPLERS: dict[str, Sampler] = {"lognormal": lognormal, "exponential": exponential, "mixed": mixed}
SIZES = (1, 2, 7, 100, 1001, 200_000)


@pytest.mark.parametrize("size", SIZES, ids=[f"n={size}" for size in SIZES])
@pytest.mark.parametrize("sampler", SAMPLERS.values(), ids=list(SAMPLERS))
def test_quantiles_within_half_a_percent(sampler: Sampler, size: int) -> None:
    values = sampler(size, size)
    estimated = np.array(quantiles_of_counts(counts_of(values), QUANTILES))
    exact = np.quantile(values, QUANTILES, method="inverted_cdf")
    relative_error = np.abs(estimated / exact - 1)
    assert relative_error.max() <= TOLERANCE * (1 + 1e-9), dict(
        zip(QUANTILES, relative_error, strict=True)
    )


def test_mixed_sample_spans_the_range() -> None:
    values = mixed(200_000, seed=200_000)
    assert values.min() < 2e-5 and values.max() > 5e2


@pytest.mark.parametrize("sampler", SAMPLERS.values(), ids=list(SAMPLERS))
def test_single_quantile_agrees_with_several(sampler: Sampler) -> None:
    counts = counts_of(sampler(10_000, 3))
    several = quantiles_of_counts(counts, QUANTILES)
    assert [quantile_of_counts(counts, q) for q in QUANTILES] == several


@pytest.mark.parametrize("size", [0, 1, 10, 100_000], ids=lambda size: f"n={size}")
def test_counts_have_a_fixed_length(size: int) -> None:
    counts = counts_of(lognormal(size, seed=1))
    assert counts.shape == (BUCKETS,)
    assert counts.sum() == size


def test_histogram_is_small() -> None:
    # 0.5 % buckets from 1 µs to 10⁶ s: about 2,800 counters whatever the number of requests.
    assert 2000 < BUCKETS < 3500


def test_empty_histogram_gives_nan() -> None:
    counts = counts_of(np.array([], dtype=np.float64))
    assert all(math.isnan(value) for value in quantiles_of_counts(counts, QUANTILES))
    assert math.isnan(quantile_of_counts(counts, 0.5))
    assert math.isnan(fraction_at_most(counts, 1.0))


def test_counts_add_up() -> None:
    first, second = lognormal(5000, seed=1), exponential(3000, seed=2)
    combined = counts_of(np.concatenate((first, second)))
    np.testing.assert_array_equal(combined, counts_of(first) + counts_of(second))


THRESHOLDS = (1e-4, 0.003, 0.05, 0.5, 2.0, 100.0)


@pytest.mark.parametrize("threshold_s", THRESHOLDS, ids=[f"{t:g} s" for t in THRESHOLDS])
def test_fraction_at_most_within_one_bucket(threshold_s: float) -> None:
    values = mixed(100_000, seed=9)
    share = fraction_at_most(counts_of(values), threshold_s)
    # One bucket spans a factor GAMMA: the answer lies between the shares one bucket either side.
    lower = np.mean(values <= threshold_s / GAMMA)
    upper = np.mean(values <= threshold_s * GAMMA)
    assert lower <= share <= upper
    assert lower < upper  # the bound has teeth: values do fall within a bucket of the threshold


@pytest.mark.parametrize(
    ("threshold_s", "expected"),
    [(1e-7, 0.0), (1e7, 1.0)],
    ids=["below every value", "above every value"],
)
def test_fraction_at_most_at_the_extremes(threshold_s: float, expected: float) -> None:
    assert fraction_at_most(counts_of(lognormal(1000, seed=4)), threshold_s) == expected


CLIP_CASES = {
    # name: (values, bucket they all go to)
    "zero": ([0.0], 0),
    "below the range": ([1e-9, 5e-7], 0),
    "at the lower limit": ([MIN_VALUE_S], 0),
    "at the upper limit": ([MAX_VALUE_S], BUCKETS - 1),
    "above the range": ([1e7, 1e12], BUCKETS - 1),
    "infinity": ([math.inf], BUCKETS - 1),
}


@pytest.mark.parametrize(("values", "bucket"), CLIP_CASES.values(), ids=list(CLIP_CASES))
def test_out_of_range_values_are_clipped_to_the_end_buckets(
    values: list[float], bucket: int
) -> None:
    array = np.array(values)
    assert list(bucket_indices(array)) == [bucket] * len(values)
    counts = counts_of(array)
    assert counts[bucket] == len(values) and counts.sum() == len(values)


def test_first_value_above_the_lower_limit_has_its_own_bucket() -> None:
    assert list(bucket_indices(np.array([MIN_VALUE_S * 1.001, MIN_VALUE_S * GAMMA**1.5]))) == [1, 2]


def test_clipped_quantiles() -> None:
    tiny = counts_of(np.full(10, 1e-9))
    huge = counts_of(np.full(10, 1e9))
    assert quantile_of_counts(tiny, 0.5) <= MIN_VALUE_S
    assert quantile_of_counts(huge, 0.5) == pytest.approx(MAX_VALUE_S, rel=TOLERANCE)

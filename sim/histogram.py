"""A log-bucketed latency histogram: percentiles within 0.5 % relative error in fixed memory.

Bucket ``i`` holds values in ``(γ^(i−1), γ^i]`` with ``γ = (1 + α)/(1 − α)``; answering a
quantile with ``2γ^i/(γ + 1)`` is then within a relative error ``α`` of every value in the
bucket (the scheme of DDSketch, Masson et al., VLDB 2019). With ``α = 0.005`` and a range
from 1 µs to 10⁶ s that is about 2,800 counters, whatever the number of requests.
"""

from __future__ import annotations

import math

import numpy as np

RELATIVE_ACCURACY = 0.005
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
MIN_VALUE_S = 1e-6
MAX_VALUE_S = 1e6
_OFFSET = math.ceil(math.log(MIN_VALUE_S) / _LOG_GAMMA)
BUCKETS = math.ceil(math.log(MAX_VALUE_S) / _LOG_GAMMA) - _OFFSET + 2
# Representative value of each bucket; bucket 0 collects everything at or below MIN_VALUE_S.
_REPRESENTATIVES = np.concatenate(
    (
        [0.0],
        2 * _GAMMA ** (np.arange(1, BUCKETS) + _OFFSET - 1) / (_GAMMA + 1),
    )
)


def bucket_indices(values_s: np.ndarray) -> np.ndarray:
    """The bucket of each value (values beyond the range go to the first or last bucket)."""
    clipped = np.clip(values_s, MIN_VALUE_S, MAX_VALUE_S)
    indices = np.ceil(np.log(clipped) / _LOG_GAMMA).astype(np.int64) - _OFFSET + 1
    indices[values_s <= MIN_VALUE_S] = 0
    return np.asarray(np.minimum(indices, BUCKETS - 1), dtype=np.int64)


def counts_of(values_s: np.ndarray) -> np.ndarray:
    """A histogram (counts per bucket) of ``values_s``."""
    return np.bincount(bucket_indices(values_s), minlength=BUCKETS)


def quantile_of_counts(counts: np.ndarray, quantile: float) -> float:
    """The ``quantile`` (0–1) of the values counted in ``counts``; NaN when it is empty."""
    total = int(counts.sum())
    if total == 0:
        return math.nan
    rank = max(1, math.ceil(quantile * total))
    bucket = int(np.searchsorted(np.cumsum(counts), rank))
    return float(_REPRESENTATIVES[bucket])


def quantiles_of_counts(counts: np.ndarray, quantiles: tuple[float, ...]) -> list[float]:
    """Several quantiles of one histogram, sharing the cumulative sum."""
    total = int(counts.sum())
    if total == 0:
        return [math.nan] * len(quantiles)
    cumulative = np.cumsum(counts)
    ranks = [max(1, math.ceil(quantile * total)) for quantile in quantiles]
    buckets = np.searchsorted(cumulative, ranks)
    return [float(value) for value in _REPRESENTATIVES[buckets]]


def fraction_at_most(counts: np.ndarray, threshold_s: float) -> float:
    """Share of the counted values at or below ``threshold_s`` (to the histogram's accuracy)."""
    total = int(counts.sum())
    if total == 0:
        return math.nan
    bucket = int(bucket_indices(np.array([threshold_s]))[0])
    return float(counts[: bucket + 1].sum() / total)

"""Arrival batches: pre-drawn arrival times with each request's endpoint and CPU demand.

Arrival times come from the traffic layer in chunks; each chunk's endpoints and CPU demands
are drawn in bulk from the ``demands`` stream, in arrival order, so that every policy run with
the same seed sees the same requests (common random numbers). Per-interval arrival counts are
taken here, in bulk, so the request lane spends nothing on them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from sim.config.distributions import Distribution
from sim.model.kernel import ArrivalBatch


class ArrivalBatches:
    """An iterator of :data:`ArrivalBatch` built from a stream of arrival-time chunks."""

    def __init__(
        self,
        *,
        chunks: Iterator[np.ndarray],
        endpoint_weights: Sequence[float],
        demand_distributions: Sequence[Distribution],
        rng: np.random.Generator,
        interval_s: float,
        warmup_s: float,
    ) -> None:
        weights = np.asarray(endpoint_weights, dtype=np.float64)
        self._probabilities = weights / weights.sum()
        self._demands = list(demand_distributions)
        self._chunks = chunks
        self._rng = rng
        self._interval_s = interval_s
        self._warmup_s = warmup_s
        self.arrivals_per_interval: np.ndarray = np.zeros(0, dtype=np.int64)
        self.requests_after_warmup = 0

    def __iter__(self) -> Iterator[ArrivalBatch]:
        for times in self._chunks:
            if times.size == 0:
                continue
            count = times.size
            endpoints = self._rng.choice(
                len(self._probabilities), size=count, p=self._probabilities
            )
            demands = np.empty(count, dtype=np.float64)
            for index, distribution in enumerate(self._demands):
                chosen = endpoints == index
                demands[chosen] = distribution.sample(self._rng, int(chosen.sum()))
            self._count(times)
            yield times.tolist(), demands.tolist(), endpoints.tolist()

    def _count(self, times: np.ndarray) -> None:
        """Add a chunk's arrivals to the per-interval counts, in bulk."""
        counts = np.bincount((times // self._interval_s).astype(np.int64))
        if counts.size > self.arrivals_per_interval.size:
            grown = np.zeros(counts.size, dtype=np.int64)
            grown[: self.arrivals_per_interval.size] = self.arrivals_per_interval
            self.arrivals_per_interval = grown
        self.arrivals_per_interval[: counts.size] += counts
        self.requests_after_warmup += int(np.count_nonzero(times >= self._warmup_s))

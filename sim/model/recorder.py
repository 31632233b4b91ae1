"""What the model records while it runs: cheap appends and counters, reduced per interval.

Completions append their latency to a flat list (and, before the warm-up ends, to a second one
that the summary subtracts); every sample interval the
lists are reduced with numpy to counts, a latency histogram and percentiles, and emptied, so
memory does not grow with the number of requests. Rejections and timeouts are rarer and go
through methods. A per-request log is kept only when asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim import histogram

if TYPE_CHECKING:
    from sim.model.retries import Retrier

# Request outcomes (codes in the per-request log).
COMPLETED = 0
REJECTED = 1
TIMED_OUT = 2
IN_FLIGHT = 3
OUTCOME_NAMES = ("completed", "rejected", "timed_out", "in_flight")

# Why a request was rejected.
NO_REPLICA = 0
QUEUE_FULL = 1
FAULT = 2
CONNECT_FAILED = 3  # never answered: a full listen backlog, a dead machine
REJECT_REASONS = 4

# How an attempt failed, as a client's retry policy tells them apart (``retries.on``).
TIMEOUT_FAILURE = 0
ERROR_FAILURE = 1
CONNECT_FAILURE = 2
FAILURE_KINDS = ("timeout", "error", "connect")


@dataclass
class IntervalRow:
    """The request side of one timeseries row."""

    time_s: float
    completed: int
    rejected: int
    timed_out: int
    latency_mean_s: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    latency_slo_s: float
    late_answers: int = 0
    wasted_cpu_s: float = 0.0


@dataclass
class Recorder:
    """Counters and buffers for one run."""

    warmup_s: float
    slo_percentile: float
    keep_requests: bool = False
    latencies_s: list[float] = field(default_factory=list)
    warmup_latencies_s: list[float] = field(default_factory=list)  # arrived before warm-up end
    request_log: list[tuple[float, float, int, int, int]] | None = None
    interval_rejected: int = 0
    interval_timed_out: int = 0
    interval_late_answers: int = 0
    interval_wasted_cpu_s: float = 0.0
    summary_wasted_cpu_s: float = 0.0
    # Outcomes dated before the current interval began (timeouts noticed late), by row index.
    late_timed_out: dict[int, int] = field(default_factory=dict)
    summary_histogram: np.ndarray = field(
        default_factory=lambda: np.zeros(histogram.BUCKETS, np.int64)
    )
    summary_completed: int = 0
    summary_latency_s: float = 0.0
    summary_rejected: list[int] = field(default_factory=lambda: [0] * REJECT_REASONS)
    summary_timed_out: int = 0
    rows: list[IntervalRow] = field(default_factory=list)
    interval_start_s: float = 0.0
    # The clients' retry policy, told of every failed attempt (None: clients never retry).
    retrier: Retrier | None = None

    def __post_init__(self) -> None:
        if self.keep_requests:
            self.request_log = []

    def reject(
        self, now: float, arrival_s: float, endpoint: int, container: int, reason: int
    ) -> None:
        """A request refused (no replica, full queue), lost to a fault, or never answered,
        at ``now``."""
        self.interval_rejected += 1
        if arrival_s >= self.warmup_s:
            self.summary_rejected[reason] += 1
        if self.request_log is not None:
            self.request_log.append((arrival_s, now, endpoint, container, REJECTED))
        if self.retrier is not None:
            kind = CONNECT_FAILURE if reason == CONNECT_FAILED else ERROR_FAILURE
            self.retrier.failed(now, arrival_s, endpoint, kind)

    def time_out(self, at_s: float, arrival_s: float, endpoint: int, container: int) -> None:
        """A client that gave up at ``at_s`` (possibly noticed a little later)."""
        if at_s >= self.interval_start_s:
            self.interval_timed_out += 1
        else:
            row = len(self.rows) - 1
            while row > 0 and self.rows[row - 1].time_s > at_s:
                row -= 1
            self.late_timed_out[row] = self.late_timed_out.get(row, 0) + 1
        if arrival_s >= self.warmup_s:
            self.summary_timed_out += 1
        if self.request_log is not None:
            self.request_log.append((arrival_s, at_s, endpoint, container, TIMED_OUT))
        if self.retrier is not None:
            self.retrier.failed(at_s, arrival_s, endpoint, TIMEOUT_FAILURE)

    def late(
        self, now: float, at_s: float, arrival_s: float, endpoint: int, container: int
    ) -> None:
        """An answer finished at ``now`` for a client that gave up at ``at_s``: the client's
        timeout (counted then), and an answer nobody receives."""
        self.interval_late_answers += 1
        self.time_out(at_s, arrival_s, endpoint, container)

    def lost_answer(self) -> None:
        """An answer finished now for a client whose timeout was already counted."""
        self.interval_late_answers += 1

    def waste(self, arrival_s: float, cpu_s: float) -> None:
        """CPU-seconds spent on a request whose client had given up (by the time it left)."""
        self.interval_wasted_cpu_s += cpu_s
        if arrival_s >= self.warmup_s:
            self.summary_wasted_cpu_s += cpu_s

    def close_interval(self, now: float) -> IntervalRow:
        """Reduce the buffers of the interval that ends at ``now`` to one row."""
        latencies = np.asarray(self.latencies_s, dtype=np.float64)
        warmup_latencies = np.asarray(self.warmup_latencies_s, dtype=np.float64)
        self.latencies_s.clear()
        self.warmup_latencies_s.clear()
        percentiles = [math.nan] * 4
        if latencies.size:
            indices = histogram.bucket_indices(latencies)
            counts = np.bincount(indices, minlength=histogram.BUCKETS)
            percentiles = histogram.quantiles_of_counts(
                counts, (0.50, 0.95, 0.99, self.slo_percentile / 100)
            )
            self.summary_histogram += counts
            self.summary_completed += int(latencies.size)
            self.summary_latency_s += float(latencies.sum())
            if warmup_latencies.size:
                self.summary_histogram -= histogram.counts_of(warmup_latencies)
                self.summary_completed -= int(warmup_latencies.size)
                self.summary_latency_s -= float(warmup_latencies.sum())
        row = IntervalRow(
            time_s=now,
            completed=int(latencies.size),
            rejected=self.interval_rejected,
            timed_out=self.interval_timed_out,
            latency_mean_s=float(latencies.mean()) if latencies.size else math.nan,
            latency_p50_s=percentiles[0],
            latency_p95_s=percentiles[1],
            latency_p99_s=percentiles[2],
            latency_slo_s=percentiles[3],
            late_answers=self.interval_late_answers,
            wasted_cpu_s=self.interval_wasted_cpu_s,
        )
        self.rows.append(row)
        self.interval_rejected = 0
        self.interval_timed_out = 0
        self.interval_late_answers = 0
        self.interval_wasted_cpu_s = 0.0
        self.interval_start_s = now
        return row

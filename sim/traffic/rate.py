"""The deterministic arrival rate λ(t), in requests per second, and its upper bounds.

λ(t) = base(t) · diurnal(t) · growth(t) · Π surge_k(t), for t in seconds from the start of the
scenario:

* **base**: ``traffic.rate_rps``, or a replayed trace's piecewise-constant rate (zero once
  the trace has ended);
* **diurnal**: ``1 + amplitude · cos(2π (t − peak_at_s) / period_s)``, the daily cycle of
  user traffic, highest at ``peak_at_s``;
* **growth**: ``(1 + rate_per_day)^(t / 86400)`` when exponential, ``1 + rate_per_day ·
  t / 86400`` when linear (a linear decline stops at zero rather than going negative);
* **surge**: ``1 + (multiplier − 1) · envelope(t)``, the envelope rising linearly from 0 to 1
  over ``ramp_s`` from ``start_s``, holding 1 for ``hold_s``, falling linearly back to 0 over
  ``decay_s``, and 0 otherwise. A multiplier below 1 is a dip (an outage upstream, a holiday).

Every factor is non-negative, so the product of each factor's maximum over an interval is an
upper bound of λ there. :meth:`RateFunction.upper_bound` derives each maximum analytically
(never by sampling), which is what makes thinning exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sim.config.schema import Diurnal, Growth, Surge, Traffic
from sim.traffic.traces import ArrivalTrace, FloatArray, RateTrace

SECONDS_PER_DAY = 86400.0

# The bound is raised by this relative margin: two evaluations of the same cosine or power at
# nearby times may round in either direction, and a bound one ulp too low would bias thinning.
_ROUNDING_MARGIN = 1e-9


class RateFunction:
    """λ(t): a base rate shaped by optional diurnal, growth and surge factors."""

    def __init__(
        self,
        base: float | RateTrace,
        *,
        diurnal: Diurnal | None = None,
        growth: Growth | None = None,
        surges: Sequence[Surge] = (),
    ) -> None:
        if isinstance(base, float | int) and not (math.isfinite(base) and base >= 0):
            raise ValueError(f"base rate must be a finite non-negative number, got {base!r}")
        self.base = float(base) if isinstance(base, float | int) else base
        self.diurnal = diurnal
        self.growth = growth
        self.surges = tuple(surges)

    def __call__(self, times_s: npt.ArrayLike) -> FloatArray:
        """λ at each time, in requests per second."""
        times = np.asarray(times_s, dtype=np.float64)
        return self.base_rps(times) * self.shape_factor(times)

    def base_rps(self, times_s: npt.ArrayLike) -> FloatArray:
        """The base rate at each time, before the shaping factors."""
        times = np.asarray(times_s, dtype=np.float64)
        if isinstance(self.base, RateTrace):
            return self.base(times)
        return np.full(times.shape, self.base)

    def shape_factor(self, times_s: npt.ArrayLike) -> FloatArray:
        """The product of the diurnal, growth and surge factors at each time."""
        times = np.asarray(times_s, dtype=np.float64)
        factor = np.ones(times.shape)
        if self.diurnal is not None:
            factor *= diurnal_factor(self.diurnal, times)
        if self.growth is not None:
            factor *= growth_factor(self.growth, times)
        for surge in self.surges:
            factor *= surge_factor(surge, times)
        return factor

    def upper_bound(self, start_s: float, end_s: float) -> float:
        """A number no smaller than λ anywhere on ``[start_s, end_s]``."""
        if isinstance(self.base, RateTrace):
            base_max = self.base.max_rate_rps(start_s, end_s)
        else:
            base_max = self.base
        if base_max == 0:
            return 0.0
        return base_max * self.shape_upper_bound(start_s, end_s)

    def shape_upper_bound(self, start_s: float, end_s: float) -> float:
        """A number no smaller than :meth:`shape_factor` anywhere on ``[start_s, end_s]``."""
        bound = 1.0
        if self.diurnal is not None:
            bound *= diurnal_max(self.diurnal, start_s, end_s)
        if self.growth is not None:
            bound *= growth_max(self.growth, start_s, end_s)
        for surge in self.surges:
            bound *= surge_max(surge, start_s, end_s)
        return bound * (1 + _ROUNDING_MARGIN)


def rate_function(traffic: Traffic, trace: RateTrace | ArrivalTrace | None = None) -> RateFunction:
    """λ(t) of a scenario's traffic.

    A replayed trace must be loaded first (:func:`~sim.traffic.traces.load_replay`) and passed
    as ``trace``. An arrival trace's base is its count per ``peak_window_s`` bin, the rate the
    recorded arrivals offer on average.
    """
    base: float | RateTrace
    if traffic.replay is None:
        if traffic.rate_rps is None:
            raise ValueError("traffic has neither rate_rps nor replay")
        base = traffic.rate_rps
    elif trace is None:
        raise ValueError("traffic replays a trace: load it with load_replay() and pass it")
    elif isinstance(trace, ArrivalTrace):
        base = trace.binned(traffic.replay.peak_window_s)
    else:
        base = trace
    return RateFunction(base, diurnal=traffic.diurnal, growth=traffic.growth, surges=traffic.surges)


# --- the factors, each with its maximum over an interval ---------------------------------------


def diurnal_factor(diurnal: Diurnal, times_s: FloatArray) -> FloatArray:
    """``1 + amplitude · cos(2π (t − peak_at_s) / period_s)``."""
    phase = 2 * np.pi * (times_s - diurnal.peak_at_s) / diurnal.period_s
    return 1 + diurnal.amplitude * np.cos(phase)


def diurnal_max(diurnal: Diurnal, start_s: float, end_s: float) -> float:
    """The diurnal factor's maximum on ``[start_s, end_s]``: ``1 + amplitude`` when a peak falls
    inside, else the larger end (the cosine is monotone between a peak and a trough)."""
    cycles = math.ceil((start_s - diurnal.peak_at_s) / diurnal.period_s)
    if diurnal.peak_at_s + cycles * diurnal.period_s <= end_s:
        return 1 + diurnal.amplitude
    return float(diurnal_factor(diurnal, np.array([start_s, end_s])).max())


def growth_factor(growth: Growth, times_s: FloatArray) -> FloatArray:
    """Compounded or linear growth at ``rate_per_day``; a linear decline stops at zero."""
    days = times_s / SECONDS_PER_DAY
    if growth.kind == "exponential":
        return np.exp(math.log1p(growth.rate_per_day) * days)
    return np.maximum(1 + growth.rate_per_day * days, 0.0)


def growth_max(growth: Growth, start_s: float, end_s: float) -> float:
    """Growth is monotone, so its maximum is at one end."""
    return float(growth_factor(growth, np.array([start_s, end_s])).max())


def surge_envelope(surge: Surge, times_s: FloatArray) -> FloatArray:
    """The surge's trapezoid: 0 → 1 over the ramp, 1 in the hold, 1 → 0 over the decay.

    A zero-length ramp or decay is a step; the hold is ``[start_s + ramp_s, … + hold_s)``.
    """
    since_start = times_s - surge.start_s
    stop = surge.ramp_s + surge.hold_s + surge.decay_s
    rising = since_start / surge.ramp_s if surge.ramp_s > 0 else np.ones_like(since_start)
    falling = (stop - since_start) / surge.decay_s if surge.decay_s > 0 else 1.0
    envelope = np.clip(np.minimum(rising, falling), 0.0, 1.0)
    return np.where((since_start >= 0) & (since_start < stop), envelope, 0.0)


def surge_factor(surge: Surge, times_s: FloatArray) -> FloatArray:
    """``1 + (multiplier − 1) · envelope(t)``."""
    return 1 + (surge.multiplier - 1) * surge_envelope(surge, times_s)


def surge_max(surge: Surge, start_s: float, end_s: float) -> float:
    """The surge factor's maximum on ``[start_s, end_s]``.

    The envelope rises to its plateau and falls after it, so on an interval it is largest on
    the plateau if the interval reaches it, else at the end nearer to it, and smallest at an
    end. A rush (multiplier above 1) peaks with the envelope, a dip where the envelope is
    least.
    """
    ends = surge_envelope(surge, np.array([start_s, end_s]))
    if surge.multiplier < 1:
        return 1 + (surge.multiplier - 1) * float(ends.min())
    plateau_start = surge.start_s + surge.ramp_s
    plateau_end = plateau_start + surge.hold_s
    reaches_plateau = start_s <= plateau_end and end_s >= plateau_start
    highest = 1.0 if reaches_plateau else float(ends.max())
    return 1 + (surge.multiplier - 1) * highest

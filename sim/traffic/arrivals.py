"""Arrival times of one run, generated lazily in chunks.

Rate-driven traffic (``rate_rps`` or a replayed rate trace) is a non-homogeneous Poisson
process of intensity λ(t)·burst(t), drawn exactly by thinning (Lewis and Shedler, 1979): on each
window, candidates come from a homogeneous process at an analytic upper bound of the
intensity, and each is kept with probability intensity/bound. Replayed arrival traces
(inter-arrival files, access logs) yield their own arrivals, thinned or multiplied by the
shaping terms.

Determinism: the same rng state gives the same arrival times whatever ``max_chunk`` is. The
windows and trace slices are sized by fixed internal targets, never by ``max_chunk``, and the
output is then cut into chunks of exactly ``max_chunk`` arrivals (the last may be shorter).
So the chunk boundaries, too, depend only on ``max_chunk``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sim.config.schema import Burst, Traffic
from sim.traffic.rate import RateFunction, rate_function
from sim.traffic.traces import ArrivalTrace, FloatArray, load_replay, resample_arrivals

# Candidates drawn per thinning window (and arrivals resampled per trace slice): large enough
# that numpy's per-call overhead vanishes, small enough that the bound stays tight where the
# rate changes and memory stays at a few hundred kilobytes.
_CANDIDATES_PER_WINDOW = 16384
# The shortest window: a guard against a huge bound making windows of no width.
_MIN_WINDOW_S = 1e-6
# Burst factors are drawn this many slots at a time.
_BURST_BLOCK = 4096


class RateBoundError(AssertionError):
    """Internal error: the intensity exceeded the bound used for thinning.

    It cannot happen while the bounds in :mod:`sim.traffic.rate` are right; it is raised
    rather than ignored because the arrivals would silently be too few.
    """


class BurstFactors:
    """The burst factor of each ``period_s`` slot: an independent Gamma(mean 1, cv) draw.

    Slot ``k`` covers ``[k · period_s, (k + 1) · period_s)``. Factors are drawn from ``rng`` in
    slot order, ``_BURST_BLOCK`` slots at a time, as generation reaches them; slots that time
    has passed are released, so memory stays constant over a long run.
    """

    def __init__(self, burst: Burst, rng: np.random.Generator) -> None:
        self.period_s = burst.period_s
        self._shape = 1 / burst.cv**2  # gamma mean shape·scale = 1, cv = 1/sqrt(shape)
        self._scale = burst.cv**2
        self._rng = rng
        self._first_slot = 0
        self._factors: FloatArray = np.empty(0)

    def at(self, times_s: FloatArray) -> FloatArray:
        """The factor at each time; times must not precede those already released."""
        slots = (times_s // self.period_s).astype(np.int64)
        if slots.size == 0:
            return np.empty(0)
        if slots.min() < self._first_slot:
            raise ValueError(
                f"burst factors before {self._first_slot * self.period_s} s are released"
            )
        self._draw_through(int(slots.max()))
        return self._factors[slots - self._first_slot]

    def max_over(self, start_s: float, end_s: float) -> float:
        """The largest factor of the slots that ``[start_s, end_s]`` touches."""
        first = int(start_s // self.period_s)
        last = int(end_s // self.period_s)
        self._draw_through(last)
        return float(self._factors[first - self._first_slot : last - self._first_slot + 1].max())

    def release_before(self, time_s: float) -> None:
        """Forget the factors of slots that end before ``time_s``."""
        slot = int(time_s // self.period_s)
        # Trim only once a whole block is stale, so that the copy is rare.
        if slot - self._first_slot >= _BURST_BLOCK:
            self._factors = self._factors[slot - self._first_slot :].copy()
            self._first_slot = slot

    def _draw_through(self, slot: int) -> None:
        while self._first_slot + self._factors.size <= slot:
            block = self._rng.gamma(self._shape, self._scale, size=_BURST_BLOCK)
            self._factors = np.concatenate((self._factors, block))


class ArrivalGenerator:
    """The arrival times of one run, for ``traffic`` on ``[0, duration_s)``.

    ``rng`` is the run's ``arrivals`` stream: it draws the trace's sub-second placement (access
    logs), the burst factors and the arrivals, in that order of need. ``resolve_path`` turns
    ``traffic.replay.path`` into a file path (``Scenario.resolve_path``). The trace is read
    when the generator is built, so a bad trace fails before the run starts.

    For arrival traces, the shaping terms (diurnal, growth, surges), the burst factor and the
    peak scaling act on each recorded arrival as one factor relative to 1, applied by
    :func:`~sim.traffic.traces.resample_arrivals` (thinning below 1, extra copies in the gap
    to the next arrival above 1). A trace shorter than the run ends early: no arrivals after.
    """

    def __init__(
        self,
        traffic: Traffic,
        duration_s: float,
        rng: np.random.Generator,
        resolve_path: Callable[[str], Path],
    ) -> None:
        if not (math.isfinite(duration_s) and duration_s > 0):
            raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s}")
        self.traffic = traffic
        self.duration_s = float(duration_s)
        self._rng = rng
        trace = None
        if traffic.replay is not None:
            trace = load_replay(traffic.replay, resolve_path(traffic.replay.path), rng)
        self._arrival_trace = trace if isinstance(trace, ArrivalTrace) else None
        self.rate_function: RateFunction = rate_function(traffic, trace)
        self._burst = BurstFactors(traffic.burst, rng) if traffic.burst is not None else None
        self._started = False

    def rate_rps(self, times_s: npt.ArrayLike) -> FloatArray:
        """The expected arrival rate at each time (λ, without the random burst factor)."""
        return self.rate_function(times_s)

    def chunks(self, max_chunk: int = 65536) -> Iterator[FloatArray]:
        """Arrival times in ``[0, duration_s)``, non-decreasing, ``max_chunk`` at a time.

        Generated lazily: memory stays at about one chunk plus one internal window however
        long the run. The arrivals can be drawn once per generator, as drawing consumes the
        rng; build a new generator from a fresh stream to draw them again.
        """
        if max_chunk < 1:
            raise ValueError(f"max_chunk must be at least 1, got {max_chunk}")
        if self._started:
            raise RuntimeError("chunks() was already called; arrivals can be drawn only once")
        self._started = True
        if self._arrival_trace is not None:
            return _rechunk(self._replayed(self._arrival_trace), max_chunk)
        return _rechunk(self._thinned(), max_chunk)

    # --- rate-driven traffic: thinning ---------------------------------------------------------

    def _thinned(self) -> Iterator[FloatArray]:
        start_s = 0.0
        while start_s < self.duration_s:
            end_s, bound = self._window(start_s)
            if bound > 0:
                candidates = self._candidates(start_s, end_s, bound)
                intensity = self._intensity(candidates)
                if np.any(intensity > bound):
                    worst = int(np.argmax(intensity - bound))
                    raise RateBoundError(
                        f"rate {intensity[worst]!r} at t={candidates[worst]!r} s exceeds the "
                        f"thinning bound {bound!r} on [{start_s!r}, {end_s!r})"
                    )
                kept = candidates[self._rng.random(candidates.size) * bound < intensity]
                if kept.size:
                    yield kept
            start_s = end_s

    def _window(self, start_s: float) -> tuple[float, float]:
        """The next window ``[start_s, end_s)`` and the intensity bound on it.

        Its length aims at ``_CANDIDATES_PER_WINDOW`` candidates at the local rate, halved
        until the bound over the whole window keeps to that count (a surge inside a long
        window would otherwise raise the bound, and so the number of rejected candidates,
        for all of it).
        """
        target = _CANDIDATES_PER_WINDOW
        local_rps = self._bound(start_s, min(start_s + _MIN_WINDOW_S, self.duration_s))
        end_s = self.duration_s
        if local_rps * (end_s - start_s) > target:
            end_s = min(start_s + target / local_rps, self.duration_s)
        bound = self._bound(start_s, end_s)
        while bound * (end_s - start_s) > target and end_s - start_s > _MIN_WINDOW_S:
            end_s = start_s + max((end_s - start_s) / 2, _MIN_WINDOW_S)
            bound = self._bound(start_s, end_s)
        if end_s <= start_s:  # the window vanished in rounding at a large start time
            end_s = float(np.nextafter(start_s, np.inf))
            bound = self._bound(start_s, end_s)
        return end_s, bound

    def _bound(self, start_s: float, end_s: float) -> float:
        bound = self.rate_function.upper_bound(start_s, end_s)
        if self._burst is not None and bound > 0:
            self._burst.release_before(start_s)
            bound *= self._burst.max_over(start_s, end_s)
        return bound

    def _candidates(self, start_s: float, end_s: float, bound: float) -> FloatArray:
        """A homogeneous Poisson process of rate ``bound`` on ``[start_s, end_s)``.

        The count is Poisson; given it, the points are sorted uniforms, drawn as normalised
        partial sums of exponentials (Rényi's representation), which costs no sort.
        """
        count = int(self._rng.poisson(bound * (end_s - start_s)))
        sums = np.cumsum(self._rng.standard_exponential(count + 1))
        times: FloatArray = start_s + (end_s - start_s) * (sums[:-1] / sums[-1])
        # Rounding may land a point on end_s; keep the window half-open.
        np.minimum(times, np.nextafter(end_s, start_s), out=times)
        return times

    def _intensity(self, times_s: FloatArray) -> FloatArray:
        intensity = self.rate_function(times_s)
        if self._burst is not None:
            intensity *= self._burst.at(times_s)
        return intensity

    # --- arrival traces: resampling ------------------------------------------------------------

    def _replayed(self, trace: ArrivalTrace) -> Iterator[FloatArray]:
        recorded = trace.times_s
        count = int(np.searchsorted(recorded, self.duration_s, side="left"))
        position = 0
        while position < count:
            times = recorded[position : min(position + _CANDIDATES_PER_WINDOW, count)]
            factors = trace.scale * self.rate_function.shape_factor(times)
            if self._burst is not None:
                self._burst.release_before(float(times[0]))
                factors *= self._burst.at(times)
            # Shorten the slice when factors are large, so that it yields about as many
            # arrivals as a thinning window.
            yielded = np.cumsum(np.ceil(factors))
            size = max(int(np.searchsorted(yielded, _CANDIDATES_PER_WINDOW, side="right")), 1)
            times, factors = times[:size], factors[:size]
            following = recorded[position + 1 : position + 1 + size]
            if following.size < size:  # the last recorded arrival's gap runs to the end
                following = np.append(following, trace.end_s)
            arrivals = resample_arrivals(times, following, factors, self._rng)
            arrivals = arrivals[arrivals < self.duration_s]
            if arrivals.size:
                yield arrivals
            position += size


def _rechunk(pieces: Iterable[FloatArray], size: int) -> Iterator[FloatArray]:
    """The concatenation of ``pieces``, cut into arrays of exactly ``size`` (the last shorter)."""
    pending: list[FloatArray] = []
    pending_count = 0
    for piece in pieces:
        pending.append(piece)
        pending_count += piece.size
        if pending_count < size:
            continue
        joined = np.concatenate(pending)
        whole = pending_count - pending_count % size
        for offset in range(0, whole, size):
            yield joined[offset : offset + size]
        rest = joined[whole:]
        pending = [rest] if rest.size else []
        pending_count = rest.size
    if pending_count:
        yield np.concatenate(pending)

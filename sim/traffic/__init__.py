"""The traffic model: when requests arrive.

Offered load is a base rate (``traffic.rate_rps`` or a replayed trace) shaped by optional
diurnal, growth and surge factors: the deterministic rate λ(t) of :mod:`sim.traffic.rate`.
Arrivals are a non-homogeneous Poisson process of λ(t), drawn exactly by thinning, optionally
made burstier than Poisson by a gamma factor per ``burst.period_s`` slot (a doubly stochastic,
Cox process: slot counts then have dispersion ``1 + λ · period_s · cv²`` instead of 1).

A replayed rate trace (per-interval counts) becomes the piecewise-constant base of λ(t). A
replayed arrival trace (inter-arrival times, access log) keeps its own arrivals, thinned or
multiplied by the shaping factors, so its fine-grained burstiness survives.

:class:`ArrivalGenerator` hands a run its arrival times lazily, in chunks, from the run's
``arrivals`` random stream; the same stream state gives the same times.
"""

from sim.traffic.arrivals import ArrivalGenerator, BurstFactors, RateBoundError
from sim.traffic.rate import RateFunction, rate_function
from sim.traffic.traces import (
    ArrivalTrace,
    RateTrace,
    apply_replay,
    load_replay,
    read_access_log,
    read_interarrival,
    read_rate_csv,
    read_trace,
    resample_arrivals,
)

__all__ = [
    "ArrivalGenerator",
    "ArrivalTrace",
    "BurstFactors",
    "RateBoundError",
    "RateFunction",
    "RateTrace",
    "apply_replay",
    "load_replay",
    "rate_function",
    "read_access_log",
    "read_interarrival",
    "read_rate_csv",
    "read_trace",
    "resample_arrivals",
]

"""Named random streams: one seed per run, split so that each part of the model draws alone.

Each stream is seeded from ``SeedSequence(seed, spawn_key=(crc32(name),))``: the same seed
and name give the same numbers whatever else the run draws. Two policies run with the same
seed therefore see the same arrivals and the same request demands (common random numbers),
and their differences are paired.
"""

from __future__ import annotations

import zlib

import numpy as np

STREAM_NAMES = (
    "arrivals",  # arrival times (and the burst factors shaping them)
    "demands",  # endpoint of each request and its CPU demand
    "startup",  # container start-up times
    "boot",  # node boot times
    "faults",  # random failures
    "balancer",  # random load-balancer picks
    "scheduler",  # placement tie-breaks
    "operator",  # a human operator's reaction delays
    "controllers",  # the phases of the policies' control loops
    "retries",  # clients' back-off jitter and the CPU demand of each retry
)


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator of stream ``name`` for run ``seed``."""
    if name not in STREAM_NAMES:
        raise ValueError(f"unknown random stream {name!r}; expected one of {STREAM_NAMES}")
    sequence = np.random.SeedSequence(seed, spawn_key=(zlib.crc32(name.encode()),))
    return np.random.Generator(np.random.PCG64(sequence))


def streams(seed: int) -> dict[str, np.random.Generator]:
    """Every named stream of run ``seed``."""
    return {name: stream(seed, name) for name in STREAM_NAMES}

"""Recovery: how long after a surge or a fault the service meets its SLO again, for good.

A capacity plan must survive the promotion *and* come back from it: a policy that holds the
SLO until the surge peaks and then needs an hour to drain its backlog has not survived it.
``recovery_s`` measures the time from the end of the last disturbance — the end of the last
traffic surge's decay, or the last node or container crash in the run's events, whichever is
later — to the start of the first stretch of sample intervals in which the SLO holds without
a break for ``slo.recovery_hold_s`` (or until the run ends). It is 0 when the SLO already
holds through the interval in which the disturbance ended, ``inf`` when no such stretch
starts within the run, and NaN when the scenario has no surge or fault to recover from (or
its last one ends after the run).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from sim.config.schema import Scenario

CRASHES = ("node_crash", "container_crash")
"""Event actions that disturb the service (``Result.events`` rows from the ``fault`` source)."""


def disturbance_end_s(scenario: Scenario, crash_times_s: Iterable[float]) -> float | None:
    """When the last disturbance ended: the last surge's decay or the last crash (None: none)."""
    ends = [
        surge.start_s + surge.ramp_s + surge.hold_s + surge.decay_s
        for surge in scenario.traffic.surges
    ]
    ends.extend(crash_times_s)
    return max(ends) if ends else None


def recovery_s(
    end_times_s: np.ndarray, slo_met: np.ndarray, since_s: float | None, hold_s: float
) -> float:
    """Seconds from ``since_s`` until the SLO holds for ``hold_s`` without a break (module doc).

    ``end_times_s`` are the ends of consecutive sample intervals, the first starting at 0;
    ``slo_met`` says whether each interval met the SLO.
    """
    if since_s is None or len(end_times_s) == 0 or since_s >= end_times_s[-1]:
        return math.nan
    start_times_s = np.concatenate(([0.0], end_times_s[:-1]))
    first = int(np.searchsorted(end_times_s, since_s, side="right"))
    stretch_start: int | None = None
    for index in range(first, len(end_times_s)):
        if not slo_met[index]:
            stretch_start = None
            continue
        if stretch_start is None:
            stretch_start = index
        if end_times_s[index] - start_times_s[stretch_start] >= hold_s:
            break
    if stretch_start is None:
        return math.inf  # the last interval misses the SLO: not recovered when the run ends
    return max(0.0, float(start_times_s[stretch_start]) - since_s)

"""metrics-server: every container's CPU usage, scraped on a period and averaged over a window.

The samples belong to the control plane, not to the containers: a policy sees a replica's
CPU only as the last scrape reported it, up to a resolution period late.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.model import container as states
from sim.model.cluster import Cluster
from sim.model.container import Container


@dataclass
class CpuSample:
    """One container's latest sample, and the baseline the next one is measured from."""

    usage_m: float | None = None
    time_s: float = math.nan
    baseline_core_s: float | None = None
    baseline_s: float = math.nan


class MetricsServer:
    """CPU usage per container, as the last scrape saw it."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._samples: dict[int, CpuSample] = {}
        self._none = CpuSample()

    def sample(self, container: Container) -> CpuSample:
        """The container's latest sample (usage None while it has none). Read only."""
        return self._samples.get(container.index, self._none)

    def scrape(self, now: float) -> None:
        """Each running container's mean CPU since the previous scrape.

        A container needs two scrapes before it has a sample (a rate needs two points), so a
        new replica has no metric for up to one resolution period — the HPA's "missing" pods.
        """
        samples = self._samples
        for container in self._cluster.containers:
            sample = samples.get(container.index)
            if sample is None:
                sample = samples[container.index] = CpuSample()
            if container.node is None or container.state not in (states.STARTING, states.READY):
                sample.usage_m = None  # no rate until two scrapes of it running
                sample.baseline_core_s = None
                continue
            used_core_s = container.cpu_used_until(now)
            baseline = sample.baseline_core_s
            if baseline is not None and now > sample.baseline_s:
                span_s = now - sample.baseline_s
                sample.usage_m = 1000 * (used_core_s - baseline) / span_s
                sample.time_s = now
            sample.baseline_core_s = used_core_s
            sample.baseline_s = now

"""Sampling during the run: every sample interval, close the recorder's row and read the gauges.

The request side of a timeseries row (counts and latency percentiles) is reduced by the
:class:`~sim.model.recorder.Recorder`; the state side — replicas by state, nodes, CPU used,
requests in flight, cost so far — is read from the cluster at the row's time, here.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from sim.model import node as node_states
from sim.model.world import World


class Sampler:
    """The state side of each timeseries row, sampled at the row's time, and run-long peaks."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.rows: list[dict[str, float]] = []
        self.peak_nodes = 0
        self.peak_replicas = 0
        self._last_cpu_core_s = 0.0

    def start(self) -> None:
        """Sample the start now and close a row every interval (a SimPy process)."""
        self.world.env.process(self._run())

    @property
    def last_cpu_utilization(self) -> float:
        """The node CPU utilization of the last row closed (0 before the first)."""
        return float(self.rows[-1]["cpu_utilization"]) if self.rows else 0.0

    def _run(self) -> Generator[simpy.Event, Any, None]:
        world = self.world
        interval_s = world.scenario.sample_interval_s
        duration_s = world.scenario.duration_s
        self._sample(0.0, first=True)
        tick = 1
        while tick * interval_s < duration_s:
            yield world.env.timeout(tick * interval_s - world.env.now)
            self.close_row(world.env.now)
            tick += 1

    def close_row(self, now: float) -> None:
        """End the interval at ``now``: the recorder's row, then the gauges."""
        self.world.recorder.close_interval(now)
        self._sample(now)

    def _sample(self, now: float, *, first: bool = False) -> None:
        cluster = self.world.cluster
        replicas = cluster.count_replicas()
        nodes_ready = sum(1 for node in cluster.nodes if node.state == node_states.READY)
        nodes_provisioning = sum(
            1 for node in cluster.nodes if node.state == node_states.PROVISIONING
        )
        self.peak_nodes = max(self.peak_nodes, cluster.billed_nodes())
        self.peak_replicas = max(self.peak_replicas, replicas["ready"])
        if first:
            return
        cpu_core_s = cluster.cpu_used_core_s(now)
        used_core_s = cpu_core_s - self._last_cpu_core_s
        self._last_cpu_core_s = cpu_core_s
        previous_s = self.rows[-1]["time_s"] if self.rows else 0.0
        span_s = now - previous_s
        node_cores = (
            sum(node.cpu_m for node in cluster.nodes if node.state == node_states.READY) / 1000
        )
        requested_cores = sum(c.request_m for c in cluster.containers if c.state == "ready") / 1000
        in_flight = self.world.connector.in_flight + sum(
            c.in_flight for c in cluster.containers if c.node is not None
        )
        self.rows.append(
            {
                "time_s": now,
                "replicas_desired": cluster.desired_replicas,
                "replicas_ready": replicas["ready"],
                "replicas_starting": replicas["pulling"] + replicas["starting"],
                "pods_pending": replicas["pending"],
                "replicas_terminating": replicas["terminating"],
                "nodes_ready": nodes_ready,
                "nodes_provisioning": nodes_provisioning,
                "cpu_utilization": used_core_s / (node_cores * span_s) if node_cores else math.nan,
                "replica_cpu_utilization": (
                    used_core_s / (requested_cores * span_s) if requested_cores else math.nan
                ),
                "in_flight": in_flight,
                "cost_usd": cluster.cost_usd(now),
            }
        )

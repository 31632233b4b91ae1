"""What the control plane knows: the world turned into an :class:`Observation`.

A policy never sees the model: it sees views of nodes and replicas as their real control
plane would know them (a dead machine is only a heartbeat that stopped, a dead replica still
looks ready, CPU usage is the last metrics sample) and the service's latest sampled figures.
"""

from __future__ import annotations

import math

from sim.control.metrics import MetricsServer
from sim.measure.sampler import Sampler
from sim.model import container as states
from sim.model import node as node_states
from sim.model.container import Container
from sim.model.recorder import IntervalRow
from sim.model.world import World
from sim.policies.base import NodeView, Observation, ReplicaView


class Observer:
    """Builds views and observations of one run's world."""

    def __init__(
        self, world: World, metrics: MetricsServer, sampler: Sampler, metrics_window_s: float
    ) -> None:
        self.world = world
        self.metrics = metrics
        self.sampler = sampler
        self.metrics_window_s = metrics_window_s

    def observe(self) -> Observation:
        """The snapshot a control plane would have now."""
        world = self.world
        rows = world.recorder.rows
        last = rows[-1] if rows else None
        return Observation(
            now_s=float(world.env.now),
            replicas=self.replica_views,
            nodes=self.node_views,
            desired_replicas=world.cluster.desired_replicas,
            arrival_rate_rps=self._last_arrival_rate(),
            latency_p95_s=last.latency_p95_s if last else math.nan,
            error_rate=_error_rate(last),
            cpu_utilization=self.sampler.last_cpu_utilization,
        )

    def node_views(self) -> list[NodeView]:
        """Every node not terminated, as the control plane sees it."""
        world = self.world
        image = world.scenario.service.container.image
        now = world.env.now
        sample = self.metrics.sample
        return [
            NodeView(
                name=node.name,
                index=node.index,
                type_name=node.type_name,
                state=node.state,  # type: ignore[arg-type]
                cpu_m=node.cpu_m,
                memory_mib=node.memory_mib,
                requested_cpu_m=node.requested_cpu_m,
                requested_memory_mib=node.requested_memory_mib,
                replicas=sum(1 for c in node.containers if c.state != states.GONE or c.zombie),
                launched_s=node.launched_s,
                ready_s=node.ready_s,
                heartbeat_s=node.failed_s if node.state == node_states.FAILED else now,
                price_per_hour_usd=node.instance.price_per_hour_usd,
                has_image=image in node.images,
                role=node.role,
                cpu_usage_m=sum(sample(c).usage_m or 0.0 for c in node.containers),
                unroutable=node.unroutable,
            )
            for node in world.cluster.nodes
            if node.state != node_states.TERMINATED
        ]

    def replica_view(self, container: Container) -> ReplicaView:
        """One replica; a dead one nobody has noticed yet still looks ready, with no metric."""
        state = container.state
        if container.zombie:
            state = states.READY  # as far as anyone knows
        sample = self.metrics.sample(container)
        return ReplicaView(
            name=container.name,
            node=container.node.name if container.node is not None else None,
            state=state,  # type: ignore[arg-type]
            created_s=container.created_s,
            started_s=container.started_s,
            ready_s=container.ready_s,
            ready_transition_s=container.ready_transition_s,
            cpu_request_m=container.request_m,
            memory_request_mib=container.memory_request_mib,
            cpu_usage_m=None if container.zombie else sample.usage_m,
            metric_time_s=sample.time_s,
            metric_window_s=self.metrics_window_s,
        )

    def replica_views(self) -> list[ReplicaView]:
        """Every replica the control plane knows of (not the ones known to be gone)."""
        return [
            self.replica_view(c)
            for c in self.world.cluster.containers
            if c.state != states.GONE or c.zombie
        ]

    def _last_arrival_rate(self) -> float:
        """Arrivals per second over the last closed sample interval."""
        world = self.world
        rows = len(world.recorder.rows)
        counts = world.arrivals.arrivals_per_interval
        if rows == 0 or rows > len(counts):
            return 0.0
        return float(counts[rows - 1]) / world.scenario.sample_interval_s


def _error_rate(row: IntervalRow | None) -> float:
    """Errors per answered request in the last closed interval."""
    if row is None:
        return 0.0
    answered = row.completed + row.rejected + row.timed_out
    return (row.rejected + row.timed_out) / answered if answered else 0.0

"""The scenario's faults: crashes at set times and random failures, as SimPy processes.

A fault only breaks the world: the node or container stops and its requests are lost. Who
notices, and how fast, is up to the rules of the world (a balancer's health check) and the
policy's controllers; see :class:`~sim.model.cluster.Cluster`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim.config.schema import ContainerCrash, Fault, NodeCrash, NodeFailures
from sim.model.cluster import Cluster
from sim.model.node import Node

WATCH_PERIOD_S = 5.0
"""How often random failures look for new nodes, or for a running container to fail."""


class Faults:
    """The scenario's faults, drawn on the ``faults`` stream."""

    def __init__(self, env: simpy.Environment, cluster: Cluster, rng: np.random.Generator) -> None:
        self.env = env
        self.cluster = cluster
        self.rng = rng

    def start(self, fault: Fault) -> None:
        """Schedule ``fault`` (a process per fault, started now)."""
        if isinstance(fault, NodeCrash):
            self.env.process(self._node_crash(fault))
        elif isinstance(fault, ContainerCrash):
            self.env.process(self._container_crash(fault))
        elif isinstance(fault, NodeFailures):
            self.env.process(self._random_node_failures(fault.mtbf_s))
        else:
            self.env.process(self._random_container_failures(fault.mtbf_s))

    def _node_crash(self, fault: NodeCrash) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(fault.at_s)
        cluster = self.cluster
        if fault.node >= len(cluster.nodes):
            target = f"node-{fault.node}"
            cluster.log(
                "fault", "skipped", target, "", "", "no such node then", code="NodeNotFound"
            )
            return
        cluster.crash_node(cluster.nodes[fault.node], f"scenario fault at {fault.at_s:g} s")

    def _container_crash(self, fault: ContainerCrash) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(fault.at_s)
        cluster = self.cluster
        if fault.replica >= len(cluster.containers):
            target = f"replica-{fault.replica}"
            cluster.log(
                "fault", "skipped", target, "", "", "no such replica", code="ReplicaNotFound"
            )
            return
        cluster.crash_container(
            cluster.containers[fault.replica], f"scenario fault at {fault.at_s:g} s"
        )

    def _random_node_failures(self, mtbf_s: float) -> Generator[simpy.Event, Any, None]:
        """Each node fails after an exponential lifetime; new nodes are watched as they come."""
        watched: set[int] = set()
        env = self.env
        while True:
            for node in self.cluster.nodes:
                if node.index not in watched:
                    watched.add(node.index)
                    env.process(self._node_lifetime(node, float(self.rng.exponential(mtbf_s))))
            yield env.timeout(WATCH_PERIOD_S)

    def _node_lifetime(self, node: Node, lifetime_s: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(lifetime_s)
        self.cluster.crash_node(node, f"random failure (MTBF {lifetime_s:.0f} s drawn)")

    def _random_container_failures(self, mtbf_s: float) -> Generator[simpy.Event, Any, None]:
        """Crash a running container now and then: each fails at rate 1/mtbf while running."""
        env = self.env
        cluster = self.cluster
        while True:
            running = [c for c in cluster.containers if c.state == "ready"]
            if not running:
                yield env.timeout(WATCH_PERIOD_S)
                continue
            yield env.timeout(float(self.rng.exponential(mtbf_s / len(running))))
            running = [c for c in cluster.containers if c.state == "ready"]
            if running:
                victim = running[int(self.rng.integers(len(running)))]
                cluster.crash_container(victim, f"random failure (MTBF {mtbf_s:g} s)")

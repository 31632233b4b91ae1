"""The cluster: nodes and containers through their lifecycles, and the events they log.

Lifecycles are rare next to requests, so they are written as ordinary SimPy processes:

* node: launched (``provisioning``, billed from now) → ``ready`` after its boot time;
* container: ``pending`` until placed on a node → ``pulling`` its image unless the node has it
  cached (pulls on one node are serial, ``image_size_mb / pull_bandwidth_mb_s`` each) →
  ``starting`` for a start-up time → ``ready``, and routable once the balancer has caught up
  (``load_balancer.update_delay_s``) → ``terminating`` (draining for at most the grace period)
  → ``gone``.

Where a container goes is decided by a placement function the policy supplies (Kubernetes'
scheduler and Swarm's spread differ); it sees only node snapshots, never SimPy.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from sim.config.catalogue import InstanceType
from sim.config.schema import Scenario
from sim.model import container as states
from sim.model import node as node_states
from sim.model.balancer import Balancer
from sim.model.container import Container
from sim.model.kernel import RequestLane
from sim.model.node import Node
from sim.model.recorder import FAULT, Recorder


@dataclass(frozen=True)
class NodeView:
    """What a placement function may know of a node."""

    index: int
    name: str
    cpu_m: int
    memory_mib: int
    requested_cpu_m: int
    requested_memory_mib: int
    replicas: int
    has_image: bool


Placement = Callable[[list[NodeView], int, int, np.random.Generator], int | None]
"""``(ready nodes, cpu_request_m, memory_request_mib, rng) → node index or None``."""


def spread_placement(
    nodes: list[NodeView], cpu_request_m: int, memory_request_mib: int, rng: np.random.Generator
) -> int | None:
    """The node with the fewest replicas among those the requests fit on (lowest index on ties)."""
    fitting = [
        view
        for view in nodes
        if view.requested_cpu_m + cpu_request_m <= view.cpu_m
        and view.requested_memory_mib + memory_request_mib <= view.memory_mib
    ]
    if not fitting:
        return None
    return min(fitting, key=lambda view: (view.replicas, view.index)).index


EventRow = tuple[float, str, str, str, str, str, str]


class Cluster:
    """Owns every node and container of one run."""

    def __init__(
        self,
        *,
        env: simpy.Environment,
        lane: RequestLane,
        scenario: Scenario,
        recorder: Recorder,
        balancer: Balancer,
        startup_rng: np.random.Generator,
        boot_rng: np.random.Generator,
        placement_rng: np.random.Generator,
        placement: Placement = spread_placement,
    ) -> None:
        self.env = env
        self.lane = lane
        self.scenario = scenario
        self.recorder = recorder
        self.balancer = balancer
        self.placement = placement
        self._startup_rng = startup_rng
        self._boot_rng = boot_rng
        self._placement_rng = placement_rng
        self.catalogue = scenario.cluster.catalogue()
        self.nodes: list[Node] = []
        self.containers: list[Container] = []
        self.pending: list[Container] = []
        self.events: list[EventRow] = []
        self.desired_replicas = scenario.service.initial_replicas
        self.requests_lost_to_faults = 0

    # --- events -------------------------------------------------------------------------------

    def log(
        self,
        source: str,
        action: str,
        target: str,
        from_value: object = "",
        to_value: object = "",
        reason: str = "",
    ) -> None:
        """One row of ``Result.events``."""
        self.events.append(
            (float(self.env.now), source, action, target, str(from_value), str(to_value), reason)
        )

    # --- nodes --------------------------------------------------------------------------------

    def launch_node(self, type_name: str, *, ready: bool = False, reason: str = "") -> Node:
        """Start a machine of ``type_name``; billed from now, ready after its boot time."""
        instance: InstanceType = self.catalogue[type_name]
        cluster = self.scenario.cluster
        node = Node(
            name=f"node-{len(self.nodes)}",
            index=len(self.nodes),
            type_name=type_name,
            instance=instance,
            launched_s=self.env.now,
            reserved_cpu_m=cluster.reserved_cpu_m,
            reserved_memory_mib=cluster.reserved_memory_mib,
        )
        self.nodes.append(node)
        if ready:
            self._node_ready(node)
        else:
            self.log("cluster", "launch", node.name, "", type_name, reason)
            self.env.process(self._boot(node))
        return node

    def _boot(self, node: Node) -> Generator[simpy.Event, Any, None]:
        cluster = self.scenario.cluster
        if cluster.boot_s is not None:
            boot_s = float(cluster.boot_s.sample(self._boot_rng, 1)[0])
        else:
            boot_s = node.instance.boot_s
        yield self.env.timeout(boot_s)
        if node.state == node_states.PROVISIONING:
            self._node_ready(node)

    def _node_ready(self, node: Node) -> None:
        node.state = node_states.READY
        node.ready_s = self.env.now
        self.log("cluster", "node_ready", node.name, node_states.PROVISIONING, node_states.READY)
        self.place_pending()

    def crash_node(self, node: Node, reason: str) -> None:
        """A fault: the node stops at once with every container on it (it stays billed)."""
        if node.state in (node_states.TERMINATED, node_states.FAILED):
            return
        previous = node.state
        node.state = node_states.FAILED
        self.log("fault", "node_crash", node.name, previous, node_states.FAILED, reason)
        for container in list(node.containers):
            self.requests_lost_to_faults += container.kill(self.env.now, FAULT)
            self._gone(container, "node failed")

    def terminate_node(self, node: Node, reason: str) -> None:
        """Stop billing a node; its containers (if any are left) are lost."""
        for container in list(node.containers):
            container.kill(self.env.now, FAULT)
            self._gone(container, "node terminated")
        previous = node.state
        node.state = node_states.TERMINATED
        node.terminated_s = self.env.now
        self.log("cluster", "terminate", node.name, previous, node_states.TERMINATED, reason)

    # --- containers ---------------------------------------------------------------------------

    def add_replica(self, *, ready: bool = False, node: Node | None = None) -> Container:
        """A new container; placed at once if a node has room, else left pending."""
        spec = self.scenario.service.container
        container = Container(
            name=f"replica-{len(self.containers)}",
            index=len(self.containers),
            concurrency=spec.concurrency,
            queue_limit=spec.queue_limit,
            timeout_s=self.scenario.service.timeout_s,
            cpu_limit_m=spec.cpu_limit_m,
            cpu_request_m=spec.cpu_request_m,
            memory_request_mib=spec.memory_request_mib,
            lane=self.lane,
            recorder=self.recorder,
            created_s=self.env.now,
        )
        container.on_drained = self._drained
        self.containers.append(container)
        if ready and node is not None:
            self._bind(container, node)
            node.images.add(spec.image)
            self._make_ready(container)
            self._route(container)
        else:
            self.pending.append(container)
            self.place_pending()
        return container

    def place_pending(self) -> None:
        """Try to place every pending container (after a node or capacity appears)."""
        spec = self.scenario.service.container
        for container in list(self.pending):
            views = self.node_views()
            chosen = self.placement(
                views, spec.cpu_request_m, spec.memory_request_mib, self._placement_rng
            )
            if chosen is None:
                return
            self.pending.remove(container)
            node = self.nodes[chosen]
            self._bind(container, node)
            self.log("scheduler", "place", container.name, "", node.name)
            self.env.process(self._start(container))

    def node_views(self) -> list[NodeView]:
        image = self.scenario.service.container.image
        return [
            NodeView(
                index=node.index,
                name=node.name,
                cpu_m=node.cpu_m,
                memory_mib=node.memory_mib,
                requested_cpu_m=node.requested_cpu_m,
                requested_memory_mib=node.requested_memory_mib,
                replicas=len(node.containers),
                has_image=image in node.images,
            )
            for node in self.nodes
            if node.state == node_states.READY
        ]

    def _bind(self, container: Container, node: Node) -> None:
        node.attach(container, self.env.now)

    def _start(self, container: Container) -> Generator[simpy.Event, Any, None]:
        spec = self.scenario.service.container
        node = container.node
        assert node is not None
        if spec.image not in node.images:
            container.state = states.PULLING
            start_s = max(self.env.now, node.pull_free_s)
            done_s = start_s + spec.image_size_mb / self.scenario.cluster.pull_bandwidth_mb_s
            node.pull_free_s = done_s
            yield self.env.timeout(done_s - self.env.now)
            if container.state != states.PULLING:
                return
            node.images.add(spec.image)
        container.state = states.STARTING
        yield self.env.timeout(float(spec.startup_s.sample(self._startup_rng, 1)[0]))
        if container.state != states.STARTING:
            return
        self._make_ready(container)
        yield self.env.timeout(self.scenario.load_balancer.update_delay_s)
        if container.state == states.READY:
            self._route(container)

    def _make_ready(self, container: Container) -> None:
        previous = container.state
        container.state = states.READY
        container.ready_s = self.env.now
        self.log("container", "ready", container.name, previous, states.READY)

    def _route(self, container: Container) -> None:
        self.balancer.add(container)

    def remove_replica(self, container: Container, reason: str = "") -> None:
        """Graceful termination: unroutable now, drained within the grace period."""
        if container.state in (states.TERMINATING, states.GONE):
            return
        if container in self.pending:
            self.pending.remove(container)
            container.state = states.GONE
            self.log("container", "cancel", container.name, states.PENDING, states.GONE, reason)
            return
        previous = container.state
        self.balancer.remove(container)
        self.log("container", "terminate", container.name, previous, states.TERMINATING, reason)
        container.drain(self.env.now)
        if container.state == states.TERMINATING:
            self.env.process(self._grace(container))

    def _grace(self, container: Container) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(self.scenario.service.container.termination_grace_s)
        if container.state == states.TERMINATING:
            container.kill(self.env.now)
            self._gone(container, "grace period over")

    def _drained(self, container: Container) -> None:
        container.state = states.GONE
        self._gone(container, "drained")

    def _gone(self, container: Container, reason: str) -> None:
        self.balancer.remove(container)
        container.state = states.GONE
        if container.node is not None:
            container.node.detach(container, self.env.now)
        self.log("container", "gone", container.name, "", states.GONE, reason)
        self.place_pending()

    # --- gauges -------------------------------------------------------------------------------

    def count_replicas(self) -> dict[str, int]:
        """Containers by lifecycle state (gone ones excluded)."""
        tracked = (
            states.PENDING,
            states.PULLING,
            states.STARTING,
            states.READY,
            states.TERMINATING,
        )
        counts = dict.fromkeys(tracked, 0)
        for container in self.containers:
            if container.state in counts:
                counts[container.state] += 1
        return counts

    def cost_usd(self, now: float) -> float:
        minimum_s = self.scenario.cluster.billing_minimum_s
        return sum(node.cost_usd(now, minimum_s) for node in self.nodes)

    def billed_nodes(self) -> int:
        return sum(1 for node in self.nodes if node.state != node_states.TERMINATED)

    def cpu_used_core_s(self, now: float) -> float:
        return sum(c.cpu_used_until(now) for c in self.containers if c.node is not None)

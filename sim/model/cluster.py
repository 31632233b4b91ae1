"""The cluster: nodes and containers through their lifecycles, and the events they log.

Lifecycles are rare next to requests, so they are written as ordinary SimPy processes:

* node: launched (``provisioning``, billed from now) → ``ready`` after its boot time; a resize
  stops it (not billed) for its downtime and starts it again as another type; a fault leaves
  it ``failed`` (still billed until someone terminates it);
* container: ``pending`` until placed on a node → ``pulling`` its image unless the node has it
  cached (pulls on one node are serial, ``image_size_mb / pull_bandwidth_mb_s`` each, and
  pods waiting for the same image share one pull) →
  ``starting`` for a start-up time → ``ready`` at the first readiness probe after that, and
  routable once the balancer has caught up (``load_balancer.update_delay_s``) →
  ``terminating`` (draining for at most the grace period) → ``gone``.

Replicas are kept in one of two ways, chosen by the policy. As a *deployment* (Kubernetes,
Swarm): a desired count, placed by the control plane's scheduler, lost replicas replaced
once the control plane has noticed. Or *per node* (VM groups, vertical scaling): every ready
node runs the same number of containers, which come and go with it.

A replica that dies with its node is a zombie until the control plane notices: it still counts
toward the desired replicas, and the balancer keeps sending it requests, which fail.

Every event row carries a code beside its reason, and the code travels with the reason: a
controller's action writes its code on every row it causes (the unroute before a terminate,
the drain of a removed node, the replicas it deletes), and what the world does on its own
carries the world's word for it — Kubernetes' event reason where one fits (``NodeReady``,
``Scheduled``, ``ExceededGracePeriod``), a coined one otherwise (``ContainerReady``,
``NodeCrash``, ``Drained``). :data:`sim.policies.registry.CODES` lists them all.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from sim.config.catalogue import InstanceType
from sim.config.rules import WorldRules
from sim.config.schema import Scenario
from sim.config.slack import ceil_count
from sim.model import container as states
from sim.model import node as node_states
from sim.model.balancer import Balancer
from sim.model.connect import Connector
from sim.model.container import Container, DeadReplica
from sim.model.kernel import RequestLane
from sim.model.node import Node
from sim.model.quota import QuotaContainer
from sim.model.recorder import FAULT, Recorder

EventRow = tuple[float, str, str, str, str, str, str, str]
"""time_s, source, action, target, from_value, to_value, reason, code."""

Scheduler = Callable[["Container"], "Node | None"]
"""The control plane's placement: the node a pending container goes to, or None for now."""


def _no_scheduler(container: Container) -> Node | None:
    return None  # until the control plane is wired in, everything stays pending


class Cluster:
    """Owns every node and container of one run and carries out the control plane's actions.

    What happens on its own — boots, pulls, start-ups, drains, failures, a deployment
    replacing lost replicas — follows the policy's :class:`~sim.config.rules.WorldRules`.
    """

    def __init__(
        self,
        *,
        env: simpy.Environment,
        lane: RequestLane,
        scenario: Scenario,
        recorder: Recorder,
        balancer: Balancer,
        rules: WorldRules,
        connector: Connector,
        startup_rng: np.random.Generator,
        boot_rng: np.random.Generator,
    ) -> None:
        self.env = env
        self.lane = lane
        self.scenario = scenario
        self.recorder = recorder
        self.balancer = balancer
        self.rules = rules
        self.connector = connector  # where unanswered connections wait
        # Where pending containers go: the engine wires in the control plane's scheduler.
        self.scheduler: Scheduler = _no_scheduler
        self._startup_rng = startup_rng
        self._boot_rng = boot_rng
        self.catalogue = scenario.cluster.catalogue()
        self.nodes: list[Node] = []
        self.containers: list[Container] = []
        self.pending: list[Container] = []
        self.events: list[EventRow] = []
        self.desired_replicas = scenario.service.initial_replicas
        self._on_change: list[Callable[[float], None]] = []

    # --- events -------------------------------------------------------------------------------

    def log(
        self,
        source: str,
        action: str,
        target: str,
        from_value: object = "",
        to_value: object = "",
        reason: str = "",
        *,
        code: str,
    ) -> None:
        """One row of ``Result.events`` (every change of a node or replica writes one), with
        the machine-readable ``code`` of its reason."""
        now = float(self.env.now)
        self.events.append(
            (now, source, action, target, str(from_value), str(to_value), reason, code)
        )
        self.changed()

    def wake_on_change(self, callback: Callable[[float], None]) -> None:
        """Call ``callback(now)`` once, at the next change of a node or replica."""
        self._on_change.append(callback)

    def changed(self) -> None:
        """A node or replica changed: wake whatever waits for a change."""
        if self._on_change:
            waiting, self._on_change = self._on_change, []
            now = self.env.now
            for callback in waiting:
                callback(now)

    def node_named(self, name: str) -> Node | None:
        return next((node for node in self.nodes if node.name == name), None)

    # --- nodes --------------------------------------------------------------------------------

    def launch_initial_nodes(self) -> None:
        """The machines the scenario starts with, running at time 0 (the image cached if
        the scenario says so). The first ``manager_nodes`` are Swarm managers, running no
        tasks when ``drain_managers``; a policy with containers per node starts them now."""
        cluster = self.scenario.cluster
        for index in range(cluster.initial_nodes):
            role = "worker"
            if index < self.rules.manager_nodes:
                role = "manager-drained" if self.rules.drain_managers else "manager"
            self.launch_node(
                cluster.node_type,
                ready=True,
                image_cached=cluster.image_cached_on_initial_nodes,
                role=role,
            )

    def launch_node(
        self,
        type_name: str,
        *,
        ready: bool = False,
        image_cached: bool = False,
        reason: str = "",
        code: str = "",
        role: str = "worker",
        source: str = "cluster",
    ) -> Node:
        """Start a machine of ``type_name``; billed from now, ready after its boot time.

        ``ready`` makes it one of the machines already running when the run starts (no event);
        otherwise the launch is logged with ``reason`` and ``code``.
        """
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
        node.role = role
        if image_cached:
            node.images.add(self.scenario.service.container.image)
        self.nodes.append(node)
        if ready:
            self._node_ready(node, log=False, warm=True)
        else:
            self.log(source, "launch", node.name, "", type_name, reason, code=code)
            self.env.process(self._boot(node, self._boot_time_s(node)))
        return node

    def _boot_time_s(self, node: Node) -> float:
        boot = self.scenario.cluster.boot_s
        if boot is not None:
            return float(boot.sample(self._boot_rng, 1)[0])
        return node.instance.boot_s

    def _boot(self, node: Node, boot_s: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(boot_s)
        if node.state == node_states.PROVISIONING:
            self._node_ready(node)

    def _node_ready(self, node: Node, *, log: bool = True, warm: bool = False) -> None:
        """The node serves; a per-node policy starts its containers (``warm``: already up)."""
        previous = node.state
        node.state = node_states.READY
        node.ready_s = self.env.now
        if log:
            # kubelet's node event when the Ready condition turns true
            self.log(
                "cluster", "node_ready", node.name, previous, node_states.READY, code="NodeReady"
            )
        per_node = self.rules.replicas_per_node
        if per_node:
            cached = self.scenario.service.container.image in node.images
            for _ in range(per_node):
                self._add_container(node=node, ready=warm and cached)
            self.desired_replicas = per_node * self._serving_nodes()
        self.place_pending()

    def _serving_nodes(self) -> int:
        return sum(1 for node in self.nodes if node.state == node_states.READY)

    def crash_node(self, node: Node, reason: str) -> None:
        """A fault: the node stops at once; its replicas die with their requests.

        The control plane does not know yet: the replicas stay counted and routable (as
        :class:`DeadReplica`) until a controller unroutes and evicts them, or — for a policy
        without one — until the balancer's health check gives up on them.
        """
        if node.state in (node_states.TERMINATED, node_states.FAILED):
            return
        previous = node.state
        node.state = node_states.FAILED
        node.failed_s = self.env.now
        self.log(
            "fault", "node_crash", node.name, previous, node_states.FAILED, reason, code="NodeCrash"
        )
        for container in list(node.containers):
            self._die(container)
        detection_s = self.rules.failure_detection_s
        if detection_s is not None:
            self.env.process(self._detect_failure(node, detection_s))

    def _die(self, container: Container) -> None:
        """A container's process is gone; the balancer keeps a dead stand-in for now."""
        was_routable = container in self.balancer.routable
        container.zombie = container.state not in (states.PENDING, states.GONE)
        container.kill(self.env.now, FAULT)
        if was_routable:
            self.balancer.stand_in(container, DeadReplica(container, self.connector))

    def _detect_failure(self, node: Node, detection_s: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(detection_s)
        if node.state == node_states.FAILED and not node.unroutable:
            # ELB reports such a target as Target.FailedHealthChecks
            self.unroute_node(
                node, "health check failed", "FailedHealthChecks", source="load-balancer"
            )

    def unroute_node(self, node: Node, reason: str, code: str, *, source: str = "cluster") -> None:
        """The balancer stops sending requests to the node's replicas (dead or alive)."""
        if node.unroutable:
            return
        node.unroutable = True
        self.balancer.remove_node(node)
        self.log(source, "unroute", node.name, "routable", "unroutable", reason, code=code)

    def evict_node(self, node: Node, reason: str, code: str, *, source: str = "cluster") -> None:
        """Delete the node's replicas; a deployment replaces them elsewhere."""
        self.unroute_node(node, reason, code, source=source)
        for container in list(node.containers):
            if container.zombie or container.state == states.GONE:
                self._gone(container, "evicted", "Evicted")
            else:
                self.remove_replica(container, reason, code)
        self.log(source, "evict", node.name, "", "", reason, code=code)
        self._reconcile_later(self.rules.replacement_delay_s)

    def terminate_node(
        self, node: Node, reason: str, code: str, *, source: str = "cluster"
    ) -> None:
        """Stop the machine and its billing at once; whatever ran on it is lost."""
        if node.state == node_states.TERMINATED:
            return
        self.unroute_node(node, reason, code, source=source)
        for container in list(node.containers):
            if container.state != states.GONE:
                container.kill(self.env.now, FAULT)
            self._gone(container, "node terminated", "NodeTerminated")
        previous = node.state
        node.state = node_states.TERMINATED
        node.terminated_s = self.env.now
        node.stop_billing(self.env.now)
        self.log(
            source, "terminate", node.name, previous, node_states.TERMINATED, reason, code=code
        )
        if self.rules.replicas_per_node:
            self.desired_replicas = self.rules.replicas_per_node * self._serving_nodes()
        self._reconcile_later(self.rules.replacement_delay_s)

    def remove_node(self, node: Node, reason: str, code: str, *, source: str = "cluster") -> None:
        """Cordon and drain the node, then terminate it once its replicas are gone."""
        if node.state not in (node_states.READY, node_states.PROVISIONING):
            return
        previous = node.state
        node.state = node_states.DRAINING
        self.log(source, "drain", node.name, previous, node_states.DRAINING, reason, code=code)
        for container in list(node.containers):
            self.remove_replica(container, reason, code)
        if self.rules.replicas_per_node:
            self.desired_replicas = self.rules.replicas_per_node * self._serving_nodes()
        self._reconcile_later(0.0)
        self.env.process(self._terminate_when_empty(node, reason, code, source))

    def _terminate_when_empty(
        self, node: Node, reason: str, code: str, source: str
    ) -> Generator[simpy.Event, Any, None]:
        while any(c.state != states.GONE for c in node.containers):
            yield self.env.timeout(1.0)
        self.terminate_node(node, reason, code, source=source)

    def resize_node(
        self,
        node: Node,
        type_name: str,
        reason: str,
        code: str,
        *,
        source: str,
    ) -> None:
        """Vertical scaling: stop the instance, change its type, start it again.

        Its containers are stopped (requests still in them are lost with the machine), the
        node is unbilled while stopped for the rules' resize downtime (drawn on the ``boot``
        stream, even for a resize refused because the node is not ready, so that the draws
        never depend on the node's state), and it comes back empty: a per-node policy starts
        its containers on it again, the image still cached on its disk.
        """
        downtime = self.rules.resize_downtime
        downtime_s = float(downtime.sample(self._boot_rng, 1)[0]) if downtime else 0.0
        if node.state != node_states.READY:
            return
        previous_type = node.type_name
        self.unroute_node(node, f"resize to {type_name}", code, source=source)
        for container in list(node.containers):
            if container.state != states.GONE:
                container.kill(self.env.now, FAULT)
            self._gone(container, "node stopped for a resize", "NodeStopped")
        node.state = node_states.PROVISIONING
        node.stop_billing(self.env.now)
        self.log(source, "resize", node.name, previous_type, type_name, reason, code=code)
        if self.rules.replicas_per_node:
            self.desired_replicas = self.rules.replicas_per_node * self._serving_nodes()
        self.env.process(self._resized(node, type_name, downtime_s))

    def _resized(
        self, node: Node, type_name: str, downtime_s: float
    ) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(downtime_s)
        if node.state != node_states.PROVISIONING:
            return
        node.change_type(type_name, self.catalogue[type_name])
        node.unroutable = False
        node.start_billing(self.env.now)
        self._node_ready(node)

    # --- replicas -----------------------------------------------------------------------------

    def set_desired_replicas(self, count: int, reason: str, code: str, *, source: str) -> None:
        """The Deployment's ``spec.replicas`` (or ``docker service scale``) becomes ``count``."""
        previous = self.desired_replicas
        self.desired_replicas = count
        self.log(source, "set_replicas", "service", previous, count, reason, code=code)
        self.reconcile()

    def live_containers(self) -> list[Container]:
        """Replicas the control plane counts: not terminating, not known to be gone."""
        return [
            c
            for c in self.containers
            if c.state not in (states.TERMINATING, states.GONE) or c.zombie
        ]

    def reconcile(self) -> None:
        """A deployment's replica controller: create or delete replicas to match the count."""
        if self.rules.replicas_per_node or not self.rules.replace_lost_replicas:
            return
        live = self.live_containers()
        missing = self.desired_replicas - len(live)
        for _ in range(missing):
            self._add_container()
        if missing < 0:
            for victim in sorted(live, key=self._deletion_rank)[:-missing]:
                # the ReplicaSet controller's event when it deletes a surplus pod
                self.remove_replica(victim, "scaled down", "SuccessfulDelete")

    def _deletion_rank(self, container: Container) -> tuple[float, ...]:
        """ReplicaSet's choice of pods to delete: unscheduled, then not ready, then those on
        crowded nodes, then the newest."""
        node_load = len(container.node.containers) if container.node is not None else 0
        return (
            0 if container.state == states.PENDING else 1,
            0 if container.state != states.READY else 1,
            -node_load,
            -container.created_s,
        )

    def _reconcile_later(self, delay_s: float) -> None:
        if delay_s <= 0:
            self.reconcile()
            return

        def later() -> Generator[simpy.Event, Any, None]:
            yield self.env.timeout(delay_s)
            self.reconcile()

        self.env.process(later())

    def _add_container(self, *, node: Node | None = None, ready: bool = False) -> Container:
        spec = self.scenario.service.container
        concurrency = spec.concurrency
        cpu_limit_m = spec.cpu_limit_m
        if node is not None and self.rules.workers_per_core:
            # Sized by the machine, as a Compose file whose worker count follows nproc: the
            # node's cores shared by its containers, no CPU limit.
            per_node = self.rules.replicas_per_node or 1
            concurrency = max(1, self.rules.workers_per_core * node.instance.vcpu // per_node)
            cpu_limit_m = None
        quota = (
            {"cfs_period_s": spec.cfs_period_s}
            if spec.cfs_period_s is not None
            and cpu_limit_m is not None
            and cpu_limit_m < concurrency * 1000  # else its requests can never outrun it
            else None
        )
        container = (QuotaContainer if quota else Container)(
            **(quota or {}),
            name=f"replica-{len(self.containers)}",
            index=len(self.containers),
            concurrency=concurrency,
            queue_limit=spec.queue_limit,
            timeout_s=self.scenario.service.timeout_s,
            cancel_on_timeout=self.scenario.service.cancel_on_timeout,
            # Clients that retry give up at their time; count it then (see Container).
            notify_clients=self.scenario.service.retries.max_attempts > 1,
            connector=self.connector if spec.overflow == "drop" else None,
            cpu_limit_m=cpu_limit_m,
            cpu_request_m=spec.cpu_request_m,
            memory_request_mib=spec.memory_request_mib,
            startup_cpu_m=spec.startup_cpu_m,
            lane=self.lane,
            recorder=self.recorder,
            created_s=self.env.now,
        )
        container.on_drained = self._drained
        self.containers.append(container)
        if node is None:
            self.pending.append(container)
            self.place_pending()
        elif ready:
            self._bind(container, node)
            node.images.add(spec.image)
            self._make_ready(container)
            self._route(container)
        else:
            self._bind(container, node)
            self.env.process(self._start(container))
        return container

    def add_initial_replica(self, node: Node | None) -> Container:
        """A replica already running at time 0 on ``node`` (or pending when none)."""
        if node is None:
            return self._add_container()
        return self._add_container(node=node, ready=True)

    def place_pending(self) -> None:
        """Try to place every pending container (after a node or capacity appears)."""
        for container in list(self.pending):
            node = self.scheduler(container)
            if node is None or node.state != node_states.READY:
                return
            self.pending.remove(container)
            self._bind(container, node)
            # kube-scheduler's event once a pod is bound ("Successfully assigned ...")
            self.log("scheduler", "place", container.name, "", node.name, code="Scheduled")
            self.env.process(self._start(container))

    def _bind(self, container: Container, node: Node) -> None:
        node.attach(container, self.env.now)
        container.started_s = self.env.now
        container.ready_transition_s = self.env.now

    def _start(self, container: Container) -> Generator[simpy.Event, Any, None]:
        spec = self.scenario.service.container
        node = container.node
        assert node is not None
        if spec.image not in node.images:
            container.state = states.PULLING
            self.changed()
            done_s = node.pulls.get(spec.image)
            if done_s is None:
                # Pulls on one node are serial (kubelet serializeImagePulls); a second pod
                # needing an image already being pulled waits for that pull, not a new one.
                start_s = max(self.env.now, node.pull_free_s)
                done_s = start_s + spec.image_size_mb / self.scenario.cluster.pull_bandwidth_mb_s
                node.pull_free_s = done_s
                node.pulls[spec.image] = done_s
            yield self.env.timeout(done_s - self.env.now)
            if container.state != states.PULLING:
                return
            node.images.add(spec.image)
        yield from self._run_container(container)

    def _run_container(self, container: Container) -> Generator[simpy.Event, Any, None]:
        """Start the application, wait for the readiness probe, then for the balancer."""
        container.state = states.STARTING
        self.changed()
        running_s = self.env.now
        startup_s = float(self.scenario.service.container.startup_s.sample(self._startup_rng, 1)[0])
        ready_s = self._ready_after_s(running_s, running_s + startup_s)
        if container.startup_cpu_m:
            # The application warms up (class loading, JIT, imports) on its node's CPU.
            restarts = container.restarts
            container.warm_up(running_s, container.startup_cpu_m)
            yield self.env.timeout(startup_s)
            if container.state != states.STARTING or container.restarts != restarts:
                return
            container.warm_up(self.env.now, 0)
        yield self.env.timeout(max(0.0, ready_s - self.env.now))
        if container.state != states.STARTING:
            return
        self._make_ready(container)
        yield self.env.timeout(self.scenario.load_balancer.update_delay_s)
        node = container.node
        if container.state == states.READY and node is not None and not node.unroutable:
            self._route(container)

    def _ready_after_s(self, running_s: float, app_ready_s: float) -> float:
        """When the readiness probe first sees the application up (and enough times)."""
        period_s = self.rules.readiness_period_s
        if period_s <= 0:
            return app_ready_s
        first_s = running_s + self.rules.readiness_initial_delay_s
        probes = max(0, ceil_count((app_ready_s - first_s) / period_s))
        return first_s + (probes + self.rules.readiness_successes - 1) * period_s

    def _make_ready(self, container: Container) -> None:
        previous = container.state
        container.state = states.READY
        container.ready_s = self.env.now
        container.ready_transition_s = self.env.now
        self.log(
            "container", "ready", container.name, previous, states.READY, code="ContainerReady"
        )

    def _route(self, container: Container) -> None:
        self.balancer.add(container)

    def crash_container(self, container: Container, reason: str) -> None:
        """A container fault: its requests are lost; it restarts in place after the
        policy's restart delay (Kubernetes back-off, Swarm restart delay, Compose restart)."""
        if container.state not in (states.STARTING, states.READY):
            return
        previous = container.state
        self.balancer.remove(container)
        container.kill(self.env.now, FAULT)
        container.state = states.STARTING  # restarting, not routable
        container.ready_transition_s = self.env.now
        container.restarts += 1
        self.log(
            "fault",
            "container_crash",
            container.name,
            previous,
            "restarting",
            reason,
            code="ContainerCrash",
        )
        self.env.process(self._restart(container))

    def _restart(self, container: Container) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(self.rules.restart_delay_s)
        if container.state == states.STARTING and container.node is not None:
            yield from self._run_container(container)

    def remove_replica(self, container: Container, reason: str, code: str) -> None:
        """Graceful termination: unroutable now, drained within the grace period."""
        if container.state in (states.TERMINATING, states.GONE):
            return
        if container in self.pending:
            self.pending.remove(container)
            container.state = states.GONE
            self.log(
                "container",
                "cancel",
                container.name,
                states.PENDING,
                states.GONE,
                reason,
                code=code,
            )
            return
        previous = container.state
        self.balancer.remove(container)
        self.log(
            "container",
            "terminate",
            container.name,
            previous,
            states.TERMINATING,
            reason,
            code=code,
        )
        container.drain(self.env.now)
        if container.state == states.TERMINATING:
            self.env.process(self._grace(container))

    def _grace(self, container: Container) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(self.scenario.service.container.termination_grace_s)
        if container.state == states.TERMINATING:
            container.kill(self.env.now)
            # kubelet's event when a container outlives its termination grace period
            self._gone(container, "grace period over", "ExceededGracePeriod")

    def _drained(self, container: Container) -> None:
        container.state = states.GONE
        self._gone(container, "drained", "Drained")

    def _gone(self, container: Container, reason: str, code: str) -> None:
        self.balancer.remove(container)
        container.state = states.GONE
        container.zombie = False
        if container.node is not None:
            container.node.detach(container, self.env.now)
        self.log("container", "gone", container.name, "", states.GONE, reason, code=code)
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
        return sum(
            1
            for node in self.nodes
            if node.state != node_states.TERMINATED and node.billing[-1].end_s is None
        )

    def cpu_used_core_s(self, now: float) -> float:
        return sum(c.cpu_used_until(now) for c in self.containers if c.node is not None)

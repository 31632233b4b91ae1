"""The control plane of one run: placement, metrics scrapes and controllers on their periods.

It is built over a world and a policy's :class:`~sim.policies.base.PolicySetup`. Each
periodic loop is a :class:`~sim.model.kernel.Ticker` on SimPy's own queue: metrics-server
scrapes every resolution period from time 0; each controller first ticks at its phase, is
handed an :class:`~sim.policies.base.Observation` and its :class:`~sim.policies.base.Decision`
is carried out at once. :meth:`ControlPlane.schedule` is the cluster's scheduler: it is called
whenever a replica is pending.
"""

from __future__ import annotations

import math

import numpy as np

from sim.control.actuator import Actuator
from sim.control.metrics import MetricsServer
from sim.control.observe import Observer
from sim.measure.sampler import Sampler
from sim.model.container import Container
from sim.model.kernel import Ticker
from sim.model.node import Node
from sim.model.world import World
from sim.policies.base import Controller, PolicySetup, ReplicaView
from sim.policies.scheduling import spread_placement


class ControlPlane:
    """Observes one run's world, places its replicas and applies its controllers' decisions."""

    def __init__(
        self,
        world: World,
        setup: PolicySetup,
        sampler: Sampler,
        placement_rng: np.random.Generator,
    ) -> None:
        self.world = world
        self.setup = setup
        self.metrics = MetricsServer(world.cluster)
        self.observer = Observer(world, self.metrics, sampler, setup.metrics_window_s)
        self.actuator = Actuator(world)
        self._placement = setup.placement or spread_placement
        self._placement_rng = placement_rng

    def schedule(self, container: Container) -> Node | None:
        """The node the policy's placement picks for a pending container (None: none fits)."""
        return self._place(self.observer.replica_view(container))

    def _place(self, replica: ReplicaView) -> Node | None:
        chosen = self._placement(self.observer.node_views(), replica, self._placement_rng)
        return self.world.cluster.node_named(chosen) if chosen is not None else None

    def place_initial_replicas(self) -> None:
        """The deployment's replicas at time 0, on the initial nodes (already launched).

        Replicas are placed as the policy would place them and are already running; without
        the image cached on the initial nodes they start cold (pending, placed, then pulled).
        A policy that runs containers per node has none to place: each node started its own.
        """
        world = self.world
        cluster = world.cluster
        if world.rules.replicas_per_node:
            return
        cached = world.scenario.cluster.image_cached_on_initial_nodes
        for _ in range(world.scenario.service.initial_replicas):
            cluster.add_initial_replica(self._place(self._new_replica()) if cached else None)

    def _new_replica(self) -> ReplicaView:
        """A replica of the service that does not exist yet, as the scheduler would see it."""
        spec = self.world.scenario.service.container
        return ReplicaView(
            name="initial",
            node=None,
            state="pending",
            created_s=0.0,
            started_s=math.nan,
            ready_s=math.nan,
            cpu_request_m=spec.cpu_request_m,
            memory_request_mib=spec.memory_request_mib,
        )

    def start(self, *, skip_quiet_ticks: bool = True) -> None:
        """Start the metrics scrapes and every controller's loop.

        ``skip_quiet_ticks`` lets a controller that waits for a change sleep until the cluster
        changes (see :class:`~sim.policies.base.Decision`); turning it off changes no result,
        only the time taken, which the tests check.
        """
        env = self.world.env
        Ticker(env, 0.0, self.setup.metrics_resolution_s, self._scrape)
        for controller in self.setup.controllers:
            self._start_loop(controller, skip_quiet_ticks=skip_quiet_ticks)

    def _scrape(self, now: float) -> bool:
        self.metrics.scrape(now)
        return True

    def _start_loop(self, controller: Controller, *, skip_quiet_ticks: bool) -> None:
        """Ask ``controller`` for a decision every period (first at its phase) and apply it.

        A decision that waits for a change puts the loop to sleep until the cluster changes;
        it then resumes at its next tick on the same grid, as if it had never stopped.
        """
        cluster = self.world.cluster
        observe = self.observer.observe
        apply = self.actuator.apply

        def tick(now: float) -> bool:
            decision = controller.decide(observe())
            apply(controller.name, decision)
            if decision.wait_for_change and skip_quiet_ticks:
                cluster.wake_on_change(ticker.wake)
                return False
            return True

        ticker = Ticker(self.world.env, controller.phase_s, controller.period_s, tick)

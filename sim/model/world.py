"""The simulated world of one run, wired together: kernel, traffic, balancer, cluster, faults.

:func:`build_world` makes the parts in a fixed order from the run's named streams, so the
same scenario and seed always give the same world. Nothing here decides anything: the
control plane (:mod:`sim.control`) observes the world and acts on its cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import simpy

from sim.config.errors import trace_context
from sim.config.rules import WorldRules
from sim.config.schema import BalancerAlgorithm, Scenario
from sim.model.balancer import Balancer, make_balancer
from sim.model.cluster import Cluster
from sim.model.connect import Connector
from sim.model.faults import Faults
from sim.model.kernel import RequestLane
from sim.model.recorder import Recorder
from sim.model.retries import Retrier
from sim.model.source import ArrivalBatches
from sim.traffic import ArrivalGenerator


@dataclass
class World:
    """Everything simulated in one run (the control plane and the measurements apart)."""

    scenario: Scenario
    rules: WorldRules
    env: simpy.Environment
    recorder: Recorder
    balancer: Balancer
    arrivals: ArrivalBatches
    lane: RequestLane
    cluster: Cluster
    faults: Faults
    connector: Connector
    retrier: Retrier | None = None

    def start(self) -> None:
        """Let requests flow and schedule the scenario's faults (after the initial capacity)."""
        self.lane.start()
        for fault in self.scenario.faults:
            self.faults.start(fault)


def build_world(
    scenario: Scenario,
    rules: WorldRules,
    balancer_algorithm: BalancerAlgorithm,
    rngs: Mapping[str, np.random.Generator],
    *,
    record_requests: bool = False,
) -> World:
    """Wire the world of one run; nothing has happened yet (see :meth:`World.start`)."""
    env = simpy.Environment(initial_time=0.0)
    recorder = Recorder(
        warmup_s=scenario.warmup_s,
        slo_percentile=scenario.slo.percentile,
        keep_requests=record_requests,
    )
    balancer = make_balancer(
        balancer_algorithm, rngs["balancer"], scenario.load_balancer.connections, env
    )
    with trace_context():
        traffic = ArrivalGenerator(
            scenario.traffic, scenario.duration_s, rngs["arrivals"], scenario.resolve_path
        )
    endpoints = scenario.service.endpoints
    arrivals = ArrivalBatches(
        chunks=traffic.chunks(),
        endpoint_weights=[endpoint.weight for endpoint in endpoints],
        demand_distributions=[endpoint.cpu_demand_s for endpoint in endpoints],
        rng=rngs["demands"],
        interval_s=scenario.sample_interval_s,
        warmup_s=scenario.warmup_s,
    )
    lane = RequestLane(env, balancer, recorder, iter(arrivals))
    service = scenario.service
    balancing = scenario.load_balancer
    connector = Connector(
        lane=lane,
        balancer=balancer,
        recorder=recorder,
        timeout_s=service.timeout_s,
        connect_timeout_s=service.connect_timeout_s,
        next_upstream_tries=balancing.next_upstream_tries if balancing.next_upstream else 0,
        proxy_connect_timeout_s=balancing.connect_timeout_s,
    )
    cluster = Cluster(
        env=env,
        lane=lane,
        scenario=scenario,
        recorder=recorder,
        balancer=balancer,
        rules=rules,
        connector=connector,
        startup_rng=rngs["startup"],
        boot_rng=rngs["boot"],
    )
    faults = Faults(env, cluster, rngs["faults"])
    retrier = None
    if scenario.service.retries.max_attempts > 1:
        retrier = Retrier(
            scenario.service.retries,
            [endpoint.cpu_demand_s for endpoint in endpoints],
            rngs["retries"],
            scenario.warmup_s,
        )
        retrier.connect(lane, balancer, recorder)
    return World(
        scenario,
        rules,
        env,
        recorder,
        balancer,
        arrivals,
        lane,
        cluster,
        faults,
        connector,
        retrier,
    )

"""Reference simulators the engine's speed is reported against.

``python -m sim bench`` runs the engine and these baselines in one process on one workload, an
M/M/c system: ``servers`` identical servers share one first-come-first-served queue, arrivals
are Poisson with rate λ = utilization · servers · service_rate and service times are
exponential with rate ``service_rate``. With the defaults (c = 8, ρ = 0.9, μ = 1/s) Erlang C
gives a mean wait in queue of 0.877 s, so each baseline's own mean wait shows it simulated the
same system before its speed is compared.

The baselines are written the way a typical user writes them, not tuned:

- :func:`simpy_idiomatic_mmc` starts one SimPy process per request, which holds a
  ``simpy.Resource`` slot while it is served. Each request costs a generator frame and about six
  heap events (its inter-arrival timeout, the process start, the granted request, the service
  timeout, the release and the process end), plus one random draw per variate. That per-request
  overhead, not the SimPy kernel, is what an engine built on plain data and callbacks avoids,
  so this is the figure its speed-up is quoted against.
- :func:`ciw_mmc` is the same model in Ciw, the queueing-network library most often used for
  this kind of study; it keeps a record per customer, so its memory grows with the run.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import ciw
import numpy as np
import simpy


@dataclass(frozen=True)
class BaselineResult:
    """One timed baseline run.

    ``requests`` counts the requests that completed service; ``wall_s`` is the wall-clock time
    spent building and running the simulation (not collecting results); ``wait_mean_s`` is the
    mean time those requests spent in the queue before service, in simulated seconds.
    """

    name: str
    requests: int
    wall_s: float
    wait_mean_s: float

    @property
    def requests_per_s(self) -> float:
        """Completed requests per wall-clock second, the throughput the benchmark reports."""
        if self.wall_s <= 0.0:
            return math.inf
        return self.requests / self.wall_s


def simpy_idiomatic_mmc(
    requests: int,
    servers: int = 8,
    utilization: float = 0.9,
    service_rate: float = 1.0,
    seed: int = 1,
) -> BaselineResult:
    """Simulate M/M/c in SimPy with one process per request until ``requests`` have completed.

    Exactly ``requests`` arrivals are generated and the run continues until the last one has
    been served. Inter-arrival and service times come from two independent ``random.Random``
    streams derived from ``seed``, drawn one value per request.
    """
    arrival_rate = _arrival_rate(requests, servers, utilization, service_rate)
    arrival_stream, service_stream = _python_streams(seed, count=2)
    completed = 0
    wait_sum_s = 0.0

    def request(
        env: simpy.Environment, counter: simpy.Resource, service_s: float
    ) -> Generator[simpy.Event, Any, None]:
        nonlocal completed, wait_sum_s
        arrived_at = env.now
        with counter.request() as slot:
            yield slot
            wait_sum_s += env.now - arrived_at
            yield env.timeout(service_s)
        completed += 1

    def source(
        env: simpy.Environment, counter: simpy.Resource
    ) -> Generator[simpy.Event, Any, None]:
        for _ in range(requests):
            yield env.timeout(arrival_stream.expovariate(arrival_rate))
            env.process(request(env, counter, service_stream.expovariate(service_rate)))

    started = time.perf_counter()
    env = simpy.Environment()
    env.process(source(env, simpy.Resource(env, capacity=servers)))
    env.run()
    wall_s = time.perf_counter() - started
    return BaselineResult("simpy_idiomatic", completed, wall_s, wait_sum_s / completed)


def ciw_mmc(
    requests: int,
    servers: int = 8,
    utilization: float = 0.9,
    service_rate: float = 1.0,
    seed: int = 1,
) -> BaselineResult:
    """Simulate M/M/c in Ciw until ``requests`` customers have left the system.

    Ciw draws from the global ``random`` module and a module-level numpy generator, which
    ``ciw.seed`` resets; both are restored afterwards so that a benchmark run leaves no trace
    on other code in the process.
    """
    arrival_rate = _arrival_rate(requests, servers, utilization, service_rate)
    saved_random_state = random.getstate()
    saved_numpy_generator = ciw.rng
    try:
        ciw.seed(seed)
        started = time.perf_counter()
        network = ciw.create_network(
            arrival_distributions=[ciw.dists.Exponential(rate=arrival_rate)],
            service_distributions=[ciw.dists.Exponential(rate=service_rate)],
            number_of_servers=[servers],
        )
        simulation = ciw.Simulation(network)
        simulation.simulate_until_max_customers(requests, method="Finish")
        wall_s = time.perf_counter() - started
    finally:
        random.setstate(saved_random_state)
        ciw.rng = saved_numpy_generator
    waits_s = [record.waiting_time for record in simulation.get_all_records(only=["service"])]
    return BaselineResult("ciw", len(waits_s), wall_s, math.fsum(waits_s) / len(waits_s))


def _arrival_rate(requests: int, servers: int, utilization: float, service_rate: float) -> float:
    """Check the workload and return its arrival rate λ = ρ·c·μ in requests per second."""
    if requests < 1:
        raise ValueError(f"requests must be at least 1, got {requests}")
    if servers < 1:
        raise ValueError(f"servers must be at least 1, got {servers}")
    if not 0.0 < utilization < 1.0:
        raise ValueError(f"utilization must lie strictly between 0 and 1, got {utilization}")
    if not service_rate > 0.0:
        raise ValueError(f"service_rate must be positive, got {service_rate}")
    return utilization * servers * service_rate


def _python_streams(seed: int, count: int) -> list[random.Random]:
    """``count`` independent ``random.Random`` streams spawned from one seed."""
    children = np.random.SeedSequence(seed).spawn(count)
    return [random.Random(int(child.generate_state(1)[0])) for child in children]

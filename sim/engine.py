"""One run: build the world and its control plane from a scenario, run it, collect a Result.

The three phases are kept apart (as in desmod): :func:`build` makes the world
(:mod:`sim.model`), the policy's control plane (:mod:`sim.control`) and the sampler
(:mod:`sim.measure`) and starts them in a fixed order; :func:`execute` advances the clock
with a progress bar; :func:`collect` settles the end and reduces everything to frames.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from tqdm import tqdm

from sim.config.errors import InputError
from sim.config.schema import Scenario
from sim.control.plane import ControlPlane
from sim.measure import frames
from sim.measure.sampler import Sampler
from sim.model.cluster import Cluster
from sim.model.world import World, build_world
from sim.policies.registry import make_setup
from sim.result import Result
from sim.streams import streams

PROGRESS_STEPS = 200
"""How many slices of simulated time a run advances by (the progress bar's resolution)."""


@dataclass
class Run:
    """Everything one run is made of, between build and collect."""

    scenario: Scenario
    policy: str
    seed: int
    world: World
    control: ControlPlane
    sampler: Sampler

    @property
    def cluster(self) -> Cluster:
        return self.world.cluster


def run(
    scenario: Scenario,
    policy: str | None = None,
    seed: int = 0,
    *,
    record_requests: bool = False,
    progress: bool | None = None,
) -> Result:
    """Simulate ``scenario`` under ``policy`` (default: the scenario's own) with ``seed``.

    ``record_requests`` adds a per-request frame (memory grows with the run: for small runs).
    ``progress`` shows a bar of simulated time on stderr; by default it appears only on a
    terminal, and only once the run has taken more than two seconds.
    """
    started = time.perf_counter()
    policy_name = policy or scenario.policy.name
    if policy_name != scenario.policy.name:
        scenario = scenario.with_overrides({"policy.name": policy_name})
    built = build(scenario, policy_name, seed, record_requests=record_requests)
    execute(built, progress=progress)
    return collect(built, wall_time_s=time.perf_counter() - started)


def build(
    scenario: Scenario,
    policy: str,
    seed: int,
    *,
    record_requests: bool = False,
    skip_quiet_ticks: bool = True,
) -> Run:
    """Wire the world, the control plane and the sampler for one run; nothing has happened.

    The start order fixes the order of same-time events, so it never changes: the initial
    nodes and replicas, then requests and faults, then the sampler, then metrics scrapes and
    controllers. ``skip_quiet_ticks``: see :meth:`ControlPlane.start`.
    """
    if seed < 0:
        raise InputError(f"expected a seed of 0 or more, got {seed}", field="seed")
    rngs = streams(seed)
    setup = make_setup(scenario, rngs)
    algorithm = scenario.load_balancer.algorithm or setup.balancer
    world = build_world(scenario, setup.rules, algorithm, rngs, record_requests=record_requests)
    sampler = Sampler(world)
    control = ControlPlane(world, setup, sampler, rngs["scheduler"])
    world.cluster.scheduler = control.schedule
    world.cluster.launch_initial_nodes()
    control.place_initial_replicas()
    world.start()
    sampler.start()
    control.start(skip_quiet_ticks=skip_quiet_ticks)
    return Run(scenario, policy, seed, world, control, sampler)


def execute(built: Run, *, progress: bool | None = None) -> None:
    """Advance the clock to the scenario's end, with a progress bar of simulated time."""
    duration_s = built.scenario.duration_s
    with tqdm(
        total=duration_s,
        unit="sim s",
        desc=f"{built.scenario.name} [{built.policy}]",
        delay=2.0 if progress is None else 0.0,
        disable=progress is False or (progress is None and not sys.stderr.isatty()),
        leave=False,
        bar_format=(
            "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} sim s [{elapsed}<{remaining}]"
        ),
    ) as bar:
        for step in range(1, PROGRESS_STEPS + 1):
            until_s = duration_s * step / PROGRESS_STEPS
            built.world.env.run(until=until_s)
            bar.update(until_s - bar.n)


def collect(built: Run, *, wall_time_s: float) -> Result:
    """Settle the end of the run and reduce everything to a :class:`Result`."""
    scenario = built.scenario
    world = built.world
    end_s = scenario.duration_s
    for container in world.cluster.containers:
        if container.node is not None:
            container.finish_run(end_s)
    built.sampler.close_row(end_s)
    summary, timeseries = frames.reduce(
        world,
        built.sampler,
        scale_actions=built.control.actuator.scale_actions,
        wall_time_s=wall_time_s,
        name=f"{scenario.name}/{built.policy}/seed={built.seed}",
    )
    return Result(
        summary=summary,
        timeseries=timeseries,
        events=frames.events(world),
        requests=frames.requests_frame(world) if world.recorder.request_log is not None else None,
        scenario=scenario,
        policy=built.policy,
        seed=built.seed,
        wall_time_s=wall_time_s,
    )

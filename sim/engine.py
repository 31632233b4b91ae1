"""One run: build the model from a scenario, run it, collect a :class:`Result`.

The three phases are kept apart (as in desmod): :func:`build` wires SimPy, the cluster, the
balancer, the arrival driver, the faults and the sampler; :func:`execute` advances the clock
with a progress bar; :func:`collect` turns counters into the summary and frames.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import simpy
from tqdm import tqdm

from sim import histogram
from sim.config.errors import InputError, trace_context
from sim.config.schema import (
    ContainerCrash,
    Fault,
    NodeCrash,
    NodeFailures,
    Scenario,
)
from sim.elasticity import add_demand
from sim.model import node as node_states
from sim.model.balancer import make_balancer
from sim.model.cluster import Cluster
from sim.model.kernel import RequestLane, Ticker
from sim.model.recorder import FAULT as REJECT_FAULT
from sim.model.recorder import (
    IN_FLIGHT,
    NO_REPLICA,
    OUTCOME_NAMES,
    QUEUE_FULL,
    Recorder,
)
from sim.model.source import ArrivalBatches
from sim.policies.base import Action, Controller, Decision, Observation, PolicySetup, ReplicaView
from sim.policies.registry import make_setup
from sim.result import Result
from sim.streams import streams
from sim.traffic import ArrivalGenerator


@dataclass
class Gauges:
    """The state side of each timeseries row, sampled at the row's time."""

    rows: list[dict[str, float]] = field(default_factory=list)
    last_cpu_core_s: float = 0.0
    peak_nodes: int = 0
    peak_replicas: int = 0


@dataclass
class Run:
    """Everything one run is made of, between build and collect."""

    scenario: Scenario
    policy: str
    seed: int
    env: simpy.Environment
    cluster: Cluster
    recorder: Recorder
    arrivals: ArrivalBatches
    gauges: Gauges


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


# --- build -------------------------------------------------------------------------------------


def build(
    scenario: Scenario,
    policy: str,
    seed: int,
    *,
    record_requests: bool = False,
    skip_quiet_ticks: bool = True,
) -> Run:
    """Wire the model for one run; nothing has happened yet.

    ``skip_quiet_ticks`` lets a controller that waits for a change sleep until the cluster
    changes (see :class:`~sim.policies.base.Decision`); turning it off changes no result,
    only the time taken, which the tests check.
    """
    if seed < 0:
        raise InputError(f"expected a seed of 0 or more, got {seed}", field="seed")
    rngs = streams(seed)
    env = simpy.Environment(initial_time=0.0)
    recorder = Recorder(
        warmup_s=scenario.warmup_s,
        slo_percentile=scenario.slo.percentile,
        keep_requests=record_requests,
    )
    setup = make_setup(scenario, rngs)
    algorithm = scenario.load_balancer.algorithm or setup.balancer
    balancer = make_balancer(algorithm, rngs["balancer"])
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
    cluster = Cluster(
        env=env,
        lane=lane,
        scenario=scenario,
        recorder=recorder,
        balancer=balancer,
        setup=setup,
        startup_rng=rngs["startup"],
        boot_rng=rngs["boot"],
        placement_rng=rngs["scheduler"],
    )
    _initial_capacity(cluster, scenario, setup)
    lane.start()
    built = Run(scenario, policy, seed, env, cluster, recorder, arrivals, Gauges())
    faults = Faults(built, rngs["faults"])
    for fault in scenario.faults:
        faults.start(fault)
    env.process(_sampler(built))
    Ticker(env, 0.0, setup.metrics_resolution_s, partial(_scrape, built))
    for controller in setup.controllers:
        _start_control_loop(built, controller, setup, skip_quiet_ticks=skip_quiet_ticks)
    return built


def _initial_capacity(cluster: Cluster, scenario: Scenario, setup: PolicySetup) -> None:
    """The nodes and replicas the scenario starts with, already running at time 0."""
    cached = scenario.cluster.image_cached_on_initial_nodes
    for index in range(scenario.cluster.initial_nodes):
        role = "worker"
        if index < setup.manager_nodes:
            role = "manager-drained" if setup.drain_managers else "manager"
        cluster.launch_node(scenario.cluster.node_type, ready=True, image_cached=cached, role=role)
    if setup.replicas_per_node:
        return  # every node started its own containers
    for _ in range(scenario.service.initial_replicas):
        if not cached:
            cluster.add_initial_replica(None)  # a cold start: placed, then pulled
            continue
        chosen = _initial_node(cluster, cluster.node_views())
        cluster.add_initial_replica(cluster.node_named(chosen) if chosen else None)


def _initial_node(cluster: Cluster, views: list[Any]) -> str | None:
    """Where the policy's placement puts the next replica that is already running."""
    spec = cluster.scenario.service.container
    replica = ReplicaView(
        name="initial",
        node=None,
        state="pending",
        created_s=0.0,
        started_s=math.nan,
        ready_s=math.nan,
        cpu_request_m=spec.cpu_request_m,
        memory_request_mib=spec.memory_request_mib,
    )
    return cluster.placement(views, replica, cluster._placement_rng)


class Faults:
    """The scenario's faults, scheduled as SimPy processes on the ``faults`` stream."""

    def __init__(self, built: Run, rng: np.random.Generator) -> None:
        self.built = built
        self.rng = rng

    def start(self, fault: Fault) -> None:
        env = self.built.env
        if isinstance(fault, NodeCrash):
            env.process(self._node_crash(fault))
        elif isinstance(fault, ContainerCrash):
            env.process(self._container_crash(fault))
        elif isinstance(fault, NodeFailures):
            env.process(self._random_node_failures(fault.mtbf_s))
        else:
            env.process(self._random_container_failures(fault.mtbf_s))

    def _node_crash(self, fault: NodeCrash) -> Generator[simpy.Event, Any, None]:
        yield self.built.env.timeout(fault.at_s)
        cluster = self.built.cluster
        if fault.node >= len(cluster.nodes):
            cluster.log("fault", "skipped", f"node-{fault.node}", "", "", "no such node then")
            return
        cluster.crash_node(cluster.nodes[fault.node], f"scenario fault at {fault.at_s:g} s")

    def _container_crash(self, fault: ContainerCrash) -> Generator[simpy.Event, Any, None]:
        yield self.built.env.timeout(fault.at_s)
        cluster = self.built.cluster
        if fault.replica >= len(cluster.containers):
            cluster.log("fault", "skipped", f"replica-{fault.replica}", "", "", "no such replica")
            return
        cluster.crash_container(
            cluster.containers[fault.replica], f"scenario fault at {fault.at_s:g} s"
        )

    def _random_node_failures(self, mtbf_s: float) -> Generator[simpy.Event, Any, None]:
        """Each node fails after an exponential lifetime; new nodes are watched as they come."""
        watched: set[int] = set()
        env = self.built.env
        while True:
            for node in self.built.cluster.nodes:
                if node.index not in watched:
                    watched.add(node.index)
                    env.process(self._node_lifetime(node, float(self.rng.exponential(mtbf_s))))
            yield env.timeout(5.0)

    def _node_lifetime(self, node: Any, lifetime_s: float) -> Generator[simpy.Event, Any, None]:
        yield self.built.env.timeout(lifetime_s)
        self.built.cluster.crash_node(node, f"random failure (MTBF {lifetime_s:.0f} s drawn)")

    def _random_container_failures(self, mtbf_s: float) -> Generator[simpy.Event, Any, None]:
        """Crash a running container now and then: each fails at rate 1/mtbf while running."""
        env = self.built.env
        cluster = self.built.cluster
        while True:
            running = [c for c in cluster.containers if c.state == "ready"]
            if not running:
                yield env.timeout(5.0)
                continue
            yield env.timeout(float(self.rng.exponential(mtbf_s / len(running))))
            running = [c for c in cluster.containers if c.state == "ready"]
            if running:
                victim = running[int(self.rng.integers(len(running)))]
                cluster.crash_container(victim, f"random failure (MTBF {mtbf_s:g} s)")


def _scrape(built: Run, now: float) -> bool:
    """metrics-server: scrape every container's CPU usage (every metrics resolution)."""
    built.cluster.scrape_metrics(now)
    return True


def _start_control_loop(
    built: Run, controller: Controller, setup: PolicySetup, *, skip_quiet_ticks: bool
) -> None:
    """Ask ``controller`` for a decision every period (first at its phase) and apply it.

    A decision that waits for a change puts the loop to sleep until the cluster changes;
    it then resumes at its next tick on the same grid, as if it had never stopped.
    """

    def tick(now: float) -> bool:
        decision = controller.decide(observe(built))
        apply_decision(built, controller.name, decision, setup)
        if decision.wait_for_change and skip_quiet_ticks:
            built.cluster.wake_on_change(ticker.wake)
            return False
        return True

    ticker = Ticker(built.env, controller.phase_s, controller.period_s, tick)


def observe(built: Run) -> Observation:
    """The snapshot a control plane would have now."""
    cluster = built.cluster
    rows = built.recorder.rows
    gauges = built.gauges.rows
    last = rows[-1] if rows else None
    span_s = built.scenario.sample_interval_s
    return Observation(
        now_s=float(built.env.now),
        replicas=cluster.replica_views,
        nodes=cluster.node_views,
        desired_replicas=cluster.desired_replicas,
        arrival_rate_rps=_last_arrival_rate(built, span_s),
        latency_p95_s=last.latency_p95_s if last else math.nan,
        error_rate=_last_error_rate(last),
        cpu_utilization=float(gauges[-1]["cpu_utilization"]) if gauges else 0.0,
    )


def _last_arrival_rate(built: Run, span_s: float) -> float:
    rows = len(built.recorder.rows)
    counts = built.arrivals.arrivals_per_interval
    if rows == 0 or rows > len(counts):
        return 0.0
    return float(counts[rows - 1]) / span_s


def _last_error_rate(row: Any) -> float:
    if row is None:
        return 0.0
    answered = row.completed + row.rejected + row.timed_out
    return (row.rejected + row.timed_out) / answered if answered else 0.0


def apply_decision(built: Run, source: str, decision: Decision, setup: PolicySetup) -> None:
    """Carry out a controller's actions on the cluster, logging each with the reason."""
    cluster = built.cluster
    reason = decision.reason
    for action in decision.actions:
        node = cluster.node_named(action.target) if action.target else None
        kind = action.kind
        if kind == "set_replicas":
            count = int(action.value)
            if count != cluster.desired_replicas:
                cluster.scale_actions += 1
                cluster.set_desired_replicas(count, reason, source=source)
        elif kind == "launch_nodes":
            _launch(built, action, reason, source)
        elif node is None:
            cluster.log(source, "skipped", action.target, kind, "", "no such node")
        elif kind == "remove_node":
            cluster.scale_actions += 1
            cluster.remove_node(node, reason, source=source)
        elif kind == "resize_node":
            cluster.scale_actions += 1
            downtime_s = setup.resize_downtime_s() if setup.resize_downtime_s else 0.0
            cluster.resize_node(node, str(action.value), downtime_s, reason, source=source)
        elif kind == "unroute_node":
            cluster.unroute_node(node, reason, source=source)
        elif kind == "evict_node":
            cluster.evict_node(node, reason, source=source)
        elif kind == "terminate_node":
            cluster.terminate_node(node, reason, source=source)


def _launch(built: Run, action: Action, reason: str, source: str) -> None:
    cluster = built.cluster
    type_name = action.target or built.scenario.cluster.node_type
    if type_name not in cluster.catalogue:
        cluster.log(source, "skipped", type_name, "launch_nodes", "", "unknown instance type")
        return
    running = sum(1 for node in cluster.nodes if node.state != "terminated")
    room = built.scenario.cluster.max_nodes - running
    count = min(int(action.value), room)
    if count < int(action.value):
        cluster.log(source, "capped", type_name, action.value, count, "cluster.max_nodes reached")
    if count > 0:
        cluster.scale_actions += 1
    for _ in range(count):
        cluster.launch_node(type_name, reason=reason, source=source)


def _sampler(built: Run) -> Generator[simpy.Event, Any, None]:
    interval_s = built.scenario.sample_interval_s
    duration_s = built.scenario.duration_s
    _sample(built, 0.0, first=True)
    tick = 1
    while tick * interval_s < duration_s:
        yield built.env.timeout(tick * interval_s - built.env.now)
        _close_row(built, built.env.now)
        tick += 1


def _close_row(built: Run, now: float) -> None:
    built.recorder.close_interval(now)
    _sample(built, now)


def _sample(built: Run, now: float, *, first: bool = False) -> None:
    cluster = built.cluster
    gauges = built.gauges
    replicas = cluster.count_replicas()
    nodes_ready = sum(1 for node in cluster.nodes if node.state == node_states.READY)
    nodes_provisioning = sum(1 for node in cluster.nodes if node.state == node_states.PROVISIONING)
    gauges.peak_nodes = max(gauges.peak_nodes, cluster.billed_nodes())
    gauges.peak_replicas = max(gauges.peak_replicas, replicas["ready"])
    if first:
        return
    cpu_core_s = cluster.cpu_used_core_s(now)
    used_core_s = cpu_core_s - gauges.last_cpu_core_s
    gauges.last_cpu_core_s = cpu_core_s
    previous_s = gauges.rows[-1]["time_s"] if gauges.rows else 0.0
    span_s = now - previous_s
    node_cores = sum(node.cpu_m for node in cluster.nodes if node.state == node_states.READY) / 1000
    requested_cores = sum(c.request_m for c in cluster.containers if c.state == "ready") / 1000
    in_flight = sum(c.in_flight for c in cluster.containers if c.node is not None)
    gauges.rows.append(
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


# --- execute -----------------------------------------------------------------------------------


def execute(built: Run, *, progress: bool | None = None) -> None:
    """Advance the clock to the scenario's end, with a progress bar of simulated time."""
    duration_s = built.scenario.duration_s
    steps = 200
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
        for step in range(1, steps + 1):
            until_s = duration_s * step / steps
            built.env.run(until=until_s)
            bar.update(until_s - bar.n)


# --- collect -----------------------------------------------------------------------------------


def collect(built: Run, *, wall_time_s: float) -> Result:
    """Settle the end of the run and reduce everything to a :class:`Result`."""
    scenario = built.scenario
    end_s = scenario.duration_s
    for container in built.cluster.containers:
        if container.node is not None:
            container.finish_run(end_s)
    _close_row(built, end_s)
    timeseries = _timeseries(built)
    elasticity = add_demand(timeseries, scenario)
    requests_frame = _requests_frame(built) if built.recorder.request_log is not None else None
    summary = _summary(built, timeseries, wall_time_s)
    for key, value in elasticity.items():
        summary[key] = value
    events = pd.DataFrame(
        built.cluster.events,
        columns=["time_s", "source", "action", "target", "from_value", "to_value", "reason"],
    )
    return Result(
        summary=summary,
        timeseries=timeseries,
        events=events,
        requests=requests_frame,
        scenario=scenario,
        policy=built.policy,
        seed=built.seed,
        wall_time_s=wall_time_s,
    )


def _timeseries(built: Run) -> pd.DataFrame:
    recorder = built.recorder
    request_rows = pd.DataFrame([row.__dict__ for row in recorder.rows])
    gauge_rows = pd.DataFrame(built.gauges.rows)
    timed_out = request_rows["timed_out"].to_numpy(dtype=np.int64, copy=True)
    for row, count in recorder.late_timed_out.items():
        timed_out[row] += count  # clients that gave up in an interval already closed
    request_rows["timed_out"] = timed_out
    frame = request_rows.merge(gauge_rows, on="time_s", how="left")
    arrivals = built.arrivals.arrivals_per_interval
    counts = np.zeros(len(frame), dtype=np.int64)
    usable = min(len(arrivals), len(frame))
    counts[:usable] = arrivals[:usable]
    frame.insert(1, "arrivals", counts)
    span_s = frame["time_s"].diff().fillna(frame["time_s"].iloc[0])
    frame["arrival_rate_rps"] = frame["arrivals"] / span_s
    frame["throughput_rps"] = frame["completed"] / span_s
    slo = built.scenario.slo
    resolved = frame["completed"] + frame["rejected"] + frame["timed_out"]
    frame["error_rate"] = ((frame["rejected"] + frame["timed_out"]) / resolved).fillna(0.0)
    latency_ok = frame["latency_slo_s"].isna() | (frame["latency_slo_s"] <= slo.latency_s)
    frame["slo_met"] = latency_ok & (frame["error_rate"] <= slo.max_error_rate)
    frame = frame.rename(columns={"latency_slo_s": "latency_slo_percentile_s"})
    columns = [
        "time_s", "arrivals", "completed", "rejected", "timed_out", "arrival_rate_rps",
        "throughput_rps", "latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s",
        "latency_slo_percentile_s", "error_rate", "slo_met", "replicas_desired",
        "replicas_ready", "replicas_starting", "replicas_terminating", "pods_pending",
        "nodes_ready", "nodes_provisioning", "cpu_utilization", "replica_cpu_utilization",
        "in_flight", "cost_usd",
    ]  # fmt: skip
    return frame[columns]


def _summary(built: Run, timeseries: pd.DataFrame, wall_time_s: float) -> pd.Series:
    scenario = built.scenario
    recorder = built.recorder
    cluster = built.cluster
    warmup_s = scenario.warmup_s
    in_flight = sum(
        1
        for container in cluster.containers
        if container.node is not None
        for arrival_s, _ in container.requests_in_flight()
        if arrival_s >= warmup_s
    )
    completed = recorder.summary_completed
    rejected = sum(recorder.summary_rejected)
    timed_out = recorder.summary_timed_out
    resolved = completed + rejected + timed_out
    counts = recorder.summary_histogram
    p50, p95, p99 = histogram.quantiles_of_counts(counts, (0.50, 0.95, 0.99))
    after_warmup = timeseries[timeseries["time_s"] - scenario.sample_interval_s >= warmup_s - 1e-9]
    if after_warmup.empty:
        after_warmup = timeseries.tail(1)
    spans = (
        after_warmup["time_s"].diff().fillna(after_warmup["time_s"].iloc[0] - max(warmup_s, 0.0))
    )
    within_slo = histogram.fraction_at_most(counts, scenario.slo.latency_s)
    minimum_s = scenario.cluster.billing_minimum_s
    node_hours = sum(node.billed_s(scenario.duration_s, minimum_s) for node in cluster.nodes) / 3600
    return pd.Series(
        {
            "requests": built.arrivals.requests_after_warmup,
            "completed": completed,
            "rejected": rejected,
            "timed_out": timed_out,
            "in_flight": in_flight,
            "error_rate": (rejected + timed_out) / resolved if resolved else 0.0,
            "latency_mean_s": recorder.summary_latency_s / completed if completed else math.nan,
            "latency_p50_s": p50,
            "latency_p95_s": p95,
            "latency_p99_s": p99,
            "slo_attainment": float(after_warmup["slo_met"].mean()),
            "slo_violation_s": float(spans[~after_warmup["slo_met"]].sum()),
            "cost_usd": cluster.cost_usd(scenario.duration_s),
            "node_hours": node_hours,
            "peak_nodes": built.gauges.peak_nodes,
            "peak_replicas": built.gauges.peak_replicas,
            "scale_actions": cluster.scale_actions,
            "wall_time_s": wall_time_s,
            "rejected_no_replica": recorder.summary_rejected[NO_REPLICA],
            "rejected_queue_full": recorder.summary_rejected[QUEUE_FULL],
            "rejected_fault": recorder.summary_rejected[REJECT_FAULT],
            "requests_within_slo": (
                within_slo * completed / resolved if resolved and completed else 0.0
            ),
        },
        dtype=object,
        name=f"{scenario.name}/{built.policy}/seed={built.seed}",
    )


def _requests_frame(built: Run) -> pd.DataFrame:
    log = built.recorder.request_log or []
    rows = list(log)
    for container in built.cluster.containers:
        if container.node is None:
            continue
        for arrival_s, endpoint in container.requests_in_flight():
            rows.append((arrival_s, math.nan, endpoint, container.index, IN_FLIGHT))
    frame = pd.DataFrame(rows, columns=["arrival_s", "end_s", "endpoint", "replica", "outcome"])
    frame = frame.sort_values("arrival_s", kind="stable").reset_index(drop=True)
    names = [endpoint.name for endpoint in built.scenario.service.endpoints]
    frame["endpoint"] = pd.Categorical.from_codes(
        frame["endpoint"].to_numpy(dtype=np.int64), categories=pd.Index(names)
    )
    frame["outcome"] = pd.Categorical.from_codes(
        frame["outcome"].to_numpy(dtype=np.int64), categories=pd.Index(list(OUTCOME_NAMES))
    )
    frame["latency_s"] = frame["end_s"] - frame["arrival_s"]
    return frame

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
from typing import Any

import numpy as np
import pandas as pd
import simpy
from tqdm import tqdm

from sim import histogram
from sim.config.errors import InputError, trace_context
from sim.config.schema import NodeCrash, Scenario
from sim.model import node as node_states
from sim.model.balancer import make_balancer
from sim.model.cluster import Cluster, spread_placement
from sim.model.kernel import RequestLane
from sim.model.recorder import FAULT as REJECT_FAULT
from sim.model.recorder import (
    IN_FLIGHT,
    NO_REPLICA,
    OUTCOME_NAMES,
    QUEUE_FULL,
    Recorder,
)
from sim.model.source import ArrivalBatches
from sim.result import Result
from sim.streams import streams
from sim.traffic import ArrivalGenerator

IMPLEMENTED_POLICIES = ("static",)


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
    if policy_name not in IMPLEMENTED_POLICIES:
        raise InputError(
            f"policy {policy_name!r} is not available in this version; "
            f"expected one of {', '.join(IMPLEMENTED_POLICIES)}",
            field="policy.name",
        )
    built = build(scenario, policy_name, seed, record_requests=record_requests)
    execute(built, progress=progress)
    return collect(built, wall_time_s=time.perf_counter() - started)


# --- build -------------------------------------------------------------------------------------


def build(scenario: Scenario, policy: str, seed: int, *, record_requests: bool = False) -> Run:
    """Wire the model for one run; nothing has happened yet."""
    if seed < 0:
        raise InputError(f"expected a seed of 0 or more, got {seed}", field="seed")
    rngs = streams(seed)
    env = simpy.Environment(initial_time=0.0)
    recorder = Recorder(
        warmup_s=scenario.warmup_s,
        slo_percentile=scenario.slo.percentile,
        keep_requests=record_requests,
    )
    balancer = make_balancer(scenario.load_balancer.algorithm, rngs["balancer"])
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
        startup_rng=rngs["startup"],
        boot_rng=rngs["boot"],
        placement_rng=rngs["scheduler"],
        placement=spread_placement,
    )
    _initial_capacity(cluster, scenario)
    lane.start()
    built = Run(scenario, policy, seed, env, cluster, recorder, arrivals, Gauges())
    for fault in scenario.faults:
        env.process(_fault(built, fault))
    env.process(_sampler(built))
    return built


def _initial_capacity(cluster: Cluster, scenario: Scenario) -> None:
    """The nodes and replicas the scenario starts with, already running at time 0."""
    cached = scenario.cluster.image_cached_on_initial_nodes
    for _ in range(scenario.cluster.initial_nodes):
        node = cluster.launch_node(scenario.cluster.node_type, ready=True)
        if cached:
            node.images.add(scenario.service.container.image)
    spec = scenario.service.container
    for _ in range(scenario.service.initial_replicas):
        chosen = None
        if cached:
            chosen = spread_placement(
                cluster.node_views(),
                spec.cpu_request_m,
                spec.memory_request_mib,
                cluster._placement_rng,
            )
        if chosen is None:
            cluster.add_replica()  # cold start, or pending while nothing has room
        else:
            cluster.add_replica(ready=True, node=cluster.nodes[chosen])


def _fault(built: Run, fault: NodeCrash) -> Generator[simpy.Event, Any, None]:
    yield built.env.timeout(fault.at_s)
    cluster = built.cluster
    if fault.node >= len(cluster.nodes):
        cluster.log("fault", "skipped", f"node-{fault.node}", "", "", "no such node at that time")
        return
    cluster.crash_node(cluster.nodes[fault.node], f"scenario fault at {fault.at_s:g} s")


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
    requests_frame = _requests_frame(built) if built.recorder.request_log is not None else None
    summary = _summary(built, timeseries, wall_time_s)
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
            "scale_actions": sum(1 for event in cluster.events if event[1] == "policy"),
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

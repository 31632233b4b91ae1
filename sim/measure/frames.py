"""Reduction at the end of a run: the summary, the timeseries and the events as pandas frames.

Everything here reads what the run recorded (the recorder's rows and summary counters, the
sampler's gauges, the cluster's event log) and computes the derived columns once; the names
and meanings of the columns are those of :mod:`sim.measure.metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from sim import histogram
from sim.config.slack import FLOAT_SLACK
from sim.elasticity import add_demand
from sim.measure import recovery
from sim.measure.metrics import Table, check_columns, summary_keys, timeseries_columns
from sim.measure.sampler import Sampler
from sim.model.recorder import (
    CONNECT_FAILED,
    FAULT,
    IN_FLIGHT,
    NO_REPLICA,
    OUTCOME_NAMES,
    QUEUE_FULL,
)
from sim.model.retries import decode_endpoints
from sim.model.world import World

EVENT_COLUMNS = [
    "time_s",
    "source",
    "action",
    "target",
    "from_value",
    "to_value",
    "reason",
    "code",
]
"""``Result.events`` columns. ``reason`` says why in prose; ``code`` says it in one CamelCase
word (:data:`sim.policies.registry.CODES`), so events can be grouped and counted."""


def reduce(
    world: World, sampler: Sampler, *, scale_actions: int, wall_time_s: float, name: str
) -> tuple[pd.Series, pd.DataFrame]:
    """The run's summary and timeseries, each in the order of the metric table.

    A key or column the table does not declare, or one it declares that the run did not
    produce, is an error: nothing is silently dropped or left out.
    """
    timeseries_frame = timeseries(world, sampler)
    elasticity = add_demand(timeseries_frame, world.scenario)
    summary_series = summary(
        world,
        sampler,
        timeseries_frame,
        scale_actions=scale_actions,
        wall_time_s=wall_time_s,
        name=name,
    )
    for key, value in elasticity.items():
        summary_series[key] = value
    keys = declared_order(summary_series.index, "summary")
    columns = declared_order(timeseries_frame.columns, "timeseries")
    return summary_series[keys], timeseries_frame[columns]


def declared_order(produced: Iterable[str], table: Table) -> list[str]:
    """The metric table's names for ``table``, once every produced name is checked."""
    produced = list(produced)
    check_columns(produced, table)
    names = summary_keys() if table == "summary" else timeseries_columns()
    absent = [name for name in names if name not in produced]
    if absent:
        raise ValueError(f"{table} metrics declared but not produced: {', '.join(absent)}")
    return names


def timeseries(world: World, sampler: Sampler) -> pd.DataFrame:
    """One row per sample interval: the recorder's request side merged with the gauges
    (columns in the order they are computed; :func:`reduce` orders them)."""
    recorder = world.recorder
    request_rows = pd.DataFrame([row.__dict__ for row in recorder.rows])
    gauge_rows = pd.DataFrame(sampler.rows)
    timed_out = request_rows["timed_out"].to_numpy(dtype=np.int64, copy=True)
    for row, count in recorder.late_timed_out.items():
        timed_out[row] += count  # clients that gave up in an interval already closed
    request_rows["timed_out"] = timed_out
    frame = request_rows.merge(gauge_rows, on="time_s", how="left")
    arrivals = world.arrivals.arrivals_per_interval
    counts = np.zeros(len(frame), dtype=np.int64)
    usable = min(len(arrivals), len(frame))
    counts[:usable] = arrivals[:usable]
    frame.insert(1, "arrivals", counts)
    span_s = frame["time_s"].diff().fillna(frame["time_s"].iloc[0])
    frame["arrival_rate_rps"] = frame["arrivals"] / span_s
    frame["throughput_rps"] = (frame["completed"] + frame["late_answers"]) / span_s
    frame["goodput_rps"] = frame["completed"] / span_s
    slo = world.scenario.slo
    resolved = frame["completed"] + frame["rejected"] + frame["timed_out"]
    frame["error_rate"] = ((frame["rejected"] + frame["timed_out"]) / resolved).fillna(0.0)
    latency_ok = frame["latency_slo_s"].isna() | (frame["latency_slo_s"] <= slo.latency_s)
    frame["slo_met"] = latency_ok & (frame["error_rate"] <= slo.max_error_rate)
    return frame.rename(columns={"latency_slo_s": "latency_slo_percentile_s"})


def summary(
    world: World,
    sampler: Sampler,
    timeseries_frame: pd.DataFrame,
    *,
    scale_actions: int,
    wall_time_s: float,
    name: str,
) -> pd.Series:
    """The run's figures after warm-up (latency over completed requests)."""
    scenario = world.scenario
    recorder = world.recorder
    cluster = world.cluster
    warmup_s = scenario.warmup_s
    in_flight = sum(
        1
        for container in cluster.containers
        if container.node is not None
        for arrival_s, _ in container.requests_in_flight()
        if arrival_s >= warmup_s
    ) + sum(1 for arrival_s, _, _ in world.connector.requests_in_flight() if arrival_s >= warmup_s)
    completed = recorder.summary_completed
    rejected = sum(recorder.summary_rejected)
    timed_out = recorder.summary_timed_out
    resolved = completed + rejected + timed_out
    requests = world.arrivals.requests_after_warmup
    retrier = world.retrier
    retries = retrier.retries if retrier is not None else 0
    user_failures = retrier.user_failures if retrier is not None else rejected + timed_out
    user_resolved = completed + user_failures
    counts = recorder.summary_histogram
    p50, p95, p99 = histogram.quantiles_of_counts(counts, (0.50, 0.95, 0.99))
    frame = timeseries_frame
    after_warmup = frame[frame["time_s"] - scenario.sample_interval_s >= warmup_s - FLOAT_SLACK]
    if after_warmup.empty:
        after_warmup = frame.tail(1)
    spans = (
        after_warmup["time_s"].diff().fillna(after_warmup["time_s"].iloc[0] - max(warmup_s, 0.0))
    )
    within_slo = histogram.fraction_at_most(counts, scenario.slo.latency_s)
    crash_times_s = (
        row[0] for row in cluster.events if row[1] == "fault" and row[2] in recovery.CRASHES
    )
    since_s = recovery.disturbance_end_s(scenario, crash_times_s)
    minimum_s = scenario.cluster.billing_minimum_s
    node_hours = sum(node.billed_s(scenario.duration_s, minimum_s) for node in cluster.nodes) / 3600
    return pd.Series(
        {
            "requests": requests,
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
            "peak_nodes": sampler.peak_nodes,
            "peak_replicas": sampler.peak_replicas,
            "scale_actions": scale_actions,
            "wall_time_s": wall_time_s,
            "rejected_no_replica": recorder.summary_rejected[NO_REPLICA],
            "rejected_queue_full": recorder.summary_rejected[QUEUE_FULL],
            "rejected_fault": recorder.summary_rejected[FAULT],
            "rejected_connect": recorder.summary_rejected[CONNECT_FAILED],
            "goodput_rps": completed / (scenario.duration_s - warmup_s),
            "wasted_cpu_s": recorder.summary_wasted_cpu_s,
            "requests_within_slo": (
                within_slo * completed / resolved if resolved and completed else 0.0
            ),
            "attempts": requests + retries,
            "retries": retries,
            "amplification": (requests + retries) / requests if requests else math.nan,
            "user_error_rate": user_failures / user_resolved if user_resolved else 0.0,
            "recovery_s": recovery.recovery_s(
                frame["time_s"].to_numpy(dtype=np.float64),
                frame["slo_met"].to_numpy(dtype=bool),
                since_s,
                scenario.slo.recovery_hold_s,
            ),
        },
        dtype=object,
        name=name,
    )


def events(world: World) -> pd.DataFrame:
    """Every change of a node or replica, and every action, in the order it happened, each
    with its reason and code."""
    return pd.DataFrame(world.cluster.events, columns=EVENT_COLUMNS)


def requests_frame(world: World) -> pd.DataFrame:
    """One row per request (only when the run kept a log): outcome, replica, latency."""
    log = world.recorder.request_log or []
    rows = list(log)
    for container in world.cluster.containers:
        if container.node is None:
            continue
        for arrival_s, endpoint in container.requests_in_flight():
            rows.append((arrival_s, math.nan, endpoint, container.index, IN_FLIGHT))
    for arrival_s, endpoint, replica in world.connector.requests_in_flight():
        rows.append((arrival_s, math.nan, endpoint, replica, IN_FLIGHT))
    frame = pd.DataFrame(rows, columns=["arrival_s", "end_s", "endpoint", "replica", "outcome"])
    frame = frame.sort_values("arrival_s", kind="stable").reset_index(drop=True)
    names = [endpoint.name for endpoint in world.scenario.service.endpoints]
    endpoints, attempts = decode_endpoints(frame["endpoint"].to_numpy(dtype=np.int64), len(names))
    frame["endpoint"] = pd.Categorical.from_codes(endpoints, categories=pd.Index(names))
    frame["attempt"] = attempts
    frame["outcome"] = pd.Categorical.from_codes(
        frame["outcome"].to_numpy(dtype=np.int64), categories=pd.Index(list(OUTCOME_NAMES))
    )
    frame["latency_s"] = frame["end_s"] - frame["arrival_s"]
    return frame

"""Elasticity metrics (SPEC Research Group; Herbst et al., as in the BUNGEE benchmark).

An autoscaler is judged by how closely the capacity it supplies follows the capacity the load
demands. Per sample interval:

* **demand** ``d``: the fewest ready replicas that would meet the SLO's latency percentile at
  the interval's arrival rate. Each replica contributes the CPU it can count on (its limit,
  or its request when it has none); the service is
  modelled as M/M/c over all those cores with the endpoint mix's mean CPU demand, and ``c`` is
  the smallest count whose response-time quantile meets the target
  (:func:`sim.theory.min_servers_for_response_quantile`). Where the target is below what the
  service time alone allows, demand is what keeps the cores 90 % busy.
* **supply** ``s``: the replicas ready at the end of the interval.

Over the intervals after warm-up (all of equal length):

* ``elasticity_under_accuracy`` / ``elasticity_over_accuracy``: mean of ``(d − s)⁺ / d`` and
  ``(s − d)⁺ / d`` — how far short of (or beyond) the demand supply was, relative to demand
  (the normalised form of later SPEC versions, comparable across services of any size);
* ``elasticity_under_timeshare`` / ``elasticity_over_timeshare``: the share of time with
  ``d > s`` (``s > d``);
* ``elasticity_jitter_per_min``: (supply changes − demand changes) per minute: negative when
  capacity follows too sluggishly, positive when it oscillates.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from sim import theory
from sim.config.schema import Scenario
from sim.config.slack import FLOAT_SLACK, ceil_count

FALLBACK_UTILIZATION = 0.9

METRIC_KEYS = (
    "elasticity_under_accuracy",
    "elasticity_over_accuracy",
    "elasticity_under_timeshare",
    "elasticity_over_timeshare",
    "elasticity_jitter_per_min",
)
"""The summary keys :func:`elasticity_metrics` returns, in the order the metric table
(:mod:`sim.measure.metrics`) declares them with their units; a test keeps the two equal."""


def mean_demand_s(scenario: Scenario) -> float:
    """Mean CPU-seconds per request over the endpoint mix."""
    endpoints = scenario.service.endpoints
    total_weight = sum(endpoint.weight for endpoint in endpoints)
    return sum(e.weight * e.cpu_demand_s.mean for e in endpoints) / total_weight


def cores_per_replica(scenario: Scenario) -> float:
    """The CPU one replica can count on: its limit, at most a core per worker slot.

    A replica without a limit shares its node with the others placed by their requests, so
    under load it can count on its fair share, which is its CPU request.
    """
    container = scenario.service.container
    node_cores = scenario.cluster.instance.vcpu - scenario.cluster.reserved_cpu_m / 1000
    if container.cpu_limit_m is None:
        share_cores = container.cpu_request_m / 1000
    else:
        share_cores = container.cpu_limit_m / 1000
    return max(min(share_cores, node_cores, float(container.concurrency)), 1e-3)


def demand_replicas(scenario: Scenario, arrival_rates_rps: np.ndarray) -> np.ndarray:
    """The demand curve: fewest replicas meeting the SLO at each arrival rate."""
    service_rate = 1.0 / max(mean_demand_s(scenario), 1e-12)
    per_replica = cores_per_replica(scenario)
    quantile = scenario.slo.percentile / 100
    target_s = scenario.slo.latency_s
    cores = [
        _cores_needed(round(float(rate), 3), service_rate, quantile, target_s)
        for rate in arrival_rates_rps
    ]
    return np.array([max(1, ceil_count(c / per_replica)) for c in cores], dtype=np.int64)


@lru_cache(maxsize=4096)
def _cores_needed(
    arrival_rate: float, service_rate: float, quantile: float, target_s: float
) -> int:
    try:
        return theory.min_servers_for_response_quantile(
            arrival_rate, service_rate, quantile, target_s
        )
    except ValueError:  # the target is below the service time's own quantile
        return max(1, math.ceil(arrival_rate / (service_rate * FALLBACK_UTILIZATION)))


def elasticity_metrics(
    demand: np.ndarray, supply: np.ndarray, interval_s: float
) -> dict[str, float]:
    """The SPEC elasticity metrics of a demand and a supply curve on a common grid."""
    if demand.size == 0:
        return dict.fromkeys(METRIC_KEYS, math.nan)
    demand_f = demand.astype(np.float64)
    supply_f = supply.astype(np.float64)
    short = np.clip(demand_f - supply_f, 0, None)
    excess = np.clip(supply_f - demand_f, 0, None)
    minutes = demand.size * interval_s / 60
    changes = int(np.count_nonzero(np.diff(supply))) - int(np.count_nonzero(np.diff(demand)))
    return {
        "elasticity_under_accuracy": float(np.mean(short / demand_f)),
        "elasticity_over_accuracy": float(np.mean(excess / demand_f)),
        "elasticity_under_timeshare": float(np.mean(demand > supply)),
        "elasticity_over_timeshare": float(np.mean(supply > demand)),
        "elasticity_jitter_per_min": changes / minutes if minutes > 0 else math.nan,
    }


def add_demand(timeseries: pd.DataFrame, scenario: Scenario) -> dict[str, float]:
    """Add the ``replicas_demand`` column; return the metrics over the post-warm-up rows."""
    rates = timeseries["arrival_rate_rps"].to_numpy(dtype=np.float64)
    timeseries["replicas_demand"] = demand_replicas(scenario, rates)
    after = timeseries[
        timeseries["time_s"] - scenario.sample_interval_s >= scenario.warmup_s - FLOAT_SLACK
    ]
    return elasticity_metrics(
        after["replicas_demand"].to_numpy(),
        after["replicas_ready"].to_numpy(),
        scenario.sample_interval_s,
    )

"""``python -m sim bench``: simulated requests per wall second, against baselines, in one process.

Workloads:

* (a) the engine on M/M/8 at ρ = 0.9 (λ = 7.2/s, μ = 1/s), 1,000,000 requests;
* (b) the engine on ``scenarios/booking_surge.yaml`` (a realistic run: four endpoints, six
  replicas on three nodes, a surge that overloads them), with the CPU limit as a smooth cap and
  a 64-deep queue answering 503 beyond it (:data:`BOOKING_AS_SET`, the workload its target was
  set on, so the figure stays comparable from release to release); and as shipped, with
  the overload model on: CFS quotas per 100 ms period, gunicorn's 2048-deep backlog dropping
  SYNs, and clients making up to three attempts (:data:`BOOKING_OVERLOAD`), which costs more
  per request (an event per period per container above its limit, more CPU sharing);
* (c) the same M/M/8 as idiomatic SimPy (one process per request, ``simpy.Resource``), run to
  the same number of requests, and with Ciw (200,000 requests: Ciw keeps a record per customer,
  so its memory grows with the run).

Each run's mean wait is shown beside its speed, so that a fast but wrong model shows. Peak
memory is measured in child processes (one run each) at 1,000,000 and 10,000,000 requests:
the engine keeps no per-request state, so the larger run should need barely more.
Figures are ratios against baselines measured in the same process, never absolute targets.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.benchmark.baselines import ciw_mmc, simpy_idiomatic_mmc
from sim.benchmark.memory import peak_rss_mb_of

SERVERS = 8
UTILIZATION = 0.9
SERVICE_RATE = 1.0
ARRIVAL_RATE = UTILIZATION * SERVERS * SERVICE_RATE
BOOKING_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "booking_surge.yaml"


@dataclass(frozen=True)
class Sizes:
    """How many requests each part of the benchmark simulates, and how many rounds."""

    engine: int
    simpy: int
    ciw: int
    memory_small: int
    memory_large: int
    booking_duration_s: float | None  # None: the scenario's own duration
    rounds: int


FULL = Sizes(1_000_000, 200_000, 200_000, 1_000_000, 10_000_000, None, 3)
QUICK = Sizes(50_000, 20_000, 5_000, 20_000, 200_000, 300.0, 1)


BOOKING_AS_SET = {
    "service.container.cfs_period_s": None,
    "service.container.queue_limit": 64,
    "service.container.overflow": "reject",
}
"""The booking surge as its speed target was set: smooth CPU cap, a short queue, 503s."""

BOOKING_OVERLOAD = {"service.retries.max_attempts": 3}
"""The booking surge as shipped (CFS quotas, a dropping backlog) with clients that retry."""


def mmc_scenario(requests: int, policy: str = "static") -> Any:
    """The M/M/8 workload as a scenario: one container, 8 worker slots on 8 cores.

    Under ``kubernetes`` every controller runs (metrics, HPA, scheduler, cluster autoscaler,
    node lifecycle) but the HPA is pinned to one replica, so the queue stays an M/M/8 and
    the figure shows what the control plane costs.
    """
    from sim.config.schema import Scenario

    duration_s = requests / ARRIVAL_RATE
    pinned = {"kubernetes": {"hpa": {"min_replicas": 1, "max_replicas": 1}}}
    return Scenario.model_validate(
        {
            "name": "bench-mmc",
            "duration_s": duration_s,
            "sample_interval_s": max(10.0, duration_s / 2000),
            "service": {
                "endpoints": [
                    {
                        "name": "work",
                        "weight": 1,
                        "cpu_demand_s": {"dist": "exponential", "mean": 1 / SERVICE_RATE},
                    }
                ],
                "timeout_s": 1e9,
                "initial_replicas": 1,
                "container": {
                    "concurrency": SERVERS,
                    "queue_limit": 10**9,
                    "cpu_request_m": SERVERS * 1000,
                    "cpu_limit_m": SERVERS * 1000,
                },
            },
            "cluster": {"node_type": "m5.2xlarge", "initial_nodes": 1},
            "traffic": {"rate_rps": ARRIVAL_RATE},
            "policy": {"name": policy, **pinned},
        }
    )


def _engine_rate(scenario: Any, seed: int = 1) -> tuple[float, float, int]:
    """(requests per wall second, mean latency, requests) of one engine run."""
    from sim.engine import run

    started = time.perf_counter()
    result = run(scenario, seed=seed, progress=False)
    wall_s = time.perf_counter() - started
    requests = int(result.summary["requests"])
    return requests / wall_s, float(result.summary["latency_mean_s"]), requests


def _child(requests: int) -> int:
    """Run the M/M/8 workload alone (for a clean peak-memory reading) and print its rate."""
    rate, latency_mean_s, count = _engine_rate(mmc_scenario(requests))
    print(json.dumps({"rps": rate, "latency_mean_s": latency_mean_s, "requests": count}))
    return 0


def run_benchmark(quick: bool = False, as_json: bool = False, child_requests: int = 0) -> int:
    """Run every workload, print the figures (a table, or one JSON object); exit code 0.

    A shared machine's speed drifts over seconds, so the engine and the idiomatic SimPy
    baseline run in alternation, ``rounds`` times each, and the figures are medians: each
    ratio is the median of the ratios within a round (runs seconds apart).
    """
    if child_requests:
        return _child(child_requests)
    from sim.config.loading import load_scenario

    sizes = QUICK if quick else FULL

    def say(text: str) -> None:
        if not as_json:
            print(text, file=sys.stderr, flush=True)

    shipped = load_scenario(BOOKING_SCENARIO)
    if sizes.booking_duration_s is not None:
        shipped = shipped.with_overrides(
            {"duration_s": sizes.booking_duration_s, "warmup_s": 0, "traffic.surges.0.start_s": 60}
        )
    booking = shipped.with_overrides(BOOKING_AS_SET)
    overload = shipped.with_overrides({**BOOKING_OVERLOAD, "policy.name": "kubernetes"})
    runs: dict[str, list[float]] = {}
    waits: dict[str, float] = {}
    counts: dict[str, int] = {}
    for round_number in range(1, sizes.rounds + 1):
        say(f"round {round_number}/{sizes.rounds}:")
        say(f"  (c) idiomatic SimPy, M/M/{SERVERS} rho={UTILIZATION}, {sizes.simpy:,} requests")
        gc.collect()
        baseline = simpy_idiomatic_mmc(sizes.simpy, SERVERS, UTILIZATION, SERVICE_RATE, seed=1)
        runs.setdefault("mmc_simpy_idiomatic_rps", []).append(baseline.requests_per_s)
        waits["mmc_simpy_idiomatic"] = baseline.wait_mean_s
        counts["mmc_simpy_idiomatic_requests"] = baseline.requests
        for key, scenario in (
            ("mmc_engine", mmc_scenario(sizes.engine)),
            ("mmc_engine_kubernetes", mmc_scenario(sizes.engine, "kubernetes")),
            ("booking_engine", booking),
            ("booking_engine_kubernetes", booking.with_overrides({"policy.name": "kubernetes"})),
            ("booking_overload_kubernetes", overload),
        ):
            say(f"  ({'a' if key.startswith('mmc') else 'b'}) {key.replace('_', ' ')}")
            gc.collect()
            rate, latency_s, requests = _engine_rate(scenario)
            runs.setdefault(f"{key}_rps", []).append(rate)
            runs.setdefault(f"{key}_vs_simpy", []).append(rate / baseline.requests_per_s)
            waits[key] = latency_s - 1 / SERVICE_RATE
            counts[f"{key}_requests"] = requests
    figures: dict[str, Any] = {"quick": quick, "rounds": sizes.rounds}
    figures.update({key: statistics.median(values) for key, values in runs.items()})
    figures.update(counts)
    figures["mmc_engine_wait_mean_s"] = waits["mmc_engine"]
    figures["mmc_simpy_idiomatic_wait_mean_s"] = waits["mmc_simpy_idiomatic"]
    figures["erlang_c_wait_mean_s"] = _erlang_c_wait()

    say(f"(c) Ciw, {sizes.ciw:,} requests ...")
    gc.collect()
    ciw_result = ciw_mmc(sizes.ciw, SERVERS, UTILIZATION, SERVICE_RATE, seed=1)
    figures["mmc_ciw_rps"] = ciw_result.requests_per_s
    figures["mmc_ciw_requests"] = ciw_result.requests
    figures["mmc_ciw_wait_mean_s"] = ciw_result.wait_mean_s
    figures["mmc_engine_vs_ciw"] = figures["mmc_engine_rps"] / ciw_result.requests_per_s

    for label, requests in (("1m", sizes.memory_small), ("10m", sizes.memory_large)):
        say(f"peak memory, engine alone, {requests:,} requests ...")
        argv = [sys.executable, "-m", "sim", "bench", "--child-requests", str(requests)]
        peak_mb, output = peak_rss_mb_of(argv)
        figures[f"peak_rss_mb_{label}"] = peak_mb
        figures[f"memory_run_{label}_requests"] = json.loads(output)["requests"]
    figures["peak_rss_ratio_10m_to_1m"] = figures["peak_rss_mb_10m"] / figures["peak_rss_mb_1m"]
    if as_json:
        print(json.dumps(figures, indent=2))
    else:
        print(format_figures(figures))
    return 0


def _erlang_c_wait() -> float:
    from sim import theory

    return theory.mmc(ARRIVAL_RATE, SERVICE_RATE, SERVERS).wait_mean_s


TARGETS_VS_SIMPY = {
    "mmc_engine": 5.0,
    "mmc_engine_kubernetes": 5.0,
    "booking_engine": 3.0,
    "booking_engine_kubernetes": 3.0,
}
"""The speed targets, as multiples of idiomatic SimPy: (a) M/M/8 ≥ 5×, (b) booking ≥ 3×,
with the kubernetes policy's control loops running as well as without."""


def format_figures(figures: dict[str, Any]) -> str:
    """The figures as a small table, with the targets they are read against."""
    f = figures
    rows = [
        ("engine, M/M/8 (a)", "mmc_engine", f["mmc_engine_wait_mean_s"]),
        ("  with kubernetes active", "mmc_engine_kubernetes", None),
        ("engine, booking surge (b)", "booking_engine", None),
        ("  with kubernetes active", "booking_engine_kubernetes", None),
        ("  as shipped + retries (k8s)", "booking_overload_kubernetes", None),
        ("SimPy idiomatic (c)", "mmc_simpy_idiomatic", f["mmc_simpy_idiomatic_wait_mean_s"]),
        ("Ciw (c)", "mmc_ciw", f["mmc_ciw_wait_mean_s"]),
    ]
    lines = [
        f"medians of {f['rounds']} rounds"
        + (" (--quick: too small a run to read against the targets)" if f["quick"] else ""),
        f"{'workload':<28}{'requests/s':>12}{'× SimPy':>10}{'target':>10}{'mean wait':>12}",
    ]
    for name, key, wait in rows:
        ratio = f.get(f"{key}_vs_simpy")
        ratio_text = f"{ratio:.2f}" if ratio is not None else ""
        target = TARGETS_VS_SIMPY.get(key)
        target_text = ""
        if target is not None and ratio is not None and not f["quick"]:
            target_text = f"≥ {target:g} {'ok' if ratio >= target else 'MISS'}"
        wait_text = f"{wait:.3f} s" if wait is not None else ""
        lines.append(
            f"{name:<28}{f[key + '_rps']:>12,.0f}{ratio_text:>10}{target_text:>10}{wait_text:>12}"
        )
    lines += [
        f"Erlang C mean wait: {f['erlang_c_wait_mean_s']:.3f} s; "
        f"(a) / Ciw: {f['mmc_engine_vs_ciw']:.1f}x",
        f"peak RSS: {f['peak_rss_mb_1m']:.0f} MB at {f['memory_run_1m_requests']:,} requests, "
        f"{f['peak_rss_mb_10m']:.0f} MB at {f['memory_run_10m_requests']:,} "
        f"(ratio {f['peak_rss_ratio_10m_to_1m']:.2f}, target <= 1.2)",
    ]
    return "\n".join(lines)

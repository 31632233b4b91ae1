"""Figures: each function on frames from a short real run or a small hand-made table."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display in tests

import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

import sim
from sim import plots
from sim.experiment.statistics import summarize

SLO_LATENCY_S = 0.25
CRASH_AT_S = 200.0


@pytest.fixture(scope="module")
def scenario() -> sim.Scenario:
    """Two nodes, a surge the HPA answers, and a node crash the control plane notices."""
    return sim.Scenario.model_validate(
        {
            "name": "plots-small",
            "duration_s": 400,
            "warmup_s": 30,
            "sample_interval_s": 10,
            "slo": {"latency_s": SLO_LATENCY_S},
            "service": {
                "endpoints": [
                    {
                        "name": "read",
                        "weight": 1,
                        "cpu_demand_s": {"dist": "exponential", "mean": 0.05},
                    }
                ],
                "timeout_s": 5,
                "initial_replicas": 2,
                "container": {
                    "concurrency": 4,
                    "queue_limit": 16,
                    "cpu_request_m": 500,
                    "cpu_limit_m": 1000,
                    "startup_s": {"dist": "constant", "value": 5},
                },
            },
            "cluster": {"node_type": "m5.large", "initial_nodes": 2, "max_nodes": 4},
            "traffic": {
                "rate_rps": 20,
                "surges": [{"start_s": 60, "ramp_s": 30, "hold_s": 200, "multiplier": 2.5}],
            },
            "policy": {
                "name": "kubernetes",
                "kubernetes": {"hpa": {"min_replicas": 2, "max_replicas": 8}},
            },
            "faults": [{"kind": "node_crash", "at_s": CRASH_AT_S, "node": 1}],
        }
    )


@pytest.fixture(scope="module")
def results(scenario: sim.Scenario) -> dict[str, sim.Result]:
    return {policy: sim.run(scenario, policy=policy, seed=3) for policy in ("static", "kubernetes")}


@pytest.fixture
def close() -> Iterator[list[Figure]]:
    """Figures appended here are closed after the test."""
    figures: list[Figure] = []
    yield figures
    for figure in figures:
        plt.close(figure)


def lines_with_gid(ax: Axes, gid: str) -> list[object]:
    return [line for line in ax.get_lines() if line.get_gid() == gid]


def long_timeseries(results: dict[str, sim.Result]) -> pd.DataFrame:
    """A comparison-like long frame: every run's timeseries led by policy and replication."""
    return pd.concat(
        [
            result.timeseries.assign(policy=policy, replication=0)
            for policy, result in results.items()
        ],
        ignore_index=True,
    )


# --- traffic -----------------------------------------------------------------------------------


def test_traffic_draws_the_rate_and_the_demand_on_two_axes(
    results: dict[str, sim.Result], close: list[Figure]
) -> None:
    timeseries = results["kubernetes"].timeseries
    figure = plots.traffic(timeseries)
    close.append(figure)
    assert isinstance(figure, Figure)
    rate_axis, demand_axis = figure.axes
    assert rate_axis.get_title() == "Offered load"
    assert rate_axis.get_xlabel() == "time (min)"
    assert rate_axis.get_ylabel() == "arrival rate (req/s)"
    assert demand_axis.get_ylabel() == "replicas"
    np.testing.assert_allclose(
        rate_axis.get_lines()[0].get_ydata(), timeseries["arrival_rate_rps"].to_numpy()
    )
    legend = rate_axis.get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == [
        "arrival rate",
        "replicas needed for the SLO",
    ]


def test_traffic_without_demand_has_one_axis(
    results: dict[str, sim.Result], close: list[Figure]
) -> None:
    figure = plots.traffic(results["static"].timeseries.drop(columns="replicas_demand"))
    close.append(figure)
    assert len(figure.axes) == 1


def test_traffic_of_a_long_frame_draws_one_run(
    results: dict[str, sim.Result], close: list[Figure]
) -> None:
    figure = plots.traffic(long_timeseries(results), title="Booking evening")
    close.append(figure)
    assert figure.axes[0].get_title() == "Booking evening"
    assert len(figure.axes[0].get_lines()[0].get_xdata()) == len(results["static"].timeseries)


# --- timeline ----------------------------------------------------------------------------------


def test_timeline_of_a_result_has_four_panels_the_slo_and_the_events(
    results: dict[str, sim.Result], close: list[Figure]
) -> None:
    result = results["kubernetes"]
    figure = plots.timeline(result)
    close.append(figure)
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert len(figure.axes) == 5  # four panels and the load panel's replica axis
    assert [ax.get_title() for ax in panels] == [
        "kubernetes · load and capacity",
        "kubernetes · p95 latency",
        "kubernetes · replicas and nodes",
        "kubernetes · cost",
    ]
    assert figure.get_suptitle() == "plots-small"
    assert panels[3].get_xlabel() == "time (min)"
    assert panels[1].get_ylabel() == "p95 latency (s)"
    (slo_line,) = lines_with_gid(panels[1], plots.SLO_GID)
    assert list(slo_line.get_ydata()) == [SLO_LATENCY_S, SLO_LATENCY_S]

    controller_times = plots.controller_events(result.events)["time_s"].nunique()
    assert controller_times >= 2  # the HPA's scale-ups and the node lifecycle's unroute
    for panel in panels:
        assert len(lines_with_gid(panel, plots.EVENT_GID)) == controller_times
        (fault,) = lines_with_gid(panel, plots.FAULT_GID)
        assert fault.get_xdata()[0] == pytest.approx(CRASH_AT_S / 60)


def test_timeline_of_several_results_puts_the_policies_side_by_side(
    results: dict[str, sim.Result], close: list[Figure]
) -> None:
    figure = plots.timeline(list(results.values()))
    close.append(figure)
    assert len(figure.axes) == 10
    titles = [ax.get_title() for ax in figure.axes]
    assert "static · p95 latency" in titles
    assert "kubernetes · p95 latency" in titles
    static_events = plots.controller_events(results["static"].events)
    # static has no controller, but the load balancer's health check gives up on the dead node
    assert list(static_events["source"]) == ["load-balancer"]
    first, second = figure.axes[0], figure.axes[1]
    assert first.get_shared_x_axes().joined(first, second)


def test_timeline_of_frames_takes_the_slo_as_an_argument(
    results: dict[str, sim.Result], close: list[Figure]
) -> None:
    events = pd.concat(
        [result.events.assign(policy=policy) for policy, result in results.items()],
        ignore_index=True,
    )
    figure = plots.timeline(long_timeseries(results), events=events, slo_latency_s=0.4)
    close.append(figure)
    latency_panels = [ax for ax in figure.axes if ax.get_title().endswith("p95 latency")]
    assert len(latency_panels) == 2
    for panel in latency_panels:
        (slo_line,) = lines_with_gid(panel, plots.SLO_GID)
        assert slo_line.get_ydata()[0] == 0.4
        assert len(lines_with_gid(panel, plots.FAULT_GID)) == 1

    without = plots.timeline(results["static"].timeseries)
    close.append(without)
    assert not any(lines_with_gid(ax, plots.SLO_GID) for ax in without.axes)


def test_timeline_needs_policies_on_events_of_several_runs(
    results: dict[str, sim.Result],
) -> None:
    with pytest.raises(ValueError, match="'policy' column"):
        plots.timeline(long_timeseries(results), events=results["static"].events)


# --- comparisons -------------------------------------------------------------------------------

RUNS = pd.DataFrame(
    {
        "policy": ["static"] * 3 + ["kubernetes"] * 3,
        "replication": [0, 1, 2] * 2,
        "seed": [1, 2, 3] * 2,
        "latency_p95_s": [1.6, 1.7, 1.5, 0.4, 0.5, 0.45],
        "error_rate": [0.2, 0.25, 0.15, 0.01, 0.02, 0.0],
        "slo_attainment": [0.6, 0.65, 0.7, 0.95, 0.9, 1.0],
        "cost_usd": [1.15, 1.15, 1.15, 2.0, 2.2, 2.1],
    }
)


def comparison(scenario: sim.Scenario) -> sim.Comparison:
    return sim.Comparison(scenario, RUNS, pd.DataFrame())


def test_compare_bars_draws_a_panel_per_metric_with_the_means_and_intervals(
    scenario: sim.Scenario, close: list[Figure]
) -> None:
    table = comparison(scenario).table
    figure = plots.compare_bars(table, metrics=["latency_p95_s", "error_rate", "cost_usd"])
    close.append(figure)
    assert len(figure.axes) == 3
    assert [ax.get_title() for ax in figure.axes] == ["p95 latency", "error rate", "cost"]
    assert [ax.get_ylabel() for ax in figure.axes] == [
        "p95 latency (s)",
        "error rate (%)",
        "cost (US$)",
    ]
    heights = [patch.get_height() for patch in figure.axes[0].patches]
    np.testing.assert_allclose(heights, [1.6, 0.45])
    assert [tick.get_text() for tick in figure.axes[0].get_xticklabels()] == [
        "static",
        "kubernetes",
    ]
    (errorbar,) = [c for c in figure.axes[0].containers if isinstance(c, ErrorbarContainer)]
    _, _, (whiskers,) = errorbar.lines
    half_widths = table[("latency_p95_s", "ci95")].to_numpy()
    spans = [segment[1, 1] - segment[0, 1] for segment in whiskers.get_segments()]
    np.testing.assert_allclose(spans, 2 * half_widths)


@pytest.mark.parametrize(
    "layout",
    ["comparison", "flat table", "runs"],
    ids=["a Comparison", "flat <metric>_mean/_ci95 columns", "a runs frame"],
)
def test_compare_bars_accepts_every_layout(
    scenario: sim.Scenario, close: list[Figure], layout: str
) -> None:
    table = comparison(scenario).table
    data = {
        "comparison": comparison(scenario),
        "flat table": pd.DataFrame(
            {
                "policy": table.index,
                "cost_usd_mean": table[("cost_usd", "mean")].to_numpy(),
                "cost_usd_ci95": table[("cost_usd", "ci95")].to_numpy(),
            }
        ),
        "runs": RUNS,
    }[layout]
    figure = plots.compare_bars(data, metrics=["cost_usd"])
    close.append(figure)
    heights = [patch.get_height() for patch in figure.axes[0].patches]
    np.testing.assert_allclose(heights, [1.15, 2.1])


def test_compare_bars_names_a_missing_metric(scenario: sim.Scenario) -> None:
    with pytest.raises(ValueError, match="no metric 'throughput'"):
        plots.compare_bars(comparison(scenario).table, metrics=["throughput"])


@pytest.mark.parametrize(
    ("costs", "attainments", "expected"),
    [
        ([1, 2, 3, 2.5, 1], [0.5, 0.9, 0.95, 0.8, 0.4], [True, True, True, False, False]),
        ([1, 1], [0.9, 0.9], [True, True]),
        ([1, 2], [0.9, 0.9], [True, False]),
        ([2, 1, np.nan], [0.9, 0.5, 1.0], [True, True, False]),
        ([3, 2, 1], [0.9, 0.95, 0.99], [False, False, True]),
    ],
    ids=[
        "a staircase and two dominated points",
        "identical points do not dominate each other",
        "equal attainment at a higher cost is dominated",
        "a missing value is never on the front",
        "the cheapest is also the best",
    ],
)
def test_pareto_front(costs: list[float], attainments: list[float], expected: list[bool]) -> None:
    assert list(plots.pareto_front(costs, attainments)) == expected


def test_cost_vs_slo_rings_the_pareto_front(scenario: sim.Scenario, close: list[Figure]) -> None:
    runs = pd.concat(
        [
            RUNS,
            pd.DataFrame(
                {  # dearer than kubernetes and worse: off the front
                    "policy": ["swarm"] * 3,
                    "replication": [0, 1, 2],
                    "seed": [1, 2, 3],
                    "slo_attainment": [0.8, 0.8, 0.8],
                    "cost_usd": [2.5, 2.5, 2.5],
                }
            ),
        ],
        ignore_index=True,
    )
    figure = plots.cost_vs_slo(runs)
    close.append(figure)
    (ax,) = figure.axes
    assert ax.get_xlabel() == "cost (US$)"
    assert ax.get_ylabel() == "SLO attainment (% of intervals)"
    assert ax.get_title() == "Cost against SLO attainment"
    (rings,) = [c for c in ax.collections if c.get_gid() == plots.PARETO_GID]
    assert isinstance(rings, PathCollection)
    np.testing.assert_allclose(rings.get_offsets(), [[1.15, 0.65], [2.1, 0.95]])
    dots = [c for c in ax.collections if c.get_gid() is None and isinstance(c, PathCollection)]
    assert sum(len(dot.get_offsets()) for dot in dots) == len(runs)  # every replication


def test_cost_vs_slo_accepts_a_summary_table(scenario: sim.Scenario, close: list[Figure]) -> None:
    figure = plots.cost_vs_slo(summarize(RUNS, "policy"))
    close.append(figure)
    (rings,) = [c for c in figure.axes[0].collections if c.get_gid() == plots.PARETO_GID]
    assert len(rings.get_offsets()) == 2


# --- sweeps ------------------------------------------------------------------------------------

TARGET = "policy.kubernetes.hpa.target_cpu_utilization"
REPLICAS = "service.initial_replicas"


def sweep_frame() -> pd.DataFrame:
    """A tidy sweep: 2 targets x 3 replica counts x 2 replications, one pair left out."""
    rows = [
        {
            TARGET: target,
            REPLICAS: replicas,
            "replication": replication,
            "latency_p95_s": target * replicas / 10 + 0.02 * replication,
        }
        for target in (0.5, 0.8)
        for replicas in (4, 6, 8)
        for replication in (0, 1)
        if not (target == 0.8 and replicas == 8)
    ]
    return pd.DataFrame(rows)


def test_sweep_heatmap_annotates_the_mean_of_each_cell(close: list[Figure]) -> None:
    figure = plots.sweep_heatmap(sweep_frame(), TARGET, REPLICAS, "latency_p95_s")
    close.append(figure)
    heatmap, colorbar = figure.axes
    assert heatmap.get_xlabel() == TARGET
    assert heatmap.get_ylabel() == REPLICAS
    assert heatmap.get_title() == "p95 latency, mean over 2 replications"
    assert colorbar.get_ylabel() == "p95 latency (s)"
    assert [tick.get_text() for tick in heatmap.get_xticklabels()] == ["0.5", "0.8"]
    assert [tick.get_text() for tick in heatmap.get_yticklabels()] == ["4", "6", "8"]
    texts = {(text.get_position(), text.get_text()) for text in heatmap.texts}
    assert len(texts) == 5  # the pair not swept is left empty
    assert ((0, 0), "0.210") in texts  # 0.5 x 4 / 10, plus 0.02 in one of two replications


def test_sweep_heatmap_names_a_missing_column() -> None:
    with pytest.raises(ValueError, match="cost_usd"):
        plots.sweep_heatmap(sweep_frame(), TARGET, REPLICAS, "cost_usd")


METRIC_LABELS = {
    # metric → (axis label, shown in percent)
    "table-unit": ("latency_p99_s", "p99 latency (s)", False),
    "table-label": ("slo_attainment", "SLO attainment (% of intervals)", True),
    "ratio-in-percent": ("elasticity_over_accuracy", "elasticity over accuracy (%)", True),
    "per-minute": ("elasticity_jitter_per_min", "elasticity jitter per min", False),
    "hours": ("node_hours", "node-hours (h)", False),
    "count": ("peak_nodes", "peak nodes", False),
    "unknown-by-suffix": ("queue_wait_s", "queue wait (s)", False),
    "unknown-share": ("cache_hit_share", "cache hit share (%)", True),
    "unknown-millicores": ("cpu_request_m", "cpu request (millicores)", False),
}


@pytest.mark.parametrize(
    ("metric", "label", "percent"), METRIC_LABELS.values(), ids=METRIC_LABELS.keys()
)
def test_metric_labels_and_percent_axes_follow_the_metric_table(
    metric: str, label: str, percent: bool, close: list[Figure]
) -> None:
    columns = pd.MultiIndex.from_product([[metric], ["mean", "ci95"]])
    table = pd.DataFrame(
        [[0.5, 0.1]],
        columns=columns.set_names(["metric", "statistic"]),
        index=pd.Index(["static"], name="policy"),
    )
    figure = plots.compare_bars(table, metrics=[metric])
    close.append(figure)
    (ax,) = figure.axes
    assert plots.metric_label(metric) == ax.get_ylabel() == label
    assert isinstance(ax.yaxis.get_major_formatter(), PercentFormatter) is percent

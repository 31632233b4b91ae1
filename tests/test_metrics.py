"""The metric table: it declares exactly what a run produces, and its declarations are sound.

A short run of the story's scenario gives the summary keys and timeseries columns the engine
produces today; they must be the table's, in the table's order. The rest checks the table
itself: names carry units, shares are percentages, the orders the tables show are kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest

import sim
from sim.elasticity import METRIC_KEYS, elasticity_metrics
from sim.measure import frames
from sim.measure.metrics import (
    SUMMARY_METRICS,
    TIMESERIES_METRICS,
    Kind,
    Metric,
    UnknownMetricError,
    check_columns,
    find_metric,
    heading,
    headline_metrics,
    markdown_table,
    metric,
    records,
    report_metrics,
    summary_keys,
    timeseries_columns,
)
from sim.result import SUMMARY_KEYS

REPO = Path(__file__).resolve().parents[1]
SHORT = {"duration_s": 300, "warmup_s": 60}
TABLES = {"summary": SUMMARY_METRICS, "timeseries": TIMESERIES_METRICS}
EVERY_METRIC = [(table, m) for table, metrics in TABLES.items() for m in metrics]
EVERY_ID = [f"{table}.{m.name}" for table, m in EVERY_METRIC]

# The minimum DESIGN.md fixes, in its order.
DESIGN_SUMMARY_KEYS = (
    "requests", "completed", "rejected", "timed_out", "in_flight", "error_rate",
    "latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s", "slo_attainment",
    "slo_violation_s", "cost_usd", "node_hours", "peak_nodes", "peak_replicas",
    "scale_actions", "wall_time_s",
)  # fmt: skip
DESIGN_TIMESERIES_COLUMNS = (
    "time_s", "arrivals", "completed", "rejected", "timed_out", "arrival_rate_rps",
    "throughput_rps", "latency_p50_s", "latency_p95_s", "latency_p99_s", "replicas_desired",
    "replicas_ready", "replicas_starting", "pods_pending", "nodes_ready", "nodes_provisioning",
    "cpu_utilization", "cost_usd",
)  # fmt: skip

# kind → the suffixes a name of that kind may end with; kinds not listed carry none.
NAME_SUFFIX_OF_KIND: dict[str, tuple[str, ...]] = {
    "seconds": ("_s",),
    "time": ("_s",),
    "money": ("_usd",),
    "hours": ("_hours",),
    "rate": ("_rps", "_per_min"),
    "cores": ("_cores",),
}
UNIT_SUFFIXES = ("_s", "_usd", "_hours", "_rps", "_per_min", "_cores", "_m")


@pytest.fixture(scope="module")
def result() -> sim.Result:
    scenario = sim.load_scenario(REPO / "scenarios" / "booking_surge.yaml")
    return sim.run(scenario.with_overrides(SHORT), seed=1, progress=False)


# --- the table is what the engine produces -----------------------------------------------------


def test_summary_keys_are_the_table_in_order(result: sim.Result) -> None:
    assert list(result.summary.index) == summary_keys()


def test_timeseries_columns_are_the_table_in_order(result: sim.Result) -> None:
    assert list(result.timeseries.columns) == timeseries_columns()


def test_a_run_passes_check_columns(result: sim.Result) -> None:
    check_columns(result.summary.index, "summary")
    check_columns(result.timeseries.columns, "timeseries")


def test_check_columns_names_every_unknown_column() -> None:
    columns = ["time_s", "queue_depth", "replicas_ready", "latency_p42_s"]
    with pytest.raises(
        ValueError, match=r"timeseries columns missing .*: queue_depth, latency_p42"
    ):
        check_columns(columns, "timeseries")


def test_check_columns_keeps_the_tables_apart() -> None:
    with pytest.raises(ValueError, match=r"summary columns missing .*: slo_met"):
        check_columns(["requests", "slo_met"], "summary")


def test_check_columns_rejects_an_unknown_table() -> None:
    with pytest.raises(ValueError, match="table must be one of summary, timeseries, got 'events'"):
        check_columns(["time_s"], "events")  # type: ignore[arg-type]


def test_metric_names_the_unknown_metric() -> None:
    with pytest.raises(UnknownMetricError, match="unknown summary metric 'latency_p42_s'") as info:
        metric("latency_p42_s")
    assert isinstance(info.value, KeyError)
    assert str(info.value).startswith("unknown summary metric 'latency_p42_s'")
    assert find_metric("latency_p42_s") is None
    assert metric("slo_met", "timeseries").kind == "flag"


def test_result_summary_keys_are_the_design_minimum() -> None:
    assert SUMMARY_KEYS == DESIGN_SUMMARY_KEYS


def test_required_timeseries_columns_are_the_design_minimum() -> None:
    required = tuple(m.name for m in TIMESERIES_METRICS if m.required)
    assert required == DESIGN_TIMESERIES_COLUMNS


def test_elasticity_metric_keys_are_the_tables() -> None:
    declared = tuple(name for name in summary_keys() if name.startswith("elasticity_"))
    assert declared == METRIC_KEYS
    computed = elasticity_metrics(np.array([2, 3]), np.array([2, 2]), interval_s=10)
    assert tuple(computed) == METRIC_KEYS


# --- each declaration is sound -----------------------------------------------------------------


@pytest.mark.parametrize(("table", "declared"), EVERY_METRIC, ids=EVERY_ID)
def test_every_metric_is_described(table: str, declared: Metric) -> None:
    assert declared.description.strip() and "\n" not in declared.description
    assert declared.kind in get_args(Kind)
    assert declared.aggregate == "mean"
    assert declared.title and declared.label


@pytest.mark.parametrize(("table", "declared"), EVERY_METRIC, ids=EVERY_ID)
def test_names_carry_their_unit(table: str, declared: Metric) -> None:
    suffixes = NAME_SUFFIX_OF_KIND.get(declared.kind)
    if suffixes is None:
        assert not declared.name.endswith(UNIT_SUFFIXES), declared.name
    else:
        assert declared.name.endswith(suffixes), declared.name


@pytest.mark.parametrize(("table", "declared"), EVERY_METRIC, ids=EVERY_ID)
def test_shares_are_percentages(table: str, declared: Metric) -> None:
    if declared.kind == "share":
        assert declared.unit == "%"
    if declared.unit == "%":
        assert declared.kind in ("share", "ratio")


def test_a_name_in_both_tables_means_the_same_quantity() -> None:
    for column in TIMESERIES_METRICS:
        twin = find_metric(column.name, "summary")
        if twin is not None:
            assert (twin.unit, twin.kind, twin.title) == (column.unit, column.kind, column.title)


def test_names_are_unique_within_a_table() -> None:
    for metrics in TABLES.values():
        names = [m.name for m in metrics]
        assert len(names) == len(set(names))


def test_headline_and_report_orders() -> None:
    assert headline_metrics() == ["latency_p95_s", "error_rate", "slo_attainment", "cost_usd"]
    assert report_metrics() == [
        "latency_p95_s", "latency_p99_s", "error_rate", "slo_attainment", "cost_usd",
        "node_hours", "peak_nodes", "peak_replicas", "scale_actions",
        "elasticity_under_accuracy", "elasticity_over_accuracy", "elasticity_under_timeshare",
        "elasticity_jitter_per_min",
    ]  # fmt: skip
    ranks = sorted(m.report_rank for m in SUMMARY_METRICS if m.report_rank is not None)
    assert ranks == list(range(1, len(ranks) + 1))


BAD_METRICS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown-kind": (
        {"name": "queue_depth", "unit": "", "kind": "gauge"},
        "kind must be one of seconds, share, .*, got 'gauge'",
    ),
    "share-not-in-percent": (
        {"name": "hit_share", "unit": "", "kind": "share"},
        "a share metric is shown in '%', got unit ''",
    ),
    "seconds-without-suffix": (
        {"name": "latency", "unit": "s", "kind": "seconds"},
        "a name in s ends with '_s'",
    ),
    "money-without-suffix": (
        {"name": "cost", "unit": "US$", "kind": "money"},
        "a name in US\\$ ends with '_usd'",
    ),
    "suffix-of-another-unit": (
        {"name": "spend_usd", "unit": "", "kind": "count"},
        "a name ending with '_usd' is in US\\$, got unit ''",
    ),
    "rate-in-seconds": (
        {"name": "arrival_rate_rps", "unit": "s", "kind": "rate"},
        "a rate metric is shown in 'req/s' or '/min', got unit 's'",
    ),
    "empty-description": (
        {"name": "requests", "unit": "", "kind": "count", "description": " "},
        "description must be one non-empty line",
    ),
    "two-line-description": (
        {"name": "requests", "unit": "", "kind": "count", "description": "one\ntwo"},
        "description must be one non-empty line",
    ),
    "headline-without-rank": (
        {"name": "requests", "unit": "", "kind": "count", "headline": True},
        "a headline metric needs a report_rank",
    ),
    "other-aggregate": (
        {"name": "peak_nodes", "unit": "", "kind": "count", "aggregate": "max"},
        "aggregate must be one of mean, got 'max'",
    ),
}


@pytest.mark.parametrize(("fields", "message"), BAD_METRICS.values(), ids=BAD_METRICS.keys())
def test_a_bad_declaration_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"metric '{fields['name']}': {message}"):
        Metric(**{"description": "what it is", **fields})


def test_title_and_label_follow_name_and_unit() -> None:
    declared = Metric("queue_wait_p95_s", "s", "seconds", "what it is")
    assert (declared.title, declared.label) == ("queue wait p95", "queue wait p95 (s)")
    rate = Metric("restarts_per_min", "/min", "rate", "what it is")
    assert (rate.title, rate.label) == ("restarts", "restarts per min")


HEADINGS = {
    "no-unit": (("peak nodes", ""), "peak nodes"),
    "unit-in-parentheses": (("p95 latency", "ms"), "p95 latency (ms)"),
    "per-unit-inline": (("elasticity jitter", "/min"), "elasticity jitter per min"),
}


@pytest.mark.parametrize(("parts", "expected"), HEADINGS.values(), ids=HEADINGS.keys())
def test_heading(parts: tuple[str, str], expected: str) -> None:
    assert heading(*parts) == expected


def test_records_are_json() -> None:
    rows = json.loads(json.dumps(records()))
    assert len(rows) == len(SUMMARY_METRICS) + len(TIMESERIES_METRICS)
    assert rows[0] == {
        "table": "summary",
        "name": "requests",
        "unit": "",
        "kind": "count",
        "description": SUMMARY_METRICS[0].description,
        "headline": False,
        "aggregate": "mean",
        "report_rank": None,
        "required": True,
        "title": "requests",
        "label": "requests",
    }


# --- documentation -----------------------------------------------------------------------------


def test_readme_has_the_generated_table() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    assert "`python -m sim metrics`" in section
    assert markdown_table() in section, "regenerate README's Metrics with `python -m sim metrics`"


def test_markdown_table_has_a_row_per_metric() -> None:
    rows = [line for line in markdown_table().splitlines() if line.startswith("| `")]
    assert len(rows) == len(SUMMARY_METRICS) + len(TIMESERIES_METRICS)
    assert rows[5] == (
        "| `error_rate` | % | share | " + SUMMARY_METRICS[5].description + " | all tables |"
    )


def test_the_reduction_refuses_a_column_the_table_does_not_declare() -> None:
    # A gauge added to the sampler but not to the table must fail loudly, not be dropped.
    produced = [*timeseries_columns(), "queue_depth"]
    with pytest.raises(ValueError, match="queue_depth"):
        frames.declared_order(produced, "timeseries")


def test_the_reduction_refuses_a_declared_column_it_did_not_produce() -> None:
    produced = [name for name in summary_keys() if name != "cost_usd"]
    with pytest.raises(ValueError, match="declared but not produced: cost_usd"):
        frames.declared_order(produced, "summary")


def test_the_reduction_orders_what_it_produced_as_the_table_does() -> None:
    produced = list(reversed(timeseries_columns()))
    assert frames.declared_order(produced, "timeseries") == timeseries_columns()

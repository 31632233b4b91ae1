"""Experiments: grid expansion, statistics, ``sim.compare`` and ``sim.sweep`` on every executor.

Runs are short (the small test scenario over 300 s) so that the whole file stays fast; the
Dask tests start a local cluster and carry the ``slow`` marker. Executors must give identical
frames for the same seeds: only ``wall_time_s`` (how long a run took) may differ.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim.experiment import executors, expand_grid, summarize
from sim.experiment.statistics import paired_differences
from sim.policies.registry import CODES
from sim.result import SUMMARY_KEYS

REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "tests" / "data" / "scenarios" / "small.yaml"
POLICIES = ["static", "kubernetes"]
GRID = {"traffic.rate_rps": [30, 60], "service.initial_replicas": [1, 2], "warmup_s": 30}
SWEPT = ["service.initial_replicas", "traffic.rate_rps"]


@pytest.fixture(scope="module")
def scenario() -> sim.Scenario:
    return sim.load_scenario(SMALL).with_overrides({"duration_s": 300})


@pytest.fixture(scope="module")
def serial_comparison(scenario: sim.Scenario) -> sim.Comparison:
    return sim.compare(scenario, POLICIES, replications=3, seed=7, executor="serial")


@pytest.fixture(scope="module")
def serial_sweep(scenario: sim.Scenario) -> pd.DataFrame:
    return sim.sweep(scenario, GRID, replications=2, seed=3, executor="serial")


def without_wall_time(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="wall_time_s")


# --- grid expansion ----------------------------------------------------------------------------

GRID_CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[dict[str, Any]]]] = [
    ("scalar is fixed", {"a": 1}, {"a": 1}, [{}]),
    ("list varies", {"a": [1, 2]}, {}, [{"a": 1}, {"a": 2}]),
    ("string is not iterated", {"a": "static"}, {"a": "static"}, [{}]),
    ("mapping is fixed", {"a": {"b": 1}}, {"a": {"b": 1}}, [{}]),
    ("tuple varies", {"a": (1, 2)}, {}, [{"a": 1}, {"a": 2}]),
    ("list of strings varies", {"a": ["x", "y"]}, {}, [{"a": "x"}, {"a": "y"}]),
    ("wrapped list is one value", {"a": [[1, 2]]}, {}, [{"a": [1, 2]}]),
    (
        "product in sorted-key order, values as given",
        {"b": [2, 1], "a": [10, 20], "c": 0},
        {"c": 0},
        [{"a": 10, "b": 2}, {"a": 10, "b": 1}, {"a": 20, "b": 2}, {"a": 20, "b": 1}],
    ),
]


@pytest.mark.parametrize(
    ("grid", "fixed", "points"),
    [case[1:] for case in GRID_CASES],
    ids=[case[0] for case in GRID_CASES],
)
def test_expand_grid(grid: dict[str, Any], fixed: dict[str, Any], points: list[Any]) -> None:
    assert expand_grid(grid) == (fixed, points)


def test_expand_grid_numpy_array_varies() -> None:
    fixed, points = expand_grid({"a": np.array([0.5, 0.7])})
    assert fixed == {} and [point["a"] for point in points] == [0.5, 0.7]


def test_expand_grid_rejects_a_key_without_values() -> None:
    with pytest.raises(sim.InputError, match=r"traffic\.rate_rps: expected at least one value"):
        expand_grid({"traffic.rate_rps": []})


# --- statistics --------------------------------------------------------------------------------

T_975_2_DEGREES = 4.302653  # Student t, 0.975 quantile, 2 degrees of freedom (any t table)


def runs_of(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {"policy": policy, "replication": index, "seed": 10 + index, "cost_usd": value}
        for policy, series in values.items()
        for index, value in enumerate(series)
    ]
    return pd.DataFrame(rows)


STATISTICS_CASES = [
    ("three values: t with 2 degrees", [1.0, 2.0, 3.0], 2.0, T_975_2_DEGREES / math.sqrt(3)),
    ("no spread: zero width", [4.0, 4.0, 4.0], 4.0, 0.0),
    ("one value: no interval", [4.0], 4.0, math.nan),
    ("missing value left out", [1.0, math.nan, 2.0, 3.0], 2.0, T_975_2_DEGREES / math.sqrt(3)),
]


@pytest.mark.parametrize(
    ("values", "mean", "half_width"),
    [case[1:] for case in STATISTICS_CASES],
    ids=[case[0] for case in STATISTICS_CASES],
)
def test_summarize_mean_and_student_t_half_width(
    values: list[float], mean: float, half_width: float
) -> None:
    table = summarize(runs_of({"static": values}), "policy")
    assert list(table.columns) == [("cost_usd", "mean"), ("cost_usd", "ci95")]
    assert table.loc["static", ("cost_usd", "mean")] == pytest.approx(mean)
    assert table.loc["static", ("cost_usd", "ci95")] == pytest.approx(half_width, nan_ok=True)


def test_paired_differences_match_replications_by_seed() -> None:
    runs = runs_of({"static": [10.0, 20.0, 30.0], "kubernetes": [11.0, 22.0, 33.0]})
    shuffled = runs.sample(frac=1.0, random_state=1)  # pairing must not rely on row order
    differences = paired_differences(shuffled, "static", ["cost_usd"])
    assert sorted(differences["cost_usd"]) == [1.0, 2.0, 3.0]
    assert set(differences["policy"]) == {"kubernetes"}
    paired = summarize(differences, "policy")
    assert paired.loc["kubernetes", ("cost_usd", "ci95")] == pytest.approx(
        T_975_2_DEGREES / math.sqrt(3)
    )


def test_paired_differences_reject_unknown_baseline_and_unmatched_seed() -> None:
    runs = runs_of({"static": [1.0, 2.0], "kubernetes": [1.0, 2.0, 3.0]})
    with pytest.raises(sim.InputError, match="baseline: expected one of static, kubernetes"):
        paired_differences(runs, "swarm", ["cost_usd"])
    with pytest.raises(sim.InputError, match="no static run with seed 12"):
        paired_differences(runs, "static", ["cost_usd"])


# --- compare -----------------------------------------------------------------------------------


def test_compare_runs_one_row_per_policy_and_replication(
    serial_comparison: sim.Comparison,
) -> None:
    runs = serial_comparison.runs
    assert list(runs.columns[:3]) == ["policy", "replication", "seed"]
    assert runs.columns[-1] == "run_id"
    assert set(SUMMARY_KEYS) <= set(runs.columns)
    assert list(runs["policy"]) == ["static"] * 3 + ["kubernetes"] * 3
    assert list(runs["replication"]) == [0, 1, 2] * 2
    assert list(runs["seed"]) == [7, 8, 9] * 2
    assert runs["run_id"].is_unique


def test_compare_carries_every_summary_key_of_a_run(
    scenario: sim.Scenario, serial_comparison: sim.Comparison
) -> None:
    result = sim.run(scenario, policy="kubernetes", seed=8, progress=False)
    row = serial_comparison.runs.set_index(["policy", "seed"]).loc[("kubernetes", 8)]
    for key, value in result.summary.items():
        if key != "wall_time_s":
            assert row[key] == pytest.approx(value, nan_ok=True), key
    pd.testing.assert_frame_equal(
        serial_comparison.timeseries.query("policy == 'kubernetes' and seed == 8")
        .drop(columns=["policy", "replication", "seed"])
        .reset_index(drop=True),
        result.timeseries,
    )


def test_compare_policies_share_arrivals_within_a_replication(
    serial_comparison: sim.Comparison,
) -> None:
    arrivals = serial_comparison.timeseries.pivot_table(
        index=["replication", "time_s"], columns="policy", values="arrivals"
    )
    assert (arrivals["static"] == arrivals["kubernetes"]).all()
    per_replication = serial_comparison.runs.pivot(
        index="replication", columns="policy", values="requests"
    )
    assert per_replication["static"].nunique() == 3  # replications differ from each other


def test_compare_table_is_mean_and_ci_per_policy(serial_comparison: sim.Comparison) -> None:
    table = serial_comparison.table
    assert list(table.index) == POLICIES
    assert table.columns.names == ["metric", "statistic"]
    assert {"latency_p95_s", "error_rate", "slo_attainment", "cost_usd"} <= set(
        table.columns.get_level_values("metric")
    )
    runs = serial_comparison.runs
    for policy in POLICIES:
        latencies = runs.loc[runs["policy"] == policy, "latency_p95_s"]
        expected = T_975_2_DEGREES * latencies.std(ddof=1) / math.sqrt(3)
        assert table.loc[policy, ("latency_p95_s", "mean")] == pytest.approx(latencies.mean())
        assert table.loc[policy, ("latency_p95_s", "ci95")] == pytest.approx(expected)


def test_compare_paired_against_baseline(serial_comparison: sim.Comparison) -> None:
    differences = serial_comparison.differences("static")
    assert list(differences["policy"]) == ["kubernetes"] * 3
    runs = serial_comparison.runs.set_index(["policy", "seed"])
    for seed, difference in zip(differences["seed"], differences["cost_usd"], strict=True):
        expected = (
            runs.loc[("kubernetes", seed), "cost_usd"] - runs.loc[("static", seed), "cost_usd"]
        )
        assert difference == pytest.approx(expected)
    paired = serial_comparison.paired("static")
    assert list(paired.index) == ["kubernetes"]
    assert paired.loc["kubernetes", ("requests", "mean")] == 0  # the same arrivals


def test_compare_timeseries_is_long_with_labels(serial_comparison: sim.Comparison) -> None:
    frame = serial_comparison.timeseries
    assert list(frame.columns[:4]) == ["policy", "replication", "seed", "time_s"]
    rows_per_run = frame.groupby(["policy", "replication"]).size()
    assert len(rows_per_run) == 6 and rows_per_run.nunique() == 1


def test_compare_events_carry_each_row_s_code(serial_comparison: sim.Comparison) -> None:
    frame = serial_comparison.events
    assert list(frame.columns[:3]) == ["policy", "replication", "seed"]
    columns = list(frame.columns)
    assert columns[columns.index("reason") + 1] == "code"
    assert frame["code"].str.fullmatch(r"[A-Z][A-Za-z0-9]*").all()
    assert set(frame["code"]) <= set(CODES)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"policies": ["static", "autopilot"]}, "policies: expected one of static"),
        ({"policies": []}, "policies: expected at least one policy"),
        ({"policies": ["static", "static"]}, "policies: each policy may appear once"),
        ({"replications": 0}, "replications: expected 1 or more"),
        ({"seed": -1}, "seed: expected a whole number 0 or more"),
        ({"executor": "threads"}, "executor: expected one of serial, process, dask"),
        ({"executor": "serial", "jobs": 2}, "jobs: the serial executor runs one run at a time"),
        ({"scheduler_address": "tcp://x:1"}, "scheduler_address: a scheduler address needs"),
    ],
    ids=[
        "unknown policy",
        "no policy",
        "repeated policy",
        "no replication",
        "negative seed",
        "unknown executor",
        "jobs for serial",
        "address without dask",
    ],
)
def test_compare_rejects_bad_arguments_before_running(
    scenario: sim.Scenario, arguments: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(sim.InputError, match=message):
        sim.compare(scenario, **{"policies": POLICIES, **arguments}, out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "runs").exists() or not any(
        (tmp_path / "out" / "runs").iterdir()
    )


def test_compare_runs_resolve_relative_trace_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the trace is found from the scenario's file, not from here
    replay = sim.load_scenario(REPO / "tests" / "data" / "scenarios" / "replay.yaml")
    comparison = sim.compare(replay, ["static"], replications=1, executor="serial")
    direct = sim.run(replay, policy="static", seed=0, progress=False)
    assert comparison.runs["requests"].iloc[0] == direct.summary["requests"] > 0


# --- sweep -------------------------------------------------------------------------------------


def test_sweep_is_tidy_with_one_column_per_swept_key(serial_sweep: pd.DataFrame) -> None:
    assert list(serial_sweep.columns[:5]) == [*SWEPT, "policy", "replication", "seed"]
    assert "warmup_s" not in serial_sweep.columns  # fixed, not swept
    assert len(serial_sweep) == 4 * 2
    points = serial_sweep[SWEPT].drop_duplicates().values.tolist()
    assert points == [[1, 30], [1, 60], [2, 30], [2, 60]]
    assert set(SUMMARY_KEYS) <= set(serial_sweep.columns)
    assert list(serial_sweep["seed"]) == [3, 4] * 4


def test_sweep_applies_each_point(serial_sweep: pd.DataFrame) -> None:
    by_rate = serial_sweep.groupby("traffic.rate_rps")["requests"].mean()
    assert by_rate[60] == pytest.approx(2 * by_rate[30], rel=0.1)
    assert (serial_sweep.groupby("service.initial_replicas")["peak_replicas"].min() == [1, 2]).all()


def test_sweep_points_share_arrivals_within_a_replication(serial_sweep: pd.DataFrame) -> None:
    at_rate = serial_sweep[serial_sweep["traffic.rate_rps"] == 30]
    assert at_rate.groupby("replication")["requests"].nunique().eq(1).all()


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"traffic.rate_rpz": [1, 2]}, r"traffic.rate_rpz: unknown field"),
        (
            {"traffic.rate_rps": [10, -5]},
            r"traffic.rate_rps: .*greater than or equal to 0 \(got -5\)",
        ),
        ({"policy.name": ["static", "autopilot"]}, r"policy.name: .*autopilot"),
    ],
    ids=["unknown key", "bad value at the second point", "unknown policy"],
)
def test_sweep_fails_fast_naming_the_key(
    scenario: sim.Scenario, grid: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(sim.ScenarioError, match=message):
        sim.sweep(scenario, grid, executor="serial", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_sweep_over_policy_name_labels_rows_with_the_policy(scenario: sim.Scenario) -> None:
    frame = sim.sweep(
        scenario, {"policy.name": ["static", "kubernetes"]}, replications=1, executor="serial"
    )
    assert list(frame["policy"]) == ["static", "kubernetes"]
    assert list(frame["policy.name"]) == ["static", "kubernetes"]


# --- executors ---------------------------------------------------------------------------------


def test_process_executor_gives_the_serial_numbers(
    scenario: sim.Scenario, serial_comparison: sim.Comparison, serial_sweep: pd.DataFrame
) -> None:
    comparison = sim.compare(scenario, POLICIES, replications=3, seed=7, jobs=2)
    pd.testing.assert_frame_equal(
        without_wall_time(comparison.runs), without_wall_time(serial_comparison.runs)
    )
    pd.testing.assert_frame_equal(comparison.timeseries, serial_comparison.timeseries)
    frame = sim.sweep(scenario, GRID, replications=2, seed=3, executor="process", jobs=2)
    pd.testing.assert_frame_equal(without_wall_time(frame), without_wall_time(serial_sweep))


@pytest.mark.slow
def test_dask_local_cluster_gives_the_serial_numbers(
    scenario: sim.Scenario, serial_comparison: sim.Comparison, serial_sweep: pd.DataFrame
) -> None:
    frame = sim.sweep(scenario, GRID, replications=2, seed=3, executor="dask", jobs=2)
    pd.testing.assert_frame_equal(without_wall_time(frame), without_wall_time(serial_sweep))


@pytest.mark.slow
def test_dask_scheduler_address_gives_the_serial_numbers(
    scenario: sim.Scenario, serial_comparison: sim.Comparison
) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=40
    ) as cluster:
        comparison = sim.compare(
            scenario,
            POLICIES,
            replications=3,
            seed=7,
            executor="dask",
            scheduler_address=cluster.scheduler_address,
        )
    pd.testing.assert_frame_equal(
        without_wall_time(comparison.runs), without_wall_time(serial_comparison.runs)
    )
    pd.testing.assert_frame_equal(comparison.timeseries, serial_comparison.timeseries)


def test_unreachable_dask_scheduler_is_bad_input(
    scenario: sim.Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executors, "DASK_CONNECT_TIMEOUT", "1s")
    with pytest.raises(sim.InputError, match="cannot reach the Dask scheduler at tcp://"):
        sim.compare(
            scenario,
            ["static"],
            replications=1,
            executor="dask",
            scheduler_address="tcp://127.0.0.1:9",
        )

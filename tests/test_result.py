"""A run's :class:`sim.Result`: its summary, frames, metadata, and the save/load round trip.

The run is a small, overloaded scenario (two minutes, 90 requests per second on two replicas
with a short client timeout), so that every request outcome occurs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.result import SUMMARY_KEYS

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "tests" / "data" / "scenarios"
OVERLOAD = {
    "traffic.rate_rps": 90,
    "service.timeout_s": 0.5,
    "service.container.overflow": "reject",  # a full queue answers 503 at once
}
SEED = 7

DESIGN_SUMMARY_KEYS = (
    "requests", "completed", "rejected", "timed_out", "in_flight", "error_rate",
    "latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s", "slo_attainment",
    "slo_violation_s", "cost_usd", "node_hours", "peak_nodes", "peak_replicas",
    "scale_actions", "wall_time_s",
)  # fmt: skip
TIMESERIES_COLUMNS = (
    "time_s", "arrivals", "completed", "rejected", "timed_out", "arrival_rate_rps",
    "throughput_rps", "latency_p50_s", "latency_p95_s", "latency_p99_s", "replicas_desired",
    "replicas_ready", "replicas_starting", "pods_pending", "nodes_ready", "nodes_provisioning",
    "cpu_utilization", "cost_usd",
)  # fmt: skip
EVENT_COLUMNS = [
    "time_s", "source", "action", "target", "from_value", "to_value", "reason", "code",
]  # fmt: skip
OUTCOMES = ("completed", "rejected", "timed_out", "in_flight")


@pytest.fixture(scope="module")
def scenario() -> sim.Scenario:
    return sim.load_scenario(SCENARIOS / "small.yaml").with_overrides(OVERLOAD)


@pytest.fixture(scope="module")
def result(scenario: sim.Scenario) -> sim.Result:
    return sim.run(scenario, seed=SEED, record_requests=True)


@pytest.fixture(scope="module")
def saved(result: sim.Result, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return result.save(tmp_path_factory.mktemp("result") / "run1")


# --- summary -----------------------------------------------------------------------------------


def test_summary_has_every_key(result: sim.Result) -> None:
    assert isinstance(result.summary, pd.Series)
    missing = [key for key in (*SUMMARY_KEYS, *DESIGN_SUMMARY_KEYS) if key not in result.summary]
    assert not missing


def test_every_outcome_occurs_in_the_overloaded_run(result: sim.Result) -> None:
    counts = {outcome: result.summary[outcome] for outcome in OUTCOMES}
    assert all(count > 0 for count in counts.values()), counts


def test_summary_conserves_requests(result: sim.Result) -> None:
    summary = result.summary
    assert summary["requests"] == sum(summary[outcome] for outcome in OUTCOMES)


def test_summary_rates_are_consistent(result: sim.Result) -> None:
    summary = result.summary
    answered = summary["completed"] + summary["rejected"] + summary["timed_out"]
    failed = summary["rejected"] + summary["timed_out"]
    assert summary["error_rate"] == pytest.approx(failed / answered)
    assert 0 < summary["latency_p50_s"] <= summary["latency_p95_s"] <= summary["latency_p99_s"]
    assert 0 <= summary["slo_attainment"] <= 1
    assert summary["cost_usd"] > 0


def test_recording_requests_does_not_change_the_run(
    scenario: sim.Scenario, result: sim.Result
) -> None:
    plain = sim.run(scenario, seed=SEED)
    assert plain.requests is None
    pd.testing.assert_series_equal(
        plain.summary.drop("wall_time_s"), result.summary.drop("wall_time_s")
    )
    pd.testing.assert_frame_equal(plain.timeseries, result.timeseries)


# --- timeseries and events ---------------------------------------------------------------------


def test_timeseries_has_the_design_columns(result: sim.Result) -> None:
    missing = [column for column in TIMESERIES_COLUMNS if column not in result.timeseries]
    assert not missing


def test_timeseries_has_one_row_per_interval(scenario: sim.Scenario, result: sim.Result) -> None:
    rows = round(scenario.duration_s / scenario.sample_interval_s)
    expected = [scenario.sample_interval_s * (row + 1) for row in range(rows)]
    assert result.timeseries["time_s"].tolist() == pytest.approx(expected)


def test_timeseries_counts_every_arrival(result: sim.Result) -> None:
    frame = result.timeseries
    assert frame["arrivals"].sum() >= result.summary["requests"]  # warm-up arrivals too
    assert frame["cost_usd"].is_monotonic_increasing
    assert (frame["nodes_ready"] == 1).all()


def test_events_have_the_design_columns(result: sim.Result) -> None:
    assert list(result.events.columns) == EVENT_COLUMNS
    assert len(result.events) > 0  # at least the initial nodes and replicas becoming ready


# --- metadata ----------------------------------------------------------------------------------


def test_result_carries_seed_policy_and_version(result: sim.Result) -> None:
    assert (result.seed, result.policy) == (SEED, "static")
    assert result.metadata["seed"] == SEED
    assert result.metadata["policy"] == "static"
    assert result.metadata["sim_version"] == sim.__version__


# --- save and load -----------------------------------------------------------------------------


@pytest.mark.parametrize("frame", ["timeseries", "events", "requests"])
def test_saved_frames_load_equal(result: sim.Result, saved: Path, frame: str) -> None:
    loaded = sim.Result.load(saved)
    pd.testing.assert_frame_equal(getattr(loaded, frame), getattr(result, frame))


def test_saved_events_keep_their_codes(result: sim.Result, saved: Path) -> None:
    loaded = sim.Result.load(saved).events
    assert loaded["code"].tolist() == result.events["code"].tolist()
    assert loaded["code"].str.len().gt(0).all()


def test_saved_summary_loads_equal(result: sim.Result, saved: Path) -> None:
    loaded = sim.Result.load(saved)
    pd.testing.assert_series_equal(loaded.summary, result.summary, check_dtype=False)


def test_saved_summary_keeps_integer_counts(result: sim.Result, saved: Path) -> None:
    loaded = sim.Result.load(saved)
    for key in ("requests", "completed", "rejected", "peak_nodes"):
        assert isinstance(result.summary[key], int)
        assert isinstance(loaded.summary[key], int), (key, loaded.summary[key])


def test_saved_result_keeps_scenario_seed_and_metadata(result: sim.Result, saved: Path) -> None:
    loaded = sim.Result.load(saved)
    assert loaded.scenario.to_dict() == result.scenario.to_dict()
    assert (loaded.policy, loaded.seed) == (result.policy, result.seed)
    assert loaded.metadata == result.metadata
    assert loaded.wall_time_s == pytest.approx(result.wall_time_s)


def test_saved_result_resolves_trace_paths_like_the_original(
    result: sim.Result, tmp_path: Path
) -> None:
    replay = sim.load_scenario(SCENARIOS / "replay.yaml")
    assert replay.traffic.replay is not None
    original = dataclasses.replace(result, scenario=replay)
    loaded = sim.Result.load(original.save(tmp_path / "replay"))
    path = replay.traffic.replay.path
    assert loaded.scenario.resolve_path(path) == replay.resolve_path(path)
    assert loaded.scenario == replay


NOT_A_RESULT: dict[str, Callable[[Path], Path]] = {
    "empty directory": lambda root: root,
    "missing directory": lambda root: root / "nowhere",
    "a file": lambda root: root / "summary.txt",
}


@pytest.mark.parametrize("where", NOT_A_RESULT.values(), ids=list(NOT_A_RESULT))
def test_loading_something_else_raises_input_error(
    tmp_path: Path, where: Callable[[Path], Path]
) -> None:
    (tmp_path / "summary.txt").write_text("not a result\n", encoding="utf-8")
    path = where(tmp_path)
    with pytest.raises(sim.InputError) as caught:
        sim.Result.load(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_loading_an_incomplete_result_raises_input_error(saved: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("metadata.json", "scenario.yaml", "summary.parquet"):
        (partial / name).write_bytes((saved / name).read_bytes())
    with pytest.raises(sim.InputError, match="timeseries"):
        sim.Result.load(partial)


# --- the per-request frame ---------------------------------------------------------------------


def test_request_frame_columns(result: sim.Result) -> None:
    assert result.requests is not None
    columns = set(result.requests.columns)
    assert {"arrival_s", "end_s", "endpoint", "outcome", "latency_s"} <= columns
    assert set(result.requests["endpoint"].unique()) == {"read", "write"}


def test_request_outcomes_match_the_summary(scenario: sim.Scenario, result: sim.Result) -> None:
    assert result.requests is not None
    counted = result.requests[result.requests["arrival_s"] >= scenario.warmup_s]
    outcomes = counted["outcome"].value_counts()
    for outcome in OUTCOMES:
        assert outcomes.get(outcome, 0) == result.summary[outcome], outcome
    assert len(counted) == result.summary["requests"]


def test_request_latencies_match_the_summary(result: sim.Result, scenario: sim.Scenario) -> None:
    assert result.requests is not None
    requests = result.requests
    completed = requests[
        (requests["outcome"] == "completed") & (requests["arrival_s"] >= scenario.warmup_s)
    ]
    assert completed["latency_s"].mean() == pytest.approx(result.summary["latency_mean_s"])
    exact_p95 = completed["latency_s"].quantile(0.95, interpolation="higher")
    assert result.summary["latency_p95_s"] == pytest.approx(exact_p95, rel=0.01)
    in_flight = requests[requests["outcome"] == "in_flight"]
    assert in_flight["end_s"].isna().all()
    assert not math.isnan(completed["end_s"].max())

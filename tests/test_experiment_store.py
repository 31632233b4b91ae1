"""The results store: every finished run kept at once, read back unchanged, never run twice.

The kill test runs a real ``python -m sim sweep`` process, kills it with SIGKILL once some runs
are stored, checks that what it left is whole, and resumes the sweep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.experiment import executed_run_ids, load_store
from sim.experiment import runs as run_module
from sim.experiment.store import RunStore

REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "tests" / "data" / "scenarios" / "small.yaml"
POLICIES = ["static", "kubernetes"]
GRID = {"traffic.rate_rps": [30, 60], "service.initial_replicas": [1, 2]}


@pytest.fixture(scope="module")
def scenario() -> sim.Scenario:
    return sim.load_scenario(SMALL).with_overrides({"duration_s": 200})


def stored_runs(store: Path) -> list[str]:
    runs = store / "runs"
    if not runs.is_dir():
        return []
    return sorted(entry.name for entry in runs.iterdir() if not entry.name.startswith("."))


def test_comparison_loads_back_unchanged(scenario: sim.Scenario, tmp_path: Path) -> None:
    comparison = sim.compare(
        scenario, POLICIES, replications=2, seed=5, executor="serial", out_dir=tmp_path
    )
    loaded = sim.Comparison.load(tmp_path)
    pd.testing.assert_frame_equal(loaded.runs, comparison.runs)
    pd.testing.assert_frame_equal(loaded.timeseries, comparison.timeseries)
    pd.testing.assert_frame_equal(loaded.table, comparison.table)
    pd.testing.assert_frame_equal(loaded.events, comparison.events)
    assert "code" in loaded.events.columns
    assert loaded.scenario == comparison.scenario


def test_sweep_loads_back_unchanged(scenario: sim.Scenario, tmp_path: Path) -> None:
    frame = sim.sweep(scenario, GRID, replications=2, seed=5, executor="serial", out_dir=tmp_path)
    stored = load_store(tmp_path)
    pd.testing.assert_frame_equal(stored.runs, frame)
    assert stored.missing == ()
    assert list(stored.timeseries.columns[:5]) == [
        "service.initial_replicas", "traffic.rate_rps", "policy", "replication", "seed"
    ]  # fmt: skip
    assert (
        stored.timeseries.groupby(["traffic.rate_rps", "service.initial_replicas", "seed"]).ngroups
        == 8
    )


def test_store_layout_carries_resolved_scenario_and_seeds(
    scenario: sim.Scenario, tmp_path: Path
) -> None:
    sim.compare(scenario, POLICIES, replications=2, seed=5, executor="serial", out_dir=tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["kind"] == "compare"
    assert manifest["scenario"] == scenario.to_dict()
    assert manifest["seeds"] == [5, 6]
    assert manifest["sim_version"] == sim.__version__
    assert len(manifest["runs"]) == 4
    for entry in manifest["runs"]:
        run_directory = tmp_path / "runs" / entry["run_id"]
        assert sorted(path.name for path in run_directory.iterdir()) == [
            "events.parquet", "run.json", "summary.parquet", "timeseries.parquet"
        ]  # fmt: skip
        spec = json.loads((run_directory / "run.json").read_text())
        assert (spec["policy"], spec["seed"]) == (entry["policy"], entry["seed"])
        assert spec["scenario"]["policy"]["name"] == entry["policy"]
        assert spec["sim_version"] == sim.__version__


def test_rerun_reuses_every_stored_run(scenario: sim.Scenario, tmp_path: Path) -> None:
    first = sim.compare(
        scenario, POLICIES, replications=2, seed=5, executor="serial", out_dir=tmp_path
    )
    executed = executed_run_ids(tmp_path)
    again = sim.compare(
        scenario, POLICIES, replications=2, seed=5, executor="serial", out_dir=tmp_path
    )
    assert executed_run_ids(tmp_path) == executed
    # wall_time_s differs between executions: equal frames mean nothing ran again.
    pd.testing.assert_frame_equal(again.runs, first.runs)


def test_more_replications_run_only_the_new_ones(scenario: sim.Scenario, tmp_path: Path) -> None:
    sim.compare(scenario, POLICIES, replications=2, seed=5, executor="serial", out_dir=tmp_path)
    comparison = sim.compare(
        scenario, POLICIES, replications=3, seed=5, executor="serial", out_dir=tmp_path
    )
    executed = executed_run_ids(tmp_path)
    assert len(executed) == 6 and len(set(executed)) == 6
    assert set(executed) == set(comparison.runs["run_id"])


def test_runs_of_another_version_are_not_reused(
    scenario: sim.Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arguments = {"replications": 1, "seed": 5, "executor": "serial", "out_dir": tmp_path}
    sim.compare(scenario, POLICIES, **arguments)
    monkeypatch.setattr(run_module, "__version__", "0.0.0-other")
    sim.compare(scenario, POLICIES, **arguments)
    executed = executed_run_ids(tmp_path)
    assert len(executed) == 4 and len(set(executed)) == 4


def test_incomplete_store_reports_missing_runs(scenario: sim.Scenario, tmp_path: Path) -> None:
    comparison = sim.compare(
        scenario, POLICIES, replications=2, seed=5, executor="serial", out_dir=tmp_path
    )
    removed = comparison.runs["run_id"].iloc[-1]
    os.rename(tmp_path / "runs" / removed, tmp_path / "elsewhere")
    stored = load_store(tmp_path)
    assert stored.missing == (removed,)
    assert len(stored.runs) == 3
    with pytest.raises(sim.InputError, match="1 of 4 runs are not stored yet"):
        sim.Comparison.load(tmp_path)


def test_not_a_store_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(sim.InputError, match=r"not a results store \(no manifest.json\)"):
        load_store(tmp_path)


def test_opening_removes_only_what_dead_writers_left(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    runs = tmp_path / "runs"
    abandoned = runs / f".partial-{dead.stdout.strip()}-x1"
    in_progress = runs / f".partial-{os.getpid()}-x2"
    for directory in (abandoned, in_progress):
        directory.mkdir(parents=True)
        (directory / "summary.parquet").write_bytes(b"half")
    RunStore(tmp_path).prepare({"kind": "sweep", "runs": []})
    assert not abandoned.exists()
    assert in_progress.exists()


def test_killed_sweep_keeps_finished_runs_and_resumes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    arguments = [
        "sweep", str(SMALL), "--set", "duration_s=600",
        "--grid", "traffic.rate_rps=30,60", "--grid", "service.initial_replicas=1,2",
        "--replications", "2", "--executor", "serial", "--out", str(store), "--no-progress",
    ]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", *arguments],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not stored_runs(store):
        assert process.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline, "no run was stored within a minute"
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL

    finished = stored_runs(store)
    assert 1 <= len(finished) < 8
    reader = RunStore(store)
    for run_id in finished:  # whole runs only, each readable
        timeseries = reader.read(run_id).timeseries
        assert timeseries is not None and timeseries["time_s"].iloc[-1] == 600
    stamps = {run_id: (store / "runs" / run_id / "run.json").stat() for run_id in finished}
    logged_before_kill = executed_run_ids(store)

    assert main(arguments) == 0
    assert len(stored_runs(store)) == 8
    for run_id, before in stamps.items():
        after = (store / "runs" / run_id / "run.json").stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    resumed = executed_run_ids(store)[len(logged_before_kill) :]
    assert not set(resumed) & set(finished)  # nothing finished before the kill ran again
    assert len(set(resumed)) == len(resumed)
    assert sorted([*resumed, *finished]) == stored_runs(store)
    assert not list((store / "runs").glob(".partial-*"))
    assert load_store(store).missing == ()

"""``python -m sim compare`` and ``python -m sim sweep``: their tables, CSV files and bad input.

The commands are called in-process through :func:`sim.cli.main` (the kill-and-resume test in
``test_experiment_store.py`` runs the real process). Bad input exits with code 2 and one line.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.config.schema import POLICY_NAMES
from sim.experiment.formatting import format_table, plus_minus

REPO = Path(__file__).resolve().parents[1]
BOOKING = str(REPO / "scenarios" / "booking_surge.yaml")
SMALL = str(REPO / "tests" / "data" / "scenarios" / "small.yaml")
SHORT = ["--set", "duration_s=300", "--set", "warmup_s=60", "--no-progress"]
HEADLINE = ("p95 latency (ms)", "error rate (%)", "SLO attainment (%)", "cost")
PLUS_MINUS = r"-?[\d,.]+ ± [\d,.]+"


def call(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(arguments)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_compare_prints_every_policy_with_confidence_intervals(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    table_csv = tmp_path / "table.csv"
    arguments = ["compare", BOOKING, "--replications", "2", "--seed", "1", "--jobs", "2", *SHORT]
    code, out, err = call([*arguments, "--csv", str(table_csv)], capsys)
    assert code == 0, err
    assert "booking-surge · 5 policies × 2 replications (seeds 1–2)" in out
    header = next(line for line in out.splitlines() if line.startswith("policy"))
    for title in HEADLINE:
        assert title in header
    for policy in POLICY_NAMES:
        row = next(line for line in out.splitlines() if line.startswith(f"{policy} "))
        assert len(re.findall(PLUS_MINUS, row)) >= len(HEADLINE), row
    written = pd.read_csv(table_csv)
    assert list(written["policy"]) == list(POLICY_NAMES)
    assert {"latency_p95_s_mean", "latency_p95_s_ci95", "cost_usd_mean"} <= set(written.columns)


def test_compare_stores_runs_with_out(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    arguments = ["compare", SMALL, "--policies", "static,swarm", "--replications", "2"]
    code, out, err = call(
        [*arguments, "--executor", "serial", "--out", str(tmp_path), *SHORT], capsys
    )
    assert code == 0, err
    assert f"runs stored in {tmp_path}" in out
    assert len(list((tmp_path / "runs").iterdir())) == 4


def test_sweep_prints_one_row_per_grid_point(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    table_csv = tmp_path / "sweep.csv"
    arguments = [
        "sweep", SMALL,
        "--grid", "traffic.rate_rps=30,60", "--grid", "service.initial_replicas=1,2",
        "--policy", "kubernetes", "--replications", "2", "--executor", "serial",
        "--csv", str(table_csv), *SHORT,
    ]  # fmt: skip
    code, out, err = call(arguments, capsys)
    assert code == 0, err
    assert "small · 4 grid points × 2 replications (seeds 0–1)" in out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("service.initial_replicas"))
    assert "traffic.rate_rps" in header and "p95 latency" in header
    assert "policy" not in header  # one policy: fixed, not a column
    rows = [line.split()[:2] for line in lines if re.match(r"^[12] +[36]0 ", line)]
    assert rows[:4] == [["1", "30"], ["1", "60"], ["2", "30"], ["2", "60"]]
    written = pd.read_csv(table_csv)
    assert written[["service.initial_replicas", "traffic.rate_rps"]].values.tolist() == [
        [1, 30], [1, 60], [2, 30], [2, 60]
    ]  # fmt: skip


BAD_INPUT = [
    ("grid without values", ["sweep", SMALL, "--grid", "traffic.rate_rps"], "--grid: expected"),
    (
        "grid of unknown key",
        ["sweep", SMALL, "--grid", "traffic.rate_rpz=1,2"],
        "traffic.rate_rpz: unknown field",
    ),
    (
        "grid with bad YAML",
        ["sweep", SMALL, "--grid", "traffic.rate_rps=[1,"],
        "--grid traffic.rate_rps: cannot read",
    ),
    (
        "grid key twice",
        ["sweep", SMALL, "--grid", "warmup_s=1", "--grid", "warmup_s=2"],
        "warmup_s is given more than once",
    ),
    ("sweep without grid", ["sweep", SMALL], "the following arguments are required: --grid"),
    (
        "policy twice",
        ["sweep", SMALL, "--grid", "policy.name=static,swarm", "--policy", "swarm"],
        "--policy: give the policy by --policy or by --grid, not both",
    ),
    (
        "unknown policy",
        ["compare", SMALL, "--policies", "static,autopilot"],
        "unknown policy 'autopilot'",
    ),
    ("no replication", ["compare", SMALL, "--replications", "0"], "expected 1 or more"),
    ("unknown executor", ["compare", SMALL, "--executor", "threads"], "invalid choice"),
    (
        "address without dask",
        ["compare", SMALL, "--executor", "serial", "--dask-scheduler", "tcp://h:8786"],
        "scheduler_address: a scheduler address needs the dask executor",
    ),
    (
        "jobs for serial",
        ["compare", SMALL, "--executor", "serial", "--jobs", "2"],
        "jobs: the serial executor runs one run at a time",
    ),
    (
        "csv in a missing directory",
        ["compare", SMALL, "--csv", "no/such/dir/table.csv"],
        "no/such/dir/table.csv: expected a file in an existing directory",
    ),
    ("missing scenario", ["compare", "nowhere.yaml"], "nowhere.yaml: scenario file not found"),
]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_input_is_one_line_and_exit_code_2(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = call(arguments, capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and err.count("\n") == 1, err


PLUS_MINUS_CASES = [
    ("half-width to two digits, mean to match", 1.6405, 0.0123, "1.641 ± 0.012"),
    ("large counts grouped", 2081238.0, 1234.0, "2,081,238 ± 1,234"),
    ("one replication: mean only", 4.0, math.nan, "4.00"),
    ("no spread", 0.0032, 0.0, "0.00320 ± 0"),
    ("undefined mean", math.nan, math.nan, "—"),
]


@pytest.mark.parametrize(
    ("mean", "half_width", "text"),
    [case[1:] for case in PLUS_MINUS_CASES],
    ids=[case[0] for case in PLUS_MINUS_CASES],
)
def test_plus_minus(mean: float, half_width: float, text: str) -> None:
    assert plus_minus(mean, half_width) == text


HEADINGS = {
    # metric, its mean and half-width in base units → its column heading and cell
    "headline-latency-in-ms": ("latency_p95_s", 0.25, 0.01, "p95 latency (ms)", "250 ± 10"),
    "share-in-percent": ("error_rate", 0.05, 0.01, "error rate (%)", "5.0 ± 1.0"),
    "dollars-as-a-prefix": ("cost_usd", 12.5, 1.0, "cost", "$12.5 ± 1.0"),
    "table-title-and-unit": ("node_hours", 3.0, 1.0, "node-hours (h)", "3.0 ± 1.0"),
    "per-minute-inline": (
        "elasticity_jitter_per_min",
        0.5,
        0.1,
        "elasticity jitter per min",
        "0.50 ± 0.10",
    ),
    "unknown-column-by-suffix": ("queue_wait_s", 2.0, 1.0, "queue wait (s)", "2.0 ± 1.0"),
    "unknown-share-by-suffix": ("cache_hit_share", 0.5, 0.1, "cache hit share (%)", "50 ± 10"),
}


@pytest.mark.parametrize(
    ("metric", "mean", "half_width", "title", "cell"), HEADINGS.values(), ids=HEADINGS.keys()
)
def test_format_table_headings_come_from_the_metric_table(
    metric: str, mean: float, half_width: float, title: str, cell: str
) -> None:
    columns = pd.MultiIndex.from_product([[metric], ["mean", "ci95"]])
    table = pd.DataFrame(
        [[mean, half_width]],
        columns=columns.set_names(["metric", "statistic"]),
        index=pd.Index(["static"], name="policy"),
    )
    header, row = format_table(table, [metric]).splitlines()
    assert header.removeprefix("policy").strip() == title
    assert row.removeprefix("static").strip() == cell

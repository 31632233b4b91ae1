"""``python -m sim bench``: the quick run prints every figure, and the table reads each ratio
against its target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.benchmark import TARGETS_VS_SIMPY, format_figures

ROOT = Path(__file__).resolve().parents[1]
REQUIRED_KEYS = {
    "mmc_engine_rps",
    "mmc_simpy_idiomatic_rps",
    "mmc_ciw_rps",
    "booking_engine_rps",
    "peak_rss_mb_1m",
    "peak_rss_mb_10m",
    "mmc_engine_kubernetes_rps",
    "booking_engine_kubernetes_rps",
    "booking_overload_kubernetes_rps",
}


@pytest.fixture(scope="module")
def quick_figures() -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, "-m", "sim", "bench", "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    figures: dict[str, float] = json.loads(completed.stdout)
    return figures


def test_quick_bench_prints_every_figure_as_json(quick_figures: dict[str, float]) -> None:
    assert quick_figures["quick"] is True
    assert quick_figures.keys() >= REQUIRED_KEYS
    assert all(quick_figures[key] > 0 for key in REQUIRED_KEYS)
    # The kubernetes variants replay the same arrivals as the static runs.
    for workload in ("mmc_engine", "booking_engine"):
        requests = quick_figures[f"{workload}_requests"]
        assert quick_figures[f"{workload}_kubernetes_requests"] == requests


def test_quick_table_is_not_read_against_the_targets(quick_figures: dict[str, float]) -> None:
    table = format_figures(quick_figures)
    assert "too small a run" in table
    assert "ok" not in table.split() and "MISS" not in table


def test_full_table_marks_each_ratio_against_its_target(quick_figures: dict[str, float]) -> None:
    figures = {**quick_figures, "quick": False}
    for key, target in TARGETS_VS_SIMPY.items():
        figures[f"{key}_vs_simpy"] = target + (0.01 if key.startswith("mmc") else -0.01)
    table = format_figures(figures)
    assert table.count("≥ 5 ok") == 2  # M/M/8, static and kubernetes, just above 5
    assert table.count("≥ 3 MISS") == 2  # booking, just below 3

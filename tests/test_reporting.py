"""The capacity-planning report: its answer, its files, and how it looks in a browser."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

import sim
from sim.experiment.compare import Comparison
from sim.reporting import recommend

REPOSITORY = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Headless Chromium as root on a closed network: no sandbox, no background connections.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    scenario = sim.load_scenario(REPOSITORY / "scenarios" / "booking_surge.yaml").with_overrides(
        {"duration_s": 600, "warmup_s": 60, "traffic.surges.0.start_s": 200}
    )
    return sim.compare(
        scenario, ["static", "kubernetes"], replications=2, seed=1, executor="serial"
    )


@pytest.fixture(scope="module")
def written(comparison: Comparison, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sim.report(comparison, tmp_path_factory.mktemp("report") / "booking")


def test_the_report_has_every_file(written: Path) -> None:
    folder = written.parent
    assert written.name == "index.html"
    for name in ("report.md", "summary.csv"):
        assert (folder / name).is_file()
    figures = sorted(path.name for path in (folder / "figures").glob("*.png"))
    assert figures == ["comparison.png", "cost_vs_slo.png", "timelines.png", "traffic.png"]
    summary = pd.read_csv(folder / "summary.csv")
    assert set(summary["policy"]) == {"static", "kubernetes"}
    assert {"cost_usd_mean", "cost_usd_ci95", "slo_attainment_mean"} <= set(summary.columns)


def test_markdown_has_no_broken_figure_links(written: Path) -> None:
    text = (written.parent / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == 4
    for link in links:
        assert (written.parent / link).is_file(), link
    for section in ("The question", "Recommendation", "Comparison", "How to reproduce"):
        assert f"## {section}" in text


def test_html_is_self_contained_and_every_figure_decodes(written: Path) -> None:
    page = written.read_text()
    assert "http://" not in page and "https://" not in page  # opens offline
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 4
    for encoded in images:
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(encoded)), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100


def test_reproduction_details_are_in_the_report(written: Path, comparison: Comparison) -> None:
    text = (written.parent / "report.md").read_text()
    assert "SHA-256" in text
    assert sim.__version__ in text
    assert "Seeds 1…2" in text


def runs(costs: dict[str, list[float]], attainments: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for policy, values in costs.items():
        for replication, (cost, attainment) in enumerate(
            zip(values, attainments[policy], strict=True)
        ):
            rows.append(
                {
                    "policy": policy,
                    "replication": replication,
                    "seed": replication,
                    "cost_usd": cost,
                    "slo_attainment": attainment,
                }
            )
    return pd.DataFrame(rows)


RECOMMENDATIONS = {
    # name: (costs per replication, attainments per replication, expected choice)
    "cheapest-of-those-holding": (
        {"a": [1.0, 1.1, 0.9], "b": [2.0, 2.1, 1.9], "c": [0.5, 0.5, 0.5]},
        {"a": [0.95, 0.96, 0.95], "b": [0.99, 0.99, 0.99], "c": [0.5, 0.6, 0.55]},
        "a",
    ),
    "a-wide-interval-does-not-hold": (
        # b's mean is above the 0.9 target but its interval reaches below it
        {"a": [3.0, 3.0, 3.0], "b": [1.0, 1.0, 1.0]},
        {"a": [0.95, 0.95, 0.95], "b": [0.80, 0.99, 0.99]},
        "a",
    ),
    "none-holds": (
        {"a": [1.0, 1.0], "b": [2.0, 2.0]},
        {"a": [0.5, 0.6], "b": [0.7, 0.8]},
        None,
    ),
}


@pytest.mark.parametrize(
    ("costs", "attainments", "expected"), RECOMMENDATIONS.values(), ids=RECOMMENDATIONS.keys()
)
def test_recommendation_is_the_cheapest_policy_holding_the_slo(
    comparison: Comparison,
    costs: dict[str, list[float]],
    attainments: dict[str, list[float]],
    expected: str | None,
) -> None:
    scenario = comparison.scenario.with_overrides({"slo.attainment_target": 0.9})
    made = Comparison(scenario, runs(costs, attainments), pd.DataFrame())
    advice = recommend(made)
    assert advice.policy == expected
    if expected is None:
        assert "No policy holds the SLO" in advice.text
        assert "b" in advice.text  # the closest one is named
    else:
        assert expected in advice.text


def test_saving_against_the_runner_up_is_paired(comparison: Comparison) -> None:
    scenario = comparison.scenario.with_overrides({"slo.attainment_target": 0.9})
    made = Comparison(
        scenario,
        runs(
            {"a": [1.0, 2.0, 3.0], "b": [1.5, 2.5, 3.5]},
            {"a": [0.95, 0.95, 0.95], "b": [0.95, 0.95, 0.95]},
        ),
        pd.DataFrame(),
    )
    advice = recommend(made)
    # Unpaired, the costs overlap widely; paired, b is always exactly 0.5 dearer.
    assert advice.policy == "a" and advice.runner_up == "b"
    assert advice.saving_usd == pytest.approx(0.5)
    assert advice.saving_ci95_usd == pytest.approx(0.0)


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian package 'chromium'; .ci/run installs it)",
)
def test_the_page_renders_in_a_browser_with_every_image(written: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    url = written.resolve().as_uri()
    dom = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert 'data-images="4"' in dom
    assert 'data-images-loaded="4"' in dom
    shot = tmp_path / "page.png"
    subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            url,
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    pixels = matplotlib.image.imread(shot)
    ink = np.mean(pixels[..., :3] < 0.9)  # share of pixels that are not near-white
    assert ink > 0.03, f"the page looks blank ({ink:.1%} ink)"

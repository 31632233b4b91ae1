"""The scenario library: every file validates, runs briefly under its own policy and under
Kubernetes, and conserves requests; shipped traces stay beside the scenarios with their notes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

import sim
from sim.config.schema import ContainerCrash, NodeCrash
from sim.traffic.traces import load_replay

SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"
SCENARIO_FILES = sorted(SCENARIOS_DIR.glob("*.yaml"))
REPLAY_FILES = [
    path
    for path in SCENARIO_FILES
    if "replay" in (yaml.safe_load(path.read_text(encoding="utf-8")).get("traffic") or {})
]
SHORT_RUN_S = 300.0


def short(scenario: sim.Scenario) -> sim.Scenario:
    """The scenario cut to a few minutes, its warm-up and sampling shrunk to fit and its
    scheduled crashes moved to the middle, so that a short run still meets them."""
    faults = [
        fault.model_copy(update={"at_s": SHORT_RUN_S / 2}).model_dump()
        if isinstance(fault, NodeCrash | ContainerCrash)
        else fault.model_dump()
        for fault in scenario.faults
    ]
    return scenario.with_overrides(
        {
            "duration_s": SHORT_RUN_S,
            "warmup_s": min(scenario.warmup_s, SHORT_RUN_S / 5),
            "sample_interval_s": min(scenario.sample_interval_s, SHORT_RUN_S / 10),
            "faults": faults,
        }
    )


def test_the_library_holds_the_documented_scenarios() -> None:
    names = {path.stem for path in SCENARIO_FILES}
    assert {
        "booking_surge",
        "compose_single_host",
        "node_failure_peak",
        "queueing_mmc",
        "trace_replay",
        "week_growth",
    } <= names


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[path.stem for path in SCENARIO_FILES])
def test_scenario_validates_and_runs_under_its_policy_and_kubernetes(path: Path) -> None:
    scenario = short(sim.load_scenario(path))
    for policy in dict.fromkeys((scenario.policy.name, "kubernetes")):
        summary = sim.run(scenario, policy=policy, seed=1, progress=False).summary
        assert summary["requests"] > 0, policy
        outcomes = (
            summary["completed"] + summary["rejected"] + summary["timed_out"] + summary["in_flight"]
        )
        # Every attempt (a user request's first, or a retry) ends in exactly one outcome.
        assert summary["attempts"] == outcomes, policy
        assert summary["attempts"] == summary["requests"] + summary["retries"], policy


def test_the_library_replays_a_trace() -> None:
    assert "trace_replay" in [path.stem for path in REPLAY_FILES]


@pytest.mark.parametrize("path", REPLAY_FILES, ids=[path.stem for path in REPLAY_FILES])
def test_replayed_traces_ship_with_the_scenarios(path: Path) -> None:
    replay = sim.load_scenario(path).traffic.replay
    assert replay is not None
    trace = (path.parent / replay.path).resolve()
    assert trace.is_file()
    assert trace.is_relative_to(SCENARIOS_DIR / "traces"), "traces live in scenarios/traces/"
    note = Path(f"{trace}.source.txt").read_text(encoding="utf-8")
    assert "Licence" in note
    recorded = re.search(r"sha256\s+([0-9a-f]{64})", note)
    assert recorded is not None, "the .source.txt records the file's sha256"
    assert hashlib.sha256(trace.read_bytes()).hexdigest() == recorded.group(1)


def test_trace_replay_puts_the_labelled_spike_at_its_peak() -> None:
    scenario = sim.load_scenario(SCENARIOS_DIR / "trace_replay.yaml")
    replay = scenario.traffic.replay
    assert replay is not None
    trace = load_replay(replay, scenario.resolve_path(replay.path), np.random.default_rng(0))
    assert trace.end_s == pytest.approx(scenario.duration_s)
    busiest = int(np.argmax(trace(np.arange(0.0, trace.end_s, 10.0))))
    # 2014-04-22 19:34 is six hours into the window: half-way through the compressed run
    assert busiest * 10.0 == pytest.approx(scenario.duration_s / 2)
    assert trace.peak_rate_rps(replay.peak_window_s) == pytest.approx(replay.scale_to_peak_rps)

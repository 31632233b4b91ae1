"""The command line: ``python -m sim run|validate``, its output and its handling of bad input.

A few cases run the real process; the rest call :func:`sim.cli.main` in-process, which is the
same code without the interpreter's start-up time. Bad input must exit with code 2 and print
exactly one line on stderr, naming what is wrong: never a traceback.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.cli import main
from sim.measure.metrics import markdown_table, records

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "tests" / "data" / "scenarios"
BOOKING = "scenarios/booking_surge.yaml"
SMALL = str(SCENARIOS / "small.yaml")
SHORT_BOOKING = [BOOKING, "--seed", "1", "--set", "duration_s=600", "--set", "warmup_s=60"]
OUTCOMES = ("completed", "rejected", "timed_out", "in_flight")


def run_process(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def call(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``main(arguments)`` (argparse errors exit early)."""
    try:
        code = main(arguments)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr


@pytest.fixture(scope="module")
def booking_json() -> dict[str, Any]:
    process = run_process("run", *SHORT_BOOKING, "--format", "json")
    assert process.returncode == 0, process.stderr
    summary: dict[str, Any] = json.loads(process.stdout)
    return summary


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # in-process calls use the same relative paths as the process


# --- run ---------------------------------------------------------------------------------------


def test_run_prints_a_json_summary_that_conserves_requests(booking_json: dict[str, Any]) -> None:
    assert booking_json["requests"] > 0
    assert booking_json["requests"] == sum(booking_json[outcome] for outcome in OUTCOMES)
    for key in sim.result.SUMMARY_KEYS:
        assert key in booking_json


def test_table_prints_the_same_counts(
    booking_json: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = call(["run", *SHORT_BOOKING, "--no-progress"], capsys)
    assert (code, err) == (0, "")
    match = re.search(
        r"requests\s+([\d,]+)\s+completed\s+([\d,]+).*?rejected\s+([\d,]+)"
        r"\s+timed out\s+([\d,]+)\s+in flight\s+([\d,]+)",
        out,
    )
    assert match is not None, out
    printed = [int(group.replace(",", "")) for group in match.groups()]
    assert printed == [booking_json[key] for key in ("requests", *OUTCOMES)]
    assert "booking-surge" in out and "seed 1" in out


def test_run_out_saves_a_loadable_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "run1"
    code, out, err = call(
        ["run", SMALL, "--seed", "3", "--format", "json", "--out", str(out_dir)], capsys
    )
    assert (code, err) == (0, "")
    assert f"saved to {out_dir}" in out
    loaded = sim.Result.load(out_dir)
    printed = json.loads(out[: out.rindex("}") + 1])
    assert (loaded.seed, loaded.policy, loaded.scenario.name) == (3, "static", "small")
    assert int(loaded.summary["requests"]) == printed["requests"]


# --- validate ----------------------------------------------------------------------------------

VALID_CASES = {
    "booking scenario": BOOKING,
    "scenario with a replayed trace": str(SCENARIOS / "replay.yaml"),
}


@pytest.mark.parametrize("scenario", VALID_CASES.values(), ids=list(VALID_CASES))
def test_validate_prints_valid(scenario: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(["validate", scenario], capsys)
    assert (code, err) == (0, "")
    assert "valid" in out
    assert scenario in out


# --- metrics -----------------------------------------------------------------------------------


def test_metrics_prints_the_markdown_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(["metrics"], capsys)
    assert (code, err) == (0, "")
    assert out == markdown_table() + "\n"


def test_metrics_json_has_a_record_per_metric(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(["metrics", "--json"], capsys)
    assert (code, err) == (0, "")
    rows = json.loads(out)
    assert rows == records()
    summary = [row["name"] for row in rows if row["table"] == "summary"]
    assert summary[: len(sim.result.SUMMARY_KEYS)] == list(sim.result.SUMMARY_KEYS)


# --- bad input ---------------------------------------------------------------------------------

BAD_INPUT_CASES = {
    # name: (arguments, words stderr must contain)
    "unknown key": (
        ["run", "tests/data/scenarios/unknown_key.yaml"],
        ["unknown_key.yaml:9", "service.container.colour", "unknown field"],
    ),
    "negative rate": (
        ["run", "tests/data/scenarios/negative_rate.yaml"],
        ["negative_rate.yaml:8", "traffic.rate_rps", "greater than or equal to 0"],
    ),
    "missing trace file": (
        ["run", "tests/data/scenarios/missing_trace.yaml"],
        ["traces/does_not_exist.csv", "no such trace file"],
    ),
    "missing trace file, validate": (
        ["validate", "tests/data/scenarios/missing_trace.yaml"],
        ["traces/does_not_exist.csv", "no such trace file"],
    ),
    "missing scenario file": (
        ["run", "tests/data/scenarios/no_such_scenario.yaml"],
        ["no_such_scenario.yaml", "not found"],
    ),
    "scenario is a directory": (["run", "tests/data/scenarios"], ["tests/data/scenarios"]),
    "invalid YAML": (
        ["run", "tests/data/scenarios/invalid_yaml.yaml"],
        ["invalid_yaml.yaml:3", "invalid YAML"],
    ),
    "YAML nested too deeply": (
        ["validate", "tests/data/scenarios/too_deep.yaml"],
        ["too_deep.yaml", "nested too deeply"],
    ),
    "an override nested too deeply": (
        ["run", BOOKING, "--set", "service=" + "[" * 5000 + "]" * 5000],
        ["service"],
    ),
    "not UTF-8": (
        ["validate", "tests/data/scenarios/latin1.yaml"],
        ["latin1.yaml:3", "expected UTF-8 text", "0xe9"],
    ),
    "--set without =": (["run", BOOKING, "--set", "duration_s"], ["--set", "duration_s"]),
    "--set with an empty key": (["run", BOOKING, "--set", "=600"], ["--set", "=600"]),
    "--set of an unknown key": (
        ["run", BOOKING, "--set", "duraton_s=600"],
        ["duraton_s", "unknown field", "duration_s"],
    ),
    "--set of a bad value": (
        ["run", BOOKING, "--set", "traffic.rate_rps=-5"],
        ["traffic.rate_rps", "greater than or equal to 0"],
    ),
    "--set of a bad list index": (
        ["run", BOOKING, "--set", "service.endpoints.7.weight=1"],
        ["service.endpoints.7.weight", "index"],
    ),
    "unknown --policy": (["run", BOOKING, "--policy", "magic"], ["--policy", "magic"]),
    "unknown policy": (["run", SMALL, "--policy", "mesos"], ["--policy", "mesos"]),
    "non-integer --seed": (["run", BOOKING, "--seed", "one"], ["--seed", "one"]),
    "unknown subcommand": (["frobnicate", BOOKING], ["frobnicate", "run", "validate"]),
    "no subcommand": ([], ["command"]),
    "run without a scenario": (["run"], ["scenario"]),
    "negative --seed": (["run", SMALL, "--seed", "-1"], ["--seed", "0 or more"]),
}


@pytest.mark.parametrize(
    ("arguments", "words"), BAD_INPUT_CASES.values(), ids=list(BAD_INPUT_CASES)
)
def test_bad_input_exits_2_with_one_line(
    arguments: list[str], words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = call(arguments, capsys)
    assert code == 2
    assert out == ""
    assert_one_line_error(err)
    for word in words:
        assert word in err, (word, err)


def test_unusable_out_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    occupied = tmp_path / "a-file"
    occupied.write_text("", encoding="utf-8")
    code, _, err = call(["run", SMALL, "--set", "duration_s=30", "--out", str(occupied)], capsys)
    assert code == 2
    assert_one_line_error(err)
    assert str(occupied) in err


PROCESS_CASES = {
    # name: (arguments, words stderr must contain): the same checks on the real process
    "unknown key": (
        ["run", "tests/data/scenarios/unknown_key.yaml"],
        ["unknown_key.yaml:9", "service.container.colour"],
    ),
    "unknown subcommand": (["frobnicate"], ["frobnicate"]),
}


@pytest.mark.parametrize(("arguments", "words"), PROCESS_CASES.values(), ids=list(PROCESS_CASES))
def test_bad_input_in_a_process(arguments: list[str], words: list[str]) -> None:
    process = run_process(*arguments)
    assert process.returncode == 2
    assert process.stdout == ""
    assert_one_line_error(process.stderr)
    for word in words:
        assert word in process.stderr


def test_help_exits_0() -> None:
    process = run_process("--help")
    assert process.returncode == 0, process.stderr
    for command in ("run", "validate", "bench"):
        assert command in process.stdout

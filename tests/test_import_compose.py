"""Compose and Swarm stack files → scenarios: round trips, warnings, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim import run
from sim.cli import main
from sim.config.schema import Scenario
from sim.importers import ImportResult, import_compose, to_yaml

MANIFESTS = Path(__file__).parent / "data" / "manifests"


def short_run_conserves(result: ImportResult) -> None:
    scenario = Scenario.model_validate(result.scenario).with_overrides({"duration_s": 30})
    summary = run(scenario, seed=1).summary
    ended = summary["completed"] + summary["rejected"] + summary["timed_out"]
    assert summary["requests"] > 0
    assert ended + summary["in_flight"] == summary["requests"]


def call(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(arguments)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_v2_file_with_scale_and_cpus_maps_exactly() -> None:
    result = import_compose(MANIFESTS / "compose_v2.yml", service="web")
    service = result.scenario["service"]
    container = service["container"]
    assert service["initial_replicas"] == 3
    assert container["image"] == "registry.example.com/shop/web:2.3.1"
    assert container["cpu_limit_m"] == 500
    assert container["memory_request_mib"] == 256
    assert container["startup_s"] == {"dist": "constant", "value": 40.0}  # start_period > interval
    assert container["termination_grace_s"] == 20.0
    assert result.scenario["policy"] == {"name": "static"}
    assert result.scenario["cluster"]["initial_nodes"] == 1
    for warning in (
        "services.web.ports: not modelled",
        "services.web.environment: not modelled",
        "services.web.build: not modelled",
        "volumes: not modelled",
        "services.db: not imported",
    ):
        assert warning in result.warnings
    assert any(
        w.startswith("services.web.mem_limit: memory limit of 512 MiB") for w in result.warnings
    )
    short_run_conserves(result)


def test_swarm_stack_maps_deploy_block() -> None:
    result = import_compose(MANIFESTS / "stack_v3.yml")
    container = result.scenario["service"]["container"]
    assert result.scenario["service"]["initial_replicas"] == 6
    assert container["cpu_limit_m"] == 1500
    assert container["cpu_request_m"] == 500
    assert container["memory_request_mib"] == 768
    assert container["startup_s"]["value"] == 90.0  # 1m30s start_period
    assert result.scenario["policy"] == {"name": "swarm", "swarm": {"restart_delay_s": 10.0}}
    for warning in (
        "services.api.deploy.placement: not modelled",
        "services.api.deploy.update_config: not modelled",
        "networks: not modelled",
        "secrets: not modelled",
    ):
        assert warning in result.warnings
    assert any("reservations.cpus" in w and "ignores" in w for w in result.warnings)
    short_run_conserves(result)


def test_compose_spec_file_without_version() -> None:
    result = import_compose(MANIFESTS / "compose_spec.yaml")
    container = result.scenario["service"]["container"]
    assert result.scenario["service"]["initial_replicas"] == 2
    assert container["cpu_limit_m"] == 2000
    assert container["startup_s"]["value"] == 90.0
    assert container["termination_grace_s"] == 10.0  # Compose default stop_grace_period
    assert result.scenario["policy"]["name"] == "static"
    assert "services.catalogue.logging: not modelled" in result.warnings
    short_run_conserves(result)


def test_yaml_marks_every_assumed_line() -> None:
    result = import_compose(MANIFESTS / "compose_spec.yaml")
    text = to_yaml(result)
    assumed_lines = [line for line in text.splitlines() if "# ASSUMED:" in line]
    keys = {line.split(":")[0].strip() for line in assumed_lines}
    assert {"duration_s", "slo", "endpoints", "rate_rps", "node_type"} <= keys
    assert Scenario.model_validate(yaml.safe_load(text))


def test_cli_writes_a_valid_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "imported.yaml"
    code, _, err = call(
        ["import", "compose", str(MANIFESTS / "stack_v3.yml"), "--out", str(out)], capsys
    )
    assert code == 0
    assert "warning: services.api.ports: not modelled" in err.splitlines()
    assert call(["validate", str(out)], capsys)[0] == 0


def test_cli_prints_yaml_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(["import", "compose", str(MANIFESTS / "compose_spec.yaml")], capsys)
    assert code == 0
    assert yaml.safe_load(out)["name"] == "catalogue"


@pytest.mark.parametrize(
    ("text", "arguments", "expected"),
    [
        ("services:\n  web: {image: a\n", [], ":2: invalid YAML"),
        ("services:\n  a: {image: a}\n  b: {image: b}\n", [], "2 services (a, b)"),
        ("services:\n  a: {image: a, scale: 2, deploy: {replicas: 3}}\n", [], "disagree"),
        ("services:\n  a: {image: a}\n", ["--service", "b"], "no service 'b'"),
        ("services:\n  a: {image: a, healthcheck: {interval: soon}}\n", [], "expected a duration"),
        ("networks: {}\n", [], "expected a services: mapping"),
    ],
    ids=[
        "malformed-yaml",
        "two-services",
        "replicas-vs-scale",
        "unknown-service",
        "bad-duration",
        "no-services",
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    arguments: list[str],
    expected: str,
) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(text)
    code, out, err = call(["import", "compose", str(path), *arguments], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert expected in err
    assert "docker-compose.yml" in err


@pytest.mark.parametrize(
    ("text", "mib"),
    [("512M", 512), ("1g", 1024), ("2Gi", 2048), ("256mb", 256), (1048576, 1)],
    ids=["M", "g", "Gi", "mb", "bytes"],
)
def test_memory_units(tmp_path: Path, text: object, mib: int) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        yaml.safe_dump(
            {"services": {"a": {"deploy": {"resources": {"reservations": {"memory": text}}}}}}
        )
    )
    assert import_compose(path).scenario["service"]["container"]["memory_request_mib"] == mib

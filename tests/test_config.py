"""The scenario schema, file loading, error messages, overrides and the instance catalogue.

Bad input must raise a :class:`ScenarioError` whose ``field`` is the dotted path of the
problem and whose message is one line; errors in a file also name the file and the line.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from sim import Scenario, ScenarioError, load_scenario
from sim.config import validate_scenario
from sim.config.catalogue import CATALOGUE, InstanceType, family_ladder

REPO = Path(__file__).resolve().parents[1]
BOOKING = REPO / "scenarios" / "booking_surge.yaml"
SCENARIOS = REPO / "tests" / "data" / "scenarios"
TRACES = REPO / "tests" / "data" / "traces"

DELETE = object()
"""A change that removes the field instead of setting it."""


def minimal() -> dict[str, Any]:
    """The smallest valid scenario: everything else comes from the schema's defaults."""
    return {
        "name": "minimal",
        "duration_s": 120,
        "service": {
            "endpoints": [
                {
                    "name": "read",
                    "weight": 0.8,
                    "cpu_demand_s": {"dist": "constant", "value": 0.01},
                },
                {
                    "name": "write",
                    "weight": 0.2,
                    "cpu_demand_s": {"dist": "exponential", "mean": 0.05},
                },
            ],
        },
        "traffic": {"rate_rps": 10},
    }


def changed(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``data`` with each dotted path set (mappings created as needed)."""
    data = copy.deepcopy(data)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if value is DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return data


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the first line of ``path`` that contains ``text``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


def attribute(scenario: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        scenario = scenario[int(part)] if part.isdigit() else getattr(scenario, part)
    return scenario


def assert_one_line(error: ScenarioError) -> None:
    message = str(error)
    assert message.strip(), "empty message"
    assert "\n" not in message and "\r" not in message, message


@pytest.fixture(scope="module")
def booking() -> Scenario:
    return load_scenario(BOOKING)


# --- the booking scenario ----------------------------------------------------------------------


def test_booking_scenario_loads(booking: Scenario) -> None:
    assert booking.name == "booking-surge"
    assert booking.duration_s == 7200
    assert booking.warmup_s == 300
    assert [endpoint.name for endpoint in booking.service.endpoints] == [
        "search",
        "detail",
        "book",
        "pay",
    ]
    assert sum(endpoint.weight for endpoint in booking.service.endpoints) == pytest.approx(1)
    assert booking.service.endpoints[0].cpu_demand_s.mean == pytest.approx(0.030)
    assert booking.service.container.concurrency == 16
    assert booking.cluster.node_type == "m5.xlarge"
    assert booking.traffic.rate_rps == 120
    assert booking.traffic.surges[0].multiplier == 4
    assert booking.policy.name == "static"
    assert booking.source_dir == BOOKING.parent


# --- defaults ----------------------------------------------------------------------------------

DEFAULT_CASES = {
    # name: (attribute path, default)
    "Tomcat maxThreads": ("service.container.concurrency", 200),
    "Tomcat maxConnections - maxThreads + acceptCount": ("service.container.queue_limit", 8092),
    "a full backlog drops SYNs": ("service.container.overflow", "drop"),
    "Tomcat preset": ("service.container.server", "tomcat"),
    "CFS period 100 ms": ("service.container.cfs_period_s", 0.1),
    "no start-up CPU": ("service.container.startup_cpu_m", 0),
    "OkHttp connect timeout": ("service.connect_timeout_s", 10),
    "balancer does not try the next upstream": ("load_balancer.next_upstream", False),
    "ingress-nginx proxy-connect-timeout": ("load_balancer.connect_timeout_s", 5.0),
    "ingress-nginx proxy-next-upstream-tries": ("load_balancer.next_upstream_tries", 3),
    "one core requested": ("service.container.cpu_request_m", 1000),
    "no CPU limit": ("service.container.cpu_limit_m", None),
    "pod termination grace": ("service.container.termination_grace_s", 30),
    "client timeout": ("service.timeout_s", 60),
    "one replica": ("service.initial_replicas", 1),
    "kube-proxy sync period": ("load_balancer.update_delay_s", 1.0),
    "balancer chosen by the policy": ("load_balancer.algorithm", None),
    "image pull bandwidth": ("cluster.pull_bandwidth_mb_s", 8.0),
    "node type": ("cluster.node_type", "m5.xlarge"),
    "EC2 billing minimum": ("cluster.billing_minimum_s", 60),
    "no warm-up": ("warmup_s", 0),
    "sample interval": ("sample_interval_s", 10),
    "SLO latency": ("slo.latency_s", 0.5),
    "SLO percentile": ("slo.percentile", 95),
    "static policy": ("policy.name", "static"),
    "no faults": ("faults", ()),
}


@pytest.mark.parametrize(
    ("path", "expected"), DEFAULT_CASES.values(), ids=list(DEFAULT_CASES.keys())
)
def test_defaults_are_filled_in(path: str, expected: Any) -> None:
    scenario = Scenario.model_validate(minimal())
    assert attribute(scenario, path) == expected


def test_defaults_appear_in_the_resolved_dict() -> None:
    resolved = Scenario.model_validate(minimal()).to_dict()
    assert resolved["service"]["container"]["concurrency"] == 200
    assert resolved["service"]["container"]["queue_limit"] == 8092
    assert resolved["cluster"]["pull_bandwidth_mb_s"] == 8.0
    assert resolved["load_balancer"]["update_delay_s"] == 1.0


# --- immutability ------------------------------------------------------------------------------

FROZEN_CASES = {
    "top-level field": ("", "duration_s", 10),
    "nested field": ("traffic", "rate_rps", 10),
    "deeply nested field": ("service.container", "concurrency", 1),
}


@pytest.mark.parametrize(
    ("owner", "name", "value"), FROZEN_CASES.values(), ids=list(FROZEN_CASES.keys())
)
def test_scenario_is_frozen(booking: Scenario, owner: str, name: str, value: Any) -> None:
    target = attribute(booking, owner) if owner else booking
    before = getattr(target, name)
    with pytest.raises(ValidationError, match="frozen"):
        setattr(target, name, value)
    assert getattr(target, name) == before


def test_endpoints_cannot_be_appended(booking: Scenario) -> None:
    assert isinstance(booking.service.endpoints, tuple)


# --- unknown keys ------------------------------------------------------------------------------

UNKNOWN_KEY_CASES = {
    # name: (changes, field, some allowed names)
    "top level": ({"colour": "red"}, "colour", ("duration_s", "traffic", "service")),
    "in a nested block": (
        {"service.container.cpus": 2},
        "service.container.cpus",
        ("concurrency", "queue_limit", "cpu_request_m"),
    ),
    "in a list item": (
        {"service.endpoints.1.wieght": 2},
        "service.endpoints.1.wieght",
        ("name", "weight", "cpu_demand_s"),
    ),
    "in a distribution": (
        {"service.endpoints.0.cpu_demand_s.mean": 2},
        "service.endpoints.0.cpu_demand_s.mean",
        ("dist", "value"),
    ),
    "in traffic": ({"traffic.rate": 5}, "traffic.rate", ("rate_rps", "replay", "surges")),
}


@pytest.mark.parametrize(
    ("changes", "field", "allowed"), UNKNOWN_KEY_CASES.values(), ids=list(UNKNOWN_KEY_CASES.keys())
)
def test_unknown_keys_are_rejected(
    changes: dict[str, Any], field: str, allowed: tuple[str, ...]
) -> None:
    with pytest.raises(ScenarioError) as caught:
        validate_scenario(changed(minimal(), changes))
    error = caught.value
    assert error.field == field
    assert "unknown field" in str(error)
    for name in allowed:
        assert name in str(error)
    assert_one_line(error)


# --- invalid values ----------------------------------------------------------------------------

INVALID_CASES = {
    # name: (changes, field, words of the message)
    "negative rate": ({"traffic.rate_rps": -1}, "traffic.rate_rps", "greater than or equal to 0"),
    "rate not a number": ({"traffic.rate_rps": "fast"}, "traffic.rate_rps", "valid number"),
    "unknown node type": ({"cluster.node_type": "x9.huge"}, "cluster.node_type", "catalogue"),
    "cpu limit below request": (
        {"service.container.cpu_request_m": 1000, "service.container.cpu_limit_m": 999},
        "service.container.cpu_limit_m",
        "must be at least cpu_request_m (1000), as Kubernetes requires; got 999",
    ),
    "zero endpoints": ({"service.endpoints": []}, "service.endpoints", "at least 1"),
    "duplicate endpoint names": (
        {"service.endpoints.1.name": "read"},
        "service.endpoints",
        "repeated: read",
    ),
    "both rate_rps and replay": (
        {"traffic.replay": {"path": "trace.csv", "format": "rate_csv"}},
        "traffic",
        "exactly one",
    ),
    "neither rate_rps nor replay": ({"traffic.rate_rps": DELETE}, "traffic", "exactly one"),
    "missing required field": ({"service": DELETE}, "service", "required"),
    "unknown distribution": (
        {"service.endpoints.0.cpu_demand_s": {"dist": "weibull", "shape": 2}},
        "service.endpoints.0.cpu_demand_s",
        "weibull",
    ),
    "max_nodes below initial_nodes": (
        {"cluster.initial_nodes": 3, "cluster.max_nodes": 2},
        "cluster",
        "max_nodes (2) must be at least initial_nodes (3)",
    ),
    "unknown fault kind": ({"faults": [{"kind": "meteor", "at_s": 1}]}, "faults.0", "meteor"),
    "warm-up as long as the run": (
        {"warmup_s": 120},
        "warmup_s",
        "must be less than duration_s",
    ),
    "warm-up longer than the run": (
        {"warmup_s": 500},
        "warmup_s",
        "must be less than duration_s",
    ),
}


def _invalid_params() -> list[Any]:
    params = []
    for name, case in INVALID_CASES.items():
        params.append(pytest.param(*case, id=name))
    return params


@pytest.mark.parametrize(("changes", "field", "words"), _invalid_params())
def test_invalid_values_name_the_field(changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        validate_scenario(changed(minimal(), changes))
    error = caught.value
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert words in str(error)
    assert_one_line(error)


BOUNDARY_CASES = {
    # name: changes that sit just inside a bound
    "rate zero": {"traffic.rate_rps": 0},
    "warm-up just below the duration": {"warmup_s": 119.999},
    "cpu limit equal to request": {
        "service.container.cpu_request_m": 1000,
        "service.container.cpu_limit_m": 1000,
    },
    "max_nodes equal to initial_nodes": {"cluster.initial_nodes": 2, "cluster.max_nodes": 2},
    "one endpoint": {"service.endpoints": [minimal()["service"]["endpoints"][0]]},
}


@pytest.mark.parametrize("changes", BOUNDARY_CASES.values(), ids=list(BOUNDARY_CASES.keys()))
def test_values_on_the_boundary_are_accepted(changes: dict[str, Any]) -> None:
    validate_scenario(changed(minimal(), changes))


def test_validation_failures_are_scenario_errors_and_input_errors() -> None:
    from sim import InputError

    with pytest.raises(InputError):
        validate_scenario(changed(minimal(), {"traffic.rate_rps": -1}))


# --- errors in files ---------------------------------------------------------------------------


def test_yaml_syntax_error_names_the_file_and_line() -> None:
    path = SCENARIOS / "invalid_yaml.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    error = caught.value
    assert error.line == line_of(path, "warmup_s: 10: 20") == 3
    assert f"invalid_yaml.yaml:{error.line}: " in str(error)
    assert "invalid YAML" in str(error)
    assert_one_line(error)


FILE_ERROR_CASES = {
    # name: (fixture file, field, text on the field's line)
    "negative rate": ("negative_rate.yaml", "traffic.rate_rps", "rate_rps:"),
    "unknown nested key": ("unknown_key.yaml", "service.container.colour", "colour:"),
    "warm-up as long as the run": pytest.param("warmup_too_long.yaml", "warmup_s", "warmup_s:"),
}


@pytest.mark.parametrize(
    ("file_name", "field", "line_text"),
    FILE_ERROR_CASES.values(),
    ids=list(FILE_ERROR_CASES.keys()),
)
def test_error_in_a_file_names_file_field_and_line(
    file_name: str, field: str, line_text: str
) -> None:
    path = SCENARIOS / file_name
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    error = caught.value
    line = line_of(path, line_text)
    assert (error.field, error.line) == (field, line)
    assert str(error).startswith(f"{path}:{line}: {field}: ")
    assert_one_line(error)


def test_error_in_a_list_item_points_at_the_item_line(tmp_path: Path) -> None:
    text = BOOKING.read_text(encoding="utf-8").replace("weight: 0.07", "weight: -1")
    path = tmp_path / "booking.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    error = caught.value
    line = line_of(path, "{name: book,")
    assert error.field == "service.endpoints.2.weight"
    assert f"booking.yaml:{line}: service.endpoints.2.weight: " in str(error)


FILE_PROBLEM_CASES = {
    # name: (file content or None for no file, words of the message)
    "missing file": (None, "not found"),
    "empty file": ("", "expected a mapping"),
    "a list at the top": ("- 1\n- 2\n", "expected a mapping"),
}


@pytest.mark.parametrize(
    ("content", "words"), FILE_PROBLEM_CASES.values(), ids=list(FILE_PROBLEM_CASES.keys())
)
def test_unreadable_files_are_scenario_errors(
    tmp_path: Path, content: str | None, words: str
) -> None:
    path = tmp_path / "scenario.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert words in str(caught.value)
    assert_one_line(caught.value)


# --- overrides ---------------------------------------------------------------------------------

OVERRIDE_CASES = {
    # name: (override key, value, attribute path, expected value)
    "scalar": ("traffic.rate_rps", 80, "traffic.rate_rps", 80),
    "top-level scalar": ("duration_s", 600, "duration_s", 600),
    "nested key": ("service.container.concurrency", 4, "service.container.concurrency", 4),
    "list index": ("service.endpoints.0.weight", 0.5, "service.endpoints.0.weight", 0.5),
    "list index into a distribution": (
        "service.endpoints.3.cpu_demand_s.cv",
        0.9,
        "service.endpoints.3.cpu_demand_s.cv",
        0.9,
    ),
    "whole block": (
        "load_balancer",
        {"algorithm": "random"},
        "load_balancer.algorithm",
        "random",
    ),
    "clear an optional block": ("traffic.diurnal", None, "traffic.diurnal", None),
    "a server's preset fills what is unset": (
        "service.container",
        {"server": "gunicorn"},
        "service.container.queue_limit",
        2048,
    ),
    "a scenario's own value wins over its server's": (
        "service.container",
        {"server": "gunicorn", "concurrency": 16},
        "service.container.concurrency",
        16,
    ),
}


@pytest.mark.parametrize(
    ("key", "value", "path", "expected"), OVERRIDE_CASES.values(), ids=list(OVERRIDE_CASES.keys())
)
def test_with_overrides_sets_the_field(
    booking: Scenario, key: str, value: Any, path: str, expected: Any
) -> None:
    updated = booking.with_overrides({key: value})
    assert attribute(updated, path) == expected
    assert updated.to_dict() != booking.to_dict()
    assert booking.to_dict() == load_scenario(BOOKING).to_dict(), "the original changed"


def test_with_overrides_creates_an_unset_optional_block() -> None:
    scenario = Scenario.model_validate(minimal())
    assert scenario.traffic.diurnal is None
    updated = scenario.with_overrides({"traffic.diurnal.amplitude": 0.3})
    assert updated.traffic.diurnal is not None
    assert updated.traffic.diurnal.amplitude == 0.3
    assert updated.traffic.diurnal.period_s == 86400  # the rest from the schema's defaults


def test_with_overrides_applies_several_keys_together(booking: Scenario) -> None:
    # Each alone would be invalid (warm-up 300 s >= duration 200 s); together they are fine.
    updated = booking.with_overrides({"duration_s": 200, "warmup_s": 20})
    assert (updated.duration_s, updated.warmup_s) == (200, 20)


BAD_OVERRIDE_CASES = {
    # name: (key, value)
    "unknown leaf": ("traffic.rat_rps", 3),
    "unknown top-level key": ("colour", "red"),
    "unknown group": ("traffic.diurnl.amplitude", 0.3),
    "negative value": ("traffic.rate_rps", -3),
    "value of the wrong type": ("traffic.rate_rps", "lots"),
    "index out of range": ("service.endpoints.9.weight", 1),
    "index not a number": ("service.endpoints.first.weight", 1),
    "field inside a number": ("traffic.rate_rps.per_s", 1),
    "empty segment": ("traffic..rate_rps", 1),
    "invalid enum value": ("load_balancer.algorithm", "fastest"),
    "unknown server": ("service.container.server", "apache"),
    "unknown overflow": ("service.container.overflow", "maybe"),
    "CFS period not finite": ("service.container.cfs_period_s", float("nan")),
    "CFS period beyond the kernel's 1 s": ("service.container.cfs_period_s", 2.0),
    "connect timeout not finite": ("service.connect_timeout_s", float("inf")),
    "no connections": ("load_balancer.connections.count", 0),
    "negative start-up CPU": ("service.container.startup_cpu_m", -1),
    "absurd worker count": ("service.container.concurrency", 10**11),
}


@pytest.mark.parametrize(
    ("key", "value"), BAD_OVERRIDE_CASES.values(), ids=list(BAD_OVERRIDE_CASES.keys())
)
def test_bad_override_names_the_key(booking: Scenario, key: str, value: Any) -> None:
    with pytest.raises(ScenarioError) as caught:
        booking.with_overrides({key: value})
    error = caught.value
    assert key in str(error)
    assert error.field is not None
    assert key == error.field or key.startswith(f"{error.field}."), error.field
    assert_one_line(error)


def test_changing_the_server_by_override_brings_its_preset() -> None:
    # Left at Tomcat's values, the container takes nginx's; set by the scenario (or by the
    # same override), they stay.
    scenario = Scenario.model_validate(minimal())
    nginx = scenario.with_overrides({"service.container.server": "nginx"}).service.container
    assert (nginx.concurrency, nginx.queue_limit, nginx.overflow) == (512, 511, "drop")
    own = scenario.with_overrides({"service.container.concurrency": 8})
    kept = own.with_overrides(
        {"service.container.server": "gunicorn", "service.container.overflow": "reject"}
    ).service.container
    assert (kept.concurrency, kept.queue_limit, kept.overflow) == (8, 2048, "reject")


def test_override_through_a_value_names_the_value(booking: Scenario) -> None:
    with pytest.raises(ScenarioError) as caught:
        booking.with_overrides({"traffic.rate_rps.per_s.max": 1})
    assert "traffic.rate_rps is a value" in str(caught.value)


def test_with_overrides_keeps_the_source_directory() -> None:
    scenario = load_scenario(SCENARIOS / "replay.yaml")
    assert scenario.traffic.replay is not None
    trace = scenario.resolve_path(scenario.traffic.replay.path)
    assert trace.is_file()
    assert trace.resolve() == (TRACES / "requests_per_minute.csv").resolve()

    updated = scenario.with_overrides({"traffic.replay.speedup": 2.0})
    assert updated.source_dir == scenario.source_dir == SCENARIOS
    assert updated.resolve_path(updated.traffic.replay.path) == trace


RESOLVE_CASES = {
    # name: (loaded from the fixture file?, path, expected)
    "relative, from a file": (True, "x/trace.csv", SCENARIOS / "x" / "trace.csv"),
    "absolute, from a file": (True, str(TRACES / "a.csv"), TRACES / "a.csv"),
    "relative, from a dict": (False, "x/trace.csv", Path("x/trace.csv")),
}


@pytest.mark.parametrize(
    ("from_file", "path", "expected"), RESOLVE_CASES.values(), ids=list(RESOLVE_CASES.keys())
)
def test_resolve_path(from_file: bool, path: str, expected: Path) -> None:
    if from_file:
        scenario = load_scenario(SCENARIOS / "replay.yaml")
    else:
        scenario = Scenario.model_validate(minimal())
        assert scenario.source_dir is None
    assert scenario.resolve_path(path) == expected


# --- plain data --------------------------------------------------------------------------------


def test_to_dict_round_trips_through_model_validate(booking: Scenario) -> None:
    data = booking.to_dict()
    json.dumps(data)  # plain data only
    again = Scenario.model_validate(data)
    assert again.to_dict() == data
    assert again == Scenario.model_validate(yaml.safe_load(BOOKING.read_text(encoding="utf-8")))


def test_to_dict_writes_distribution_parameters_by_their_names(booking: Scenario) -> None:
    demand = booking.to_dict()["service"]["endpoints"][0]["cpu_demand_s"]
    assert demand == {"dist": "lognormal", "mean": 0.03, "cv": 1.0}


# --- the instance catalogue --------------------------------------------------------------------

LADDER = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge")
LADDER_VCPU = (2, 4, 8, 16, 32, 48, 64, 96)


@pytest.mark.parametrize("family", ["m5", "m6i"])
@pytest.mark.parametrize(("size", "vcpu"), list(zip(LADDER, LADDER_VCPU, strict=True)), ids=LADDER)
def test_general_purpose_ladder_is_priced_per_vcpu(family: str, size: str, vcpu: int) -> None:
    instance = CATALOGUE[f"{family}.{size}"]
    assert instance.vcpu == vcpu
    assert instance.memory_mib == vcpu * 4 * 1024
    assert instance.price_per_hour_usd == pytest.approx(0.048 * vcpu, rel=1e-9)
    assert instance.cpu_m == vcpu * 1000


def test_m5_xlarge_is_the_booking_node() -> None:
    instance = CATALOGUE["m5.xlarge"]
    assert (instance.vcpu, instance.memory_mib) == (4, 16384)
    assert instance.price_per_hour_usd == pytest.approx(0.192)


@pytest.mark.parametrize(
    ("family", "gib_per_vcpu"), [("c6i", 2), ("r6i", 8)], ids=["compute", "memory"]
)
def test_other_families_are_present(family: str, gib_per_vcpu: int) -> None:
    names = [name for name in CATALOGUE if name.startswith(f"{family}.")]
    assert f"{family}.large" in names and f"{family}.24xlarge" in names
    for name in names:
        instance = CATALOGUE[name]
        assert instance.memory_mib == instance.vcpu * gib_per_vcpu * 1024


def test_family_ladder_is_ascending() -> None:
    ladder = family_ladder("m5.xlarge", CATALOGUE)
    assert ladder == [f"m5.{size}" for size in LADDER]
    vcpus = [CATALOGUE[name].vcpu for name in ladder]
    assert vcpus == sorted(vcpus)


OWN_TYPE = {"vcpu": 6, "memory_mib": 12288, "price_per_hour_usd": 0.3}


def test_scenario_can_add_an_instance_type() -> None:
    data = changed(
        minimal(), {"cluster.node_type": "x1.six", "cluster.instance_types": {"x1.six": OWN_TYPE}}
    )
    scenario = validate_scenario(data)
    assert scenario.cluster.instance == InstanceType(**OWN_TYPE)
    assert "m5.xlarge" in scenario.cluster.catalogue()
    assert "x1.six" not in CATALOGUE


def test_scenario_can_override_a_catalogue_price() -> None:
    cheaper = {"vcpu": 4, "memory_mib": 16384, "price_per_hour_usd": 0.1}
    data = changed(minimal(), {"cluster.instance_types": {"m5.xlarge": cheaper}})
    scenario = validate_scenario(data)
    assert scenario.cluster.instance.price_per_hour_usd == 0.1
    assert CATALOGUE["m5.xlarge"].price_per_hour_usd == pytest.approx(0.192), "global changed"


def test_scenario_types_join_the_family_ladder() -> None:
    small = {"vcpu": 1, "memory_mib": 4096, "price_per_hour_usd": 0.048}
    data = changed(minimal(), {"cluster.instance_types": {"m5.medium": small}})
    catalogue = validate_scenario(data).cluster.catalogue()
    assert family_ladder("m5.xlarge", catalogue)[:2] == ["m5.medium", "m5.large"]


def test_invalid_own_instance_type_names_its_field() -> None:
    bad = {**OWN_TYPE, "vcpu": 0}
    data = changed(minimal(), {"cluster.instance_types": {"x1": bad}})
    with pytest.raises(ScenarioError) as caught:
        validate_scenario(data)
    assert caught.value.field == "cluster.instance_types.x1.vcpu"
    assert_one_line(caught.value)


def test_override_replaces_the_instance_types_block(booking: Scenario) -> None:
    # Type names hold a dot (m5.xlarge), so a dotted key cannot reach inside one: the whole
    # mapping is replaced instead.
    cheaper = {"vcpu": 4, "memory_mib": 16384, "price_per_hour_usd": 0.1}
    updated = booking.with_overrides({"cluster.instance_types": {"m5.xlarge": cheaper}})
    assert updated.cluster.instance.price_per_hour_usd == 0.1

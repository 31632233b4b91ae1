"""Dotted-key overrides: ``{"policy.kubernetes.hpa.target_cpu_utilization": 0.6}``.

Overrides address the scenario as plain data, so any field can be varied by a sweep or the
CLI's ``--set``; the result is validated again as a whole. List items are addressed by index
(``service.endpoints.0.weight``).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import yaml

from sim.config.errors import ScenarioError
from sim.config.yaml_loader import load_yaml

if TYPE_CHECKING:
    from sim.config.schema import Scenario


def apply_overrides(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """A validated copy of ``scenario`` with each dotted key set to its value."""
    from sim.config.loading import validate_scenario

    data = copy.deepcopy(scenario.to_dict())
    if SERVER_KEY in overrides:
        _let_the_new_server_fill_in(scenario, data, overrides)
    for key, value in overrides.items():
        set_dotted(data, key, value)
    source = "override " + ", ".join(f"{key}={value!r}" for key, value in overrides.items())
    updated = validate_scenario(data, source=source)
    updated._source_dir = scenario.source_dir
    return updated


SERVER_KEY = "service.container.server"
PRESET_FIELDS = ("concurrency", "queue_limit", "overflow")


def _let_the_new_server_fill_in(
    scenario: Scenario, data: dict[str, Any], overrides: dict[str, Any]
) -> None:
    """Changing ``service.container.server`` brings its preset: the fields the scenario left
    at its old server's values (and the override does not set) are filled from the new one."""
    from sim.config.servers import SERVERS

    container = scenario.service.container
    old = SERVERS[container.server]
    block = data["service"]["container"]
    for name in PRESET_FIELDS:
        if f"service.container.{name}" not in overrides and getattr(container, name) == getattr(
            old, name
        ):
            block.pop(name, None)


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``key`` ``"a.b.c"``, creating missing mappings."""
    parts = key.split(".")
    if not key or any(not part for part in parts):
        raise ScenarioError(
            f"expected dotted field names such as traffic.rate_rps, got {key!r}",
            field=key or "override key",
        )
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        node = _child(node, part, key, depth, create=True)
    last = parts[-1]
    if isinstance(node, list):
        node[_index(node, last, key)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError(
            f"cannot set a field inside a value of type {type(node).__name__}", field=key
        )


def _child(node: Any, part: str, key: str, depth: int, *, create: bool) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, key)]
    if not isinstance(node, dict):
        prefix = ".".join(key.split(".")[:depth])
        raise ScenarioError(f"{prefix} is a value, not a group of fields", field=key)
    if node.get(part) is None and create:
        node[part] = {}
    return node[part]


def _index(node: list[Any], part: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ScenarioError(f"expected a list index below {len(node)}, got {part!r}", field=key)
    return int(part)


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"key=value"`` from the command line; the value is read as YAML (``0.6``, ``[1,2]``)."""
    key, separator, raw = text.partition("=")
    if not separator or not key.strip():
        raise ScenarioError(f"expected key=value, got {text!r}", field="--set")
    try:
        value = load_yaml(raw)
    except (yaml.YAMLError, RecursionError):  # not YAML: the text itself, which validation names
        value = raw
    return key.strip(), value

"""The imports of ``sim/`` follow the layers of DESIGN.md, read from the source.

Each room of the package has a layer; a module may import its own room and rooms of lower
layers, never upwards or sideways. Policies are a room apart: pure decisions that import only
the configuration and their own types (never SimPy, the model or the control plane). Nothing
imports the command line but ``python -m sim``. Imports inside functions count too: a lazy
import up the layers is still a dependency up the layers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sim"

LAYERS: dict[str, float] = {
    # foundations: the schema and small pure helpers
    "sim.config": 0,
    "sim.version": 0,
    "sim.streams": 0,
    "sim.histogram": 0,
    "sim.theory": 0,
    "sim.traffic": 1,
    "sim.elasticity": 1,
    # the simulated world (SimPy): kernel, containers, nodes, balancer, recorder, faults
    "sim.model": 2,
    # sampling and reduction, and the metric table the result reads
    "sim.measure": 3,
    "sim.result": 3.5,
    # pure decisions (see POLICY_ALLOWED), under the control plane that runs them
    "sim.policies": 3.5,
    "sim.control": 4,
    "sim.engine": 5,
    "sim.experiment": 6,
    "sim.importers": 6,
    "sim.planning": 7,
    "sim.plots": 8,
    "sim.reporting": 9,
    "sim.benchmark": 9,
    "sim": 10,  # the facade (sim/__init__.py)
    "sim.cli": 11,
    "sim.__main__": 12,
}

POLICY_ALLOWED = ("sim.config", "sim.policies")
"""All a policy module may import of ``sim``."""

FORBIDDEN_THIRD_PARTY: dict[str, tuple[str, ...]] = {
    "sim.policies": ("simpy",),
    "sim.config": ("simpy",),
    "sim.traffic": ("simpy",),
}
"""Rooms that must stay free of the event kernel (pure functions, case-table tests)."""

CLI_IMPORTERS = ("sim.__main__",)


def module_name(path: Path) -> str:
    """``sim/model/world.py`` → ``sim.model.world``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def room(module: str) -> str:
    """The room of a module: the longest prefix in :data:`LAYERS`."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in LAYERS:
            return candidate
    raise KeyError(f"{module} belongs to no room of LAYERS: give it a layer")


def imports_of(module: str, source: str) -> Iterator[str]:
    """Every module ``source`` imports (``from sim import x`` resolves to ``sim.x``)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.level:
                raise AssertionError(f"{module}: use absolute imports, not relative ones")
            if node.module == "sim":
                yield from (f"sim.{alias.name}" for alias in node.names)
            else:
                yield node.module


def violations(sources: Iterable[tuple[str, str]]) -> list[str]:
    """What breaks the layering, one line per offending import."""
    found = []
    for module, source in sources:
        own = room(module)
        for imported in imports_of(module, source):
            top = imported.split(".")[0]
            if top != "sim":
                if top in FORBIDDEN_THIRD_PARTY.get(own, ()):
                    found.append(f"{module} imports {imported}: {own} must not use {top}")
                continue
            target = room(imported)
            if target == own:
                continue
            if target == "sim.cli" and module not in CLI_IMPORTERS:
                found.append(f"{module} imports the command line ({imported})")
            elif own == "sim.policies" and target not in POLICY_ALLOWED:
                found.append(f"{module} imports {imported}: policies import only config")
            elif LAYERS[target] >= LAYERS[own]:
                found.append(
                    f"{module} (layer {LAYERS[own]:g}) imports {imported} "
                    f"(layer {LAYERS[target]:g}): only lower layers may be imported"
                )
    return found


def package_sources() -> list[tuple[str, str]]:
    return [
        (module_name(path), path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def test_every_module_of_the_package_has_a_room() -> None:
    for module, _ in package_sources():
        room(module)  # raises for a module no layer covers


def test_the_imports_of_sim_follow_the_layers() -> None:
    assert violations(package_sources()) == []


CASES = {
    "model imports control": ("sim.model.cluster", "from sim.control.plane import ControlPlane"),
    "model imports policies": ("sim.model.cluster", "from sim.policies.base import NodeView"),
    "policy imports simpy": ("sim.policies.hpa", "import simpy"),
    "policy imports the model": ("sim.policies.hpa", "from sim.model import node"),
    "policy imports measure": ("sim.policies.swarm", "from sim.measure import metrics"),
    "lazy import upwards": ("sim.measure.frames", "def f():\n    from sim import engine"),
    "sideways at one layer": ("sim.plots", "from sim import reporting"),
    "experiment imports the CLI": ("sim.experiment.sweep", "from sim.cli import main"),
    "config imports simpy": ("sim.config.schema", "import simpy"),
}


@pytest.mark.parametrize(("module", "source"), list(CASES.values()), ids=list(CASES))
def test_a_wrong_import_is_reported(module: str, source: str) -> None:
    assert len(violations([(module, source)])) == 1


ALLOWED = {
    "control reads the model": ("sim.control.plane", "from sim.model.world import World"),
    "control runs policies": ("sim.control.plane", "from sim.policies.base import Decision"),
    "policy reads config": ("sim.policies.hpa", "from sim.config.policies import Hpa"),
    "a room imports itself": ("sim.model.cluster", "from sim.model.node import Node"),
    "main runs the CLI": ("sim.__main__", "from sim.cli import main"),
}


@pytest.mark.parametrize(("module", "source"), list(ALLOWED.values()), ids=list(ALLOWED))
def test_a_right_import_is_allowed(module: str, source: str) -> None:
    assert violations([(module, source)]) == []

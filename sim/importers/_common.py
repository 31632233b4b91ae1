"""What the Compose and Kubernetes importers share: the result, unit parsing, YAML reading,
the placeholders a manifest cannot supply, and the commented YAML writer.

A manifest says how a service is packaged and scaled, never how much CPU a request costs or
how much traffic arrives. Those fields get placeholder values, and every placeholder is listed
in :attr:`ImportResult.assumptions` as ``"dotted.key: why"`` so that the YAML writer can mark
its line ``# ASSUMED``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sim.config.catalogue import CATALOGUE
from sim.config.errors import InputError

DEFAULT_NODE_TYPE = "m5.xlarge"
"""The node type assumed when a manifest names none (the schema's own default)."""

PLACEHOLDER_CPU_DEMAND_S = 0.02
"""Mean CPU-seconds per request assumed: 20 ms, mid-range for a Python or Java web request."""

PLACEHOLDER_DURATION_S = 3600.0


@dataclass
class ImportResult:
    """A scenario built from deployment files.

    ``scenario`` is plain data that :meth:`Scenario.model_validate` accepts; ``warnings`` name
    every field of the input the simulator does not use; ``assumptions`` are
    ``"dotted.key: reason"`` lines for the values the input could not supply.
    """

    scenario: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)


# --- reading -----------------------------------------------------------------------------------


def read_documents(path: str | Path) -> Iterator[Any]:
    """Every YAML document of ``path``; a missing file or bad YAML is an :class:`InputError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except OSError as error:
        raise InputError(f"cannot read the file ({error.strerror})", file=path) from None
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise InputError(f"invalid YAML: {problem}", file=path, line=line) from None
    yield from documents


# --- units -------------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(us|µs|ms|s|m|h)")
_DURATION_UNIT_S = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration_s(value: Any, *, file: str | Path, field: str) -> float:
    """A Compose duration (Go syntax: ``"30s"``, ``"1m30s"``, ``"500ms"``) in seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise InputError(
            f"expected a duration such as 30s or 1m30s, got {value!r}", file=file, field=field
        )
    return sum(float(number) * _DURATION_UNIT_S[unit] for number, unit in parts)


def parse_cpus_m(value: Any, *, file: str | Path, field: str) -> int:
    """CPU in millicores from Compose ``cpus`` (``"0.5"``) or a Kubernetes quantity
    (``"500m"``, ``"1"``, ``0.5``)."""
    text = str(value).strip()
    try:
        cores = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        raise InputError(
            f"expected CPUs such as 0.5, 2 or 500m, got {value!r}", file=file, field=field
        ) from None
    if cores <= 0 or not math.isfinite(cores):
        raise InputError(f"expected a positive CPU amount, got {value!r}", file=file, field=field)
    return max(1, round(cores * 1000))


_COMPOSE_BYTES = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", re.IGNORECASE)
_K8S_QUANTITY = re.compile(r"(\d+(?:\.\d+)?(?:e\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?")
_BINARY_POWER = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
_DECIMAL = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}


def parse_compose_memory_mib(value: Any, *, file: str | Path, field: str) -> float:
    """A Compose byte value (``"512M"``, ``"1g"``, ``"2Gi"``, ``1073741824``) in MiB.

    Docker reads every unit as binary (``1g`` = 1024 MiB), with or without ``i``/``b``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value / 2**20
    match = _COMPOSE_BYTES.fullmatch(str(value).strip())
    if match is None:
        raise InputError(
            f"expected a memory size such as 512M or 1g, got {value!r}", file=file, field=field
        )
    number, unit = match.groups()
    return float(number) * float(1024 ** _BINARY_POWER[unit.lower()]) / 2**20


def parse_k8s_memory_mib(value: Any, *, file: str | Path, field: str) -> float:
    """A Kubernetes memory quantity (``"512Mi"``, ``"1Gi"``, ``"500M"``, ``"1e9"``) in MiB."""
    match = _K8S_QUANTITY.fullmatch(str(value).strip())
    if match is None:
        raise InputError(
            f"expected a memory quantity such as 512Mi or 1Gi, got {value!r}",
            file=file,
            field=field,
        )
    number, suffix = match.groups()
    if suffix is None:
        scale = 1.0
    elif suffix.endswith("i"):
        scale = 1024.0 ** _BINARY_POWER[suffix[0].lower()]
    else:
        scale = _DECIMAL[suffix]
    return float(number) * scale / 2**20


# --- placeholders ------------------------------------------------------------------------------


def placeholder_endpoints() -> list[dict[str, Any]]:
    """One endpoint with the assumed CPU demand per request."""
    demand = {"dist": "exponential", "mean": PLACEHOLDER_CPU_DEMAND_S}
    return [{"name": "request", "weight": 1.0, "cpu_demand_s": demand}]


def placeholder_traffic(replicas: int) -> dict[str, Any]:
    """Traffic that keeps each replica half a core busy at the assumed demand: neither idle
    nor saturated."""
    return {"rate_rps": max(1, replicas) * 0.5 / PLACEHOLDER_CPU_DEMAND_S}


PLACEHOLDER_SLO = {"latency_s": 0.5, "percentile": 95, "max_error_rate": 0.01}


PLACEHOLDER_ASSUMPTIONS = [
    "duration_s: how long to simulate; one hour assumed",
    "slo: your latency and error objectives; p95 ≤ 0.5 s and 1 % errors assumed",
    "service.endpoints: CPU-seconds per request are not in a manifest; "
    f"one endpoint of {PLACEHOLDER_CPU_DEMAND_S * 1000:g} ms (exponential) assumed",
    "traffic.rate_rps: offered load is not in a manifest; half a core per replica assumed",
]


def nodes_for(replicas: int, cpu_request_m: int, node_type: str = DEFAULT_NODE_TYPE) -> int:
    """Nodes of ``node_type`` whose CPU holds ``replicas`` requests (at least one)."""
    capacity_m = CATALOGUE[node_type].cpu_m
    return max(1, math.ceil(replicas * cpu_request_m / capacity_m))


# --- writing -----------------------------------------------------------------------------------

_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<item>- )?(?P<key>[^\s#:'\"][^:#]*|'[^']*'):(?: |$)")


def _assumed_keys(assumptions: list[str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for assumption in assumptions:
        key, separator, reason = assumption.partition(": ")
        if separator and " " not in key:
            keys[key] = reason
    return keys


def to_yaml(result: ImportResult, source: str = "") -> str:
    """The scenario as YAML: a header listing warnings and assumptions, and ``# ASSUMED: …``
    beside every line whose value was not in the input."""
    header = ["# Scenario imported" + (f" from {source}" if source else "") + "."]
    header.append("# Lines marked ASSUMED were not in the input: replace them with your figures.")
    if result.assumptions:
        header.append("# Assumed:")
        header += [f"#   - {assumption}" for assumption in result.assumptions]
    if result.warnings:
        header.append("# Not modelled (ignored by the simulator):")
        header += [f"#   - {warning}" for warning in result.warnings]
    body = yaml.safe_dump(
        result.scenario, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100
    )
    return "\n".join(header) + "\n" + _annotate(body, _assumed_keys(result.assumptions))


def _annotate(body: str, assumed: dict[str, str]) -> str:
    """Add ``# ASSUMED`` comments to the lines of ``body`` whose dotted key is in ``assumed``."""
    path: list[tuple[int, str]] = []
    lines = []
    for line in body.splitlines():
        match = _KEY_LINE.match(line)
        if match:
            indent = len(match["indent"]) + (2 if match["item"] else 0)
            while path and path[-1][0] >= indent:
                path.pop()
            path.append((indent, match["key"].strip("'")))
            dotted = ".".join(key for _, key in path)
            if dotted in assumed:
                line = f"{line}  # ASSUMED: {assumed[dotted]}"
        lines.append(line)
    return "\n".join(lines) + "\n"

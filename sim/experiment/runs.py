"""One run of an experiment as plain data: what to run, what it gave, and the frames of many.

A :class:`RunSpec` holds the *resolved* scenario as plain data (every default filled in, the
policy's name set), so it crosses process and machine boundaries by pickling and hashes into a
stable run id: the same scenario, policy, seed and ``sim`` version give the same id on every
machine, which is how a results store recognises a run it already holds. :func:`execute` is
the one function an executor ships to its workers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from sim import engine
from sim.config.errors import InputError
from sim.config.loading import validate_scenario
from sim.config.schema import Scenario
from sim.version import __version__

LABELS = ("policy", "replication", "seed")
"""The columns that name a run beside its swept values; ``run_id`` closes each runs row."""


def run_id(scenario: Mapping[str, Any], policy: str, seed: int) -> str:
    """A stable id for a run: the first 16 hex digits of a SHA-256 of its canonical JSON.

    The package version is part of it: another version may simulate the same run differently,
    so a store never hands back a run an older version made.
    """
    text = json.dumps(
        {"scenario": scenario, "policy": policy, "seed": seed, "sim_version": __version__},
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=True,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class RunLabel:
    """What names a run in the frames: its swept values, policy, replication, seed and id."""

    run_id: str
    policy: str
    replication: int
    seed: int
    values: dict[str, Any] = field(default_factory=dict)

    def columns(self) -> dict[str, Any]:
        """The label columns of this run's rows, swept values first."""
        swept = {key: cell_value(value) for key, value in self.values.items()}
        return {**swept, "policy": self.policy, "replication": self.replication, "seed": self.seed}

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "policy": self.policy,
            "replication": self.replication,
            "seed": self.seed,
            "values": self.values,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunLabel:
        return cls(
            run_id=str(data["run_id"]),
            policy=str(data["policy"]),
            replication=int(data["replication"]),
            seed=int(data["seed"]),
            values=dict(data.get("values", {})),
        )


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs for one run; ``scenario`` is the resolved scenario as data.

    ``values`` are the swept keys' values at this run's grid point (empty for a comparison);
    ``source_dir`` is where relative trace paths start (it is not part of the run id, so a
    store stays valid when the project moves).
    """

    scenario: dict[str, Any]
    policy: str
    seed: int
    replication: int
    values: dict[str, Any] = field(default_factory=dict)
    source_dir: str | None = None

    @cached_property
    def run_id(self) -> str:
        return run_id(self.scenario, self.policy, self.seed)

    @property
    def label(self) -> RunLabel:
        return RunLabel(self.run_id, self.policy, self.replication, self.seed, self.values)


def replication_specs(
    scenario: Scenario, replications: int, seed: int, values: Mapping[str, Any] | None = None
) -> list[RunSpec]:
    """Specs of ``replications`` runs of ``scenario`` under its own policy.

    Replication ``r`` gets seed ``seed + r``; ``values`` are the swept values that led to
    ``scenario`` (none for a comparison).
    """
    resolved = scenario.to_dict()
    plain = plain_values(values or {})
    source_dir = str(scenario.source_dir) if scenario.source_dir is not None else None
    return [
        RunSpec(resolved, scenario.policy.name, seed + replication, replication, plain, source_dir)
        for replication in range(replications)
    ]


def plain_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as JSON data, as a store keeps them (numpy numbers unwrapped, tuples as lists)."""
    plain: dict[str, Any] = {}
    for key, value in values.items():
        try:
            plain[key] = json.loads(json.dumps(value, default=_numpy_scalar))
        except (TypeError, ValueError):
            raise InputError(
                f"expected plain data (numbers, strings, lists, mappings), got {value!r}",
                field=key,
            ) from None
    return plain


def _numpy_scalar(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()  # numpy scalars and arrays
    raise TypeError(f"{type(value).__name__} is not plain data")


def cell_value(value: Any) -> Any:
    """A swept value as one frame cell: scalars as they are, lists and mappings as JSON text."""
    return json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else value


@dataclass(frozen=True)
class RunOutput:
    """What one run gave: its summary as plain Python values, its timeseries and events."""

    run_id: str
    summary: dict[str, Any]
    timeseries: pd.DataFrame | None
    sim_version: str = __version__
    events: pd.DataFrame | None = None

    def without_timeseries(self) -> RunOutput:
        return RunOutput(self.run_id, self.summary, None, self.sim_version, None)


def execute(spec: RunSpec) -> RunOutput:
    """Validate the spec's scenario, simulate it (no progress bar) and return its output.

    Top-level and free of global state, so process pools and Dask workers can call it.
    """
    scenario = validate_scenario(spec.scenario, source=f"run {spec.run_id}")
    if spec.source_dir is not None:
        scenario._source_dir = Path(spec.source_dir)
    result = engine.run(scenario, policy=spec.policy, seed=spec.seed, progress=False)
    return RunOutput(
        spec.run_id, plain_summary(result.summary), result.timeseries, events=result.events
    )


def plain_summary(summary: Mapping[Any, Any] | pd.Series) -> dict[str, Any]:
    """Summary values as Python numbers (numpy scalars unwrapped; NaN stays NaN)."""
    return {
        str(key): value.item() if hasattr(value, "item") else value
        for key, value in summary.items()
    }


# --- frames of many runs -----------------------------------------------------------------------


def runs_frame(labels: Sequence[RunLabel], outputs: Mapping[str, RunOutput]) -> pd.DataFrame:
    """One row per labelled run that has an output: labels, every summary key, then ``run_id``.

    Rows follow ``labels``, never the order in which runs finished, so every executor gives
    the same frame.
    """
    rows = [
        {**label.columns(), **outputs[label.run_id].summary, "run_id": label.run_id}
        for label in labels
        if label.run_id in outputs
    ]
    if not rows:
        return pd.DataFrame(columns=[*_label_columns(labels), "run_id"])
    return pd.DataFrame.from_records(rows)


def timeseries_frame(labels: Sequence[RunLabel], outputs: Mapping[str, RunOutput]) -> pd.DataFrame:
    """Every run's timeseries stacked (long format), each row led by its run's label columns."""
    return _stacked(labels, outputs, "timeseries")


def events_frame(labels: Sequence[RunLabel], outputs: Mapping[str, RunOutput]) -> pd.DataFrame:
    """Every run's events stacked (long format), each row led by its run's label columns."""
    return _stacked(labels, outputs, "events")


def _stacked(
    labels: Sequence[RunLabel], outputs: Mapping[str, RunOutput], attribute: str
) -> pd.DataFrame:
    frames = []
    for label in labels:
        output = outputs.get(label.run_id)
        own = getattr(output, attribute) if output is not None else None
        if own is None:
            continue
        frame = own.copy()
        for position, (column, value) in enumerate(label.columns().items()):
            frame.insert(position, column, value)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=_label_columns(labels))
    stacked: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return stacked


def _label_columns(labels: Sequence[RunLabel]) -> list[str]:
    swept = list(labels[0].values) if labels else []
    return [*swept, *LABELS]

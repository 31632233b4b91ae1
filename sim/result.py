"""The outcome of one run: a summary, a timeseries, the events, and how to store them.

``summary`` (a Series) has at least the keys fixed by DESIGN.md; ``timeseries`` has one row per
sample interval, each row describing the interval that *ends* at ``time_s`` (counts and
percentiles over that interval, gauges as of ``time_s``, cost cumulative to ``time_s``);
``events`` has one row per lifecycle change, fault and policy action, each with its reason in
prose and in one machine-readable word (``code``). Every summary key and timeseries column is
declared, with its unit and meaning, in :mod:`sim.measure.metrics`. A result carries its
resolved scenario, policy, seed and the package version, so it can be reproduced.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.config.errors import InputError
from sim.config.loading import validate_scenario
from sim.config.schema import Scenario
from sim.config.yaml_loader import load_yaml
from sim.measure.metrics import SUMMARY_METRICS
from sim.version import __version__

_RESULT_FILES = (
    "scenario.yaml",
    "summary.parquet",
    "timeseries.parquet",
    "events.parquet",
)

SUMMARY_KEYS = tuple(metric.name for metric in SUMMARY_METRICS if metric.required)
"""Keys every summary has (DESIGN.md); more follow them (:data:`SUMMARY_METRICS` has all)."""


@dataclass
class Result:
    """One run's frames, with the scenario, policy and seed that produced them."""

    summary: pd.Series
    timeseries: pd.DataFrame
    events: pd.DataFrame
    scenario: Scenario
    policy: str
    seed: int
    wall_time_s: float
    requests: pd.DataFrame | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.metadata:
            self.metadata = {
                "policy": self.policy,
                "seed": self.seed,
                "scenario": self.scenario.name,
                "sim_version": __version__,
                "python": platform.python_version(),
                "wall_time_s": self.wall_time_s,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            }

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<Result {self.scenario.name} policy={self.policy} seed={self.seed}: "
            f"{int(s['requests'])} requests, p95 {s['latency_p95_s']:.3f} s, "
            f"errors {s['error_rate']:.2%}, ${s['cost_usd']:.2f}>"
        )

    def save(self, directory: str | Path) -> Path:
        """Write Parquet frames, the resolved scenario and ``metadata.json`` to ``directory``."""
        path = Path(directory)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(
                f"cannot create the result directory ({error.strerror})", file=path
            ) from None
        # A column per key with its own type (a NaN alone in an object column would be stored
        # as null and come back as None).
        summary = self.summary.to_frame().T.infer_objects()
        summary.to_parquet(path / "summary.parquet", index=False)
        self.timeseries.to_parquet(path / "timeseries.parquet", index=False)
        self.events.to_parquet(path / "events.parquet", index=False)
        if self.requests is not None:
            self.requests.to_parquet(path / "requests.parquet", index=False)
        (path / "scenario.yaml").write_text(
            yaml.safe_dump(self.scenario.to_dict(), sort_keys=False), encoding="utf-8"
        )
        metadata = dict(self.metadata)
        if self.scenario.source_dir is not None:
            # Relative trace paths in the scenario are relative to the file it came from.
            metadata["scenario_source_dir"] = str(self.scenario.source_dir)
        (path / "metadata.json").write_text(
            json.dumps(metadata, indent=2, sort_keys=True), encoding="utf-8"
        )
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Result:
        """Read a result written by :meth:`save`."""
        path = Path(directory)
        if not (path / "metadata.json").is_file():
            raise InputError("not a saved result (no metadata.json)", file=path)
        missing = [name for name in _RESULT_FILES if not (path / name).is_file()]
        if missing:
            raise InputError(f"incomplete result: {', '.join(missing)} missing", file=path)
        metadata = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
        scenario_data = load_yaml((path / "scenario.yaml").read_text(encoding="utf-8"))
        scenario = validate_scenario(scenario_data, file=path / "scenario.yaml")
        source_dir = metadata.pop("scenario_source_dir", None)
        if source_dir is not None:
            scenario._source_dir = Path(source_dir)
        summary_frame = pd.read_parquet(path / "summary.parquet")
        # Column by column, so that counts stay integers beside the float statistics.
        summary = pd.Series(
            {column: summary_frame[column].iloc[0].item() for column in summary_frame.columns},
            dtype=object,
            name=f"{scenario.name}/{metadata['policy']}/seed={metadata['seed']}",
        )
        requests_path = path / "requests.parquet"
        return cls(
            summary=summary,
            timeseries=pd.read_parquet(path / "timeseries.parquet"),
            events=pd.read_parquet(path / "events.parquet"),
            requests=pd.read_parquet(requests_path) if requests_path.is_file() else None,
            scenario=scenario,
            policy=str(metadata["policy"]),
            seed=int(metadata["seed"]),
            wall_time_s=float(metadata["wall_time_s"]),
            metadata=metadata,
        )

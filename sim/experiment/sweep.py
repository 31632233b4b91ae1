"""Sweep a grid of dotted-key overrides: the cartesian product of the keys that vary."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config.errors import InputError
from sim.config.loading import load_scenario
from sim.config.schema import Scenario
from sim.experiment.compare import check_replications, check_seed
from sim.experiment.runner import experiment_manifest, run_specs
from sim.experiment.runs import plain_values, replication_specs, runs_frame

DEFAULT_REPLICATIONS = 3


def expand_grid(grid: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Split ``grid`` into fixed values and the list of grid points (one dict each).

    A list, tuple, range or numpy array varies; anything else (a number, a string, a
    mapping) is fixed. Strings are never iterated. Points are the cartesian product of the
    varying keys in sorted-key order, each key's values in the order given. To fix a field
    whose value is itself a list, wrap it: ``{"faults": [[...]]}``.
    """
    fixed: dict[str, Any] = {}
    varying: dict[str, list[Any]] = {}
    for key, value in grid.items():
        if not isinstance(key, str) or not key:
            raise InputError(f"expected dotted field names, got {key!r}", field="grid")
        if isinstance(value, np.ndarray) or (
            isinstance(value, Sequence) and not isinstance(value, str | bytes)
        ):
            values = list(value)
            if not values:
                raise InputError("expected at least one value to sweep, got none", field=key)
            varying[key] = values
        else:
            fixed[key] = value
    keys = sorted(varying)
    points = [
        dict(zip(keys, combination, strict=True))
        for combination in itertools.product(*(varying[key] for key in keys))
    ]
    return fixed, points


def sweep(
    scenario: Scenario | str | Path,
    grid: Mapping[str, Any],
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    *,
    executor: str = "process",
    jobs: int | None = None,
    scheduler_address: str | None = None,
    out_dir: str | Path | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Run every point of ``grid`` (dotted keys, see :func:`expand_grid`) ``replications`` times.

    Each point is validated before anything runs, so a bad key or value fails at once with a
    :class:`~sim.ScenarioError` naming it. The policy is each point's ``policy.name`` (sweep
    it like any key). Replication ``r`` uses seed ``seed + r`` at every point (common random
    numbers). Returns a tidy frame, one row per point and replication: one column per swept
    key (lists and mappings as JSON text), ``policy``, ``replication``, ``seed``, every
    summary key, ``run_id``. With ``out_dir`` every run (with its timeseries) is stored as it
    finishes and runs already stored are reused; :func:`~sim.experiment.load_store` reads the
    frame and the timeseries back. Executors as for :func:`~sim.compare`.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    check_replications(replications)
    check_seed(seed)
    fixed, points = expand_grid(grid)
    base = scenario.with_overrides(fixed) if fixed else scenario
    # Every point is validated here, before anything runs.
    scenarios = [base.with_overrides(point) if point else base for point in points]
    specs = [
        spec
        for point, point_scenario in zip(points, scenarios, strict=True)
        for spec in replication_specs(point_scenario, replications, seed, point)
    ]
    labels = [spec.label for spec in specs]
    swept_keys = sorted(points[0]) if points else []
    manifest = experiment_manifest(
        "sweep", base, replications, seed, labels, grid=plain_values(grid), swept_keys=swept_keys
    )
    outputs = run_specs(
        specs,
        manifest,
        executor=executor,
        jobs=jobs,
        scheduler_address=scheduler_address,
        out_dir=out_dir,
        progress=progress,
        description=f"sweep {scenario.name}",
        keep_timeseries=False,
    )
    return runs_frame(labels, outputs)

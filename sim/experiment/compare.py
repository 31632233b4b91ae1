"""Compare capacity policies on one scenario over replications with common random numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from sim.config.errors import InputError
from sim.config.loading import load_scenario, validate_scenario
from sim.config.schema import POLICY_NAMES, Scenario
from sim.experiment.runner import experiment_manifest, run_specs
from sim.experiment.runs import (
    LABELS,
    events_frame,
    replication_specs,
    runs_frame,
    timeseries_frame,
)
from sim.experiment.statistics import metric_columns, paired_differences, summarize
from sim.experiment.store import load_store

DEFAULT_REPLICATIONS = 5


@dataclass(frozen=True, eq=False)
class Comparison:
    """Several policies run on one scenario, replication ``r`` of each with seed ``seed + r``.

    ``runs``: one row per policy and replication: ``policy``, ``replication``, ``seed``, every
    summary key, ``run_id``. ``timeseries``: every run's timeseries stacked, led by ``policy``,
    ``replication`` and ``seed``; ``events`` likewise (scaling actions, faults, lifecycles).
    ``table``: per policy, the mean and 95 % confidence half-width (Student t) of each
    metric. :meth:`paired` compares against a baseline policy
    replication by replication; because a replication gives every policy the same arrivals and
    demands, its intervals are the ones to read when asking which policy is better.
    """

    scenario: Scenario
    runs: pd.DataFrame
    timeseries: pd.DataFrame
    events: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def policies(self) -> list[str]:
        """The policies compared, in the order given."""
        return [str(policy) for policy in self.runs["policy"].unique()]

    @property
    def metrics(self) -> list[str]:
        """The numeric summary keys of the runs (every one the engine reported)."""
        return metric_columns(self.runs, exclude=LABELS)

    @cached_property
    def table(self) -> pd.DataFrame:
        """Per policy (rows), each metric's mean and 95 % half-width.

        Columns are two levels, (metric, statistic) with statistic ``mean`` or ``ci95``:
        ``table["cost_usd"]`` is one metric, ``table.xs("mean", axis=1, level="statistic")``
        all means. The interval is ``mean ± ci95``; ``ci95`` is NaN with one replication.
        """
        return summarize(self.runs, "policy", self.metrics)

    def differences(self, baseline: str) -> pd.DataFrame:
        """Per policy and replication, each metric minus the baseline's in that replication."""
        return paired_differences(self.runs, baseline, self.metrics)

    def paired(self, baseline: str) -> pd.DataFrame:
        """Per policy other than ``baseline``: mean difference to it and its 95 % half-width.

        Shaped like :attr:`table`, but ``mean`` is the mean of ``policy − baseline`` over
        replications matched by seed, and ``ci95`` the Student-t half-width of that mean. An
        interval ``mean ± ci95`` that excludes 0 is a difference at the 5 % level.
        """
        return summarize(self.differences(baseline), "policy", self.metrics)

    @classmethod
    def load(cls, directory: str | Path) -> Comparison:
        """The comparison stored in ``directory`` by ``compare(..., out_dir=directory)``."""
        stored = load_store(directory)
        if stored.manifest.get("kind") != "compare":
            raise InputError("expected a store written by compare", file=directory)
        if stored.missing:
            total = len(stored.manifest["runs"])
            raise InputError(
                f"{len(stored.missing)} of {total} runs are not stored yet; "
                "run the comparison again to finish them",
                file=directory,
            )
        scenario = validate_scenario(stored.manifest["scenario"], file=directory)
        source_dir = stored.manifest.get("source_dir")
        if source_dir is not None:
            scenario._source_dir = Path(source_dir)
        return cls(scenario, stored.runs, stored.timeseries, stored.events)

    def __repr__(self) -> str:
        replications = self.runs["replication"].nunique() if len(self.runs) else 0
        return (
            f"<Comparison {self.scenario.name}: {', '.join(self.policies)}; "
            f"{replications} replication{'s' if replications != 1 else ''}>"
        )


def compare(
    scenario: Scenario | str | Path,
    policies: Sequence[str] | None = None,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    *,
    executor: str = "process",
    jobs: int | None = None,
    scheduler_address: str | None = None,
    out_dir: str | Path | None = None,
    progress: bool | None = None,
) -> Comparison:
    """Run ``scenario`` under each policy (default: all five), ``replications`` times each.

    Replication ``r`` uses seed ``seed + r`` for every policy (common random numbers), so the
    policies face identical traffic and their differences are paired. ``executor`` is
    ``serial``, ``process`` (default: ``jobs`` worker processes, one per core) or ``dask``
    (a scheduler at ``scheduler_address``, or a local cluster of ``jobs`` workers). With
    ``out_dir`` every run is stored as it finishes and runs already there are not repeated.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    names = check_policies(policies)
    check_replications(replications)
    check_seed(seed)
    specs = [
        spec
        for policy in names
        for spec in replication_specs(_under(scenario, policy), replications, seed)
    ]
    labels = [spec.label for spec in specs]
    manifest = experiment_manifest("compare", scenario, replications, seed, labels, policies=names)
    outputs = run_specs(
        specs,
        manifest,
        executor=executor,
        jobs=jobs,
        scheduler_address=scheduler_address,
        out_dir=out_dir,
        progress=progress,
        description=f"compare {scenario.name}",
    )
    return Comparison(
        scenario,
        runs_frame(labels, outputs),
        timeseries_frame(labels, outputs),
        events_frame(labels, outputs),
    )


def _under(scenario: Scenario, policy: str) -> Scenario:
    if policy == scenario.policy.name:
        return scenario
    return scenario.with_overrides({"policy.name": policy})


def check_policies(policies: Sequence[str] | None) -> list[str]:
    """The policy names to compare: known, distinct, at least one."""
    if policies is None:
        return list(POLICY_NAMES)
    if isinstance(policies, str):
        policies = [policies]
    names = list(policies)
    if not names:
        raise InputError("expected at least one policy", field="policies")
    for name in names:
        if name not in POLICY_NAMES:
            raise InputError(
                f"expected one of {', '.join(POLICY_NAMES)}, got {name!r}", field="policies"
            )
    if len(set(names)) != len(names):
        raise InputError("each policy may appear once", field="policies")
    return names


def check_replications(replications: int) -> None:
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise InputError(f"expected 1 or more, got {replications!r}", field="replications")


def check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"expected a whole number 0 or more, got {seed!r}", field="seed")

"""The loop every experiment shares: skip stored runs, execute the rest, store each as it ends."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sim.config.schema import Scenario
from sim.experiment.executors import execute_all
from sim.experiment.runs import RunLabel, RunOutput, RunSpec
from sim.experiment.store import RunStore


def run_specs(
    specs: Sequence[RunSpec],
    manifest: dict[str, Any],
    *,
    executor: str,
    jobs: int | None,
    scheduler_address: str | None,
    out_dir: str | Path | None,
    progress: bool | None,
    description: str,
    keep_timeseries: bool = True,
) -> dict[str, RunOutput]:
    """Outputs of ``specs`` by run id, reading stored runs and executing the others.

    With ``out_dir``, the manifest is written first and each run is stored the moment it
    finishes. Specs that share a run id (grid points that resolve to the same scenario) run
    once. Runs start replication by replication, so that a store holds whole replications
    as early as possible. ``progress`` shows a bar over runs on stderr; by default only on a
    terminal.
    """
    unique = {spec.run_id: spec for spec in specs}
    store = RunStore(out_dir) if out_dir is not None else None
    outputs: dict[str, RunOutput] = {}
    if store is not None:
        for run_id in unique:
            if store.has(run_id):
                outputs[run_id] = store.read(run_id, timeseries=keep_timeseries)
    pending = sorted(
        (spec for run_id, spec in unique.items() if run_id not in outputs),
        key=lambda spec: spec.replication,
    )
    finished = execute_all(pending, executor, jobs=jobs, scheduler_address=scheduler_address)
    if store is not None:
        store.prepare(manifest)  # only once the executor's options are known to be good
    with (
        closing(finished),
        tqdm(
            total=len(unique),
            initial=len(outputs),
            unit="run",
            desc=description,
            disable=progress is False or (progress is None and not sys.stderr.isatty()),
            postfix=f"{len(outputs)} already stored" if outputs else None,
            dynamic_ncols=True,
        ) as bar,
    ):
        for output in finished:
            if store is not None:
                store.write(unique[output.run_id], output)
            outputs[output.run_id] = output if keep_timeseries else output.without_timeseries()
            bar.update()
    return outputs


def experiment_manifest(
    kind: str,
    scenario: Scenario,
    replications: int,
    seed: int,
    labels: Sequence[RunLabel],
    **details: Any,
) -> dict[str, Any]:
    """What a store records about an experiment: enough to rebuild its frames and rerun it."""
    return {
        "kind": kind,
        "scenario": scenario.to_dict(),
        "source_dir": str(scenario.source_dir) if scenario.source_dir else None,
        **details,
        "replications": replications,
        "seed": seed,
        "seeds": [seed + replication for replication in range(replications)],
        "runs": [label.to_dict() for label in labels],
    }

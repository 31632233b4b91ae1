"""Experiments over many runs: compare policies, sweep a grid of overrides, keep the results.

``compare`` runs one scenario under several policies and replications and summarises them
with Student-t confidence intervals, paired by seed; ``sweep`` runs the cartesian product of
dotted-key overrides; both run on an executor (``serial``, ``process``, ``dask``) and can keep
every finished run in a results store that a later call resumes and :func:`load_store` reads.
"""

from sim.experiment.compare import Comparison, compare
from sim.experiment.executors import EXECUTORS
from sim.experiment.statistics import summarize
from sim.experiment.store import StoredRuns, executed_run_ids, load_store
from sim.experiment.sweep import expand_grid, sweep

__all__ = [
    "EXECUTORS",
    "Comparison",
    "StoredRuns",
    "compare",
    "executed_run_ids",
    "expand_grid",
    "load_store",
    "summarize",
    "sweep",
]

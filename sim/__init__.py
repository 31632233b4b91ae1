"""``sim``: discrete-event capacity planning for a containerised web service.

Load a scenario, run it under a capacity policy, read the frames::

    import sim
    scenario = sim.load_scenario("scenarios/booking_surge.yaml")
    result = sim.run(scenario, policy="static", seed=1)
    result.summary, result.timeseries, result.events
    comparison = sim.compare(scenario, replications=5, seed=1)
    sim.report(comparison, "reports/booking")
"""

from pathlib import Path
from typing import Any

from sim.config import InputError, Scenario, ScenarioError, TraceError, load_scenario
from sim.engine import run
from sim.experiment import Comparison, compare, sweep
from sim.result import Result
from sim.version import __version__


def report(comparison: Comparison, out_dir: str | Path, **options: Any) -> Path:
    """Write the capacity-planning report of ``comparison`` (see :mod:`sim.reporting`).

    Imported on first use, so that ``import sim`` does not load matplotlib.
    """
    from sim.reporting import report as write_report

    return write_report(comparison, out_dir, **options)


__all__ = [
    "Comparison",
    "InputError",
    "Result",
    "Scenario",
    "ScenarioError",
    "TraceError",
    "__version__",
    "compare",
    "load_scenario",
    "report",
    "run",
    "sweep",
]

"""``sim``: discrete-event capacity planning for a containerised web service.

Load a scenario, run it under a capacity policy, read the frames::

    import sim
    scenario = sim.load_scenario("scenarios/booking_surge.yaml")
    result = sim.run(scenario, policy="static", seed=1)
    result.summary, result.timeseries, result.events
"""

from sim.config import InputError, Scenario, ScenarioError, TraceError, load_scenario
from sim.engine import run
from sim.experiment import Comparison, compare, sweep
from sim.result import Result
from sim.version import __version__

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
    "run",
    "sweep",
]

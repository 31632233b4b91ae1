"""Scenario schema, loading, overrides and input errors: the bottom layer of ``sim``."""

from sim.config.errors import InputError, ScenarioError, TraceError
from sim.config.loading import load_scenario, validate_scenario
from sim.config.schema import Scenario

__all__ = [
    "InputError",
    "Scenario",
    "ScenarioError",
    "TraceError",
    "load_scenario",
    "validate_scenario",
]

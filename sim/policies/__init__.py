"""Capacity policies: pure decision functions over :class:`Observation` snapshots."""

from sim.policies.base import Action, Decision, Observation, PolicySetup

__all__ = ["Action", "Decision", "Observation", "PolicySetup"]

"""Every capacity policy, as it describes itself: from a scenario's ``policy`` block to a run.

Each policy module declares a :class:`~sim.policies.base.PolicySpec` named ``POLICY``: its
settings model, how to build its control plane and world rules, its capacity ceiling for the
planner, and its defaults in prose with their sources for the report. This module only
collects them; nothing else branches on a policy's name. The names themselves are written
once, in the scenario schema (:data:`sim.config.schema.POLICY_NAMES`); the tests check that
every name has its module here.
"""

from __future__ import annotations

from sim.config.codes import SHARED_CODES, WORLD_CODES, Code, merge_codes
from sim.config.schema import Scenario
from sim.policies import kubernetes, scale_out, scale_up, static, swarm
from sim.policies.base import PolicySetup, PolicySpec, Streams

POLICIES: dict[str, PolicySpec] = {
    module.POLICY.name: module.POLICY for module in (static, scale_up, scale_out, swarm, kubernetes)
}

CODES: dict[str, Code] = merge_codes(
    SHARED_CODES, WORLD_CODES, *(spec.codes for spec in POLICIES.values())
)
"""Every code an event or a decision can carry: the world's, the shared ones, each policy's."""


def policy_spec(name: str) -> PolicySpec:
    """The policy called ``name`` (one of :data:`~sim.config.schema.POLICY_NAMES`)."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"expected a policy among {', '.join(POLICIES)}, got {name!r}") from None


def make_setup(scenario: Scenario, rngs: Streams) -> PolicySetup:
    """The control plane and world rules of ``scenario.policy.name``."""
    return policy_spec(scenario.policy.name).build(scenario, rngs)

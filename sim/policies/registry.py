"""From a scenario's ``policy`` block to the :class:`PolicySetup` the engine runs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.config.schema import Scenario
from sim.policies import kubernetes, scale_out, scale_up, static, swarm
from sim.policies.base import PolicySetup

Streams = dict[str, np.random.Generator]


def make_setup(scenario: Scenario, rngs: Streams) -> PolicySetup:
    """The controllers, placement and recovery rules of ``scenario.policy.name``."""
    builders: dict[str, Callable[[Scenario, Streams], PolicySetup]] = {
        "static": lambda scenario, rngs: static.setup(),
        "kubernetes": lambda scenario, rngs: kubernetes.setup(scenario, rngs["controllers"]),
        "swarm": lambda scenario, rngs: swarm.setup(
            scenario, rngs["controllers"], rngs["operator"]
        ),
        "scale_out": lambda scenario, rngs: scale_out.setup(scenario, rngs["controllers"]),
        "scale_up": lambda scenario, rngs: scale_up.setup(
            scenario, rngs["controllers"], rngs["boot"]
        ),
    }
    return builders[scenario.policy.name](scenario, rngs)

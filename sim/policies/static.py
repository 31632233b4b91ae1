"""``static``: nothing changes. The replicas and nodes the scenario starts with are all there is.

It is the baseline every other policy is compared with: what happens if the team buys
capacity for today's traffic and does nothing when the surge comes. Requests are balanced
round robin, as an application load balancer does by default; a dead machine keeps receiving
requests until the balancer's health check gives up on it (AWS ALB defaults: a check every
30 s, unhealthy after 2 failures), and nothing replaces it.
"""

from __future__ import annotations

from sim.config.rules import WorldRules
from sim.config.schema import Scenario
from sim.policies.base import CapacityCeiling, PolicySetup, PolicySpec, Streams
from sim.policies.load_balancer import ALB_HEALTH_CHECK_INTERVAL_S, ALB_UNHEALTHY_THRESHOLD


def setup(scenario: Scenario, rngs: Streams) -> PolicySetup:
    """No controllers; replicas spread over the nodes by the default placement."""
    return PolicySetup(
        name="static",
        balancer="round_robin",
        rules=WorldRules(failure_detection_s=ALB_HEALTH_CHECK_INTERVAL_S * ALB_UNHEALTHY_THRESHOLD),
    )


def capacity_ceiling(scenario: Scenario) -> CapacityCeiling:
    """The replicas and nodes it starts with."""
    return CapacityCeiling(
        max_replicas=scenario.service.initial_replicas, max_nodes=scenario.cluster.initial_nodes
    )


POLICY = PolicySpec(
    name="static",
    settings=None,
    build=setup,
    capacity_ceiling=capacity_ceiling,
    defaults=(
        "Nothing changes; an application load balancer (round robin) stops sending to a dead "
        "node after its health check fails twice, 30 s apart."
    ),
    sources="AWS Elastic Load Balancing target-group defaults",
)

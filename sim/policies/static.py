"""``static``: nothing changes. The replicas and nodes the scenario starts with are all there is.

It is the baseline every other policy is compared with: what happens if the team buys
capacity for today's traffic and does nothing when the surge comes. Requests are balanced
round robin, as an application load balancer does by default; a dead machine keeps receiving
requests until the balancer's health check gives up on it (AWS ALB defaults: a check every
30 s, unhealthy after 2 failures), and nothing replaces it.
"""

from __future__ import annotations

from sim.policies.base import PolicySetup
from sim.policies.load_balancer import ALB_HEALTH_CHECK_INTERVAL_S, ALB_UNHEALTHY_THRESHOLD


def setup() -> PolicySetup:
    """No controllers; replicas spread over the nodes by the engine's default placement."""
    return PolicySetup(
        name="static",
        balancer="round_robin",
        failure_detection_s=ALB_HEALTH_CHECK_INTERVAL_S * ALB_UNHEALTHY_THRESHOLD,
    )

"""``static``: nothing changes. The replicas and nodes the scenario starts with are all there is.

It is the baseline every other policy is compared with: what happens if the team buys
capacity for today's traffic and does nothing when the surge comes. Requests are balanced
round robin, as an application load balancer does by default.
"""

from __future__ import annotations

from sim.policies.base import PolicySetup


def setup() -> PolicySetup:
    """No controllers; replicas spread over the nodes by the engine's default placement."""
    return PolicySetup(name="static", balancer="round_robin")

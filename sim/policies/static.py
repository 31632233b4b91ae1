"""``static``: nothing changes. The replicas and nodes the scenario starts with are all there is.

It is the baseline every other policy is compared with: what happens if the team buys
capacity for today's traffic and does nothing when the surge comes.
"""

from __future__ import annotations

from sim.policies.base import Decision, Observation, PolicySetup

SETUP = PolicySetup(name="static", period_s=None)


def decide(observation: Observation) -> Decision:
    """Never acts."""
    return Decision(reason="static: capacity is fixed")

"""The rules of the world a policy runs in: how replicas are kept, recovered and made ready.

A policy brings two things to a run. Its *control plane* (controllers, placement, routing,
metrics: :class:`sim.policies.base.PolicySetup`) decides; the *rules* here say how the
simulated world carries those decisions out and lives through faults on its own — whether a
deployment replaces lost replicas, how long a dead node keeps receiving requests, when a
started container counts as ready. The model reads only these rules, so it never needs the
policies that chose them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.config.distributions import Distribution


@dataclass(frozen=True)
class WorldRules:
    """How the world keeps, recovers and readies replicas under one policy.

    Replicas are kept either as a deployment (a desired count placed by the control plane's
    scheduler; lost replicas replaced when ``replace_lost_replicas``, after
    ``replacement_delay_s``) or, when ``replicas_per_node`` is set, as that many containers on
    every ready node (VM groups, vertical scaling). ``workers_per_core`` sizes each such
    container's worker count by its machine, as a Compose file whose worker count follows
    ``nproc`` does.

    ``failure_detection_s``: when no controller handles node failures, how long the balancer
    keeps sending requests to a dead node's replicas (its health check). A replica becomes
    ready at the first readiness probe (``readiness_initial_delay_s`` after it starts, then
    every ``readiness_period_s``; 0: at once) that finds the application up, after
    ``readiness_successes`` consecutive successes. A crashed container restarts in place after
    ``restart_delay_s``. ``manager_nodes`` of the initial nodes are Swarm managers, running no
    tasks when ``drain_managers``. ``resize_downtime`` is how long a resized machine stays
    stopped (vertical scaling only).
    """

    replicas_per_node: int | None = None
    replace_lost_replicas: bool = False
    replacement_delay_s: float = 0.0
    failure_detection_s: float | None = None
    readiness_initial_delay_s: float = 0.0
    readiness_period_s: float = 0.0
    readiness_successes: int = 1
    restart_delay_s: float = 0.0
    workers_per_core: int | None = None
    manager_nodes: int = 0
    drain_managers: bool = False
    resize_downtime: Distribution | None = None

"""What a capacity policy sees and what it may decide: plain data, no SimPy.

A policy's controller wakes on its period; the engine hands it an :class:`Observation` (a
snapshot of the cluster) and applies the :class:`Decision` it returns, logging each action
with the decision's reason in ``Result.events``. Policies are pure functions of the snapshot,
so their tests are tables of snapshots and expected decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Observation:
    """A snapshot of the system at ``now_s``."""

    now_s: float
    replicas_desired: int
    replicas_ready: int
    replicas_starting: int
    replicas_pending: int
    nodes_ready: int
    nodes_provisioning: int
    arrival_rate_rps: float
    latency_p95_s: float
    cpu_utilization: float


@dataclass(frozen=True)
class Action:
    """One change: ``kind`` names it (``set_replicas``, ``add_nodes``, ...), ``value`` sizes it."""

    kind: str
    value: int | float | str
    target: str = ""


@dataclass(frozen=True)
class Decision:
    """The actions a controller chose, and why (the reason is logged with each action)."""

    actions: tuple[Action, ...] = ()
    reason: str = ""


@dataclass
class PolicySetup:
    """How a policy wants the run built: where replicas go and how often it is asked."""

    name: str
    period_s: float | None = None
    notes: list[str] = field(default_factory=list)

"""Every code an event or a decision can carry: who emits it, what it means, where the word
comes from.

A code is the machine-readable twin of a reason (:class:`~sim.policies.base.Decision`): one
CamelCase word, so that ``events.groupby("code")`` counts decisions and world changes
without parsing prose. Where the real system has a word for the situation — an HPA condition
reason, a cluster-autoscaler or kubelet event reason, a CloudWatch alarm state — the code is
that word; where it has none, the word is coined here and ``source`` says so.

Policies write their codes as literals beside their reasons; the model writes the codes of
what happens on its own (a node becoming ready, a replica placed or gone, a fault). The tests
check that every code a run produces, and every code literal in the policies, is listed
below.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """One row of the table: who ``emits`` the code (event sources or controllers), what it
    ``means``, and the ``source`` of the word (``coined`` when no real system uses it)."""

    emits: str
    means: str
    source: str


CODES: dict[str, Code] = {}
"""Every code, by name (the table is grouped by who emits it)."""

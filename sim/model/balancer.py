"""The load balancer: each request goes to one routable replica, or is refused (503).

* ``round_robin``: the Docker Swarm routing mesh and Kubernetes IPVS mode (IPVS ``rr``).
* ``random``: kube-proxy in iptables mode, a uniform pick per connection.
* ``least_connections``: the replica with the fewest requests in flight (IPVS ``lc``; ties go
  to the replica that became routable first).
* ``power_of_two_choices``: two distinct replicas at random, the less loaded of them
  (Mitzenmacher 2001; NGINX ``random two least_conn``).

Random picks use the run's ``balancer`` stream, drawn in bulk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.config.schema import BalancerAlgorithm

if TYPE_CHECKING:
    from sim.model.container import Container, DeadReplica
    from sim.model.node import Node

_DRAW_BATCH = 65536
_PICK_CHUNK = 1024  # random picks computed ahead for the current number of replicas


class Balancer:
    """The routable replicas, in the order they became routable."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.routable: list[Container] = []
        self._rng = rng
        self._uniforms: list[float] = []
        self._next_uniform = 0

    def add(self, container: Container) -> None:
        container.routable = True
        self.routable.append(container)
        self._changed()

    def remove(self, container: Container) -> None:
        container.routable = False
        if container in self.routable:
            self.routable.remove(container)
            self._changed()

    def remove_node(self, node: Node) -> None:
        """Stop routing to every replica on ``node``, dead stand-ins included."""
        kept = []
        for replica in self.routable:
            if replica.node is node:
                replica.routable = False
            else:
                kept.append(replica)
        self.routable[:] = kept
        self._changed()

    def stand_in(self, container: Container, stand_in: Container | DeadReplica) -> None:
        """Route to ``stand_in`` wherever ``container`` was routed (the replica count stays)."""
        position = self.routable.index(container)
        self.routable[position] = stand_in  # type: ignore[assignment]

    def _changed(self) -> None:
        """The routable set changed (a hook for balancers that plan ahead)."""

    def pick(self) -> Container | None:
        """The replica for the next request, or None when none is routable."""
        raise NotImplementedError

    def _uniform(self) -> float:
        if self._next_uniform >= len(self._uniforms):
            self._uniforms = self._rng.random(_DRAW_BATCH).tolist()
            self._next_uniform = 0
        value = self._uniforms[self._next_uniform]
        self._next_uniform += 1
        return value


class RoundRobin(Balancer):
    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__(rng)
        self._position = 0

    def pick(self) -> Container | None:
        routable = self.routable
        if not routable:
            return None
        position = self._position
        if position >= len(routable):
            position = 0
        self._position = position + 1
        return routable[position]


class Random(Balancer):
    """A uniform pick: replica ``int(u × n)`` for the next uniform ``u`` of the stream.

    The picks are computed ahead, a chunk at a time, for the number of routable replicas
    ``n`` of the moment; a change of the routable set recomputes them from the first unused
    uniform, so each request still gets the pick its own uniform gives.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__(rng)
        self._uniform_array = np.empty(0)
        self._picks: list[int] = []
        self._next_pick = 0
        self._chunk_start = 0  # the position in _uniform_array of _picks[0]
        self._next_in_array = 0  # the first uniform of _uniform_array no pick has used

    def _changed(self) -> None:
        """Forget the picks computed for the old replica count (their uniforms stay unused)."""
        self._next_in_array = self._chunk_start = self._chunk_start + self._next_pick
        self._picks = []
        self._next_pick = 0

    def _refill(self) -> None:
        if self._next_in_array >= len(self._uniform_array):
            self._uniform_array = self._rng.random(_DRAW_BATCH)
            self._next_in_array = 0
        start = self._next_in_array
        chunk = self._uniform_array[start : start + _PICK_CHUNK]
        self._picks = (chunk * len(self.routable)).astype(np.int64).tolist()
        self._chunk_start = start
        self._next_pick = 0
        self._next_in_array = start + len(chunk)

    def pick(self) -> Container | None:
        routable = self.routable
        if not routable:
            return None
        position = self._next_pick
        if position >= len(self._picks):
            self._refill()
            position = 0
        self._next_pick = position + 1
        return routable[self._picks[position]]


class LeastConnections(Balancer):
    def pick(self) -> Container | None:
        routable = self.routable
        if not routable:
            return None
        best = routable[0]
        best_load = best.busy + len(best.queue)
        for container in routable:
            load = container.busy + len(container.queue)
            if load < best_load:
                best, best_load = container, load
        return best


class PowerOfTwoChoices(Balancer):
    def pick(self) -> Container | None:
        routable = self.routable
        count = len(routable)
        if count < 2:
            return routable[0] if routable else None
        first = int(self._uniform() * count)
        second = int(self._uniform() * (count - 1))
        if second >= first:
            second += 1  # two distinct replicas
        a, b = routable[first], routable[second]
        return b if b.busy + len(b.queue) < a.busy + len(a.queue) else a


ALGORITHMS: dict[BalancerAlgorithm, type[Balancer]] = {
    "round_robin": RoundRobin,
    "random": Random,
    "least_connections": LeastConnections,
    "power_of_two_choices": PowerOfTwoChoices,
}


def make_balancer(algorithm: BalancerAlgorithm, rng: np.random.Generator) -> Balancer:
    """The balancer named in the scenario (``load_balancer.algorithm``)."""
    return ALGORITHMS[algorithm](rng)

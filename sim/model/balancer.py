"""The load balancer: each request goes to one routable replica, or is refused (503).

* ``round_robin``: the Docker Swarm routing mesh and Kubernetes IPVS mode (IPVS ``rr``).
* ``random``: kube-proxy in iptables mode, a uniform pick per connection.
* ``least_connections``: the replica with the fewest requests in flight (IPVS ``lc``; ties go
  to the replica that became routable first).
* ``power_of_two_choices``: two distinct replicas at random, the less loaded of them
  (Mitzenmacher 2001; NGINX ``random two least_conn``).

Random picks use the run's ``balancer`` stream, drawn in bulk.

With ``load_balancer.connections`` set, clients keep connections open (HTTP keep-alive,
HTTP/2) and :class:`KeepAlive` balances connections, not requests: the algorithm picks a
replica when a connection opens, and the connection carries requests there until it is
recycled.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import simpy

from sim.config.schema import BalancerAlgorithm, Connections

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


class KeepAlive(Balancer):
    """Clients holding ``count`` open connections, each pinned to the replica it opened to.

    Requests take the connections in turn (clients alike, each on its own connection). A
    connection is opened again — the inner algorithm picks its replica then — after
    ``requests_per_connection`` requests or ``max_age_s``, or when its replica stops being
    routable (removed, drained, dead and noticed) or listening (its machine is dead: the
    client's request on it failed, and the client opens a new connection). So replicas added
    by a scale-out receive traffic only as connections turn over: what layer-4 balancing
    (kube-proxy, the Swarm routing mesh) does to keep-alive and HTTP/2 clients (Kubernetes
    docs, "Virtual IPs and Service Proxies").
    """

    def __init__(self, inner: Balancer, settings: Connections, clock: simpy.Environment) -> None:
        super().__init__(inner._rng)
        self._inner = inner
        self.routable = inner.routable  # one list: the inner balancer keeps it
        self._clock = clock
        self._replicas: list[Container | None] = [None] * settings.count
        self._requests_left = [0] * settings.count
        self._opened_s = [0.0] * settings.count
        self._per_connection = settings.requests_per_connection or 2**62
        self._max_age_s = settings.max_age_s if settings.max_age_s is not None else math.inf
        self._next = 0
        self.opened = 0  # connections opened so far

    def add(self, container: Container) -> None:
        self._inner.add(container)

    def remove(self, container: Container) -> None:
        self._inner.remove(container)

    def remove_node(self, node: Node) -> None:
        self._inner.remove_node(node)

    def stand_in(self, container: Container, stand_in: Container | DeadReplica) -> None:
        self._inner.stand_in(container, stand_in)

    def pick(self) -> Container | None:
        connection = self._next
        self._next = connection + 1 if connection + 1 < len(self._replicas) else 0
        replica = self._replicas[connection]
        left = self._requests_left[connection]
        if (
            replica is None
            or not left
            or not replica.routable
            or not replica.listening  # a dead machine: the client gives up on it, reconnects
            or self._clock.now - self._opened_s[connection] >= self._max_age_s
        ):
            replica = self._inner.pick()
            if replica is None:
                return None
            self._replicas[connection] = replica
            self._opened_s[connection] = float(self._clock.now)
            left = self._per_connection
            self.opened += 1
        self._requests_left[connection] = left - 1
        return replica


ALGORITHMS: dict[BalancerAlgorithm, type[Balancer]] = {
    "round_robin": RoundRobin,
    "random": Random,
    "least_connections": LeastConnections,
    "power_of_two_choices": PowerOfTwoChoices,
}


def make_balancer(
    algorithm: BalancerAlgorithm,
    rng: np.random.Generator,
    connections: Connections | None = None,
    clock: simpy.Environment | None = None,
) -> Balancer:
    """The balancer named in the scenario (``load_balancer.algorithm``), per connection
    where clients keep them open (``load_balancer.connections``)."""
    balancer = ALGORITHMS[algorithm](rng)
    if connections is None:
        return balancer
    assert clock is not None, "keep-alive connections age by the run's clock"
    return KeepAlive(balancer, connections, clock)

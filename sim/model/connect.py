"""Connections nobody answers: a full listen backlog, a dead machine.

Two things in a real network are silent rather than an error:

* **A full listen backlog** (``overflow: drop``). Linux drops the SYN; the client's kernel
  sends it again after 1 s, then 2 s, 4 s … (RFC 6298's initial retransmission timeout,
  doubled each time). Each SYN that finds room in the backlog gets the connection through,
  late; if none does before the client's connect timeout, the client counts a connection
  error (``rejected_connect``).
* **A dead machine** (a crashed node's replicas, until the balancer stops routing to them).
  Nothing answers at all: the client waits out its connect timeout.

Where the balancer is a proxy that tries the next upstream (``load_balancer.next_upstream``,
as ingress-nginx and Envoy do), it is the proxy that waits — its own, shorter connect
timeout — and then sends the request to the replica it picks next, up to its number of
tries; after the last it answers the client 504 (counted with ``rejected_fault``).

The client's own ``timeout_s`` still bounds the whole request: whichever comes first ends it.
A latency counts from the request's first SYN, so a connection that got through late shows
the wait. Only requests that meet a silent peer come here; the request path of answered
connections is untouched. Each waiting connection is an entry on the request lane's schedule
(this object stands where a container's departure would: the lane calls :meth:`depart`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.model.recorder import CONNECT_FAILED, FAULT, NO_REPLICA

if TYPE_CHECKING:
    from sim.model.balancer import Balancer
    from sim.model.container import Container, DeadReplica
    from sim.model.kernel import RequestLane
    from sim.model.recorder import Recorder

SYN_RTO_S = 1.0
"""The first SYN retransmission timeout (RFC 6298 §2; Linux ``TCP_TIMEOUT_INIT``), doubled
after each retransmission."""

# A waiting connection is a list, so that it can be marked settled in place.
ARRIVAL_S = 0  # when the client sent the request (its first SYN)
DEMAND_S = 1
ENDPOINT = 2  # the endpoint code (with the attempt number, see sim.model.retries)
TARGET = 3  # the replica (or dead stand-in) being connected to
STARTED_S = 4  # when this connection attempt began (the proxy's, after a next-upstream)
SYNS = 5  # SYNs sent to the target so far
TRIES = 6  # replicas tried so far (the proxy's count)
LIVE = 7  # False once settled


class Connector:
    """Every connection of one run that is waiting for an answer."""

    __slots__ = (
        "_balancer",
        "_connect_s",
        "_lane",
        "_recorder",
        "_timeout_s",
        "_tries",
        "_waiting",
    )

    def __init__(
        self,
        *,
        lane: RequestLane,
        balancer: Balancer,
        recorder: Recorder,
        timeout_s: float,
        connect_timeout_s: float,
        next_upstream_tries: int = 0,
        proxy_connect_timeout_s: float = 5.0,
    ) -> None:
        self._lane = lane
        self._balancer = balancer
        self._recorder = recorder
        self._timeout_s = timeout_s
        self._tries = next_upstream_tries  # 0: the balancer does not try another replica
        # Whose connect timeout counts: the proxy's where it tries another replica.
        self._connect_s = proxy_connect_timeout_s if next_upstream_tries else connect_timeout_s
        self._waiting: dict[int, list[Any]] = {}

    # --- what the containers and dead stand-ins report ------------------------------------------

    def dropped(
        self, now: float, arrival_s: float, demand_s: float, endpoint: int, container: Container
    ) -> None:
        """A SYN ``container``'s full backlog dropped at ``now`` (the first, for a new request)."""
        self._wait([arrival_s, demand_s, endpoint, container, now, 1, 1, True], now)

    def unanswered(self, now: float, demand_s: float, endpoint: int, dead: DeadReplica) -> None:
        """A request sent at ``now`` to a dead machine's replica."""
        self._wait([now, demand_s, endpoint, dead, now, 1, 1, True], now)

    # --- the lane's call ---------------------------------------------------------------------

    def depart(self, now: float, waiting: list[Any]) -> None:
        """At a retransmission, or when someone's patience ran out: go on, or give up."""
        if not waiting[LIVE]:
            return
        arrival_s = waiting[ARRIVAL_S]
        if now >= arrival_s + self._timeout_s:  # the client gave up on the whole request
            self._settle(waiting)
            self._recorder.time_out(now, arrival_s, waiting[ENDPOINT], waiting[TARGET].index)
            return
        if now < waiting[STARTED_S] + self._connect_s:  # a SYN retransmission
            waiting[SYNS] += 1
            if waiting[TARGET].admit(now, arrival_s, waiting[DEMAND_S], waiting[ENDPOINT]):
                self._settle(waiting)
            else:
                self._schedule(waiting, now)
            return
        if self._tries and waiting[TRIES] < self._tries:  # the proxy tries the next replica
            # The proxy picks while this connection still counts against the silent replica,
            # and tries another where it can.
            target = self._balancer.pick()
            if target is waiting[TARGET]:
                target = self._balancer.pick()
            self._settle(waiting)
            if target is None:
                self._recorder.reject(now, arrival_s, waiting[ENDPOINT], -1, NO_REPLICA)
                return
            tries = waiting[TRIES] + 1
            retry = [arrival_s, waiting[DEMAND_S], waiting[ENDPOINT], target, now, 1, tries, True]
            if not target.admit(now, arrival_s, waiting[DEMAND_S], waiting[ENDPOINT]):
                self._wait(retry, now)
            return
        self._settle(waiting)
        # No answer in time: the client's connection error, or the proxy's 504 after its tries.
        reason = FAULT if self._tries else CONNECT_FAILED
        self._recorder.reject(now, arrival_s, waiting[ENDPOINT], waiting[TARGET].index, reason)

    # --- bookkeeping ---------------------------------------------------------------------------

    def _wait(self, waiting: list[Any], now: float) -> None:
        self._waiting[id(waiting)] = waiting
        waiting[TARGET].connecting += 1  # the balancer's measure of its load
        self._schedule(waiting, now)

    def _schedule(self, waiting: list[Any], now: float) -> None:
        """The next thing that can happen: a retransmission (to a live backlog), the end of
        the connect timeout, or the end of the client's patience."""
        started_s = waiting[STARTED_S]
        next_s = started_s + self._connect_s
        patience_s = waiting[ARRIVAL_S] + self._timeout_s
        if patience_s < next_s:
            next_s = patience_s
        if waiting[TARGET].listening:
            syn_s = started_s + SYN_RTO_S * (2.0 ** waiting[SYNS] - 1.0)
            if syn_s < next_s:
                next_s = syn_s
        self._lane.depart_at(next_s if next_s > now else now, self, waiting)  # type: ignore[arg-type]

    def _settle(self, waiting: list[Any]) -> None:
        waiting[LIVE] = False
        waiting[TARGET].connecting -= 1
        del self._waiting[id(waiting)]

    def requests_in_flight(self) -> list[tuple[float, int, int]]:
        """``(arrival_s, endpoint, replica index)`` of every connection still waiting."""
        return [
            (waiting[ARRIVAL_S], waiting[ENDPOINT], waiting[TARGET].index)
            for waiting in self._waiting.values()
        ]

    @property
    def in_flight(self) -> int:
        """Connections still waiting for an answer."""
        return len(self._waiting)

"""The request lane: request-level events run in a tight loop inside SimPy's schedule.

Requests are the hot path. An idiomatic SimPy model spends a generator, a ``Resource``
request and about six heap events on each one; here a request costs one heap entry (the
container wake-up that completes it) and no event at all for its arrival, because arrivals
are drawn in advance and already sorted.

The lane keeps its own heap of container wake-ups and walks the pre-drawn arrival times. It
is driven by a single "pump" event in SimPy's queue, at the lane's earliest time. When SimPy
fires the pump, the lane processes its own events — always the earliest of the next arrival
and the next wake-up — for as long as they come strictly before SimPy's next event, moving
the environment's clock with them; then it sets the pump again. Everything that is not a
request (node and container lifecycles, faults, the sampler) stays an ordinary SimPy process,
and the periodic control loops (metrics scrapes, the policies' controllers) are :class:`Ticker`
objects on SimPy's queue; all of them see a correctly ordered world: at equal times SimPy's
events go first, then wake-ups, then arrivals.

This reads and writes three attributes of ``simpy.Environment`` that its public methods use
(``_queue``, ``_eid``, ``_now``); ``tests/test_model.py`` checks that contract against the
pinned SimPy version.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator
from heapq import heappop, heappush
from itertools import count
from typing import TYPE_CHECKING, Any

import simpy

from sim.model.recorder import NO_REPLICA, Recorder

if TYPE_CHECKING:
    from sim.model.balancer import Balancer
    from sim.model.container import Container

NORMAL_PRIORITY = 1  # simpy.events.NORMAL


class Pump:
    """An event-like object: SimPy's ``step`` pops it, calls its callbacks, checks ``_ok``."""

    __slots__ = ("_ok", "callbacks")

    def __init__(self, callbacks: tuple[Any, ...]) -> None:
        self.callbacks: tuple[Any, ...] | None = callbacks
        self._ok = True


ArrivalBatch = tuple[list[float], list[float], list[int]]
"""Arrival times, CPU demands and endpoint indices of consecutive requests."""


class RequestLane:
    """Delivers arrivals to the balancer and runs container wake-ups, in time order."""

    def __init__(
        self,
        env: simpy.Environment,
        balancer: Balancer,
        recorder: Recorder,
        batches: Iterator[ArrivalBatch],
    ) -> None:
        self.env = env
        self._balancer = balancer
        self._recorder = recorder
        self._batches = batches
        # (time, tie-break, container, request or None): a request is a dedicated-core
        # container's departure; None is a processor-sharing container's wake-up.
        self._heap: list[tuple[float, int, Container, list[Any] | None]] = []
        self._sequence = count()
        self._times: list[float] = []
        self._demands: list[float] = []
        self._endpoints: list[int] = []
        self._position = 0
        self._arrived_before_batch = 0  # arrivals of the batches already walked
        self._running = False
        self._pump: Pump | None = None
        self._pump_s = math.inf
        self._callbacks = (self._on_pump,)

    def start(self) -> None:
        """Load the first arrivals and set the pump."""
        self._next_batch()
        self._set_pump(self._earliest())

    def wake_at(self, time_s: float, container: Container) -> None:
        """Call ``container.wake(time_s)`` at ``time_s`` (unless it has moved its wake-up)."""
        heappush(self._heap, (time_s, next(self._sequence), container, None))
        if not self._running and time_s < self._pump_s:
            self._set_pump(time_s)

    def depart_at(self, time_s: float, container: Container, request: list[Any]) -> None:
        """Call ``container.depart(time_s, request)`` at ``time_s``."""
        heappush(self._heap, (time_s, next(self._sequence), container, request))
        if not self._running and time_s < self._pump_s:
            self._set_pump(time_s)

    @property
    def heap(self) -> list[tuple[float, int, Container, list[Any] | None]]:
        """The lane's own schedule (containers push their departures here while it runs)."""
        return self._heap

    @property
    def sequence(self) -> Iterator[int]:
        return self._sequence

    def arrived_by(self, time_s: float) -> int:
        """How many arrivals (first attempts) came at or before ``time_s`` (≤ the lane's
        time), counted from the batch being walked: for the rare caller, not per request."""
        return self._arrived_before_batch + bisect_right(self._times, time_s)

    def _next_batch(self) -> bool:
        self._arrived_before_batch += len(self._times)
        for times, demands, endpoints in self._batches:
            if times:
                self._times, self._demands, self._endpoints = times, demands, endpoints
                self._position = 0
                return True
        self._times, self._demands, self._endpoints = [], [], []
        self._position = 0
        return False

    def _earliest(self) -> float:
        arrival_s = self._times[self._position] if self._position < len(self._times) else math.inf
        wakeup_s = self._heap[0][0] if self._heap else math.inf
        return min(arrival_s, wakeup_s)

    def _set_pump(self, time_s: float) -> None:
        if time_s == math.inf:
            return
        pump = Pump(self._callbacks)
        env = self.env
        queue: list[Any] = env._queue
        heappush(queue, (time_s, NORMAL_PRIORITY, next(env._eid), pump))
        self._pump = pump
        self._pump_s = time_s

    def _on_pump(self, pump: Pump) -> None:
        if pump is not self._pump:
            return  # superseded by an earlier pump
        self._pump = None
        self._pump_s = math.inf
        self._running = True
        env = self.env
        queue = env._queue
        heap = self._heap
        pick = self._balancer.pick
        times, demands, endpoints = self._times, self._demands, self._endpoints
        position = self._position
        arrivals_left = len(times) - position
        inf = math.inf
        while True:
            next_arrival_s = times[position] if arrivals_left else inf
            next_wakeup_s = heap[0][0] if heap else inf
            limit_s = queue[0][0] if queue else inf
            if next_wakeup_s <= next_arrival_s:
                if next_wakeup_s >= limit_s:
                    break
                _, _, container, request = heappop(heap)
                if request is not None:
                    env._now = next_wakeup_s
                    container.depart(next_wakeup_s, request)
                elif next_wakeup_s == container.wakeup_s:
                    env._now = next_wakeup_s
                    container.wake(next_wakeup_s)
                continue
            if next_arrival_s >= limit_s:
                break
            env._now = next_arrival_s
            target = pick()
            if target is None:
                self._recorder.reject(
                    next_arrival_s, next_arrival_s, endpoints[position], -1, NO_REPLICA
                )
            else:
                target.accept(next_arrival_s, demands[position], endpoints[position])
            position += 1
            arrivals_left -= 1
            if not arrivals_left:
                self._next_batch()  # empty lists when the traffic is over
                times, demands, endpoints = self._times, self._demands, self._endpoints
                position = 0
                arrivals_left = len(times)
        self._position = position
        self._running = False
        self._set_pump(self._earliest())


class Ticker:
    """Calls ``action(now)`` at ``first_s`` and then every ``period_s``, on SimPy's schedule.

    A control loop needs no process of its own: the ticker is an event-like object (as the
    lane's pump) pushed onto SimPy's queue at each tick, so a tick costs one heap entry and
    a call. Tick times accumulate as a SimPy timeout's do (``previous + period_s``).

    ``action`` returns False to sleep: no tick is scheduled until :meth:`wake`, which resumes
    on the same grid at the first tick at or after the wake-up.
    """

    __slots__ = (
        "_action",
        "_callbacks",
        "_env",
        "_ok",
        "callbacks",
        "next_s",
        "period_s",
        "sleeping",
    )

    def __init__(
        self, env: simpy.Environment, first_s: float, period_s: float, action: Any
    ) -> None:
        if not period_s > 0:
            raise ValueError(f"a ticker's period must be positive, got {period_s}")
        self._env = env
        self._action = action
        self._callbacks = (self._fire,)
        self._ok = True
        self.callbacks: tuple[Any, ...] | None = None
        self.period_s = period_s
        self.next_s = first_s
        self.sleeping = False
        self._push(first_s)

    def _push(self, time_s: float) -> None:
        self.next_s = time_s
        self.callbacks = self._callbacks
        queue: list[Any] = self._env._queue
        heappush(queue, (time_s, NORMAL_PRIORITY, next(self._env._eid), self))

    def _fire(self, _: Ticker) -> None:
        now = self.next_s
        following_s = now + self.period_s
        if self._action(now):
            self._push(following_s)
        else:
            self.sleeping = True
            self.next_s = following_s

    def wake(self, now: float) -> None:
        """Resume a sleeping ticker at its first tick at or after ``now``."""
        if not self.sleeping:
            return
        self.sleeping = False
        next_s = self.next_s
        while next_s < now:
            next_s += self.period_s
        self._push(next_s)

"""A container (replica, task, pod): an accept queue in front of worker slots sharing its CPU.

The model inside one container:

* Requests that find a free worker slot (``busy < concurrency``) start at once; the others
  wait in a FCFS accept queue of at most ``queue_limit``; beyond that they are refused (a
  503) or, where the kernel's backlog is full, their SYN is dropped and the client's kernel
  tries again (:mod:`sim.model.connect`).
* Requests in service share the container's CPU by processor sharing, each capped at one
  core: with ``busy`` requests and ``alloc`` cores, each progresses at
  ``min(1, alloc/busy)`` CPU-seconds per second. ``alloc`` is the container's CPU limit
  capped by its CFS fair share of the node (see :meth:`Node.reallocate`); a limit enforced
  per CFS period is :class:`sim.model.quota.QuotaContainer`.
* A client gives up ``timeout_s`` after it sent the request, wherever the request is. By
  default the server does not notice (a thread-per-request server finds out only when it
  writes the answer): the request waits its turn and runs, its answer reaches no one, and it
  counts as the client's timeout with its CPU wasted (the timeout is counted, dated back,
  when the server reaches the request; where clients retry, it is counted at its time, so
  that the retry leaves then: see :meth:`Container._notify_clients`). Where deadlines propagate
  (``cancel_on_timeout``), the request leaves at the timeout, the work it used still spent:
  because the timeout is the same for every request and both the queue and the worker slots
  are entered in arrival order, the earliest deadline is always at the head of the queue
  (resp. of the in-service list), so cancellations cost no event of their own.

Processor sharing is computed with a virtual clock ``v`` that advances at the per-request rate:
a request entering service with demand ``d`` finishes when ``v`` reaches ``v_start + d``,
whatever the rate does meanwhile. A min-heap on that finishing value gives the next departure;
the request lane wakes the container at the earliest departure or deadline. A wake-up that
comes early (because the rate dropped after it was set) just sets the next one.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any

from sim.config.slack import FLOAT_SLACK
from sim.model.recorder import COMPLETED, FAULT, QUEUE_FULL, Recorder

if TYPE_CHECKING:
    from sim.model.connect import Connector
    from sim.model.kernel import RequestLane
    from sim.model.node import Node

_INFINITY = math.inf

# A request in service is a list, so that heapq orders it by its first field and a departure,
# a timeout or a crash can mark it dead in place; the heaps then skip it when they meet it.
FINISH_S = 0  # when it is done: a virtual time under processor sharing, a time on its own core
ARRIVAL_S = 1  # when its client sent it
ENDPOINT = 2  # the index of its endpoint
LIVE = 3  # False once it has left (done, given up, lost)
STARTED_S = 4  # dedicated cores: when it started
DEMAND_S = 4  # processor sharing: its CPU demand (the same place; the layouts never mix)
NOTIFIED = 5  # processor sharing: its client's timeout is already counted (see _notify_clients)
# A waiting request is a tuple (arrival_s, demand_s, endpoint) in the FCFS accept queue.
QUEUED_ARRIVAL_S = 0

# Lifecycle states (DESIGN.md): pending → pulling → starting → ready → terminating → gone.
PENDING = "pending"
PULLING = "pulling"
STARTING = "starting"
READY = "ready"
TERMINATING = "terminating"
GONE = "gone"


class Container:
    """One replica of the service on one node."""

    may_dedicate = True  # whether a core per worker slot may take the fast path
    __slots__ = (
        "_alloc_by_busy",
        "_cap_m",
        "_demand_by_busy",
        "_dropped",
        "_lane",
        "_lane_heap",
        "_lane_sequence",
        "_latency_append",
        "_log",
        "_queue_notified",
        "_rate_by_busy",
        "_recorder",
        "_start_sum_s",
        "_warmup_latency_append",
        "_warmup_s",
        "_watch",
        "alloc_cores",
        "busy",
        "cancel_after_s",
        "concurrency",
        "connecting",
        "cpu_used_core_s",
        "created_s",
        "dedicated",
        "demand_m",
        "heap",
        "in_service",
        "index",
        "isolated",
        "limit_m",
        "max_demand_m",
        "memory_request_mib",
        "name",
        "node",
        "on_drained",
        "queue",
        "queue_limit",
        "rate",
        "ready_s",
        "ready_transition_s",
        "request_m",
        "restarts",
        "routable",
        "started_s",
        "startup_cpu_m",
        "state",
        "timeout_s",
        "virtual_at_s",
        "virtual_s",
        "wakeup_s",
        "zombie",
    )

    def __init__(
        self,
        *,
        name: str,
        index: int,
        concurrency: int,
        queue_limit: int,
        timeout_s: float,
        cancel_on_timeout: bool = False,
        notify_clients: bool = False,
        connector: Connector | None = None,
        cpu_limit_m: int | None,
        cpu_request_m: int,
        memory_request_mib: int,
        startup_cpu_m: int = 0,
        lane: RequestLane,
        recorder: Recorder,
        created_s: float,
    ) -> None:
        self.name = name
        self.index = index
        self.node: Node | None = None
        self.state = PENDING
        self.routable = False
        self.created_s = created_s
        self.ready_s = math.nan
        self.concurrency = concurrency
        self.queue_limit = queue_limit
        # Beyond the queue: a 503 (None), or a dropped SYN the client's kernel will resend.
        self._dropped = connector.dropped if connector is not None else None
        self.timeout_s = timeout_s
        # When the server stops working for a client that left: at its timeout when deadlines
        # propagate, never for a thread-per-request server (the default).
        self.cancel_after_s = timeout_s if cancel_on_timeout else math.inf
        # Where the server does not cancel but clients retry, their timeouts are counted at
        # their time (see _notify_clients): the in-service requests not yet counted, and how
        # many at the head of the queue are.
        self._watch: deque[list[Any]] | None = (
            deque() if notify_clients and not cancel_on_timeout else None
        )
        self._queue_notified = 0
        self.limit_m = cpu_limit_m  # None: as much as the node has
        self.request_m = cpu_request_m
        self.memory_request_mib = memory_request_mib
        self.startup_cpu_m = startup_cpu_m  # CPU its application burns while it starts
        self.queue: deque[tuple[float, float, int]] = deque()  # (arrival_s, demand_s, endpoint)
        # Processor sharing: [finish_virtual_s, arrival_s, endpoint, live, demand_s, notified]
        # by finish, and the same entries in order of start. Dedicated cores: requests are
        # [finish_s, arrival_s, endpoint, live, start_s], held only by the lane's schedule.
        self.heap: list[list[Any]] = []
        self.in_service: deque[list[Any]] = deque()
        self._start_sum_s = 0.0  # dedicated cores: the start times of the requests in service
        self.busy = 0
        self.virtual_s = 0.0
        self.virtual_at_s = created_s
        self.rate = 1.0
        self.alloc_cores = 0.0
        self.demand_m = 0  # CPU asked of a shared node (kept only while not isolated)
        self.max_demand_m = 0
        self.isolated = False  # the node can always give it all it asks: no CFS arithmetic
        # Every worker slot has a core of its own: each request runs at full speed, so its
        # departure time is known when it starts (no virtual clock needed).
        self.dedicated = False
        self._cap_m = 0
        self._demand_by_busy: list[int] = [0]
        self._alloc_by_busy: list[float] = [0.0]
        self._rate_by_busy: list[float] = [1.0]
        self.cpu_used_core_s = 0.0
        self.wakeup_s = math.inf  # when the lane will wake this container next
        self._lane = lane
        self._lane_heap = lane.heap
        self._lane_sequence = lane.sequence
        self._recorder = recorder
        self._latency_append = recorder.latencies_s.append
        self._warmup_latency_append = recorder.warmup_latencies_s.append
        self._warmup_s = recorder.warmup_s
        self._log = recorder.request_log
        self.on_drained: Callable[[Container], None] | None = None
        # What the control plane can learn: when a node took it, when Ready last changed, and
        # whether it is dead without anyone knowing yet.
        self.started_s = math.nan
        self.ready_transition_s = math.nan
        self.zombie = False
        self.restarts = 0
        self.connecting = 0  # connections whose SYN it dropped, being resent

    # --- traffic ------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Requests in service or waiting (the least-connections balancer's measure)."""
        return self.busy + len(self.queue)

    def accept(self, now: float, demand_s: float, endpoint: int) -> None:
        """A request routed here at ``now``: start it, queue it or refuse it.

        Called only by the request lane while it runs, so wake-ups go straight onto its
        heap (the lane sets its pump when it stops).
        """
        busy = self.busy
        if self.dedicated and busy < self.concurrency:
            # A core of its own: it leaves when its demand is done (or its client gives up and
            # the work is cancelled).
            finish_s = now + demand_s
            deadline_s = now + self.cancel_after_s
            entry = [finish_s, now, endpoint, True, now]
            self._start_sum_s += now
            heappush(
                self._lane_heap,
                (
                    finish_s if finish_s < deadline_s else deadline_s,
                    next(self._lane_sequence),
                    self,
                    entry,
                ),
            )
            self.busy = busy + 1
            return
        if busy < self.concurrency:
            elapsed = now - self.virtual_at_s
            if elapsed > 0:
                self.virtual_s += self.rate * elapsed
                self.cpu_used_core_s += self.alloc_cores * elapsed
                self.virtual_at_s = now
            entry = [self.virtual_s + demand_s, now, endpoint, True, demand_s, False]
            heap = self.heap
            heappush(heap, entry)
            in_service = self.in_service
            in_service.append(entry)
            self.busy = busy + 1
            rate = self.rate
            if self.isolated:  # the common cases, inlined: see _change_demand
                self.alloc_cores = self._alloc_by_busy[busy + 1]
                self.rate = self._rate_by_busy[busy + 1]
            elif self._demand_by_busy[busy + 1] == self.demand_m:
                self.rate = self.alloc_cores / (busy + 1)  # same demand, same share
            else:
                self._change_demand(now, busy + 1)
            if busy and self.rate == rate:
                # Nothing else moved: only the newcomer can depart before the wake-up set (its
                # deadline is the latest of all), so the common case costs one comparison.
                finish_s = now + demand_s / rate
                if finish_s < self.wakeup_s:
                    self.wakeup_s = finish_s
                    heappush(self._lane_heap, (finish_s, next(self._lane_sequence), self, None))
            elif not busy and len(heap) == 1 and len(in_service) == 1:
                # It was idle: the newcomer alone sets the wake-up (_reschedule, inlined).
                rate = self.rate
                next_s = now + (entry[FINISH_S] - self.virtual_s) / rate if rate > 0 else _INFINITY
                deadline_s = now + self.cancel_after_s
                if deadline_s < next_s:
                    next_s = deadline_s
                if next_s < self.wakeup_s:
                    self.wakeup_s = next_s
                    heappush(self._lane_heap, (next_s, next(self._lane_sequence), self, None))
            else:
                self._reschedule(now)
            if self._watch is not None:
                self._watch.append(entry)
                self._watch_clients(now)
            return
        queue = self.queue
        if queue and queue[0][QUEUED_ARRIVAL_S] + self.cancel_after_s <= now:
            self._expire_queue_head(now, self.cancel_after_s)
        if len(queue) < self.queue_limit:
            queue.append((now, demand_s, endpoint))
            if self._watch is not None:
                self._watch_clients(now)
        elif self._dropped is None:
            self._recorder.reject(now, now, endpoint, self.index, QUEUE_FULL)
        else:
            self._dropped(now, now, demand_s, endpoint, self)

    @property
    def listening(self) -> bool:
        """Whether a connection to it can get through (a SYN finds a process listening)."""
        return self.state == READY

    def admit(self, now: float, arrival_s: float, demand_s: float, endpoint: int) -> bool:
        """A connection for a request sent at ``arrival_s`` that gets through only now (a
        retransmitted SYN, a proxy's next try): start it or queue it, if there is room.

        Rare (see :mod:`sim.model.connect`), so it takes the general path: the request joins
        the accept queue and the container pulls from it as after a departure. Its client's
        deadline may then be earlier than those of requests ahead of it; where the server
        cancels, or clients' timeouts are counted at their time, it is noticed when the one
        ahead of it is (and dated back), or when it starts or finishes.
        """
        if not self.listening:
            return False
        if self.busy >= self.concurrency and len(self.queue) >= self.queue_limit:
            return False
        # At the tail: the kernel's accept queue is in the order connections were made.
        self.queue.append((arrival_s, demand_s, endpoint))
        if self.busy < self.concurrency:
            if self.dedicated:
                self._start_waiting(now)
            else:
                self.wake(now)
        elif self._watch is not None:
            self._watch_clients(now)
        return True

    def wake(self, now: float) -> None:
        """The lane's call at :attr:`wakeup_s`: departures, deadlines, then the queue.

        Called only by the running lane, so the next wake-up goes straight onto its heap.
        """
        self.wakeup_s = _INFINITY
        virtual_s = self.virtual_s
        elapsed = now - self.virtual_at_s
        if elapsed > 0:
            virtual_s += self.rate * elapsed
            self.virtual_s = virtual_s
            self.cpu_used_core_s += self.alloc_cores * elapsed
            self.virtual_at_s = now
        if self._watch is not None:
            self._notify_clients(now)
        heap = self.heap
        busy = before = self.busy
        # Departures: every live request whose virtual finish has been reached.
        limit = virtual_s + FLOAT_SLACK
        if heap and heap[0][FINISH_S] <= limit:
            latency_append = self._latency_append
            warmup_s = self._warmup_s
            log = self._log
            late_after_s = self.timeout_s + FLOAT_SLACK
            while heap and heap[0][FINISH_S] <= limit:
                entry = heappop(heap)
                if entry[LIVE]:
                    entry[LIVE] = False
                    busy -= 1
                    arrival_s = entry[ARRIVAL_S]
                    if now - arrival_s > late_after_s:  # its client left: the answer is lost
                        self._late(now, entry, entry[DEMAND_S])
                        continue
                    latency_append(now - arrival_s)
                    if arrival_s < warmup_s:  # also counted apart, to leave out of the summary
                        self._warmup_latency_append(now - arrival_s)
                    if log is not None:
                        log.append((arrival_s, now, entry[ENDPOINT], self.index, COMPLETED))
        # Requests whose clients gave up while in service, where the server cancels them.
        in_service = self.in_service
        cut = now - self.cancel_after_s
        given_up_s = cut + FLOAT_SLACK
        while in_service and (not in_service[0][LIVE] or in_service[0][ARRIVAL_S] <= given_up_s):
            entry = in_service.popleft()
            if entry[LIVE]:
                entry[LIVE] = False
                busy -= 1
                self._recorder.time_out(
                    entry[ARRIVAL_S] + self.timeout_s, entry[ARRIVAL_S], entry[ENDPOINT], self.index
                )
                self._recorder.waste(entry[ARRIVAL_S], self._spent_s(entry, now))
        # Free worker slots take the oldest waiting requests (whose clients are still there,
        # where the server cancels; all of them, where it does not).
        queue = self.queue
        if queue:
            concurrency = self.concurrency
            watch = self._watch
            while queue and busy < concurrency:
                arrival_s, demand_s, endpoint = queue.popleft()
                if arrival_s <= cut:
                    self._recorder.time_out(
                        arrival_s + self.timeout_s, arrival_s, endpoint, self.index
                    )
                    continue
                entry = [virtual_s + demand_s, arrival_s, endpoint, True, demand_s, False]
                heappush(heap, entry)
                in_service.append(entry)
                busy += 1
                if watch is not None:
                    if self._queue_notified:  # its client's timeout was counted while it waited
                        self._queue_notified -= 1
                        entry[NOTIFIED] = True
                    elif watch and watch[-1][ARRIVAL_S] > arrival_s:
                        _insert_by_arrival(watch, entry)  # a late connection (admit)
                    else:
                        watch.append(entry)
        if busy != before:
            self.busy = busy
            if self.isolated:  # the common cases, inlined: see _change_demand
                self.alloc_cores = self._alloc_by_busy[busy]
                self.rate = self._rate_by_busy[busy]
            elif not busy:
                self._change_demand(now, 0)
            elif self._demand_by_busy[busy] == self.demand_m:
                self.rate = self.alloc_cores / busy  # same demand, same share
            else:
                self._change_demand(now, busy)
        if busy:
            # The next departure or deadline (as in _reschedule, inlined for speed).
            while not heap[0][LIVE]:
                heappop(heap)
            rate = self.rate
            next_s = now + (heap[0][FINISH_S] - virtual_s) / rate if rate > 0 else _INFINITY
            while not in_service[0][LIVE]:
                in_service.popleft()
            deadline_s = in_service[0][ARRIVAL_S] + self.cancel_after_s
            if deadline_s < next_s:
                next_s = deadline_s
            if next_s < now:
                next_s = now
            self.wakeup_s = next_s
            heappush(self._lane_heap, (next_s, next(self._lane_sequence), self, None))
            if self._watch is not None:
                self._watch_clients(now)
        else:
            self._reschedule(now)  # idle: restarts the virtual clock
            if self.state == TERMINATING and not queue:
                self._drained()

    def depart(self, now: float, entry: list[Any]) -> None:
        """A dedicated-core request ends: done (in time, or too late for its client), or
        cancelled when its client gave up."""
        if not entry[LIVE]:
            return  # lost in a crash, or converted to processor sharing
        entry[LIVE] = False
        self.cpu_used_core_s += now - entry[STARTED_S]  # one core since it started
        self._start_sum_s -= entry[STARTED_S]
        arrival_s = entry[ARRIVAL_S]
        if entry[FINISH_S] > now + FLOAT_SLACK:  # cancelled at its client's timeout
            self._recorder.time_out(now, arrival_s, entry[ENDPOINT], self.index)
            self._recorder.waste(arrival_s, self._spent_s(entry, now))
        elif now - arrival_s > self.timeout_s + FLOAT_SLACK:  # its client left: answer lost
            self._late(now, entry, self._spent_s(entry, now))
        else:
            self._latency_append(now - arrival_s)
            if arrival_s < self._warmup_s:  # also counted apart, to leave out of the summary
                self._warmup_latency_append(now - arrival_s)
            if self._log is not None:
                self._log.append((arrival_s, now, entry[ENDPOINT], self.index, COMPLETED))
        busy = self.busy - 1
        self.busy = busy
        if self.queue:
            self._start_waiting(now)
        elif busy == 0:
            self._start_sum_s = 0.0  # exact again whenever idle, however long the run
            if self.state == TERMINATING:
                self._drained()

    def _start_waiting(self, now: float) -> None:
        """Dedicated cores: free worker slots take the oldest waiting requests."""
        busy = self.busy
        queue = self.queue
        if queue:
            cut = now - self.cancel_after_s
            lane_heap = self._lane_heap
            while queue and busy < self.concurrency:
                arrival_s, demand_s, endpoint = queue.popleft()
                if arrival_s <= cut:
                    self._recorder.time_out(
                        arrival_s + self.timeout_s, arrival_s, endpoint, self.index
                    )
                    continue
                finish_s = now + demand_s
                deadline_s = arrival_s + self.cancel_after_s
                started = [finish_s, arrival_s, endpoint, True, now]
                self._start_sum_s += now
                heappush(
                    lane_heap,
                    (
                        finish_s if finish_s < deadline_s else deadline_s,
                        next(self._lane_sequence),
                        self,
                        started,
                    ),
                )
                busy += 1
        self.busy = busy
        if busy == 0:
            self._start_sum_s = 0.0  # exact again whenever idle, however long the run
            if self.state == TERMINATING and not queue:
                self._drained()

    def _convert(self, now: float, dedicated: bool) -> None:
        """Carry the requests in service over between the dedicated and the shared model.

        Work left is what matters: under dedicated cores it is ``finish − now``, under
        processor sharing ``finish_virtual − virtual``. The old entries are retired (their
        scheduled departures become no-ops) and fresh ones take their place, in start order.
        """
        self.cpu_used_core_s = self.cpu_used_until(now)
        self.alloc_cores = 0.0
        live = self._serving()
        for entry in live:
            entry[LIVE] = False
        self.in_service.clear()
        self._start_sum_s = now * len(live) if dedicated else 0.0
        self.heap.clear()
        self.wakeup_s = math.inf
        virtual_s = self.virtual_s
        self.virtual_s = 0.0
        self.virtual_at_s = now
        self.dedicated = dedicated
        for entry in live:
            if dedicated:
                fresh = [
                    now + max(0.0, entry[FINISH_S] - virtual_s),
                    entry[ARRIVAL_S],
                    entry[ENDPOINT],
                    True,
                    now,
                ]
                self._lane.depart_at(
                    min(fresh[FINISH_S], entry[ARRIVAL_S] + self.cancel_after_s), self, fresh
                )
            else:
                # Its demand as a shared request: what it had left, plus what it had used
                # (known from its start only if it was not converted before).
                left_s = max(0.0, entry[FINISH_S] - now)
                fresh = [
                    left_s,
                    entry[ARRIVAL_S],
                    entry[ENDPOINT],
                    True,
                    entry[FINISH_S] - entry[STARTED_S],
                    False,
                ]
                heappush(self.heap, fresh)
                self.in_service.append(fresh)

    def _spent_s(self, entry: list[Any], now: float) -> float:
        """CPU-seconds a request in service has used by ``now`` (the virtual clock is there)."""
        if self.dedicated:
            started_s: float = entry[STARTED_S]
            return now - started_s
        spent_s: float = entry[DEMAND_S] - (entry[FINISH_S] - self.virtual_s)
        return spent_s if spent_s > 0 else 0.0

    def _late(self, now: float, entry: list[Any], spent_s: float) -> None:
        """A request done after its client gave up: its timeout (unless already counted at
        its time), and its CPU wasted."""
        arrival_s = entry[ARRIVAL_S]
        if self._watch is not None and entry[NOTIFIED]:
            self._recorder.lost_answer()
        else:
            self._recorder.late(
                now, arrival_s + self.timeout_s, arrival_s, entry[ENDPOINT], self.index
            )
        self._recorder.waste(arrival_s, spent_s)

    # --- clients' deadlines, where the server does not cancel ----------------------------------

    def _notify_clients(self, now: float) -> None:
        """Count, at their time, the timeouts of clients whose requests are still here.

        Only where clients retry and the server does not cancel: a client gives up at its
        timeout and sends its retry then, while the server keeps the request and works on it.
        Requests in service not yet counted wait in :attr:`_watch` (in start order, which is
        arrival order); in the FCFS queue the counted ones are its first
        :attr:`_queue_notified`.
        """
        # Strictly past the deadline, as a late answer is (so that a request answered at its
        # deadline is an answer, and one counted here can only finish late).
        cut = now - self.timeout_s - FLOAT_SLACK
        watch = self._watch
        assert watch is not None
        recorder = self._recorder
        timeout_s = self.timeout_s
        while watch and (not watch[0][LIVE] or watch[0][ARRIVAL_S] < cut):
            entry = watch.popleft()
            if entry[LIVE] and not entry[NOTIFIED]:
                entry[NOTIFIED] = True
                arrival_s = entry[ARRIVAL_S]
                recorder.time_out(arrival_s + timeout_s, arrival_s, entry[ENDPOINT], self.index)
        queue = self.queue
        counted = self._queue_notified
        while counted < len(queue) and queue[counted][QUEUED_ARRIVAL_S] < cut:
            arrival_s, _, endpoint = queue[counted]
            recorder.time_out(arrival_s + timeout_s, arrival_s, endpoint, self.index)
            counted += 1
        self._queue_notified = counted

    def _watch_clients(self, now: float) -> None:
        """Make sure the container wakes at the next client deadline not yet counted."""
        watch = self._watch
        assert watch is not None
        while watch and not watch[0][LIVE]:
            watch.popleft()
        if watch:
            arrival_s = watch[0][ARRIVAL_S]
        elif self._queue_notified < len(self.queue):
            arrival_s = self.queue[self._queue_notified][QUEUED_ARRIVAL_S]
        else:
            return
        deadline_s = arrival_s + self.timeout_s + 2 * FLOAT_SLACK  # strictly past it
        if deadline_s < now:
            deadline_s = now
        if deadline_s < self.wakeup_s:
            self.wakeup_s = deadline_s
            self._lane.wake_at(deadline_s, self)

    def _expire_queue_head(self, now: float, after_s: float) -> None:
        """Count the waiting requests whose clients gave up ``after_s`` after sending them."""
        queue = self.queue
        cut = now - after_s
        while queue and queue[0][QUEUED_ARRIVAL_S] <= cut:
            arrival_s, _, endpoint = queue.popleft()
            self._recorder.time_out(arrival_s + self.timeout_s, arrival_s, endpoint, self.index)

    # --- processor sharing --------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        """Bring the virtual clock and the CPU-time integral up to ``now``."""
        elapsed = now - self.virtual_at_s
        if elapsed > 0:
            self.virtual_s += self.rate * elapsed
            self.cpu_used_core_s += self.alloc_cores * elapsed
            self.virtual_at_s = now

    def _take_share(self, now: float) -> None:
        """Take the share the tables give for the requests in service, after the tables
        changed (the virtual clock already brought up to ``now``)."""
        busy = self.busy
        if self.isolated:
            self.alloc_cores = self._alloc_by_busy[busy]
            self.rate = self._rate_by_busy[busy]
        else:
            self._change_demand(now, busy)

    def _change_demand(self, now: float, busy: int) -> None:
        """On a shared node: ``busy`` requests in service now ask a new share of the node.

        While the node has enough for everyone, the container simply gets what it asks;
        otherwise the node divides its CPU anew (:meth:`Node.reallocate`).
        """
        demand_m = self._demand_by_busy[busy]
        node = self.node
        if demand_m != self.demand_m and node is not None:
            total_m = node.total_demand_m + demand_m - self.demand_m
            node.total_demand_m = total_m
            self.demand_m = demand_m
            if node.contended or total_m > node.cpu_m:
                node.reallocate(now)
            else:
                self.alloc_cores = self._alloc_by_busy[busy]
                self.rate = self._rate_by_busy[busy]
                return
        self.rate = self.alloc_cores / busy if busy else 1.0

    def wanted_m(self) -> int:
        """CPU this container can use now: a core per request in service, up to its cap."""
        return self._demand_by_busy[self.busy]

    def attach(self, node: Node, now: float) -> None:
        """Bind to ``node``: the CPU it may use is its limit, or the whole node without one."""
        self.node = node
        self.virtual_at_s = now
        cap_m = self._cap_on(node)
        self._cap_m = cap_m
        serving_m = min(cap_m, self.concurrency * 1000)
        self._demand_by_busy = [min(busy * 1000, serving_m) for busy in range(self.concurrency + 1)]
        self.max_demand_m = max(serving_m, self._warm_up_cap_m(self.startup_cpu_m))
        self._alloc_by_busy = [demand_m / 1000 for demand_m in self._demand_by_busy]
        self._rate_by_busy = [1.0] + [
            self._alloc_by_busy[busy] / busy for busy in range(1, self.concurrency + 1)
        ]

    def warm_up(self, now: float, cpu_m: int) -> None:
        """While its application starts, the container burns ``cpu_m`` (0: the start-up is
        over), up to its limit, taken from its node's neighbours by CFS weights.

        A starting container serves nothing, so its idle demand (the tables' entry for no
        request in service) is the warm-up's. Under a CFS quota the warm-up is held to the
        limit on average (its burst above the limit is not modelled).
        """
        if self.node is None or self.busy:
            return
        self._advance(now)
        demand_m = self._warm_up_cap_m(cpu_m)
        self._demand_by_busy[0] = demand_m
        self._alloc_by_busy[0] = demand_m / 1000
        self._take_share(now)

    def _warm_up_cap_m(self, cpu_m: int) -> int:
        node_m = self.node.cpu_m if self.node is not None else cpu_m
        return min(cpu_m, node_m, self.limit_m if self.limit_m is not None else node_m)

    def _cap_on(self, node: Node) -> int:
        """The most CPU it can use at any instant on ``node`` (millicores)."""
        return node.cpu_m if self.limit_m is None else min(self.limit_m, node.cpu_m)

    def set_isolated(self, now: float, isolated: bool) -> None:
        """Switch between the isolated fast paths and CFS sharing (see :meth:`Node.attach`)."""
        self._advance(now)
        dedicated = (
            isolated
            and self.may_dedicate
            and self._watch is None  # clients' deadlines are watched in the shared model
            and self.concurrency * 1000 <= self._cap_m
        )
        if dedicated != self.dedicated:
            self._convert(now, dedicated)
        self.isolated = isolated
        if isolated:
            self.demand_m = 0
            if self.dedicated:  # its share is a core per request, or its warm-up while idle
                self.alloc_cores = 0.0 if self.busy else self._alloc_by_busy[0]
            else:
                self.set_alloc(now, self._alloc_by_busy[self.busy])
            self.rate = self._rate_by_busy[self.busy]
        else:
            self.demand_m = self.wanted_m()
        if not self.dedicated:
            self._reschedule(now)

    def set_alloc(self, now: float, alloc_cores: float) -> None:
        """The node's new CPU share for this container (called by :meth:`Node.reallocate`)."""
        if alloc_cores != self.alloc_cores and not self.dedicated:
            elapsed = now - self.virtual_at_s  # _advance, inlined: this runs on every share
            if elapsed > 0:
                self.virtual_s += self.rate * elapsed
                self.cpu_used_core_s += self.alloc_cores * elapsed
                self.virtual_at_s = now
            self.alloc_cores = alloc_cores
            self.rate = alloc_cores / self.busy if self.busy else 1.0
            self._reschedule(now)

    def _reschedule(self, now: float) -> None:
        """Make sure the lane wakes this container no later than its next departure or deadline.

        A wake-up already set for a later time is left in place; it will find nothing to do.
        """
        heap = self.heap
        while heap and not heap[0][LIVE]:
            heappop(heap)
        if not heap:
            # Idle: forget finished entries and restart the virtual clock near zero, which
            # keeps its float resolution fine however long the run.
            self.in_service.clear()
            if self._watch is not None:
                self._watch.clear()
            self.virtual_s = 0.0
            self.virtual_at_s = now
            return
        rate = self.rate
        next_s = now + (heap[0][FINISH_S] - self.virtual_s) / rate if rate > 0 else math.inf
        in_service = self.in_service
        while not in_service[0][LIVE]:
            in_service.popleft()
        deadline_s = in_service[0][ARRIVAL_S] + self.cancel_after_s
        if deadline_s < next_s:
            next_s = deadline_s
        if next_s < now:
            next_s = now
        if next_s < self.wakeup_s:
            self.wakeup_s = next_s
            self._lane.wake_at(next_s, self)

    # --- lifecycle ----------------------------------------------------------------------------

    def drain(self, now: float) -> None:
        """Stop taking new requests; finish the ones accepted (the caller enforces the grace)."""
        self.state = TERMINATING
        self.routable = False
        if self.busy == 0 and not self.queue:
            self._drained()

    def _drained(self) -> None:
        if self.on_drained is not None:
            self.on_drained(self)

    def kill(self, now: float, reason: int = FAULT) -> int:
        """Lose every request here at once (crash, or grace period over); returns how many."""
        self.cpu_used_core_s = self.cpu_used_until(now)  # the work done so far stays spent
        released_m = 0 if self.isolated else self.demand_m
        lost = 0
        cut = now - self.timeout_s
        for position, (arrival_s, _, endpoint) in enumerate(self.queue):
            if position < self._queue_notified:
                continue  # its client's timeout is counted already
            if arrival_s <= cut:
                self._recorder.time_out(arrival_s + self.timeout_s, arrival_s, endpoint, self.index)
            else:
                self._recorder.reject(now, arrival_s, endpoint, self.index, reason)
                lost += 1
        uncancelled = self.cancel_after_s == _INFINITY
        watched = self._watch is not None
        for entry in self._serving():
            entry[LIVE] = False
            arrival_s = entry[ARRIVAL_S]
            if uncancelled and arrival_s <= cut:  # still worked on, for a client long gone
                if not (watched and entry[NOTIFIED]):
                    self._recorder.time_out(
                        arrival_s + self.timeout_s, arrival_s, entry[ENDPOINT], self.index
                    )
                self._recorder.waste(arrival_s, self._spent_s(entry, now))
                continue
            self._recorder.reject(now, arrival_s, entry[ENDPOINT], self.index, reason)
            lost += 1
        self.queue.clear()
        self._queue_notified = 0
        if self._watch is not None:
            self._watch.clear()
        self.heap.clear()
        self.in_service.clear()
        self.busy = 0
        self._start_sum_s = 0.0
        self.wakeup_s = math.inf
        self.state = GONE
        self.routable = False
        self.demand_m = 0
        self.alloc_cores = 0.0
        node = self.node
        if released_m and node is not None:
            # Its neighbours share what it asked for: at once, whether it is detached (the
            # node shares anew then too) or restarts in place.
            node.total_demand_m -= released_m
            node.reallocate(now)
        return lost

    def cpu_used_until(self, now: float) -> float:
        """CPU-seconds used from creation to ``now``.

        Under processor sharing the container's share is integrated as it changes; with
        dedicated cores each request adds its own core-seconds when it leaves, so the ones
        still running are added here.
        """
        if self.dedicated:
            # (alloc_cores is a dedicated container's warm-up, 0 once it serves)
            warming_s = self.alloc_cores * (now - self.virtual_at_s)
            return self.cpu_used_core_s + self.busy * now - self._start_sum_s + warming_s
        self._advance(now)
        return self.cpu_used_core_s

    def _serving(self) -> list[list[Any]]:
        """The requests in service, oldest first.

        Dedicated-core requests are kept nowhere but in their departures on the lane's
        schedule, so the rare callers (a crash, a switch of model, the end of the run) find
        them there; they started in arrival order, as the accept queue is FCFS.
        """
        if not self.dedicated:
            return [entry for entry in self.in_service if entry[LIVE]]
        serving = [
            request
            for _, _, owner, request in self._lane_heap
            if owner is self and request is not None and request[LIVE]
        ]
        serving.sort(key=_arrival_s)
        return serving

    def finish_run(self, end_s: float) -> None:
        """Settle requests whose clients gave up before the run ended (the rest stay in flight)."""
        self._advance(end_s)
        serving = self._serving()
        cut = end_s - self.timeout_s + FLOAT_SLACK
        for entry in serving:
            if entry[ARRIVAL_S] <= cut:  # the CPU it used so far went to a client now gone
                self._recorder.waste(entry[ARRIVAL_S], self._spent_s(entry, end_s))
        if self.dedicated:
            self.cpu_used_core_s = self.cpu_used_until(end_s)
            self.virtual_at_s = end_s  # (a warm-up's CPU is counted up to here)
            for entry in serving:
                entry[STARTED_S] = end_s  # counted up to here
            self._start_sum_s = end_s * len(serving)
        watched = self._watch is not None
        if watched:
            self._notify_clients(end_s)  # every client gone by the end is counted: settled
            for _ in range(self._queue_notified):
                self.queue.popleft()
            self._queue_notified = 0
        # Every waiting request whose client has gone, wherever it waits: a late connection
        # may sit behind younger requests.
        gone_s = end_s - self.timeout_s
        waiting = self.queue
        kept = []
        for request in waiting:
            arrival_s, _, endpoint = request
            if arrival_s <= gone_s:
                self._recorder.time_out(arrival_s + self.timeout_s, arrival_s, endpoint, self.index)
            else:
                kept.append(request)
        if len(kept) != len(waiting):
            waiting.clear()
            waiting.extend(kept)
        for entry in serving:
            if entry[ARRIVAL_S] <= cut:
                entry[LIVE] = False
                self.busy -= 1
                if self.dedicated:
                    self._start_sum_s -= end_s
                if not (watched and entry[NOTIFIED]):
                    self._recorder.time_out(
                        entry[ARRIVAL_S] + self.timeout_s,
                        entry[ARRIVAL_S],
                        entry[ENDPOINT],
                        self.index,
                    )

    def requests_in_flight(self) -> list[tuple[float, int]]:
        """``(arrival_s, endpoint)`` of every request still here (for the per-request frame)."""
        waiting = [(arrival_s, endpoint) for arrival_s, _, endpoint in self.queue]
        serving = [(entry[ARRIVAL_S], entry[ENDPOINT]) for entry in self._serving()]
        return serving + waiting


def _insert_by_arrival(watch: deque[list[Any]], entry: list[Any]) -> None:
    """Put ``entry`` in ``watch`` after every entry that arrived no later (a rare path)."""
    position = len(watch)
    while position and watch[position - 1][ARRIVAL_S] > entry[ARRIVAL_S]:
        position -= 1
    watch.insert(position, entry)


def _arrival_s(entry: list[Any]) -> float:
    arrival_s: float = entry[ARRIVAL_S]
    return arrival_s


class DeadReplica:
    """What a balancer still points at after a machine died, until it notices.

    A dead machine answers nothing: a request sent here waits for a connection that never
    comes (:meth:`Connector.unanswered`), until the client's connect timeout — or the proxy's,
    where the balancer tries the next replica. It stands in the balancer's list in place of
    the dead container, so the hot path of live containers pays nothing for failures.
    """

    __slots__ = ("_connector", "connecting", "index", "name", "node", "queue", "routable")

    listening = False

    def __init__(self, container: Container, connector: Connector) -> None:
        self.name = container.name
        self.node = container.node
        self.index = container.index
        self.routable = True
        self.connecting = 0  # connections waiting on it (set by the connector)
        self.queue: tuple[()] = ()
        self._connector = connector

    @property
    def busy(self) -> int:
        """What a least-connections balancer sees: connections open and waiting on it."""
        return self.connecting

    @property
    def in_flight(self) -> int:
        return self.connecting

    def accept(self, now: float, demand_s: float, endpoint: int) -> None:
        self._connector.unanswered(now, demand_s, endpoint, self)

    def admit(self, now: float, arrival_s: float, demand_s: float, endpoint: int) -> bool:
        return False

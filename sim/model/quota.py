"""A container whose CPU limit is a CFS quota per period, as the kernel enforces it.

CFS bandwidth control gives a cgroup ``quota = limit × period`` of CPU time per period
(100 ms by default) and nothing more: all the container's threads draw on it together, at
whatever speed the node lets them run, and once it is spent every one of them waits for the
next period, even with idle cores (Linux ``Documentation/scheduler/sched-bwc.rst``). So
requests run at up to a core each — a burst of four on a one-core limit runs on four cores —
until the quota is gone, then stall: 25 ms of work, 75 ms of nothing. The smooth cap of
:class:`~sim.model.container.Container` is the same average without the stalls.

The model on top of processor sharing:

* The container may use as many cores as it has requests in service (up to the node), not
  ``limit``; the quota bounds the average.
* Periods start at multiples of ``period_s``. CPU used in the current period is the CPU-time
  integral since its start; it is brought up to date lazily, before every change of the
  container's share (all of which pass through this class), so a period costs nothing while
  the container stays at or below its limit from the period's start: the quota cannot run
  out then.
* Once it has run above the limit in a period (a *burst*), the container is woken when the
  quota would run out, whatever its share by then (or at the period's end, to look again,
  while above the limit): it is *throttled* — no demand, no share, a frozen virtual clock, so
  the node's other containers get its cores — until the period ends and the quota is whole
  again.

Requests still arrive, queue, start, time out and are cancelled while it is throttled; they
just make no progress.
"""

from __future__ import annotations

import math
from heapq import heappush
from typing import TYPE_CHECKING, Any

from sim.config.slack import FLOAT_SLACK
from sim.model.container import Container
from sim.model.recorder import FAULT

if TYPE_CHECKING:
    from sim.model.node import Node


class QuotaContainer(Container):
    """A container with ``cpu_limit_m`` enforced per ``cfs_period_s`` (see the module)."""

    __slots__ = (
        "_limit_cores",
        "_open_alloc",
        "_open_demand",
        "_open_rate",
        "_period_end_s",
        "_period_s",
        "_period_start_used_s",
        "_quota_s",
        "burst",
        "throttled",
        "throttled_periods",
    )

    may_dedicate = False  # requests may outrun the limit until the quota is spent

    def __init__(self, *, cfs_period_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert self.limit_m is not None, "a quota needs a CPU limit"
        self._period_s = cfs_period_s
        self._limit_cores = self.limit_m / 1000
        self._quota_s = self._limit_cores * cfs_period_s
        self._period_end_s = -math.inf  # the first look starts a period
        self._period_start_used_s = 0.0
        self._open_demand: list[int] = [0]
        self._open_alloc: list[float] = [0.0]
        self._open_rate: list[float] = [1.0]
        self.burst = False  # it has run above its limit in this period
        self.throttled = False
        self.throttled_periods = 0  # periods in which the quota ran out (cpu.stat nr_throttled)

    def _cap_on(self, node: Node) -> int:
        return node.cpu_m  # a burst may use every core the node gives it

    def attach(self, node: Node, now: float) -> None:
        super().attach(node, now)
        self._open_demand = self._demand_by_busy
        self._open_alloc = self._alloc_by_busy
        self._open_rate = self._rate_by_busy
        if self.throttled:
            self._close_tables()

    # --- every change of share passes here first ------------------------------------------------

    # The checks before and after are inlined where they are cheapest to skip: a container
    # that has stayed within its limit since the period began pays a few comparisons per call.

    def accept(self, now: float, demand_s: float, endpoint: int) -> None:
        if (
            self.burst
            or self.throttled
            or now >= self._period_end_s
            or self.alloc_cores > self._limit_cores
        ):
            self._look(now)
            if self.throttled and self.busy < self.concurrency:
                # It starts, and waits with the others for the next period.
                self._advance(now)
                entry = [self.virtual_s + demand_s, now, endpoint, True, demand_s, False]
                heappush(self.heap, entry)
                self.in_service.append(entry)
                self.busy += 1
                self._take_share(now)  # still nothing, even if it found the container empty
                self._reschedule(now)  # its deadline, where the server cancels
                if self._watch is not None:
                    self._watch.append(entry)
                    self._watch_clients(now)
                return
        Container.accept(self, now, demand_s, endpoint)
        if self.burst or self.alloc_cores > self._limit_cores:
            self._arm(now)

    def wake(self, now: float) -> None:
        if (
            self.burst
            or self.throttled
            or now >= self._period_end_s
            or self.alloc_cores > self._limit_cores
        ):
            self._look(now)
        Container.wake(self, now)
        if self.burst or self.throttled or self.alloc_cores > self._limit_cores:
            self._arm(now)

    def set_alloc(self, now: float, alloc_cores: float) -> None:
        self._look(now)
        if self.throttled:
            alloc_cores = 0.0  # throttled by the look just now: the node's offer is moot
        Container.set_alloc(self, now, alloc_cores)
        self._arm(now)

    def set_isolated(self, now: float, isolated: bool) -> None:
        self._look(now)
        Container.set_isolated(self, now, isolated)
        self._arm(now)

    def warm_up(self, now: float, cpu_m: int) -> None:
        self._look(now)
        super().warm_up(now, cpu_m)
        self._arm(now)

    def kill(self, now: float, reason: int = FAULT) -> int:
        if self.throttled:
            self.throttled = False
            self._open_tables()
        return super().kill(now, reason)

    # --- the quota ------------------------------------------------------------------------------

    def _look(self, now: float) -> None:
        """Bring the period up to date at the share in force since the last look: a new
        period restores the quota; a spent quota throttles."""
        if now >= self._period_end_s:
            self._advance(now)
            period_s = self._period_s
            start_s = math.floor(now / period_s + FLOAT_SLACK) * period_s
            # The share has not changed since the last look, so the CPU used since the
            # period began is that share times the time since.
            self._period_start_used_s = self.cpu_used_core_s - self.alloc_cores * (now - start_s)
            self._period_end_s = start_s + period_s
            self.burst = False  # nothing above the limit yet in this period, except...
            if self.throttled:
                self._unthrottle(now)
            elif self.alloc_cores > self._limit_cores:
                self.burst = True  # ...since the period began, at the share in force
        if not self.throttled and (self.burst or self.alloc_cores > self._limit_cores):
            self._advance(now)
            if self.cpu_used_core_s - self._period_start_used_s >= self._quota_s - FLOAT_SLACK:
                self._throttle(now)

    def _arm(self, now: float) -> None:
        """Make sure the container is looked at again when its quota runs out, or when the
        period ends where that matters (throttled, or above the limit)."""
        above = self.alloc_cores > self._limit_cores
        if self.throttled:
            at_s = self._period_end_s
        elif above or (self.burst and self.alloc_cores > 0):
            # Above the limit, or within it after a burst spent part of the quota early.
            self.burst = True
            self._advance(now)
            left_s = self._quota_s - (self.cpu_used_core_s - self._period_start_used_s)
            at_s = now + max(left_s, 0.0) / self.alloc_cores
            if at_s >= self._period_end_s:
                if not above:
                    return  # it lasts the period; the next one starts within the limit
                at_s = self._period_end_s  # look again as the next period starts
        else:
            return  # within the limit since the period began: the quota cannot run out
        if at_s < self.wakeup_s:
            self.wakeup_s = at_s
            self._lane.wake_at(at_s, self)

    def _throttle(self, now: float) -> None:
        self.throttled = True
        self.throttled_periods += 1
        self._close_tables()
        self._take_share(now)

    def _unthrottle(self, now: float) -> None:
        self.throttled = False
        self._open_tables()
        self._take_share(now)
        self._reschedule(now)

    def _close_tables(self) -> None:
        """Throttled: no demand, no share, no progress, whatever is in service."""
        self._demand_by_busy = [0] * len(self._open_demand)
        self._alloc_by_busy = [0.0] * len(self._open_alloc)
        self._rate_by_busy = [1.0] + [0.0] * (len(self._open_rate) - 1)

    def _open_tables(self) -> None:
        self._demand_by_busy = self._open_demand
        self._alloc_by_busy = self._open_alloc
        self._rate_by_busy = self._open_rate

"""A node (machine, VM): capacity, price, lifecycle, its image cache and its CPU sharing.

Lifecycle: ``provisioning → ready → (draining) → terminated``, or ``failed`` after a fault. A
node is billed per second from launch until it is terminated, with the provider's minimum
billed time per start (60 s on EC2).

CPU is shared among the node's containers the way Linux CFS shares it with ``cpu.shares``
(Docker ``--cpu-shares``, Kubernetes CPU requests): while the containers together want no more
than the node has, each gets what it wants; once they want more, the node's CPU is divided in
proportion to the containers' CPU requests, no container getting more than it wants (weighted
max-min fairness, "water filling"). A container wants one core per request in service, up to
its CPU limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.config.catalogue import InstanceType

if TYPE_CHECKING:
    from sim.model.container import Container

PROVISIONING = "provisioning"
READY = "ready"
DRAINING = "draining"
TERMINATED = "terminated"
FAILED = "failed"


@dataclass
class BillingStretch:
    """One stretch during which the instance ran and was billed."""

    start_s: float
    end_s: float | None
    price_per_hour_usd: float

    def billed_s(self, now: float, minimum_s: float) -> float:
        end_s = self.end_s if self.end_s is not None else now
        return max(end_s - self.start_s, minimum_s)


class Node:
    """One machine of the cluster."""

    __slots__ = (
        "_plans_made",
        "_share_plans",
        "billing",
        "containers",
        "contended",
        "cpu_m",
        "failed_s",
        "images",
        "index",
        "instance",
        "launched_s",
        "max_demand_m",
        "memory_mib",
        "name",
        "pull_free_s",
        "pulls",
        "ready_s",
        "reserved_cpu_m",
        "reserved_memory_mib",
        "role",
        "state",
        "terminated_s",
        "total_demand_m",
        "type_name",
        "unroutable",
    )

    def __init__(
        self,
        *,
        name: str,
        index: int,
        type_name: str,
        instance: InstanceType,
        launched_s: float,
        reserved_cpu_m: int = 0,
        reserved_memory_mib: int = 0,
    ) -> None:
        self.name = name
        self.index = index
        self.type_name = type_name
        self.instance = instance
        self.state = PROVISIONING
        self.cpu_m = max(0, instance.cpu_m - reserved_cpu_m)  # allocatable CPU
        self.memory_mib = max(0, instance.memory_mib - reserved_memory_mib)
        self.containers: list[Container] = []
        self.images: set[str] = set()
        self.pull_free_s = launched_s  # image pulls on one node are serial (kubelet default)
        self.launched_s = launched_s
        self.ready_s = math.nan
        self.terminated_s = math.nan
        self.total_demand_m = 0  # CPU its containers ask for now (while shared)
        self.max_demand_m = 0  # the most they could ever ask for together
        self.contended = False
        self._share_plans: dict[tuple[int, ...], tuple[bool, tuple[tuple[int, float], ...]]] = {}
        self._plans_made = 0  # reallocations so far (one inside another shows as a jump)
        self.role = "worker"
        self.failed_s = math.nan
        self.pulls: dict[str, float] = {}  # image → when its pull on this node completes
        self.unroutable = False  # the balancer no longer uses replicas here
        self.reserved_cpu_m = reserved_cpu_m
        self.reserved_memory_mib = reserved_memory_mib
        # Billed stretches [start, end or None, USD per hour]: a resize stops the instance,
        # and a stopped EC2 instance is not billed; each start has its minimum.
        self.billing = [BillingStretch(launched_s, None, instance.price_per_hour_usd)]

    # --- placement bookkeeping ----------------------------------------------------------------

    @property
    def requested_cpu_m(self) -> int:
        """CPU requested by the containers placed here (what schedulers filter on)."""
        return sum(container.request_m for container in self.containers)

    @property
    def requested_memory_mib(self) -> int:
        return sum(container.memory_request_mib for container in self.containers)

    # --- billing ------------------------------------------------------------------------------

    def billed_s(self, now: float, minimum_s: float) -> float:
        """Seconds billed up to ``now``: every running stretch, each at least ``minimum_s``."""
        return sum(stretch.billed_s(now, minimum_s) for stretch in self.billing)

    def cost_usd(self, now: float, minimum_s: float) -> float:
        """Dollars billed up to ``now``."""
        return sum(
            stretch.price_per_hour_usd * stretch.billed_s(now, minimum_s) / 3600
            for stretch in self.billing
        )

    def stop_billing(self, now: float) -> None:
        """The instance stops (terminated, or stopped for a resize)."""
        if self.billing and self.billing[-1].end_s is None:
            self.billing[-1].end_s = now

    def start_billing(self, now: float) -> None:
        self.billing.append(BillingStretch(now, None, self.instance.price_per_hour_usd))

    def change_type(self, type_name: str, instance: InstanceType) -> None:
        """A resized machine: new capacity and price (its containers were stopped)."""
        self.type_name = type_name
        self.instance = instance
        self.cpu_m = max(0, instance.cpu_m - self.reserved_cpu_m)
        self.memory_mib = max(0, instance.memory_mib - self.reserved_memory_mib)
        self._share_plans.clear()

    # --- CPU sharing --------------------------------------------------------------------------

    def attach(self, container: Container, now: float) -> None:
        """Place ``container`` here and decide how CPU is shared from now on."""
        container.attach(self, now)
        self.containers.append(container)
        self.max_demand_m += container.max_demand_m
        self._share(now)

    def detach(self, container: Container, now: float) -> None:
        """Remove ``container`` (gone) and share the CPU among the others."""
        if container in self.containers:
            self.containers.remove(container)
            self.max_demand_m -= container.max_demand_m
            self._share(now)

    def _share(self, now: float) -> None:
        """Isolated while the containers can never want more than the node has (then each
        simply gets what it wants); otherwise CFS sharing, recomputed as demands change."""
        self._share_plans.clear()  # the weights or the capacity changed
        isolated = self.max_demand_m <= self.cpu_m
        for container in self.containers:
            container.set_isolated(now, isolated)
        if isolated:
            self.total_demand_m = 0
            self.contended = False
        else:
            self.total_demand_m = sum(container.demand_m for container in self.containers)
            self.reallocate(now)

    def reallocate(self, now: float) -> None:
        """Give each container its CFS share of the node for the demands they have now.

        Called whenever a container's demand changes while the node is, or becomes, short of
        CPU. The shares are a function of the demands alone (weights and capacity stay put
        between attach and detach), and a node's containers cycle through few demand
        combinations, so each combination's plan is computed once (:meth:`_plan_shares`).
        A container whose share did not change does no work.
        """
        containers = self.containers
        demands = tuple([container.demand_m for container in containers])
        plan = self._share_plans.get(demands)
        if plan is None:
            if len(self._share_plans) >= _MAX_SHARE_PLANS:
                self._share_plans.clear()
            plan = self._share_plans[demands] = self._plan_shares()
        self.contended, shares = plan
        self._plans_made += 1
        made = self._plans_made
        for position, share in shares:
            container = containers[position]
            if share != container.alloc_cores:
                container.set_alloc(now, share)
                if self._plans_made != made:
                    # Its new share changed its demand (a CFS quota ran out): the node was
                    # shared anew for that, for every container; this plan is stale.
                    return

    def _plan_shares(self) -> tuple[bool, tuple[tuple[int, float], ...]]:
        """Weighted max-min fairness ("water filling") over the current demands.

        Returns whether the node is contended and ``(position, share in cores)`` for every
        container, in the order shares are handed out: containers that want nothing give
        theirs back first; then, while the node has enough, each gets what it wants; once it
        has not, the containers that want least per unit of weight are satisfied first, and
        whatever they leave is shared by the rest in proportion to their weights.
        """
        containers = self.containers
        shares = [(position, 0.0) for position, c in enumerate(containers) if c.demand_m == 0]
        wanting = [(position, c) for position, c in enumerate(containers) if c.demand_m > 0]
        if self.total_demand_m <= self.cpu_m:
            shares += [(position, c.demand_m / 1000) for position, c in wanting]
            return False, tuple(shares)
        wanting.sort(key=lambda item: item[1].demand_m / item[1].request_m)
        remaining = self.cpu_m / 1000
        weight_left = float(sum(c.request_m for _, c in wanting))
        for rank, (position, container) in enumerate(wanting):
            fair = remaining * container.request_m / weight_left
            wanted = container.demand_m / 1000
            if wanted > fair:
                shares += [(p, remaining * c.request_m / weight_left) for p, c in wanting[rank:]]
                break
            shares.append((position, wanted))
            remaining -= wanted
            weight_left -= container.request_m
        return True, tuple(shares)


_MAX_SHARE_PLANS = 4096
"""Demand combinations remembered per node (a bound for nodes with many containers)."""

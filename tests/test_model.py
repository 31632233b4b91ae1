"""The model's parts, driven with exact arrivals and demands: event order and timing.

Each case sends a few requests with chosen arrival times and CPU demands through the request
lane into containers, and checks when each one ends and how (the ``(what, time)`` style of
SimPy's own tests).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import simpy

from sim.config.catalogue import InstanceType
from sim.config.schema import Connections
from sim.model.balancer import ALGORITHMS, Balancer, make_balancer
from sim.model.connect import Connector
from sim.model.container import Container, DeadReplica
from sim.model.kernel import RequestLane, Ticker
from sim.model.node import Node
from sim.model.quota import QuotaContainer
from sim.model.recorder import OUTCOME_NAMES, Recorder


@dataclass
class Bench:
    env: simpy.Environment
    lane: RequestLane
    recorder: Recorder
    containers: list[Container]
    nodes: list[Node]
    balancer: Balancer
    connector: Connector


def make_bench(
    arrivals: Sequence[tuple[float, float]],
    *,
    containers: int = 1,
    concurrency: int = 1,
    queue_limit: int = 100,
    cpu_limit_m: int | None = 1000,
    cpu_requests_m: Sequence[int] | None = None,
    timeout_s: float = 1e9,
    node_vcpu: int = 8,
    algorithm: str = "round_robin",
    cfs_period_s: float | None = None,
    overflow: str = "reject",
    connect_timeout_s: float = 10.0,
    startup_cpu_m: int = 0,
    cancel_on_timeout: bool = False,
    notify_clients: bool = False,
    next_upstream_tries: int = 0,
) -> Bench:
    """Containers on one node, fed ``(arrival_s, demand_s)`` requests in order."""
    env = simpy.Environment()
    recorder = Recorder(warmup_s=0.0, slo_percentile=95, keep_requests=True)
    balancer = make_balancer(algorithm, np.random.default_rng(1))
    times = [time for time, _ in arrivals]
    demands = [demand for _, demand in arrivals]
    lane = RequestLane(env, balancer, recorder, iter([(times, demands, [0] * len(times))]))
    node = Node(
        name="node-0",
        index=0,
        type_name="test",
        instance=InstanceType(vcpu=node_vcpu, memory_mib=65536, price_per_hour_usd=1.0),
        launched_s=0.0,
    )
    requests_m = cpu_requests_m or [1000] * containers
    connector = Connector(
        lane=lane,
        balancer=balancer,
        recorder=recorder,
        timeout_s=timeout_s,
        connect_timeout_s=connect_timeout_s,
        next_upstream_tries=next_upstream_tries,
    )
    made = []
    for index in range(containers):
        kind = Container if cfs_period_s is None else QuotaContainer
        quota = {} if cfs_period_s is None else {"cfs_period_s": cfs_period_s}
        container = kind(
            **quota,
            connector=connector if overflow == "drop" else None,
            cancel_on_timeout=cancel_on_timeout,
            notify_clients=notify_clients,
            name=f"c{index}",
            index=index,
            concurrency=concurrency,
            queue_limit=queue_limit,
            timeout_s=timeout_s,
            cpu_limit_m=cpu_limit_m,
            cpu_request_m=requests_m[index],
            memory_request_mib=0,
            startup_cpu_m=startup_cpu_m,
            lane=lane,
            recorder=recorder,
            created_s=0.0,
        )
        node.attach(container, 0.0)
        container.state = "ready"
        balancer.add(container)
        made.append(container)
    lane.start()
    return Bench(env, lane, recorder, made, [node], balancer, connector)


def outcomes(bench: Bench, until_s: float = 1000.0) -> list[tuple[str, float, float]]:
    """``(outcome, arrival_s, end_s)`` of every request, in order of arrival."""
    bench.env.run(until=until_s)
    log = bench.recorder.request_log or []
    rows = sorted(log, key=lambda row: (row[0], row[1]))
    return [(OUTCOME_NAMES[row[4]], row[0], round(row[1], 9)) for row in rows]


CASES = {
    "fcfs-one-slot": (
        dict(arrivals=[(0.0, 1.0), (0.1, 1.0), (0.2, 1.0)], concurrency=1),
        [("completed", 0.0, 1.0), ("completed", 0.1, 2.0), ("completed", 0.2, 3.0)],
    ),
    "processor-sharing-one-core": (
        # A runs alone for 0.5 s, then A and B share the core: A needs 0.5 s more at half
        # speed (ends at 1.5), B has 0.5 s left when A leaves and runs at full speed (2.0).
        dict(arrivals=[(0.0, 1.0), (0.5, 1.0)], concurrency=10),
        [("completed", 0.0, 1.5), ("completed", 0.5, 2.0)],
    ),
    "each-request-capped-at-one-core": (
        # Four cores and two requests: each gets one core, no more.
        dict(arrivals=[(0.0, 1.0), (0.0, 1.0)], concurrency=4, cpu_limit_m=4000),
        [("completed", 0.0, 1.0), ("completed", 0.0, 1.0)],
    ),
    "limit-below-busy-slots": (
        # 1.5 cores for three requests of 1 CPU-s: each runs at 0.5 core, all end at 2.0.
        dict(arrivals=[(0.0, 1.0)] * 3, concurrency=3, cpu_limit_m=1500),
        [("completed", 0.0, 2.0)] * 3,
    ),
    "queue-full-is-rejected-at-once": (
        dict(arrivals=[(0.0, 1.0)] * 3, concurrency=1, queue_limit=1),
        [("rejected", 0.0, 0.0), ("completed", 0.0, 1.0), ("completed", 0.0, 2.0)],
    ),
    "timeout-in-service-and-in-queue": (
        # The second request starts at 1.0 and is given up at 1.5 while in service; the third
        # is given up at 1.5 while still waiting.
        dict(arrivals=[(0.0, 1.0)] * 3, concurrency=1, timeout_s=1.5),
        [("completed", 0.0, 1.0), ("timed_out", 0.0, 1.5), ("timed_out", 0.0, 1.5)],
    ),
    "timeout-boundary-just-inside": (
        dict(arrivals=[(0.0, 1.0), (0.0, 1.0)], concurrency=1, timeout_s=2.000001),
        [("completed", 0.0, 1.0), ("completed", 0.0, 2.0)],
    ),
    "timeout-boundary-just-outside": (
        dict(arrivals=[(0.0, 1.0), (0.0, 1.0)], concurrency=1, timeout_s=1.999999),
        [("completed", 0.0, 1.0), ("timed_out", 0.0, 1.999999)],
    ),
    "full-backlog-drops-and-a-resent-syn-gets-through": (
        # The second finds no room and its SYN is dropped; the resend at 1 s finds the worker
        # still busy, the one at 3 s (1 + 2) finds it free: it runs from 3 s to 4 s.
        dict(arrivals=[(0.0, 2.5), (0.0, 1.0)], queue_limit=0, overflow="drop"),
        [("completed", 0.0, 2.5), ("completed", 0.0, 4.0)],
    ),
    "full-backlog-until-the-connect-timeout": (
        # Resent at 1 s, still no room; the client's 2 s connect timeout runs out first.
        dict(
            arrivals=[(0.0, 2.5), (0.0, 1.0)],
            queue_limit=0,
            overflow="drop",
            connect_timeout_s=2.0,
        ),
        [("rejected", 0.0, 2.0), ("completed", 0.0, 2.5)],
    ),
    "full-backlog-until-the-client-timeout": (
        dict(
            arrivals=[(0.0, 2.5), (0.0, 1.0)],
            queue_limit=0,
            overflow="drop",
            timeout_s=1.5,
        ),
        [("timed_out", 0.0, 1.5), ("timed_out", 0.0, 1.5)],
    ),
    # CFS quota of 1 core per 100 ms period; each request may use a core of the 8-core node.
    "cfs-quota-burst-runs-on-four-cores-then-stalls": (
        # Four cores use the 0.1 CPU-s quota by 25 ms (each request 25 ms done, 15 ms left);
        # stalled to 100 ms; then 15 ms more: all end at 115 ms.
        dict(arrivals=[(0.0, 0.04)] * 4, concurrency=4, cfs_period_s=0.1),
        [("completed", 0.0, 0.115)] * 4,
    ),
    "smooth-cap-same-burst": (
        # One core shared by four: each at a quarter core, 40 ms of work ends at 160 ms.
        dict(arrivals=[(0.0, 0.04)] * 4, concurrency=4),
        [("completed", 0.0, 0.16)] * 4,
    ),
    "cfs-quota-eight-requests-over-four-periods": (
        # Eight cores spend the quota in 12.5 ms, 12.5 ms of work each per period: 50 ms of
        # work takes three whole periods and 12.5 ms of a fourth.
        dict(arrivals=[(0.0, 0.05)] * 8, concurrency=8, cfs_period_s=0.1),
        [("completed", 0.0, 0.3125)] * 8,
    ),
    "cfs-quota-two-requests-spend-it-twice": (
        # Two cores: stalled from 50 ms to 100 ms, done at 150 ms (smooth: 200 ms).
        dict(arrivals=[(0.0, 0.1)] * 2, concurrency=2, cfs_period_s=0.1),
        [("completed", 0.0, 0.15)] * 2,
    ),
    "cfs-quota-never-binds-at-the-limit": (
        # One request uses one core, exactly the limit: never throttled.
        dict(arrivals=[(0.0, 0.25)], concurrency=2, cfs_period_s=0.1),
        [("completed", 0.0, 0.25)],
    ),
    "cfs-quota-burst-then-within-the-limit-still-runs-out": (
        # Four cores for 20 ms spend 80 ms of the 100 ms quota; the long request then runs
        # alone at one core (the limit) and spends the rest by 40 ms: stalled to 100 ms, it
        # has 160 ms left, 100 ms per period: done at 260 ms.
        dict(arrivals=[(0.0, 0.02)] * 3 + [(0.0, 0.2)], concurrency=4, cfs_period_s=0.1),
        [("completed", 0.0, 0.02)] * 3 + [("completed", 0.0, 0.26)],
    ),
    "cfs-quota-throttled-and-emptied-newcomer-waits": (
        # Four requests spend the quota by 25 ms and are cancelled at their 50 ms deadline,
        # throttled; one sent at 60 ms waits for the next period: 100 ms to 110 ms.
        dict(
            arrivals=[(0.0, 1.0)] * 4 + [(0.06, 0.01)],
            concurrency=4,
            cfs_period_s=0.1,
            timeout_s=0.05,
            cancel_on_timeout=True,
        ),
        [("timed_out", 0.0, 0.05)] * 4 + [("completed", 0.06, 0.11)],
    ),
    "clients-watched-an-answer-at-the-deadline-is-an-answer": (
        dict(arrivals=[(0.0, 1.0)], concurrency=2, timeout_s=1.0, notify_clients=True),
        [("completed", 0.0, 1.0)],
    ),
    "clients-watched-timeout-counted-at-its-time": (
        # The second waits for the only worker; its client leaves at 1.5 s (counted then),
        # while the server runs it from 1 s to 2 s anyway.
        dict(arrivals=[(0.0, 1.0), (0.0, 1.0)], concurrency=1, timeout_s=1.5, notify_clients=True),
        [("completed", 0.0, 1.0), ("timed_out", 0.0, 1.5)],
    ),
    "cfs-quota-late-arrival-mid-period": (
        # Alone from 0: a core, within the limit. At 50 ms a second joins: two cores, the
        # 50 ms left of the quota is gone at 75 ms (each 25 ms more); stalled to 100 ms;
        # the first needs 25 ms more (ends 125 ms), the second 75 ms: alone at a core after
        # 125 ms, it ends at 175 ms.
        dict(arrivals=[(0.0, 0.1), (0.05, 0.1)], concurrency=2, cfs_period_s=0.1),
        [("completed", 0.0, 0.125), ("completed", 0.05, 0.175)],
    ),
    "round-robin-over-two-containers": (
        dict(arrivals=[(0.0, 1.0), (0.0, 1.0), (0.0, 1.0)], containers=2, concurrency=1),
        [("completed", 0.0, 1.0), ("completed", 0.0, 1.0), ("completed", 0.0, 2.0)],
    ),
    "least-connections-avoids-the-busy-one": (
        # The first two go to c0 and c1; the third to whichever is emptier: c0 finished early.
        dict(
            arrivals=[(0.0, 0.5), (0.0, 5.0), (1.0, 1.0)],
            containers=2,
            concurrency=4,
            algorithm="least_connections",
        ),
        [("completed", 0.0, 0.5), ("completed", 0.0, 5.0), ("completed", 1.0, 2.0)],
    ),
}


@pytest.mark.parametrize(("setup", "expected"), CASES.values(), ids=CASES.keys())
def test_request_outcomes_and_times(setup: dict, expected: list) -> None:
    assert outcomes(make_bench(**setup)) == expected


def test_weighted_fair_share_of_a_contended_node() -> None:
    # Two unlimited containers on a 2-core node, each with 4 requests in service, want 2
    # cores each; CFS divides the node by their CPU requests, 1:3.
    bench = make_bench(
        [(0.0, 10.0)] * 8,
        containers=2,
        concurrency=4,
        cpu_limit_m=None,
        cpu_requests_m=[250, 750],
        node_vcpu=2,
    )
    bench.env.run(until=1.0)
    small, large = bench.containers
    assert (small.busy, large.busy) == (4, 4)
    assert small.alloc_cores == pytest.approx(0.5)
    assert large.alloc_cores == pytest.approx(1.5)
    assert small.cpu_used_until(1.0) == pytest.approx(0.5)
    assert large.cpu_used_until(1.0) == pytest.approx(1.5)


def test_an_idle_neighbour_leaves_its_share_to_the_busy_one() -> None:
    # Work conservation: only one container is busy, it gets the whole node.
    bench = make_bench(
        [(0.0, 4.0)] * 2,
        containers=2,
        concurrency=4,
        cpu_limit_m=None,
        cpu_requests_m=[250, 750],
        node_vcpu=2,
        algorithm="least_connections",
    )
    bench.env.run(until=0.5)
    busy = [c for c in bench.containers if c.busy]
    assert len(busy) == 2  # least connections spread them: one each
    assert [c.alloc_cores for c in bench.containers] == pytest.approx([1.0, 1.0])


def test_share_follows_weights_only_beyond_what_a_container_wants() -> None:
    # The small-weight container wants 0.5 core (one request, limit 500m): it gets it in
    # full, and the other takes the rest (weighted max-min fairness, not plain proportions).
    bench = make_bench(
        [(0.0, 10.0)] * 3,
        containers=2,
        concurrency=4,
        cpu_limit_m=None,
        cpu_requests_m=[500, 500],
        node_vcpu=2,
        algorithm="round_robin",
    )
    bench.env.run(until=0.1)
    first, second = bench.containers
    assert (first.busy, second.busy) == (2, 1)
    # Demands 2 and 1 core on 2 cores: water filling gives the one-request container 1 core
    # (its fair half), and the other the remaining 1 core.
    assert first.alloc_cores + second.alloc_cores == pytest.approx(2.0)
    assert second.alloc_cores == pytest.approx(1.0)


def test_remembered_shares_are_weighted_max_min_fair_for_every_demand_combination() -> None:
    # Five containers of unequal weights on a 4-core node, their demands changed at random;
    # after each change every share must be the weighted max-min fair one (work-conserving,
    # none above its demand, every capped container at the highest level per unit of
    # weight), and a plan remembered from earlier must give what a fresh one computes.
    bench = make_bench(
        [],
        containers=5,
        concurrency=3,
        cpu_limit_m=3000,
        cpu_requests_m=[250, 500, 500, 1000, 2000],
        node_vcpu=4,
    )
    node = bench.nodes[0]
    containers = bench.containers
    rng = np.random.default_rng(5)
    for step in range(2000):
        container = containers[int(rng.integers(len(containers)))]
        demand_m = container._demand_by_busy[int(rng.integers(4))]
        node.total_demand_m += demand_m - container.demand_m
        container.demand_m = demand_m
        node.reallocate(float(step))
        shares = [c.alloc_cores for c in containers]
        demands = [c.demand_m / 1000 for c in containers]
        assert sum(shares) == pytest.approx(min(node.cpu_m / 1000, sum(demands)))
        assert all(share <= demand + 1e-12 for share, demand in zip(shares, demands, strict=True))
        levels = [share / (c.request_m / 1000) for share, c in zip(shares, containers, strict=True)]
        for share, demand, level in zip(shares, demands, levels, strict=True):
            if share < demand - 1e-12:
                assert level == pytest.approx(max(levels))
        remembered = node._share_plans[tuple(c.demand_m for c in containers)]
        assert remembered == node._plan_shares()
    assert len(node._share_plans) <= 4**5


def test_a_starting_neighbour_takes_its_cfs_share_while_it_warms_up() -> None:
    # Four cores. c0 serves four 1 CPU-s requests (it wants four cores); c1 starts and
    # burns two cores warming up until t = 1. Equal weights: fair shares of two cores
    # each, so c0's requests run at half speed until 1 s (half done), then at full speed.
    bench = make_bench(
        [(0.0, 1.0)] * 4,
        containers=2,
        concurrency=4,
        cpu_limit_m=None,
        node_vcpu=4,
        startup_cpu_m=2000,
    )
    starter = bench.containers[1]
    bench.balancer.remove(starter)
    starter.warm_up(0.0, starter.startup_cpu_m)

    def warmed() -> Generator[simpy.Event, None, None]:
        yield bench.env.timeout(1.0)
        starter.warm_up(bench.env.now, 0)

    bench.env.process(warmed())
    assert outcomes(bench) == [("completed", 0.0, 1.5)] * 4
    # Its warm-up is CPU it used: two cores for one second.
    assert starter.cpu_used_until(2.0) == pytest.approx(2.0)


def test_without_a_warm_up_the_same_requests_take_one_second() -> None:
    bench = make_bench([(0.0, 1.0)] * 4, containers=2, concurrency=4, cpu_limit_m=None, node_vcpu=4)
    bench.balancer.remove(bench.containers[1])
    assert outcomes(bench) == [("completed", 0.0, 1.0)] * 4


def test_draining_finishes_accepted_work_and_takes_no_more() -> None:
    bench = make_bench([(0.0, 1.0), (0.0, 1.0), (0.5, 1.0)], concurrency=1)
    container = bench.containers[0]
    bench.env.run(until=0.2)
    bench.lane._balancer.remove(container)
    container.drain(0.2)
    drained = []
    container.on_drained = lambda c: drained.append(bench.env.now)
    result = outcomes(bench)
    assert result[:2] == [("completed", 0.0, 1.0), ("completed", 0.0, 2.0)]
    assert result[2] == ("rejected", 0.5, 0.5)  # arrived after it stopped being routable
    assert drained == [2.0]


def test_kill_loses_queued_and_running_requests() -> None:
    bench = make_bench([(0.0, 1.0)] * 3, concurrency=1)
    bench.env.run(until=0.5)
    lost = bench.containers[0].kill(0.5)
    assert lost == 3
    assert [row[0] for row in outcomes(bench)] == ["rejected"] * 3


def test_no_routable_replica_rejects() -> None:
    bench = make_bench([(0.0, 1.0), (0.1, 1.0)], containers=1)
    bench.lane._balancer.remove(bench.containers[0])
    assert [row[0] for row in outcomes(bench)] == ["rejected", "rejected"]


@pytest.mark.parametrize("algorithm", ["round_robin", "random", "power_of_two_choices"])
def test_balancers_spread_load_over_all_replicas(algorithm: str) -> None:
    arrivals = [(i * 0.01, 0.025) for i in range(4000)]  # about 2.5 requests in flight
    bench = make_bench(arrivals, containers=4, concurrency=1, algorithm=algorithm)
    bench.env.run(until=100)
    per_replica = np.bincount([row[3] for row in bench.recorder.request_log or []], minlength=4)
    assert per_replica.sum() == 4000
    # Round robin is exact; random picks are binomial(4000, 1/4): ±5 sd is about ±137.
    assert per_replica.min() >= 1000 - 140
    if algorithm == "round_robin":
        assert per_replica.tolist() == [1000] * 4


def test_random_pick_is_the_uniform_of_each_request_times_the_replicas_of_the_moment() -> None:
    # kube-proxy's uniform pick: request k goes to replica int(u_k × n), u_k the k-th uniform
    # of the balancer stream and n the routable replicas when it arrives, however the
    # routable set changes in between (picks computed ahead must be recomputed).
    balancer = make_balancer("random", np.random.default_rng(7))
    uniforms = np.random.default_rng(7).random(200_000)
    replicas = [SimpleNamespace(name=f"replica-{k}") for k in range(9)]
    changes = np.random.default_rng(3)
    for replica in replicas[:3]:
        balancer.add(replica)  # type: ignore[arg-type]
    used = 0
    for _ in range(6000):
        if changes.random() < 0.3:  # a replica joins or leaves
            if len(balancer.routable) < len(replicas) and changes.random() < 0.5:
                balancer.add(next(r for r in replicas if r not in balancer.routable))  # type: ignore[arg-type]
            elif len(balancer.routable) > 1:
                balancer.remove(balancer.routable[int(changes.integers(len(balancer.routable)))])
        for _ in range(int(changes.integers(0, 25))):  # none at times: changes in a row
            expected = balancer.routable[int(uniforms[used] * len(balancer.routable))]
            assert balancer.pick() is expected
            used += 1
    assert used > _draw_batch()  # the stream was drawn again on the way


def _draw_batch() -> int:
    from sim.model import balancer

    return balancer._DRAW_BATCH


def test_least_connections_breaks_ties_towards_the_first_replica() -> None:
    # IPVS lc: the fewest connections wins, ties go to the first in the list. With at most
    # three requests in flight the fourth replica is never needed.
    arrivals = [(i * 0.01, 0.025) for i in range(4000)]
    bench = make_bench(arrivals, containers=4, concurrency=1, algorithm="least_connections")
    bench.env.run(until=100)
    per_replica = np.bincount([row[3] for row in bench.recorder.request_log or []], minlength=4)
    assert per_replica.tolist() == [1334, 1333, 1333, 0]


def test_power_of_two_choices_picks_two_distinct_replicas() -> None:
    balancer = make_balancer("power_of_two_choices", np.random.default_rng(3))
    bench = make_bench([(0.0, 1.0)], containers=2, concurrency=1)
    a, b = bench.containers
    a.busy = 5  # a is loaded; any pair of distinct replicas contains b
    balancer.add(a)
    balancer.add(b)
    assert all(balancer.pick() is b for _ in range(200))


def test_simpy_events_at_the_same_time_come_before_the_lane() -> None:
    # A lifecycle event at t = 1.0 (here: removing the only replica) is applied before an
    # arrival at exactly 1.0, so that request finds no replica.
    bench = make_bench([(0.5, 0.1), (1.0, 0.1)], containers=1)
    container = bench.containers[0]

    def remove() -> simpy.events.Event:
        yield bench.env.timeout(1.0)
        bench.lane._balancer.remove(container)

    bench.env.process(remove())
    assert [row[0] for row in outcomes(bench)] == ["completed", "rejected"]


def test_the_lane_moves_the_environment_clock() -> None:
    bench = make_bench([(0.25, 0.5)], containers=1)
    seen: list[float] = []
    container = bench.containers[0]
    container.on_drained = lambda _: seen.append(bench.env.now)
    bench.env.run(until=0.3)
    assert bench.env.now == 0.3
    container.drain(0.3)  # drained when the request leaves, at 0.75
    bench.env.run(until=2.0)
    assert seen == [0.75]


def test_kernel_contract_with_simpy() -> None:
    # The lane relies on these attributes of simpy.Environment (pinned SimPy version).
    env = simpy.Environment()
    assert isinstance(env._queue, list)
    assert next(env._eid) == 0
    env._now = 3.0
    assert env.now == 3.0


# --- the ticker: control loops on SimPy's schedule ---------------------------------------------


def test_ticker_ticks_on_its_grid_from_the_first_tick() -> None:
    env = simpy.Environment()
    seen: list[float] = []
    Ticker(env, 2.5, 10.0, lambda now: seen.append(now) or True)
    env.run(until=40.0)
    assert seen == [2.5, 12.5, 22.5, 32.5]


def test_sleeping_ticker_resumes_at_its_next_grid_tick_after_a_wake() -> None:
    env = simpy.Environment()
    seen: list[float] = []
    ticker = Ticker(env, 1.0, 5.0, lambda now: seen.append(now) or now < 6.0)

    def wake_at(time_s: float) -> simpy.events.Event:
        yield env.timeout(time_s)
        ticker.wake(env.now)

    env.process(wake_at(23.0))  # asleep after the tick at 6.0; the grid goes on: 11, 16, 21, 26
    env.run(until=40.0)
    assert seen == [1.0, 6.0, 26.0]
    ticker.wake(40.0)
    ticker.wake(40.0)  # waking an awake ticker changes nothing
    env.run(until=52.0)
    assert seen == [1.0, 6.0, 26.0, 41.0]  # 41 said to sleep again


def test_ticker_wakes_on_a_grid_tick_that_falls_exactly_at_the_wake() -> None:
    env = simpy.Environment()
    seen: list[float] = []
    ticker = Ticker(env, 0.0, 5.0, lambda now: seen.append(now) or False)
    env.run(until=12.0)
    ticker.wake(15.0)
    env.run(until=30.0)
    assert seen == [0.0, 15.0]


def test_ticker_rejects_a_period_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="period must be positive"):
        Ticker(simpy.Environment(), 0.0, 0.0, lambda now: True)


def test_every_balancer_name_of_the_schema_has_its_class() -> None:
    from typing import get_args

    from sim.config.schema import BalancerAlgorithm

    assert tuple(ALGORITHMS) == get_args(BalancerAlgorithm)


def test_keep_alive_connections_leave_a_new_replica_idle_until_they_are_recycled() -> None:
    env = simpy.Environment()
    inner = make_balancer("round_robin", np.random.default_rng(1))
    settings = Connections(count=4, requests_per_connection=10)
    balancer = make_balancer("round_robin", np.random.default_rng(1), settings, env)
    old = [SimpleNamespace(name=f"old-{i}", routable=False, listening=True) for i in range(2)]
    for replica in old:
        balancer.add(replica)  # type: ignore[arg-type]
    first = [balancer.pick() for _ in range(8)]
    # Four connections opened round robin over the two replicas, two each.
    assert [replica.name for replica in first] == ["old-0", "old-1"] * 4  # type: ignore[union-attr]
    new = SimpleNamespace(name="new", routable=False, listening=True)
    balancer.add(new)  # type: ignore[arg-type]
    # Each connection has carried 2 of its 10 requests: 32 more before any is recycled.
    assert all(balancer.pick() is not new for _ in range(32))
    # Then the four are opened again, round robin over three replicas (its turn comes next).
    recycled = [balancer.pick() for _ in range(4)]
    assert [replica.name for replica in recycled] == ["new", "old-0", "old-1", "new"]  # type: ignore[union-attr]
    assert balancer.opened == 8  # type: ignore[attr-defined]
    # Removing a replica re-opens its connections at once, on the others.
    balancer.remove(new)  # type: ignore[arg-type]
    assert all(balancer.pick() is not new for _ in range(40))
    assert inner.routable == []  # the inner balancer passed in was not touched


def test_keep_alive_connections_are_reopened_at_their_age_limit() -> None:
    env = simpy.Environment()
    settings = Connections(count=1, requests_per_connection=None, max_age_s=5.0)
    balancer = make_balancer("round_robin", np.random.default_rng(1), settings, env)
    replicas = [SimpleNamespace(name=f"r{i}", routable=False, listening=True) for i in range(2)]
    for replica in replicas:
        balancer.add(replica)  # type: ignore[arg-type]
    assert all(balancer.pick() is replicas[0] for _ in range(100))
    env.run(until=5.0)
    assert balancer.pick() is replicas[1]


def test_a_watched_client_is_counted_once_though_the_server_finishes_its_request() -> None:
    bench = make_bench([(0.0, 1.0), (0.0, 1.0)], concurrency=1, timeout_s=1.5, notify_clients=True)
    bench.env.run(until=1.6)
    assert bench.recorder.interval_timed_out == 1  # at 1.5 s, while it is in service
    bench.env.run(until=3.0)
    assert bench.recorder.interval_timed_out == 1
    assert bench.recorder.interval_late_answers == 1  # the answer at 2 s reaches no one
    assert bench.recorder.interval_wasted_cpu_s == pytest.approx(1.0)


def test_a_late_connection_joins_the_queue_behind_those_made_before_it() -> None:
    # Two workers on a core, three places in the backlog. The request sent at 0.2 s finds the
    # backlog full; its SYN resent at 3.2 s gets in behind the one sent at 2.1 s (the kernel
    # queues connections in the order they are made). Its client's timeout, at 5.2 s, is
    # counted once the one ahead of it is counted, at 7.1 s, dated back to its own time.
    arrivals = [(0.0, 1.0), (0.0, 1.5), (0.05, 10), (0.1, 10), (0.15, 10), (0.2, 0.1)]
    arrivals.append((2.1, 10))
    bench = make_bench(
        arrivals, concurrency=2, queue_limit=3, overflow="drop", timeout_s=5.0, notify_clients=True
    )
    container = bench.containers[0]
    bench.env.run(until=5.5)
    assert [arrival for arrival, _, _ in container.queue] == [0.15, 2.1, 0.2]

    def counted() -> list[tuple[float, float]]:
        log = bench.recorder.request_log or []
        rows = [row for row in log if OUTCOME_NAMES[row[4]] == "timed_out"]
        return sorted((row[0], round(row[1], 9)) for row in rows)

    assert counted() == [(0.05, 5.05), (0.1, 5.1), (0.15, 5.15)]
    bench.env.run(until=7.2)
    assert counted()[-2:] == [(0.2, 5.2), (2.1, 7.1)]


def test_the_proxy_does_not_send_its_next_try_back_to_the_dead_replica() -> None:
    # least_connections would pick the dead stand-in every time (it looks idle) were the
    # connections waiting on it not counted; the proxy's try after 5 s lands on the live one.
    bench = make_bench(
        [(0.0, 0.1), (0.5, 0.1), (1.0, 0.1)],
        containers=2,
        concurrency=4,
        algorithm="least_connections",
        timeout_s=60.0,
        next_upstream_tries=3,
    )
    dead = bench.containers[0]
    dead.kill(0.0)
    bench.balancer.stand_in(dead, DeadReplica(dead, bench.connector))
    assert outcomes(bench, 100.0) == [
        ("completed", 0.0, 5.1),
        ("completed", 0.5, 0.6),
        ("completed", 1.0, 1.1),
    ]


def test_a_neighbour_throttled_mid_reallocation_leaves_its_cores_to_the_others() -> None:
    # Two cores; limits of 0.5 core per 100 ms period; weights 1000, 1000, 500. c0 and c1
    # each run two long requests, c2 one of 40 ms. Shared by weight, c0 and c1 get 0.8 core,
    # c2 0.4: c0 and c1 spend their quota at 62.5 ms (25 ms of c2's work done), are
    # throttled, and c2 runs alone on a core: its last 15 ms end at 77.5 ms.
    bench = make_bench(
        [(0.0, 1.0), (0.0, 1.0), (0.0, 0.04), (0.0, 1.0), (0.0, 1.0)],
        containers=3,
        concurrency=2,
        cpu_limit_m=500,
        cpu_requests_m=[1000, 1000, 500],
        node_vcpu=2,
        cfs_period_s=0.1,
    )
    assert ("completed", 0.0, 0.0775) in outcomes(bench, 0.2)


def test_a_crash_in_place_gives_its_share_to_its_neighbours_at_once() -> None:
    # Two cores, two containers of two 4 s requests each: a core each, half a core per
    # request. c0 crashes at 0.5 s (it will restart in place, still on the node): c1's
    # requests, a quarter done, run on a core each from then on and end at 4.25 s.
    bench = make_bench([(0.0, 4.0)] * 4, containers=2, concurrency=2, cpu_limit_m=None, node_vcpu=2)

    def crash() -> Generator[simpy.Event, None, None]:
        yield bench.env.timeout(0.5)
        bench.balancer.remove(bench.containers[0])
        bench.containers[0].kill(bench.env.now)

    bench.env.process(crash())
    completed = [row for row in outcomes(bench, 10.0) if row[0] == "completed"]
    assert completed == [("completed", 0.0, 4.25)] * 2


def test_at_the_end_a_late_connection_whose_client_left_is_a_timeout_not_in_flight() -> None:
    # As in the test of late connections above, stopped at 5.5 s: the request sent at 0.2 s
    # waits behind the one sent at 2.1 s; its client gave up at 5.2 s.
    arrivals = [(0.0, 1.0), (0.0, 1.5), (0.05, 10), (0.1, 10), (0.15, 10), (0.2, 0.1)]
    arrivals.append((2.1, 10))
    for notify in (False, True):
        bench = make_bench(
            arrivals,
            concurrency=2,
            queue_limit=3,
            overflow="drop",
            timeout_s=5.0,
            notify_clients=notify,
        )
        container = bench.containers[0]
        bench.env.run(until=5.5)
        container.finish_run(5.5)
        assert [arrival for arrival, _ in container.requests_in_flight()] != []
        assert 0.2 not in [arrival for arrival, _ in container.requests_in_flight()]
        log = bench.recorder.request_log or []
        assert (0.2, 5.2) in [
            (row[0], round(row[1], 9)) for row in log if OUTCOME_NAMES[row[4]] == "timed_out"
        ]

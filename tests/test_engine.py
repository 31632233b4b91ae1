"""Whole runs of the engine: conservation, determinism, lifecycles, faults and billing."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import sim
from sim import engine
from sim.config.catalogue import CATALOGUE
from sim.policies.autoscaler import ClusterAutoscalerController
from sim.policies.kubernetes import NodeLifecycleController
from sim.policies.swarm import SwarmDispatcher


def scenario(**changes: Any) -> sim.Scenario:
    """A small service on two nodes; ``changes`` are dotted overrides."""
    base = sim.Scenario.model_validate(
        {
            "name": "small",
            "duration_s": 300,
            "warmup_s": 30,
            "sample_interval_s": 10,
            "service": {
                "endpoints": [
                    {
                        "name": "read",
                        "weight": 3,
                        "cpu_demand_s": {"dist": "exponential", "mean": 0.05},
                    },
                    {
                        "name": "write",
                        "weight": 1,
                        "cpu_demand_s": {"dist": "lognormal", "mean": 0.2, "cv": 1.5},
                    },
                ],
                "timeout_s": 2,
                "initial_replicas": 4,
                "container": {
                    "concurrency": 4,
                    "queue_limit": 8,
                    "cpu_request_m": 1000,
                    "cpu_limit_m": 2000,
                },
            },
            "cluster": {"node_type": "m5.xlarge", "initial_nodes": 2},
            "traffic": {"rate_rps": 40},
        }
    )
    return base.with_overrides(changes) if changes else base


def conserved(summary: pd.Series) -> bool:
    accounted = (
        summary["completed"] + summary["rejected"] + summary["timed_out"] + summary["in_flight"]
    )
    return bool(summary["requests"] == accounted)


CONSERVATION_CASES = {
    "light-load": {},
    "overload-queue-full-and-timeouts": {"traffic.rate_rps": 150},
    "overload-503s": {"traffic.rate_rps": 150, "service.container.overflow": "reject"},
    "overload-dropped-syns": {"traffic.rate_rps": 150, "service.connect_timeout_s": 1.5},
    "surge": {"traffic.surges": [{"start_s": 60, "ramp_s": 30, "hold_s": 60, "multiplier": 5}]},
    "node-crash-mid-run": {
        "traffic.rate_rps": 80,
        "faults": [{"kind": "node_crash", "at_s": 120, "node": 1}],
    },
    "node-crash-next-upstream": {
        "traffic.rate_rps": 80,
        "load_balancer.next_upstream": True,
        "load_balancer.connect_timeout_s": 0.5,
        "faults": [{"kind": "node_crash", "at_s": 120, "node": 1}],
    },
    "restart-warms-up-on-the-node-cpu": {
        "traffic.rate_rps": 80,
        "service.container.startup_cpu_m": 2000,
        "faults": [{"kind": "container_crash", "at_s": 120, "replica": 1}],
    },
    "keep-alive-connections-through-a-crash": {
        "traffic.rate_rps": 80,
        "load_balancer.connections": {"count": 6, "requests_per_connection": 50},
        "faults": [{"kind": "node_crash", "at_s": 120, "node": 1}],
    },
    "cfs-smooth-cap": {"traffic.rate_rps": 120, "service.container.cfs_period_s": None},
    "no-replicas-at-all": {"service.initial_replicas": 0},
    "shared-node-cpu": {
        "service.container.cpu_limit_m": None,
        "service.container.concurrency": 16,
        "traffic.rate_rps": 120,
    },
    "random-balancer": {"load_balancer.algorithm": "random", "traffic.rate_rps": 100},
    "least-connections": {"load_balancer.algorithm": "least_connections"},
    "power-of-two": {"load_balancer.algorithm": "power_of_two_choices"},
    "bursty-traffic": {"traffic.burst": {"cv": 1.0, "period_s": 5}, "traffic.rate_rps": 90},
    "run-ends-with-work-in-flight": {"traffic.rate_rps": 90, "duration_s": 95.5},
}


@pytest.mark.parametrize("changes", CONSERVATION_CASES.values(), ids=CONSERVATION_CASES.keys())
def test_every_arrival_has_exactly_one_outcome_or_is_in_flight(changes: dict) -> None:
    result = sim.run(scenario(**changes), seed=3, record_requests=True)
    summary = result.summary
    assert summary["requests"] > 0
    assert conserved(summary)
    # The per-request frame tells the same story, request by request.
    after = result.requests[result.requests["arrival_s"] >= result.scenario.warmup_s]
    counts = after["outcome"].value_counts()
    for outcome in ("completed", "rejected", "timed_out", "in_flight"):
        assert counts.get(outcome, 0) == summary[outcome], outcome
    # And the timeseries counts every event once (warm-up included).
    timeseries = result.timeseries
    assert timeseries["arrivals"].sum() == len(result.requests)
    ended = result.requests["outcome"] != "in_flight"
    assert timeseries[["completed", "rejected", "timed_out"]].to_numpy().sum() == ended.sum()


@pytest.mark.parametrize(
    ("overflow", "refused"), [("reject", "rejected_queue_full"), ("drop", "rejected_connect")]
)
def test_overload_produces_each_kind_of_failure(overflow: str, refused: str) -> None:
    changes = {
        "traffic.rate_rps": 150,
        "service.container.overflow": overflow,
        "service.connect_timeout_s": 1.5,
    }
    summary = sim.run(scenario(**changes), seed=1).summary
    assert summary[refused] > 0
    assert summary["timed_out"] > 0
    assert summary["error_rate"] > 0.05
    assert summary["slo_attainment"] < 1


def test_latency_statistics_ignore_requests_that_arrive_during_warmup() -> None:
    result = sim.run(scenario(), seed=2, record_requests=True)
    frame = result.requests
    completed = frame[(frame["outcome"] == "completed") & (frame["arrival_s"] >= 30)]
    assert len(completed) == result.summary["completed"]
    assert result.summary["latency_mean_s"] == pytest.approx(completed["latency_s"].mean())
    exact_p95 = completed["latency_s"].quantile(0.95, interpolation="higher")
    assert result.summary["latency_p95_s"] == pytest.approx(exact_p95, rel=0.006)


def test_same_seed_same_frames_and_different_seed_differs() -> None:
    first = sim.run(scenario(**{"traffic.rate_rps": 120}), seed=7)
    second = sim.run(scenario(**{"traffic.rate_rps": 120}), seed=7)
    other = sim.run(scenario(**{"traffic.rate_rps": 120}), seed=8)
    pd.testing.assert_frame_equal(first.timeseries, second.timeseries)
    pd.testing.assert_frame_equal(first.events, second.events)
    assert first.summary.drop("wall_time_s").equals(second.summary.drop("wall_time_s"))
    assert first.summary["requests"] != other.summary["requests"]


def test_common_random_numbers_across_balancers() -> None:
    # Arrivals and demands come from their own streams: changing how requests are routed
    # leaves the offered traffic identical, so the comparison between the two is paired.
    round_robin = sim.run(scenario(), seed=5, record_requests=True)
    random = sim.run(
        scenario(**{"load_balancer.algorithm": "random"}), seed=5, record_requests=True
    )
    pd.testing.assert_series_equal(
        round_robin.timeseries["arrivals"], random.timeseries["arrivals"]
    )
    pd.testing.assert_series_equal(round_robin.requests["endpoint"], random.requests["endpoint"])


def test_node_crash_loses_its_replicas_and_their_requests() -> None:
    result = sim.run(
        scenario(
            **{"traffic.rate_rps": 80, "faults": [{"kind": "node_crash", "at_s": 100, "node": 0}]}
        ),
        seed=1,
        record_requests=True,
    )
    events = result.events
    crash = events[events["action"] == "node_crash"]
    assert crash["time_s"].tolist() == [100.0]
    assert crash["target"].tolist() == ["node-0"]
    # static: the balancer's health check (ALB: 2 failures 30 s apart) drops the dead
    # replicas 60 s later; until then every request routed there goes unanswered, and its
    # client (2 s timeout, shorter than its 10 s connect timeout) gives up.
    unroute = events[events["action"] == "unroute"]
    assert unroute["time_s"].tolist() == [160.0]
    assert unroute["source"].tolist() == ["load-balancer"]
    frame = result.requests
    placed = events[(events["action"] == "ready") & (events["time_s"] == 0.0)]["target"]
    assert placed.tolist() == ["replica-0", "replica-1", "replica-2", "replica-3"]
    dead = frame[frame["replica"].isin([0, 2]) & (frame["arrival_s"] > 100)]  # on node-0
    assert (dead["outcome"] == "timed_out").all()
    assert dead["latency_s"].to_numpy() == pytest.approx(2.0)
    assert dead["arrival_s"].max() <= 160
    # Round robin over four replicas, two of them dead: half the requests go there.
    window = frame[frame["arrival_s"].between(110, 150)]
    assert window["replica"].isin([0, 2]).mean() == pytest.approx(0.5, abs=0.01)
    lost = frame[frame["replica"].isin([0, 2]) & (frame["end_s"] == 100)]  # in flight
    assert len(lost) > 0 and (lost["outcome"] == "rejected").all()
    assert result.summary["rejected_fault"] == len(lost)
    timeseries = result.timeseries.set_index("time_s")
    assert timeseries.loc[90.0, "replicas_ready"] == 4
    assert timeseries.loc[110.0, "replicas_ready"] == 2
    assert timeseries.loc[110.0, "nodes_ready"] == 1


def test_a_restart_that_warms_up_burns_cpu_that_shows_in_utilization() -> None:
    crash = {"traffic.rate_rps": 20, "faults": [{"kind": "container_crash", "at_s": 100}]}
    cold = sim.run(scenario(**crash), seed=1).timeseries.set_index("time_s")
    warm = sim.run(
        scenario(**crash, **{"service.container.startup_cpu_m": 2000}), seed=1
    ).timeseries.set_index("time_s")
    # Restarted at 100 s, it burns two cores (its limit) for its 5 s start-up: 10 CPU-s
    # over the 10 s interval on 8 cores of two m5.xlarge.
    extra = (warm.loc[110.0, "cpu_utilization"] - cold.loc[110.0, "cpu_utilization"]) * 8 * 10
    assert extra == pytest.approx(10.0, rel=0.05)


def test_a_fault_on_a_node_that_does_not_exist_is_logged_and_skipped() -> None:
    result = sim.run(scenario(faults=[{"kind": "node_crash", "at_s": 10, "node": 5}]), seed=1)
    skipped = result.events[result.events["action"] == "skipped"]
    assert skipped["target"].tolist() == ["node-5"]


def test_cold_start_pulls_the_image_once_for_the_pods_of_a_node() -> None:
    # Two replicas on one node with no cached 400 MB image at 8 MB/s: one 50 s pull serves
    # both (the second pod finds the image being pulled), then a constant 5 s start-up.
    result = sim.run(
        scenario(
            **{
                "cluster.initial_nodes": 1,
                "cluster.image_cached_on_initial_nodes": False,
                "service.initial_replicas": 2,
                "service.container.image_size_mb": 400,
                "service.container.startup_s": {"dist": "constant", "value": 5},
            }
        ),
        seed=1,
    )
    ready = result.events[result.events["action"] == "ready"]
    assert ready["time_s"].tolist() == pytest.approx([55.0, 55.0])
    assert result.summary["rejected_no_replica"] > 0  # nothing could serve before 56 s


def test_cost_is_price_times_billed_hours() -> None:
    result = sim.run(scenario(duration_s=1800), seed=1)
    price = CATALOGUE["m5.xlarge"].price_per_hour_usd
    assert result.summary["cost_usd"] == pytest.approx(2 * price * 1800 / 3600)
    assert result.summary["node_hours"] == pytest.approx(1.0)
    assert result.timeseries["cost_usd"].is_monotonic_increasing
    assert result.timeseries["cost_usd"].iloc[-1] == pytest.approx(result.summary["cost_usd"])


def test_a_short_run_is_billed_the_minimum_minute() -> None:
    result = sim.run(scenario(duration_s=20, warmup_s=0, sample_interval_s=5), seed=1)
    price = CATALOGUE["m5.xlarge"].price_per_hour_usd
    assert result.summary["cost_usd"] == pytest.approx(2 * price * 60 / 3600)


def test_cpu_utilization_matches_the_offered_work() -> None:
    # 40 req/s × (0.75 × 0.05 + 0.25 × 0.2) CPU-s = 3.5 cores busy of the 8 the nodes have.
    result = sim.run(scenario(duration_s=1200), seed=4)
    steady = result.timeseries[result.timeseries["time_s"] > 60]
    busy_cores = 40 * (0.75 * 0.05 + 0.25 * 0.2)
    assert steady["cpu_utilization"].mean() == pytest.approx(busy_cores / 8, rel=0.05)
    assert steady["replica_cpu_utilization"].mean() == pytest.approx(busy_cores / 4, rel=0.05)


def test_unimplemented_policy_is_a_clear_input_error() -> None:
    with pytest.raises(sim.InputError, match="policy"):
        sim.run(scenario(), policy="no_such_policy")


def _run_with(scenario_: sim.Scenario, *, skip_quiet_ticks: bool) -> sim.Result:
    policy = scenario_.policy.name
    built = engine.build(scenario_, policy, 3, skip_quiet_ticks=skip_quiet_ticks)
    engine.execute(built, progress=False)
    return engine.collect(built, wall_time_s=0.0)


QUIET_CASES = {
    # A run that touches every controller of the policy: a surge the HPA (or the Swarm
    # operator) follows, nodes the cluster autoscaler adds and removes, a node crash the
    # node lifecycle controller (or the Swarm dispatcher) handles.
    "kubernetes": (
        {"policy.kubernetes.hpa": {"min_replicas": 2, "max_replicas": 16}},
        {"set_replicas", "launch", "drain", "unroute", "evict"},
        (NodeLifecycleController, ClusterAutoscalerController),
    ),
    "swarm": (
        {"policy.swarm.operator": {"for_s": 60, "reaction_s": {"dist": "constant", "value": 30}}},
        {"set_replicas", "unroute", "evict"},
        (SwarmDispatcher,),
    ),
}


@pytest.mark.parametrize(
    ("policy", "changes", "actions", "quiet"),
    [(policy, *case) for policy, case in QUIET_CASES.items()],
    ids=list(QUIET_CASES),
)
def test_skipping_quiet_controller_ticks_changes_no_result(
    monkeypatch: pytest.MonkeyPatch,
    policy: str,
    changes: dict[str, Any],
    actions: set[str],
    quiet: tuple[type, ...],
) -> None:
    # Skipping the ticks of controllers that wait for a change must give the same frames,
    # only with fewer decisions taken.
    calls: dict[str, int] = {}
    for cls in quiet:
        decide = cls.decide

        def counted(self: Any, observation: Any, decide: Any = decide) -> Any:
            calls[self.name] = calls.get(self.name, 0) + 1
            return decide(self, observation)

        monkeypatch.setattr(cls, "decide", counted)
    busy = scenario(
        **{
            "duration_s": 2400,
            "warmup_s": 0,
            "policy.name": policy,
            "cluster.max_nodes": 6,
            "traffic.surges": [{"start_s": 300, "ramp_s": 60, "hold_s": 600, "multiplier": 4}],
            "faults": [{"kind": "node_crash", "at_s": 1500, "node": 0}],
            **changes,
        }
    )
    skipped = _run_with(busy, skip_quiet_ticks=True)
    calls_skipping = dict(calls)
    calls.clear()
    every = _run_with(busy, skip_quiet_ticks=False)
    assert set(every.events["action"]) >= actions
    pd.testing.assert_series_equal(skipped.summary, every.summary)
    pd.testing.assert_frame_equal(skipped.timeseries, every.timeseries)
    pd.testing.assert_frame_equal(skipped.events, every.events)
    assert calls_skipping.keys() == calls.keys() == {cls.name for cls in quiet}
    for name, count in calls.items():
        assert calls_skipping[name] < count, name


DEAD_NODE = {
    # Short, equal requests on lightly loaded replicas: what is slow here is the dead node.
    "service.endpoints": [
        {"name": "read", "weight": 1, "cpu_demand_s": {"dist": "constant", "value": 0.01}}
    ],
    "traffic.rate_rps": 40,
    "faults": [{"kind": "node_crash", "at_s": 100, "node": 0}],
}


def test_a_dead_machine_answers_nothing_until_the_connect_timeout() -> None:
    result = sim.run(
        scenario(**DEAD_NODE, **{"service.connect_timeout_s": 1.0}), seed=1, record_requests=True
    )
    frame = result.requests
    # Sent to node-0's replicas after the crash, before the health check gives up at 160 s.
    dead = frame[frame["replica"].isin([0, 2]) & (frame["arrival_s"] > 100)]
    assert len(dead) > 100
    assert (dead["outcome"] == "rejected").all()
    assert dead["latency_s"].to_numpy() == pytest.approx(1.0)  # exactly the connect timeout
    assert result.summary["rejected_connect"] == len(dead[dead["arrival_s"] >= 30])


def test_a_balancer_that_tries_the_next_upstream_hides_the_dead_machine() -> None:
    # ingress-nginx: no answer from node-0's replica within 0.5 s, so the proxy sends the
    # request to the next replica it picks; the client waits 0.5 s longer and is answered.
    changes = {
        "load_balancer.algorithm": "random",
        "load_balancer.next_upstream": True,
        "load_balancer.connect_timeout_s": 0.5,
        "service.connect_timeout_s": 1.0,
    }
    result = sim.run(scenario(**DEAD_NODE, **changes), seed=1, record_requests=True)
    frame = result.requests
    after = frame[(frame["arrival_s"] > 100) & (frame["arrival_s"] < 159)]
    delayed = after[after["latency_s"] >= 0.5]
    # Uniform picks over two dead and two live replicas: half the requests meet a dead one
    # first. The proxy's next pick avoids the replica it just tried (picking again once), so
    # it is dead with probability 1/4 + 1/4 × 1/2 = 3/8; after three tries, 1 − (3/8)² of the
    # delayed requests are answered on a live replica, the rest get the proxy's 504 after
    # 3 × 0.5 s. The client's own connect timeout never comes into it.
    assert len(delayed) == pytest.approx(len(after) / 2, rel=0.1)
    answered = delayed[delayed["outcome"] == "completed"]
    assert set(answered["replica"]) <= {1, 3}
    assert len(answered) / len(delayed) == pytest.approx(1 - (3 / 8) ** 2, abs=0.05)
    refused = delayed[delayed["outcome"] != "completed"]
    assert (refused["outcome"] == "rejected").all()
    assert refused["latency_s"].to_numpy() == pytest.approx(1.5)
    assert result.summary["rejected_connect"] == 0

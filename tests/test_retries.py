"""Clients that retry: amplification, budgets, back-off and conservation of attempts.

The reference case: two replicas behind a random balancer, one of them on a node that crashed
and that nothing has noticed yet, so every attempt independently lands on the dead one (an
instant 5xx) with probability p = 1/2. With up to n attempts a user request makes
1 + p + … + p^(n−1) attempts on average and fails after all of them with probability p^n.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim.config.schema import Retries
from sim.model.retries import Retrier

RATE_RPS = 200.0
DURATION_S = 50.0  # the balancer's health check would notice the dead node only at 60 s


def _scenario(retries: dict[str, Any] | None = None, **overrides: Any) -> sim.Scenario:
    data: dict[str, Any] = {
        "name": "retries",
        "duration_s": DURATION_S,
        "sample_interval_s": 10,
        "service": {
            "endpoints": [
                {"name": "api", "weight": 1, "cpu_demand_s": {"dist": "constant", "value": 0.001}}
            ],
            "timeout_s": 10,
            # The dead node answers nothing: its requests fail when this runs out.
            "connect_timeout_s": 0.1,
            "initial_replicas": 2,
            "container": {"concurrency": 64, "cpu_request_m": 1000, "cpu_limit_m": None},
            "retries": retries or {},
        },
        "cluster": {"node_type": "m5.large", "initial_nodes": 2},
        "load_balancer": {"algorithm": "random"},
        "traffic": {"rate_rps": RATE_RPS},
        "policy": {"name": "static"},
        "faults": [{"kind": "node_crash", "at_s": 0, "node": 1}],
    }
    return sim.Scenario.model_validate(data).with_overrides(overrides)


NO_WAIT = {"base_s": 0.01, "jitter": "none"}


@pytest.mark.parametrize("max_attempts", [1, 2, 3, 5])
def test_amplification_at_a_known_failure_probability(max_attempts: int) -> None:
    p = 0.5
    result = sim.run(_scenario({"max_attempts": max_attempts, "backoff": NO_WAIT}), seed=3)
    summary = result.summary
    users = summary["requests"]
    # Attempts X of one user request: P(X = k) = p^(k−1)(1 − p) for k < n, P(X = n) = p^(n−1).
    chances = [p ** (k - 1) * (1 - p) for k in range(1, max_attempts)] + [p ** (max_attempts - 1)]
    values = np.arange(1, max_attempts + 1)
    attempts_per_user = float(np.dot(chances, values))
    assert attempts_per_user == pytest.approx((1 - p**max_attempts) / (1 - p))
    variance = float(np.dot(chances, values**2)) - attempts_per_user**2
    tolerance = 4 * math.sqrt(variance / users) + 1e-12
    assert summary["amplification"] == pytest.approx(attempts_per_user, abs=tolerance)
    failure = p**max_attempts
    assert summary["user_error_rate"] == pytest.approx(
        failure, abs=4 * math.sqrt(failure * (1 - failure) / users)
    )
    # Per attempt, half fail whatever the limit.
    assert summary["error_rate"] == pytest.approx(p, abs=4 * math.sqrt(0.25 / summary["attempts"]))


def test_attempts_are_conserved() -> None:
    summary = sim.run(_scenario({"max_attempts": 4, "backoff": NO_WAIT}), seed=5).summary
    outcomes = summary["completed"] + summary["rejected"] + summary["timed_out"]
    assert outcomes + summary["in_flight"] == summary["attempts"]
    assert summary["attempts"] == summary["requests"] + summary["retries"]


def test_without_retries_attempts_are_requests_and_user_errors_are_errors() -> None:
    summary = sim.run(_scenario(), seed=3).summary
    assert summary["retries"] == 0
    assert summary["attempts"] == summary["requests"]
    assert summary["amplification"] == 1.0
    assert summary["user_error_rate"] == summary["error_rate"]


def test_only_the_listed_outcomes_are_retried() -> None:
    # The dead machine leaves connections unanswered, which a timeout-only policy does not
    # retry; one that retries connection errors does.
    summary = sim.run(_scenario({"max_attempts": 3, "on": ["timeout"]}), seed=3).summary
    assert summary["retries"] == 0
    assert summary["rejected_connect"] > 0
    summary = sim.run(_scenario({"max_attempts": 3, "on": ["error"]}), seed=3).summary
    assert summary["retries"] == 0
    summary = sim.run(_scenario({"max_attempts": 3, "on": ["connect"]}), seed=3).summary
    assert summary["retries"] > 0


def test_a_budget_caps_retries_per_first_attempt() -> None:
    ratio = 0.1
    retries = {"max_attempts": 5, "backoff": NO_WAIT, "budget_ratio": ratio}
    summary = sim.run(_scenario(retries), seed=3).summary
    # Every first attempt pays `ratio` in; the reserve holds at most 10 retries.
    assert 0 < summary["retries"] <= ratio * summary["requests"] + 10
    unbudgeted = sim.run(_scenario({"max_attempts": 5, "backoff": NO_WAIT}), seed=3).summary
    assert summary["user_error_rate"] > unbudgeted["user_error_rate"]


def test_a_retry_is_sent_its_back_off_after_the_failure() -> None:
    retries = {"max_attempts": 3, "backoff": {"base_s": 0.25, "jitter": "none"}}
    result = sim.run(
        _scenario(retries, duration_s=5, sample_interval_s=1), seed=3, record_requests=True
    )
    requests = result.requests
    assert requests is not None
    first_failures = requests[(requests["attempt"] == 1) & (requests["outcome"] == "rejected")]
    second = requests[requests["attempt"] == 2]
    assert len(second) > 0
    # Back-off before retry k: base × 2^(k−1); each retry leaves when its failure plus that.
    sent_s = np.sort(second["arrival_s"].to_numpy())
    expected_s = np.sort(first_failures["end_s"].to_numpy() + 0.25)
    expected_s = expected_s[expected_s < 5]
    assert sent_s == pytest.approx(expected_s)
    third = requests[requests["attempt"] == 3]
    second_failures = second[second["outcome"] == "rejected"]
    expected_third_s = np.sort(second_failures["end_s"].to_numpy() + 0.5)
    assert np.sort(third["arrival_s"].to_numpy()) == pytest.approx(
        expected_third_s[expected_third_s < 5]
    )
    assert set(requests["endpoint"]) == {"api"}


BACKOFF_CASES = {
    # retry, base, cap → ceiling
    "first retry waits the base": (1, 1.0, 20.0, 1.0),
    "doubles per retry": (3, 1.0, 20.0, 4.0),
    "capped": (6, 1.0, 20.0, 20.0),
    "just under the cap": (5, 1.0, 20.0, 16.0),
}


@pytest.mark.parametrize(
    ("retry", "base", "cap", "ceiling"), BACKOFF_CASES.values(), ids=list(BACKOFF_CASES)
)
def test_backoff(retry: int, base: float, cap: float, ceiling: float) -> None:
    settings = Retries.model_validate(
        {"max_attempts": 10, "backoff": {"base_s": base, "cap_s": cap, "jitter": "none"}}
    )
    retrier = Retrier(settings, [], np.random.default_rng(0), 0.0)
    assert retrier.backoff_s(retry) == ceiling
    jittered = Retrier(
        Retries.model_validate({"max_attempts": 10, "backoff": {"base_s": base, "cap_s": cap}}),
        [],
        np.random.default_rng(0),
        0.0,
    )
    draws = np.array([jittered.backoff_s(retry) for _ in range(2000)])
    assert draws.min() >= 0 and draws.max() <= ceiling
    assert draws.mean() == pytest.approx(ceiling / 2, rel=0.1)  # full jitter: uniform on [0, c]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("service.retries.max_attempts", 0, "greater than or equal to 1"),
        ("service.retries.backoff.base_s", float("nan"), "finite"),
        ("service.retries.budget_ratio", -0.5, "greater than 0"),
        ("service.retries.on", ["timeout", "reset"], "timeout"),
        ("service.retries.backoff.jitter", "equal", "full"),
    ],
)
def test_bad_retry_settings_are_one_clear_error(field: str, value: Any, words: str) -> None:
    with pytest.raises(sim.InputError, match=words):
        _scenario().with_overrides({field: value})


def test_a_scenario_file_spells_the_retried_outcomes_under_on(tmp_path: Any) -> None:
    # YAML 1.1 reads the key `on` as True; scenarios are read with YAML 1.2's booleans, and
    # boolean fields still take yes/no.
    path = tmp_path / "retrying.yaml"
    path.write_text(
        "name: retrying\n"
        "duration_s: 60\n"
        "service:\n"
        "  endpoints: [{name: api, weight: 1, cpu_demand_s: {dist: constant, value: 0.01}}]\n"
        "  retries: {max_attempts: 3, on: [timeout]}\n"
        "cluster: {image_cached_on_initial_nodes: no}\n"
        "traffic: {rate_rps: 1}\n",
        encoding="utf-8",
    )
    scenario = sim.load_scenario(path)
    assert scenario.service.retries.on == ("timeout",)
    assert scenario.cluster.image_cached_on_initial_nodes is False
    again = scenario.with_overrides({"service.retries.on": ["error"]})
    assert again.service.retries.on == ("error",)


def test_a_saved_result_keeps_the_retried_outcomes(tmp_path: Any) -> None:
    scenario = _scenario({"max_attempts": 2, "on": ["error"]}, duration_s=10)
    result = sim.run(scenario, seed=1)
    result.save(tmp_path / "run")
    loaded = sim.Result.load(tmp_path / "run")
    assert loaded.scenario.service.retries.on == ("error",)


# --- the retry storm of the scenario library ------------------------------------------------------

STORM = Path(__file__).resolve().parents[1] / "scenarios" / "retry_storm.yaml"
STORM_FIXES = {
    # override → the service recovers
    "a retry budget of 0.1": {"service.retries.budget_ratio": 0.1},
    "deadline propagation": {"service.cancel_on_timeout": True},
    "no retries": {"service.retries.max_attempts": 1},
}


@pytest.mark.parametrize("seed", [1, 2])
def test_the_retry_storm_outlasts_its_trigger(seed: int) -> None:
    # Theory: once every attempt times out (the queue's wait passes 2 s) each user request
    # makes 4 attempts, 28 × 4 = 112/s offered to a server of 40/s, and the server spends it
    # all on clients that left: nothing drains the queue after the one-minute trigger ends.
    # Back-off spreads the retries out but keeps every one of them, so it changes nothing.
    scenario = sim.load_scenario(STORM)
    backed_off = scenario.with_overrides(
        {"service.retries.backoff": {"base_s": 1.0, "cap_s": 20.0, "jitter": "full"}}
    )
    for storm in (scenario, backed_off):
        result = sim.run(storm, seed=seed)
        assert result.summary["recovery_s"] == math.inf
        assert result.summary["amplification"] > 3.0
        late = result.timeseries[result.timeseries["time_s"] > 1200]
        assert late["goodput_rps"].mean() < 1.0
        assert late["throughput_rps"].mean() == pytest.approx(40.0, rel=0.05)  # busy for nobody


@pytest.mark.parametrize("overrides", STORM_FIXES.values(), ids=list(STORM_FIXES))
def test_the_retry_storm_is_cured_by_cutting_retries_or_wasted_work(
    overrides: dict[str, Any],
) -> None:
    # A budget caps the offered load at 28 × 1.1 = 30.8/s < 40/s; cancelling at the deadline
    # stops the server working for nobody; without retries the trigger's backlog just drains.
    result = sim.run(sim.load_scenario(STORM).with_overrides(overrides), seed=1)
    assert result.summary["recovery_s"] < 300.0
    late = result.timeseries[result.timeseries["time_s"] > 1200]
    assert late["goodput_rps"].mean() == pytest.approx(28.0, rel=0.05)


def _deep_queue(**overrides: Any) -> sim.Scenario:
    """One worker on one core, 1 s per request at 2 req/s: the FCFS queue grows without end
    and the server, which does not cancel, keeps working for clients that left."""
    data: dict[str, Any] = {
        "name": "deep-queue",
        "duration_s": 120,
        "sample_interval_s": 10,
        "service": {
            "endpoints": [
                {"name": "api", "weight": 1, "cpu_demand_s": {"dist": "constant", "value": 1.0}}
            ],
            "timeout_s": 3,
            "initial_replicas": 1,
            "container": {
                "concurrency": 1,
                "queue_limit": 100_000,
                "cpu_request_m": 1000,
                "cpu_limit_m": 1000,
            },
            "retries": {
                "max_attempts": 2,
                "on": ["timeout"],
                "backoff": {"base_s": 0.5, "jitter": "none"},
            },
        },
        "cluster": {"node_type": "m5.large", "initial_nodes": 1},
        "traffic": {"rate_rps": 2},
        "policy": {"name": "static"},
    }
    return sim.Scenario.model_validate(data).with_overrides(overrides)


def test_a_client_retries_at_its_timeout_while_the_server_keeps_its_request() -> None:
    result = sim.run(_deep_queue(), seed=2, record_requests=True)
    requests = result.requests
    assert requests is not None
    first = requests[requests["attempt"] == 1]
    gone = first[first["outcome"] == "timed_out"]
    assert len(gone) > 100
    # Each client gives up exactly at its 3 s timeout, wherever its request is...
    assert (gone["end_s"] - gone["arrival_s"]).to_numpy() == pytest.approx(3.0)
    # ...and sends its retry 0.5 s later, long before the server would have reached it.
    second = np.sort(requests[requests["attempt"] == 2]["arrival_s"].to_numpy())
    expected = np.sort(gone["end_s"].to_numpy() + 0.5)
    assert second == pytest.approx(expected[expected < 120])
    # The server still worked through the abandoned requests at its own pace.
    summary = result.summary
    assert summary["wasted_cpu_s"] > 0
    assert result.timeseries["late_answers"].sum() > 0
    outcomes = summary["completed"] + summary["rejected"] + summary["timed_out"]
    assert outcomes + summary["in_flight"] == summary["attempts"]


def test_counting_timeouts_at_their_time_changes_no_count() -> None:
    # With retries on (for an outcome that never happens here), timeouts are counted at
    # their time; without, when the server reaches the request, dated back. Same requests,
    # same outcomes, in the same rows.
    plain = sim.run(_deep_queue(**{"service.retries.max_attempts": 1}), seed=2)
    watched = sim.run(_deep_queue(**{"service.retries.on": ["connect"]}), seed=2)
    assert watched.summary["retries"] == 0
    for key in ("completed", "timed_out", "in_flight", "wasted_cpu_s", "latency_p95_s"):
        assert plain.summary[key] == pytest.approx(watched.summary[key]), key
    columns = ["completed", "timed_out", "late_answers"]
    pd.testing.assert_frame_equal(plain.timeseries[columns], watched.timeseries[columns])

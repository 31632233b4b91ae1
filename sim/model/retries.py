"""Clients that retry: a failed attempt comes back after a back-off, as a new attempt.

A user request's first attempt is an arrival of the traffic model. When an attempt fails —
its client times out, it gets an error (no replica, a full queue, a replica lost to a
fault) — and the client's policy (``service.retries``) allows another, the client waits its
back-off and sends a new attempt of the same request: same endpoint, a fresh CPU demand drawn
on the ``retries`` stream, its own timeout. So a storm of retries shows in the load every
policy sees.

A retry waiting for its time sits on the request lane's schedule, with this object standing
where a container's departure would: the lane calls :meth:`Retrier.depart` at the retry's
time, which hands the attempt to the balancer as the lane hands it arrivals. The lane's hot
path is unchanged.

Which attempt a request is travels in its endpoint code: ``endpoint + attempt × endpoints``
(attempt 0 for the first), decoded only here and where the per-request log becomes a frame.

The counts (after the warm-up, by the attempt's own send time) are per attempt and per user
request: ``retries`` sent, and ``user_failures`` — attempts that failed with no retry to
follow (the attempt limit, an outcome not retried, an empty budget), each the end of a user
request that failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sim.config.distributions import Distribution
from sim.config.schema import Retries
from sim.model.recorder import FAILURE_KINDS, NO_REPLICA

if TYPE_CHECKING:
    from sim.model.balancer import Balancer
    from sim.model.kernel import RequestLane
    from sim.model.recorder import Recorder

DRAW_BLOCK = 1024
"""Retry demands and jitters are drawn this many at a time: one numpy call per block, not
per retry (the same numbers for the same seed, whatever else the run does)."""

BUDGET_RESERVE = 10.0
"""The most retries a budget holds in reserve (see :class:`~sim.config.schema.Retries`)."""

Attempt = tuple[float, int]
"""A retry waiting on the lane: its CPU demand and its endpoint code."""


class Retrier:
    """The clients' retry policy for one run."""

    __slots__ = (
        "_backoff",
        "_balancer",
        "_budget",
        "_budget_counted",
        "_demand_draws",
        "_demands",
        "_endpoints",
        "_lane",
        "_recorder",
        "_retry_on",
        "_rng",
        "_settings",
        "_uniform_draws",
        "_warmup_s",
        "retries",
        "user_failures",
    )

    def __init__(
        self,
        settings: Retries,
        demands: Sequence[Distribution],
        rng: np.random.Generator,
        warmup_s: float,
    ) -> None:
        self._settings = settings
        self._demands = demands
        self._endpoints = len(demands)
        self._rng = rng
        self._demand_draws: list[list[float]] = [[] for _ in demands]
        self._uniform_draws: list[float] = []
        self._warmup_s = warmup_s
        # Indexed by the recorder's failure kinds (TIMEOUT_FAILURE, ERROR_FAILURE, ...).
        self._retry_on = tuple(outcome in settings.on for outcome in FAILURE_KINDS)
        self._backoff = settings.backoff
        self._budget = 0.0
        self._budget_counted = 0  # first attempts already paid into the budget
        self._lane: RequestLane | None = None
        self._balancer: Balancer | None = None
        self._recorder: Recorder | None = None
        self.retries = 0
        self.user_failures = 0

    def connect(self, lane: RequestLane, balancer: Balancer, recorder: Recorder) -> None:
        """Send retries through ``lane`` to ``balancer``; hear failures from ``recorder``."""
        self._lane = lane
        self._balancer = balancer
        self._recorder = recorder
        recorder.retrier = self

    def failed(self, at_s: float, arrival_s: float, endpoint_code: int, kind: int) -> None:
        """An attempt sent at ``arrival_s`` failed at ``at_s`` (``kind``: an index into
        :data:`~sim.model.recorder.FAILURE_KINDS`): retry it, or the user request has failed."""
        attempt = endpoint_code // self._endpoints  # 0 for the first
        allowed = self._retry_on[kind] and attempt + 1 < self._settings.max_attempts
        if allowed and self._spend_budget():
            self._schedule(at_s, endpoint_code + self._endpoints, attempt + 1)
        elif arrival_s >= self._warmup_s:
            self.user_failures += 1

    def _spend_budget(self) -> bool:
        """Take a retry's token from the budget, if it has one (always, without a budget).

        Every first attempt sent so far pays ``budget_ratio`` in; the lane counts them, so
        the budget is brought up to date here, on the failure path, and never per request.
        """
        ratio = self._settings.budget_ratio
        if ratio is None:
            return True
        assert self._lane is not None
        sent = self._lane.arrived_by(float(self._lane.env.now))
        self._budget = min(BUDGET_RESERVE, self._budget + ratio * (sent - self._budget_counted))
        self._budget_counted = sent
        if self._budget < 1.0:
            return False
        self._budget -= 1.0
        return True

    def backoff_s(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1 for the first)."""
        backoff = self._backoff
        ceiling_s = min(backoff.cap_s, backoff.base_s * 2.0 ** (retry - 1))
        if backoff.jitter == "full":
            if not self._uniform_draws:
                self._uniform_draws = self._rng.random(DRAW_BLOCK).tolist()
            return self._uniform_draws.pop() * ceiling_s
        return ceiling_s

    def _schedule(self, failed_s: float, endpoint_code: int, retry: int) -> None:
        lane = self._lane
        assert lane is not None, "connect() the retrier to the lane before the run"
        endpoint = endpoint_code % self._endpoints
        draws = self._demand_draws[endpoint]
        if not draws:
            draws.extend(self._demands[endpoint].sample(self._rng, DRAW_BLOCK).tolist())
        demand_s = draws.pop()
        # A timeout noticed after its time cannot send its retry in the past.
        send_s = max(failed_s + self.backoff_s(retry), float(lane.env.now))
        lane.depart_at(send_s, self, (demand_s, endpoint_code))  # type: ignore[arg-type]

    def depart(self, now: float, attempt: Attempt) -> None:
        """The lane's call at a retry's send time: the attempt reaches the balancer."""
        demand_s, endpoint_code = attempt
        if now >= self._warmup_s:
            self.retries += 1
        assert self._balancer is not None and self._recorder is not None
        target = self._balancer.pick()
        if target is None:
            self._recorder.reject(now, now, endpoint_code, -1, NO_REPLICA)
        else:
            target.accept(now, demand_s, endpoint_code)


def decode_endpoints(codes: np.ndarray, endpoints: int) -> tuple[np.ndarray, np.ndarray]:
    """Endpoint indices and attempt numbers (1 for the first) of per-request endpoint codes."""
    return codes % endpoints, codes // endpoints + 1

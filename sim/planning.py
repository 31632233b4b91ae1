"""Capacity planning: the cheapest configuration whose SLO holds, found with few runs.

:func:`plan` searches the cartesian product of a space of dotted-key overrides (policy, node
type, replica bounds, HPA target, operator reaction, ...) for the cheapest configuration whose
SLO attainment holds with the stated confidence, in three steps:

1. **Theory bound (no runs).** Each candidate's *capacity ceiling*, the most CPU cores it can
   ever serve with, is set against the cores the offered load needs. The ceiling is
   ``min(replicas × cores per replica, nodes × cores per node)`` at the largest replica and
   node counts the policy can reach: the scenario's own for ``static``; the HPA's
   ``max_replicas`` and ``cluster.max_nodes`` for ``kubernetes``; ``max_vms`` (times
   ``containers_per_vm``) for ``scale_out``; the operator's ``max_replicas`` or the largest
   scheduled count and ``cluster.max_nodes`` for ``swarm``; the top of the instance ladder for
   ``scale_up``. A replica counts on its CPU limit (or request), at most a core per worker
   slot (:func:`sim.elasticity.cores_per_replica`). The need is M/M/c over cores: per sample
   interval after warm-up, the interval's mean arrival rate λ (λ(t) on a one-second grid), the
   endpoint mix's mean CPU demand as the mean service time, and the fewest cores whose
   response-time percentile meets the SLO latency
   (:func:`sim.theory.min_servers_for_response_quantile`; where no core count can, mere
   stability, ``c > λ/μ``). A candidate whose ceiling falls short of the need in more than
   ``1 − attainment_target`` of the intervals cannot hold the SLO and is pruned unrun. The
   bound assumes each interval is long enough to reach steady state and that demand is
   exponential; it ignores start-up delays, balancing imbalance, queue limits and errors, all
   of which only raise the true need, so it is exact for one M/M/c container under constant
   Poisson load and optimistic (never prunes too much) as those effects grow.
2. **Racing.** Survivors run two replications each, seeds ``seed`` and ``seed + 1``: every
   candidate sees the same arrivals and demands (common random numbers), so their
   differences are paired. Each candidate's cost and SLO attainment get a mean and a
   Student-t half-width at ``confidence``; :func:`race` sorts them into failing (attainment's
   upper bound below the target), holding (lower bound at or above it), dominated (clearly
   dearer than a candidate that holds: its cost's lower bound above that one's upper bound)
   and undecided.
3. **Successive halving.** Only the undecided, and holding candidates whose costs still
   overlap, get more replications (the count doubles each round, up to ``replications``), so
   the runs go where the decision is close; the race stops once the cheapest holding candidate
   is decided or the budget is spent.

The answer is a :class:`Plan`: the cheapest holding configuration, the runner-up, the table
of every candidate with its status and reason, the runs spent (against the full factorial's
``candidates × replications``), and what it would cost to be wrong.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim import theory
from sim.config.errors import InputError
from sim.config.loading import load_scenario
from sim.config.schema import Scenario
from sim.config.slack import FLOAT_SLACK
from sim.elasticity import cores_per_replica, mean_demand_s
from sim.experiment.compare import check_replications, check_seed
from sim.experiment.executors import check_executor, execute_all
from sim.experiment.runs import RunSpec, cell_value, replication_specs
from sim.policies.registry import policy_spec

FIRST_ROUND_REPLICATIONS = 2
"""Replications every surviving candidate gets before the race decides anything."""

RATE_GRID_S = 1.0
"""Spacing of the grid on which λ(t) is averaged per sample interval for the bound."""

PRUNED = "pruned-by-theory"
FAILS = "fails-slo"
HOLDS = "holds"
DOMINATED = "dominated"
UNDECIDED = "undecided"
STATUSES = (PRUNED, FAILS, HOLDS, DOMINATED, UNDECIDED)

TABLE_COLUMNS = (
    "status",
    "replications",
    "cost_usd_mean",
    "cost_usd_ci",
    "slo_attainment_mean",
    "slo_attainment_ci",
    "capacity_ceiling_cores",
    "cores_needed_peak",
    "reason",
)


# --- the race: a pure decision over per-candidate statistics -----------------------------------


@dataclass(frozen=True)
class Estimate:
    """One candidate's replications so far: cost and SLO attainment, mean ± half-width.

    A half-width is NaN with fewer than two replications: no spread is known yet, so the
    interval is taken as unbounded.
    """

    replications: int
    cost_mean_usd: float
    cost_half_width_usd: float
    attainment_mean: float
    attainment_half_width: float

    @property
    def cost_low_usd(self) -> float:
        return self.cost_mean_usd - _width(self.cost_half_width_usd)

    @property
    def cost_high_usd(self) -> float:
        return self.cost_mean_usd + _width(self.cost_half_width_usd)

    @property
    def attainment_low(self) -> float:
        return self.attainment_mean - _width(self.attainment_half_width)

    @property
    def attainment_high(self) -> float:
        return self.attainment_mean + _width(self.attainment_half_width)


def _width(half_width: float) -> float:
    return math.inf if math.isnan(half_width) else half_width


@dataclass(frozen=True)
class Verdict:
    """Where the race puts a candidate: a status from :data:`STATUSES`, why, and whether its
    SLO attainment clearly holds (a dominated candidate may hold or still be undecided)."""

    status: str
    reason: str
    holds_slo: bool = False


def estimate(
    costs_usd: Sequence[float], attainments: Sequence[float], confidence: float
) -> Estimate:
    """Mean and Student-t half-width at ``confidence`` of a candidate's runs (NaNs left out)."""
    cost_mean, cost_width = mean_half_width(costs_usd, confidence)
    attainment_mean, attainment_width = mean_half_width(attainments, confidence)
    return Estimate(len(costs_usd), cost_mean, cost_width, attainment_mean, attainment_width)


def mean_half_width(values: Sequence[float], confidence: float) -> tuple[float, float]:
    """``(mean, half-width)`` of the Student-t interval; half-width NaN below two values."""
    from scipy import stats

    array = np.asarray(values, dtype=np.float64)
    array = array[~np.isnan(array)]
    if array.size == 0:
        return math.nan, math.nan
    mean = float(array.mean())
    if array.size < 2:
        return mean, math.nan
    quantile = float(stats.t.ppf(0.5 + confidence / 2, array.size - 1))
    return mean, quantile * float(array.std(ddof=1)) / math.sqrt(array.size)


def race(estimates: Sequence[Estimate], target: float) -> list[Verdict]:
    """Sort candidates by what their intervals already decide against the attainment target.

    * fails: even the upper bound of the attainment is below ``target``;
    * holds: the lower bound is at or above ``target`` (as :func:`sim.reporting.recommend`);
    * dominated: not failing, but its cost's lower bound is above the cost's upper bound of a
      candidate that holds, so it cannot be the cheapest safe one whatever more runs show;
    * undecided: everything else (its interval straddles the target).
    """
    holding = [
        index for index, item in enumerate(estimates) if item.attainment_low >= target - FLOAT_SLACK
    ]
    verdicts: list[Verdict] = []
    for index, item in enumerate(estimates):
        if item.attainment_high < target - FLOAT_SLACK:
            verdicts.append(
                Verdict(FAILS, f"attainment at most {item.attainment_high:.1%} < {target:.0%}")
            )
            continue
        holds = index in holding
        cheaper = [
            other
            for other in holding
            if other != index and estimates[other].cost_high_usd < item.cost_low_usd
        ]
        if cheaper:
            rival = min(estimates[other].cost_high_usd for other in cheaper)
            verdicts.append(
                Verdict(
                    DOMINATED,
                    f"costs at least ${item.cost_low_usd:,.2f}; a candidate that holds costs "
                    f"at most ${rival:,.2f}",
                    holds,
                )
            )
        elif holds:
            verdicts.append(
                Verdict(
                    HOLDS, f"attainment at least {item.attainment_low:.1%} ≥ {target:.0%}", True
                )
            )
        else:
            verdicts.append(
                Verdict(
                    UNDECIDED,
                    f"attainment {item.attainment_low:.1%}–{item.attainment_high:.1%} "
                    f"straddles {target:.0%}",
                )
            )
    return verdicts


def needs_more_runs(estimates: Sequence[Estimate], verdicts: Sequence[Verdict]) -> list[int]:
    """Candidates whose next replications could change the answer.

    The undecided, and, while more than one candidate holds undominated, those among them
    whose cost is still uncertain (a cost that is the same in every replication, as a static
    fleet's, cannot be narrowed by more runs).
    """
    undecided = [index for index, verdict in enumerate(verdicts) if verdict.status == UNDECIDED]
    holding = [index for index, verdict in enumerate(verdicts) if verdict.status == HOLDS]
    contending = [index for index in holding if estimates[index].cost_half_width_usd != 0.0]
    return sorted(undecided + (contending if len(holding) > 1 else []))


# --- the theory bound --------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """A candidate's capacity ceiling against the cores the load needs, per the M/M/c bound."""

    ceiling_cores: float
    needed_cores: np.ndarray
    attainment_target: float

    @property
    def feasible_share(self) -> float:
        """The share of intervals in which the ceiling covers the need."""
        if self.needed_cores.size == 0:
            return 1.0
        return float(np.mean(self.needed_cores <= self.ceiling_cores + FLOAT_SLACK))

    @property
    def possible(self) -> bool:
        return self.feasible_share >= self.attainment_target - FLOAT_SLACK

    @property
    def peak_cores(self) -> int:
        return int(self.needed_cores.max()) if self.needed_cores.size else 0

    def reason(self) -> str:
        return (
            f"at most {self.ceiling_cores:g} cores; M/M/c needs up to {self.peak_cores} "
            f"(covered in {self.feasible_share:.0%} of intervals, {self.attainment_target:.0%} "
            "required)"
        )


def capacity_ceiling_cores(scenario: Scenario) -> float:
    """The most CPU cores the scenario's policy can ever serve requests with (see module doc).

    The policy says how many replicas and nodes it can reach at most
    (:attr:`~sim.policies.base.PolicySpec.capacity_ceiling`); each replica counts for the CPU
    it can rely on, each node for its vCPUs less what is reserved.
    """
    ceiling = policy_spec(scenario.policy.name).capacity_ceiling(scenario)
    cluster = scenario.cluster
    vcpu = cluster.instance.vcpu if ceiling.node_vcpu is None else ceiling.node_vcpu
    if not math.isfinite(vcpu):
        return math.inf
    node_cores_total = ceiling.max_nodes * (vcpu - cluster.reserved_cpu_m / 1000)
    if math.isinf(ceiling.max_replicas):
        return node_cores_total
    return min(ceiling.max_replicas * cores_per_replica(scenario), node_cores_total)


def interval_rates_rps(scenario: Scenario) -> np.ndarray:
    """Mean offered rate λ of each sample interval after warm-up (λ(t) on a 1 s grid)."""
    from sim.traffic import ArrivalGenerator

    generator = ArrivalGenerator(
        scenario.traffic, scenario.duration_s, np.random.default_rng(0), scenario.resolve_path
    )
    interval = scenario.sample_interval_s
    starts = np.arange(scenario.warmup_s, scenario.duration_s - FLOAT_SLACK, interval)
    rates = []
    for start in starts:
        end = min(start + interval, scenario.duration_s)
        steps = max(2, math.ceil((end - start) / RATE_GRID_S) + 1)
        rates.append(float(np.mean(generator.rate_rps(np.linspace(start, end, steps)))))
    return np.asarray(rates, dtype=np.float64)


def cores_needed(scenario: Scenario, rates_rps: np.ndarray) -> np.ndarray:
    """Per rate, the fewest M/M/c cores meeting the SLO's latency percentile (module doc)."""
    service_rate = 1.0 / max(mean_demand_s(scenario), 1e-12)
    quantile = scenario.slo.percentile / 100
    needed = []
    for rate in rates_rps:
        try:
            cores = theory.min_servers_for_response_quantile(
                float(rate), service_rate, quantile, scenario.slo.latency_s
            )
        except ValueError:  # no core count meets the latency: require stability only
            cores = math.floor(rate / service_rate) + 1
        needed.append(cores if rate > 0 else 0)
    return np.asarray(needed, dtype=np.int64)


def theory_bound(scenario: Scenario, rates_rps: np.ndarray | None = None) -> Bound:
    """The M/M/c bound of one candidate; ``rates_rps`` reuses its traffic's interval rates."""
    rates = interval_rates_rps(scenario) if rates_rps is None else rates_rps
    return Bound(
        capacity_ceiling_cores(scenario),
        cores_needed(scenario, rates),
        scenario.slo.attainment_target,
    )


# --- the search space --------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One point of the space: its values by space key, and the overrides they make."""

    values: dict[str, Any]
    overrides: dict[str, Any]

    def label(self) -> str:
        return ", ".join(f"{key}={_short(value)}" for key, value in self.values.items())


def _short(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={_short(v)}" for k, v in value.items()) + "}"
    return str(cell_value(value))


def candidates_of(space: Mapping[str, Sequence[Any]]) -> list[Candidate]:
    """The cartesian product of ``space``, keys in the order given.

    Each key is a dotted field with a list of values; a value that is a mapping of dotted
    keys (every key containing a dot) sets several fields together, e.g. a worker count with
    its matching CPU limit and node type: ``{"size": [{"service.container.concurrency": 4,
    "cluster.node_type": "m5.xlarge"}, ...]}``.
    """
    if not space:
        raise InputError("expected at least one key to search, got none", field="space")
    choices: list[list[Any]] = []
    for key, values in space.items():
        if not isinstance(key, str) or not key:
            raise InputError(f"expected dotted field names, got {key!r}", field="space")
        if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence | range):
            raise InputError(f"expected a list of values, got {values!r}", field=key)
        if not values:
            raise InputError("expected at least one value, got none", field=key)
        choices.append(list(values))
    keys = list(space)
    points = []
    for combination in itertools.product(*choices):
        overrides: dict[str, Any] = {}
        for key, value in zip(keys, combination, strict=True):
            if _is_bundle(value):
                overrides.update(value)
            else:
                overrides[key] = value
        points.append(Candidate(dict(zip(keys, combination, strict=True)), overrides))
    return points


def _is_bundle(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(key, str) and "." in key for key in value)
    )


# --- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostOfBeingWrong:
    """What the answer's alternatives cost.

    ``runner_up_extra_usd`` is the runner-up's cost minus the best's, paired over the seeds
    both ran (± its Student-t half-width); ``cheapest_failing`` is the cheapest candidate that
    ran, is cheaper than the best and clearly fails: choosing it saves ``saving_usd`` but meets
    the SLO in only ``failing_attainment`` of intervals.
    """

    runner_up_extra_usd: float = math.nan
    runner_up_extra_half_width_usd: float = math.nan
    cheapest_failing: dict[str, Any] | None = None
    saving_usd: float = math.nan
    failing_attainment: float = math.nan


@dataclass(frozen=True)
class Plan:
    """The planner's answer: see :func:`plan`.

    ``table`` has one row per candidate (indexed by its position in the space's product):
    one column per space key, then :data:`TABLE_COLUMNS` (``*_ci`` are half-widths at the
    plan's confidence).
    """

    scenario: Scenario
    best: dict[str, Any] | None
    runner_up: dict[str, Any] | None
    table: pd.DataFrame
    runs_used: int
    candidates: int
    pruned: int
    max_replications: int
    confidence: float
    wall_time_s: float
    cost_of_being_wrong: CostOfBeingWrong = field(default_factory=CostOfBeingWrong)

    @property
    def full_factorial_runs(self) -> int:
        """What running every candidate ``max_replications`` times would have cost."""
        return self.candidates * self.max_replications

    def summary_text(self) -> str:
        """The answer in a few lines: best, runner-up, what being wrong costs, runs used."""
        lines = [f"Cheapest safe configuration: {self.best_text()}"]
        if self.runner_up is not None:
            lines.append(f"Runner-up: {self.describe(self.runner_up)}")
        lines.extend(f"What it would cost to be wrong: {line}" for line in self.wrong_lines())
        lines.append(f"Runs used: {self.runs_text()}")
        return "\n".join(lines)

    def best_text(self) -> str:
        if self.best is not None:
            return self.describe(self.best)
        return (
            f"none: no candidate holds the SLO in {self.scenario.slo.attainment_target:.0%} "
            f"of intervals with {self.confidence:.0%} confidence"
        )

    def runs_text(self) -> str:
        return (
            f"{self.runs_used} of {self.full_factorial_runs} for the full factorial "
            f"({self.candidates} candidates × {self.max_replications}); {self.pruned} pruned by "
            f"theory; {self.wall_time_s:.1f} s"
        )

    def _row(self, values: Mapping[str, Any]) -> pd.Series:
        for _, row in self.table.iterrows():
            if all(row[key] == cell_value(value) for key, value in values.items()):
                return row
        raise KeyError(values)

    def describe(self, values: Mapping[str, Any]) -> str:
        """A candidate's values with its cost and attainment, mean ± half-width."""
        row = self._row(values)
        point = ", ".join(f"{key}={_short(value)}" for key, value in values.items())
        return (
            f"{point}: ${row['cost_usd_mean']:,.2f} (± ${_zero(row['cost_usd_ci']):,.2f}), SLO met "
            f"in {row['slo_attainment_mean']:.1%} (± {_zero(row['slo_attainment_ci']):.1%}) of "
            f"intervals over {row['replications']} replications"
        )

    def wrong_lines(self) -> list[str]:
        """The runner-up's extra cost and the cheapest failing option's saving and risk."""
        wrong = self.cost_of_being_wrong
        lines = []
        if not math.isnan(wrong.runner_up_extra_usd):
            lines.append(
                f"choosing the runner-up costs ${wrong.runner_up_extra_usd:,.2f} more "
                f"(± ${_zero(wrong.runner_up_extra_half_width_usd):,.2f}, paired by seed)."
            )
        if wrong.cheapest_failing is not None:
            point = ", ".join(f"{k}={_short(v)}" for k, v in wrong.cheapest_failing.items())
            lines.append(
                f"the cheapest failing option ({point}) saves "
                f"${wrong.saving_usd:,.2f} but meets the SLO in only "
                f"{wrong.failing_attainment:.1%} of intervals."
            )
        return lines


def _zero(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def plan(
    scenario: Scenario | str | Path,
    space: Mapping[str, Sequence[Any]],
    *,
    slo: Mapping[str, Any] | None = None,
    replications: int = 5,
    confidence: float = 0.95,
    seed: int = 0,
    executor: str = "process",
    jobs: int | None = None,
    progress: bool | None = None,
    prune: bool = True,
) -> Plan:
    """The cheapest configuration in ``space`` whose SLO attainment holds (module doc).

    ``space`` maps dotted keys to the values to try (see :func:`candidates_of`); ``slo``
    overrides fields of the scenario's ``slo`` block (``{"latency_s": 0.3}``). Every
    candidate is validated before anything runs (a bad key raises
    :class:`~sim.ScenarioError`). ``replications`` is the most any candidate gets; replication
    ``r`` of every candidate uses seed ``seed + r``. ``prune=False`` skips the theory bound.
    Executors as for :func:`sim.compare`.
    """
    started = time.perf_counter()
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    check_replications(replications)
    check_seed(seed)
    check_executor(executor, jobs, None)
    if not 0 < confidence < 1:
        raise InputError(
            f"expected a probability between 0 and 1, got {confidence}", field="confidence"
        )
    if slo:
        base = base.with_overrides({f"slo.{key}": value for key, value in slo.items()})
    points = candidates_of(space)
    scenarios = [base.with_overrides(point.overrides) for point in points]
    bounds = _bounds(scenarios) if prune else [None] * len(points)
    state = _Race(scenarios, confidence, seed, executor, jobs, progress)
    alive = [index for index, bound in enumerate(bounds) if bound is None or bound.possible]
    verdicts = state.run(alive, min(FIRST_ROUND_REPLICATIONS, replications), replications)
    return _assemble(base, points, bounds, state, verdicts, replications, confidence, started)


def _bounds(scenarios: Sequence[Scenario]) -> list[Bound | None]:
    rates: dict[str, np.ndarray] = {}
    bounds: list[Bound | None] = []
    for scenario in scenarios:
        # Candidates that differ only in capacity share their traffic, hence their rates.
        key = json.dumps(
            [
                scenario.traffic.model_dump(mode="json"),
                scenario.duration_s,
                scenario.warmup_s,
                scenario.sample_interval_s,
            ],
            sort_keys=True,
        )
        if key not in rates:
            rates[key] = interval_rates_rps(scenario)
        bounds.append(theory_bound(scenario, rates[key]))
    return bounds


class _Race:
    """The runs of every candidate so far, and the rounds that add to them."""

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        confidence: float,
        seed: int,
        executor: str,
        jobs: int | None,
        progress: bool | None,
    ) -> None:
        self.scenarios = scenarios
        self.confidence = confidence
        self.seed = seed
        self.executor = executor
        self.jobs = jobs
        self.progress = progress
        self.costs: dict[int, list[float]] = {}
        self.attainments: dict[int, list[float]] = {}
        self.runs_used = 0

    def run(self, alive: Sequence[int], first: int, most: int) -> dict[int, Verdict]:
        """Race ``alive`` candidates: ``first`` replications each, then more where close."""
        target = self.scenarios[0].slo.attainment_target
        self._extend({index: first for index in alive})
        while True:
            estimates = [self.estimate(index) for index in alive]
            verdicts = race(estimates, target)
            close = [alive[i] for i in needs_more_runs(estimates, verdicts)]
            grow = {
                index: min(2 * len(self.costs[index]), most)
                for index in close
                if len(self.costs[index]) < most
            }
            if not grow:
                return dict(zip(alive, verdicts, strict=True))
            self._extend(grow)

    def estimate(self, index: int) -> Estimate:
        return estimate(self.costs[index], self.attainments[index], self.confidence)

    def _extend(self, counts: Mapping[int, int]) -> None:
        specs: list[tuple[int, RunSpec]] = []
        for index, count in counts.items():
            done = len(self.costs.setdefault(index, []))
            self.attainments.setdefault(index, [])
            for spec in replication_specs(self.scenarios[index], count, self.seed)[done:]:
                specs.append((index, spec))
        unique = {spec.run_id: spec for _, spec in specs}
        results: dict[str, dict[str, Any]] = {}
        finished = execute_all(list(unique.values()), self.executor, jobs=self.jobs)
        with (
            closing(finished),
            tqdm(
                total=len(unique),
                unit="run",
                desc="plan",
                disable=self.progress is False
                or (self.progress is None and not sys.stderr.isatty()),
            ) as bar,
        ):
            for output in finished:
                results[output.run_id] = output.summary
                bar.update()
        self.runs_used += len(unique)
        # Appended in replication order, whatever order the runs finished in.
        for index, spec in sorted(specs, key=lambda item: (item[0], item[1].replication)):
            summary = results[spec.run_id]
            self.costs[index].append(float(summary["cost_usd"]))
            self.attainments[index].append(float(summary["slo_attainment"]))


def _assemble(
    base: Scenario,
    points: Sequence[Candidate],
    bounds: Sequence[Bound | None],
    state: _Race,
    verdicts: Mapping[int, Verdict],
    replications: int,
    confidence: float,
    started: float,
) -> Plan:
    rows = []
    for index, point in enumerate(points):
        bound = bounds[index]
        row: dict[str, Any] = {key: cell_value(value) for key, value in point.values.items()}
        row["capacity_ceiling_cores"] = bound.ceiling_cores if bound else math.nan
        row["cores_needed_peak"] = bound.peak_cores if bound else math.nan
        if index not in verdicts:
            row.update(status=PRUNED, replications=0, reason=bound.reason() if bound else "")
            row.update(cost_usd_mean=math.nan, cost_usd_ci=math.nan)
            row.update(slo_attainment_mean=math.nan, slo_attainment_ci=math.nan)
        else:
            item = state.estimate(index)
            row.update(status=verdicts[index].status, reason=verdicts[index].reason)
            row.update(replications=item.replications)
            row.update(cost_usd_mean=item.cost_mean_usd, cost_usd_ci=item.cost_half_width_usd)
            row.update(
                slo_attainment_mean=item.attainment_mean,
                slo_attainment_ci=item.attainment_half_width,
            )
        rows.append(row)
    table = pd.DataFrame.from_records(rows)
    table = table[[*points[0].values, *TABLE_COLUMNS]]
    table.index.name = "candidate"
    holding = sorted(
        (index for index, verdict in verdicts.items() if verdict.holds_slo),
        key=lambda index: (verdicts[index].status != HOLDS, state.estimate(index).cost_mean_usd),
    )
    best = holding[0] if holding else None
    runner_up = holding[1] if len(holding) > 1 else None
    return Plan(
        scenario=base,
        best=points[best].values if best is not None else None,
        runner_up=points[runner_up].values if runner_up is not None else None,
        table=table,
        runs_used=state.runs_used,
        candidates=len(points),
        pruned=len(points) - len(verdicts),
        max_replications=replications,
        confidence=confidence,
        wall_time_s=time.perf_counter() - started,
        cost_of_being_wrong=_cost_of_being_wrong(points, state, verdicts, best, runner_up),
    )


def _cost_of_being_wrong(
    points: Sequence[Candidate],
    state: _Race,
    verdicts: Mapping[int, Verdict],
    best: int | None,
    runner_up: int | None,
) -> CostOfBeingWrong:
    if best is None:
        return CostOfBeingWrong()
    extra, extra_width = math.nan, math.nan
    if runner_up is not None:
        shared = min(len(state.costs[best]), len(state.costs[runner_up]))
        differences = [state.costs[runner_up][r] - state.costs[best][r] for r in range(shared)]
        extra, extra_width = mean_half_width(differences, state.confidence)
    best_cost = state.estimate(best).cost_mean_usd
    failing = [
        index
        for index, verdict in verdicts.items()
        if verdict.status == FAILS and state.estimate(index).cost_mean_usd < best_cost
    ]
    if not failing:
        return CostOfBeingWrong(extra, extra_width)
    cheapest: Callable[[int], float] = lambda index: state.estimate(index).cost_mean_usd  # noqa: E731
    chosen = min(failing, key=cheapest)
    item = state.estimate(chosen)
    return CostOfBeingWrong(
        extra,
        extra_width,
        points[chosen].values,
        best_cost - item.cost_mean_usd,
        item.attainment_mean,
    )


def plan_section(result: Plan) -> str:
    """The plan as a Markdown report section: the answer, the alternatives, the runs spent."""
    wrong = result.wrong_lines() or ["no cheaper candidate clearly failed, and none else holds"]
    runner_up = result.describe(result.runner_up) if result.runner_up is not None else "none"
    lines = [
        "## Capacity plan",
        f"### Cheapest safe configuration\n\n{result.best_text()}",
        f"### Runner-up\n\n{runner_up}",
        "### What it would cost to be wrong\n\n" + "\n".join(f"- {line}" for line in wrong),
        f"### Runs used\n\n{result.runs_text()}",
        f"### Candidates\n\n{_markdown_table(result.table)}",
    ]
    return "\n\n".join(lines) + "\n"


def _markdown_table(table: pd.DataFrame) -> str:
    columns = [str(column) for column in table.columns]
    header = "| " + " | ".join(columns) + " |"
    rule = "|" + "---|" * len(columns)
    body = [
        "| " + " | ".join(_format_cell(row[column]) for column in table.columns) + " |"
        for _, row in table.iterrows()
    ]
    return "\n".join([header, rule, *body])


def _format_cell(value: Any) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")

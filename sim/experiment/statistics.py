"""Means and confidence intervals over replications, and paired differences between policies.

Each replication of a policy is one independent observation of a summary metric (p95 latency,
cost, ...). Over ``n`` replications with mean ``x̄`` and sample standard deviation ``s``, the
95 % confidence interval of the metric's expectation is ``x̄ ± t · s / √n`` with ``t`` the
0.975 quantile of Student's t distribution with ``n − 1`` degrees of freedom (the normal
quantile 1.96 would be too narrow for the handful of replications a simulation study runs).
``ci95`` is that half-width; it is NaN for fewer than two replications, where no spread can
be estimated. Runs whose value is missing (NaN: e.g. no latency when nothing completed) are
left out of their metric's mean and interval.

Paired differences: replication ``r`` of every policy uses the same seed, so all policies see
the same arrivals and CPU demands (common random numbers). The difference
``d_r = x_policy,r − x_baseline,r`` then cancels the traffic's luck, and the t interval of the
mean of ``d`` is usually far narrower than the two unpaired intervals suggest:
``Var(d) = Var(x_p) + Var(x_b) − 2 Cov(x_p, x_b)``, and the covariance is large and positive.
An interval for ``d`` that excludes 0 means the two policies differ at the 5 % level.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim.config.errors import InputError
from sim.experiment.runs import LABELS

CONFIDENCE = 0.95
STATISTICS = ("mean", "ci95")
"""The second level of a summary table's columns: the mean and the 95 % half-width."""


def half_width(standard_deviation: pd.DataFrame, count: pd.DataFrame) -> pd.DataFrame:
    """Student-t half-width of the 95 % confidence interval of a mean, NaN where ``n < 2``."""
    from scipy import stats

    counts = count.to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = stats.t.ppf(0.5 + CONFIDENCE / 2, counts - 1)  # NaN for fewer than 2 values
        width = quantile * standard_deviation.to_numpy(dtype=float) / np.sqrt(counts)
    return pd.DataFrame(width, index=standard_deviation.index, columns=standard_deviation.columns)


def metric_columns(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """The numeric columns of ``frame`` that are metrics (not labels, not flags)."""
    return [
        str(column)
        for column in frame.columns
        if column not in exclude
        and pd.api.types.is_numeric_dtype(frame[column])
        and not pd.api.types.is_bool_dtype(frame[column])
    ]


def summarize(
    frame: pd.DataFrame, by: str | Sequence[str], metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """Mean and 95 % half-width of each metric per group of ``by``, groups in first-seen order.

    ``frame`` holds one row per run (a comparison's or a sweep's runs); ``metrics`` default to
    its numeric columns other than ``by``, ``policy``, ``replication`` and ``seed``. Columns
    are a two-level index (metric, statistic) with statistics ``mean`` and ``ci95``, so
    ``table["cost_usd"]`` holds one metric's two columns and
    ``table.xs("mean", axis=1, level="statistic")`` every mean.
    """
    keys = [by] if isinstance(by, str) else list(by)
    if metrics is None:
        metrics = metric_columns(frame, exclude=[*keys, *LABELS])
    grouped = frame.groupby(keys, sort=False, dropna=False)[list(metrics)]
    mean = grouped.mean()
    width = half_width(grouped.std(ddof=1), grouped.count())
    table = pd.concat({"mean": mean, "ci95": width}, axis=1)
    table = table.swaplevel(axis=1).reindex(
        columns=pd.MultiIndex.from_product([list(metrics), list(STATISTICS)])
    )
    table.columns = table.columns.set_names(["metric", "statistic"])
    return table


def paired_differences(
    frame: pd.DataFrame, baseline: str, metrics: Sequence[str], *, by: str = "policy"
) -> pd.DataFrame:
    """Per replication, each policy's metrics minus the baseline's in the same replication.

    Replications are matched by ``seed`` (the same seed means the same arrivals and demands).
    One row per policy other than the baseline and replication: ``by``, ``replication``,
    ``seed`` and one difference column per metric.
    """
    if baseline not in set(frame[by]):
        known = ", ".join(str(name) for name in frame[by].unique())
        raise InputError(f"expected one of {known}, got {baseline!r}", field="baseline")
    reference = frame[frame[by] == baseline].set_index("seed")[list(metrics)]
    others = frame[frame[by] != baseline]
    unmatched = sorted(set(others["seed"]) - set(reference.index))
    if unmatched:
        raise InputError(
            f"no {baseline} run with seed {unmatched[0]} to pair with", field="baseline"
        )
    differences = others[list(metrics)].to_numpy(dtype=float) - reference.loc[
        others["seed"], list(metrics)
    ].to_numpy(dtype=float)
    labels = others[[by, "replication", "seed"]].reset_index(drop=True)
    return pd.concat([labels, pd.DataFrame(differences, columns=list(metrics))], axis=1)

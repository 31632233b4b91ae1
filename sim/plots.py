"""Figures of runs, comparisons and sweeps, built from the frames ``sim`` returns.

Every function takes frames (or the objects that hold them: a :class:`~sim.Result`, a
:class:`~sim.Comparison`) and returns a :class:`matplotlib.figure.Figure`. Nothing here shows a
window or writes a file, and nothing touches pyplot's global state: a notebook displays the
figure it gets back, a report calls ``figure.savefig(path)``. Each policy keeps one colour in
every figure (:data:`POLICY_COLORS`).

* :func:`traffic`: the offered load over time.
* :func:`timeline`: one column of panels per policy: load against capacity, latency against
  the SLO, replicas and nodes, cost, with the controllers' actions and the faults marked.
* :func:`compare_bars`: a metric's mean per policy with its 95 % confidence interval.
* :func:`cost_vs_slo`: what each policy costs against how often it met the SLO, with the
  Pareto front.
* :func:`sweep_heatmap`: a metric over two swept settings.

Time axes are in minutes for runs up to 3 h, hours up to 3 days, days beyond.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import cycle

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.ticker import FuncFormatter, PercentFormatter

from sim.experiment.compare import Comparison
from sim.experiment.statistics import summarize
from sim.measure.metrics import find_metric, headline_metrics
from sim.result import Result

POLICY_COLORS = {
    "static": "#7f7f7f",
    "scale_up": "#8c564b",
    "scale_out": "#2ca02c",
    "swarm": "#1f77b4",
    "kubernetes": "#9467bd",
}
"""The colour of each policy in every figure; other labels take the remaining tab10 colours."""

MODEL_SOURCES = frozenset({"cluster", "container", "scheduler", "fault"})
"""``events.source`` values written by the model itself; every other source is a controller
(``hpa``, ``cluster-autoscaler``, ``operator``, ``node-lifecycle``, ``load-balancer``, ...)."""

SLO_COLOR = "#d62728"
EVENT_COLOR = "#9467bd"
FAULT_COLOR = "#d62728"
SLO_GID = "slo"
"""``gid`` of the SLO line, so that code reading a figure back can find it."""
EVENT_GID = "scaling-event"
"""``gid`` of the vertical lines that mark controller actions."""
FAULT_GID = "fault"
"""``gid`` of the vertical lines that mark faults."""
PARETO_GID = "pareto-front"
"""``gid`` of the ring markers around the Pareto-optimal points of :func:`cost_vs_slo`."""

_LEGEND_HEADROOM = 0.45  # room above the data for a panel's legend, as a fraction of its range
_EXTRA_COLORS = ("#ff7f0e", "#17becf", "#bcbd22", "#e377c2", "#aec7e8", "#ffbb78")
# For columns the metric table does not know (a user's own), title and unit come from the name.
_SHARE_SUFFIXES = ("_rate", "_attainment", "_accuracy", "_timeshare", "_share", "_within_slo")


# --- shared helpers ----------------------------------------------------------------------------


def policy_colors(labels: Iterable[str]) -> dict[str, str]:
    """A colour per label: the five policies' own, then unused tab10 colours in turn."""
    extra = cycle(_EXTRA_COLORS)
    return {label: POLICY_COLORS.get(label) or next(extra) for label in labels}


def metric_label(metric: str) -> str:
    """An axis label for a summary metric, with its unit: ``cost_usd`` → ``cost (US$)``."""
    known = find_metric(metric)
    if known is not None:
        return known.label
    title, unit = _metric_title(metric)
    return f"{title} ({unit})" if unit else title


def _metric_title(metric: str) -> tuple[str, str]:
    known = find_metric(metric)
    if known is not None:
        return known.title, known.unit
    if _is_share(metric):
        return metric.replace("_", " "), "%"
    for suffix, unit in (("_usd", "US$"), ("_rps", "req/s"), ("_s", "s"), ("_m", "millicores")):
        if metric.endswith(suffix):
            return metric.removesuffix(suffix).replace("_", " "), unit
    return metric.replace("_", " "), ""


def _is_share(metric: str) -> bool:
    """Whether a metric is a fraction (of 1, not of 100), shown as a percentage."""
    known = find_metric(metric)
    if known is not None:
        return known.unit == "%"
    return metric.endswith(_SHARE_SUFFIXES) or "utilization" in metric


def _format_axis(ax: Axes, metric: str, axis: str = "y") -> None:
    if _is_share(metric):
        (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0))


def _time_scale(span_s: float) -> tuple[float, str]:
    """Divisor and unit for a time axis spanning ``span_s`` seconds."""
    if span_s <= 3 * 3600:
        return 60.0, "min"
    if span_s <= 3 * 86400:
        return 3600.0, "h"
    return 86400.0, "days"


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} needs the column(s) {', '.join(missing)}; "
            f"the frame has {', '.join(map(str, frame.columns))}"
        )


def _label(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(_label(part) for part in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _first_run(timeseries: pd.DataFrame) -> pd.DataFrame:
    """The rows of one run from a long timeseries: the first policy, the first replication."""
    frame = timeseries
    for column in ("policy", "replication"):
        if column in frame.columns and len(frame):
            frame = frame[frame[column] == frame[column].iloc[0]]
    return frame


def _log_minor_label(value: float, _position: float | None = None) -> str:
    """Minor ticks of a log axis labelled at 2 and 5 times a power of ten only."""
    if value <= 0:
        return ""
    mantissa = round(value / 10 ** math.floor(math.log10(value)), 6)
    return f"{value:g}" if mantissa in (2, 5) else ""


def _from_zero_with_headroom(ax: Axes) -> None:
    """A linear y axis from 0, with room above the data for the panel's legend."""
    ax.relim()
    ax.set_autoscaley_on(True)  # an earlier set_ylim (of this axis or one it shares) turned it off
    ax.autoscale_view()
    top = ax.get_ylim()[1]
    ax.set_ylim(0, top * (1 + _LEGEND_HEADROOM) if top > 0 else 1)


def _series(frame: pd.DataFrame, column: str) -> npt.NDArray[np.float64] | None:
    if column not in frame.columns:
        return None
    return frame[column].to_numpy(dtype=float)


# --- traffic -----------------------------------------------------------------------------------


def traffic(timeseries: pd.DataFrame, *, title: str = "Offered load") -> Figure:
    """The arrival rate over time and, on a second axis, the replicas the SLO demands.

    The blue line is the requests per second that arrived in each sample interval (the traffic
    model's draw, not the rate function itself, so it carries the Poisson noise). The orange
    steps, when the frame has ``replicas_demand``, translate that load into the fewest ready
    replicas that would keep the SLO's latency percentile (an M/M/c estimate, see
    :mod:`sim.elasticity`): the capacity a perfect autoscaler would provide.

    ``timeseries`` is a run's ``Result.timeseries``, or a comparison's long timeseries, of
    which the first policy's first replication is drawn (every policy of a replication sees
    the same arrivals).
    """
    frame = _first_run(timeseries)
    _require(frame, ("time_s", "arrival_rate_rps"), "traffic()")
    divisor, unit = _time_scale(float(frame["time_s"].max()) if len(frame) else 0.0)
    time = frame["time_s"].to_numpy(dtype=float) / divisor
    figure = Figure(figsize=(10, 4), layout="constrained")
    ax = figure.add_subplot()
    ax.plot(
        time,
        frame["arrival_rate_rps"].to_numpy(dtype=float),
        drawstyle="steps-pre",
        color="#1f77b4",
        lw=1,
        label="arrival rate",
    )
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("arrival rate (req/s)")
    _from_zero_with_headroom(ax)
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    if "replicas_demand" in frame.columns:
        twin = ax.twinx()
        twin.plot(
            time,
            frame["replicas_demand"].to_numpy(dtype=float),
            drawstyle="steps-pre",
            color="#ff7f0e",
            lw=1.2,
            label="replicas needed for the SLO",
        )
        twin.set_ylabel("replicas")
        _from_zero_with_headroom(twin)
        twin_handles, twin_labels = twin.get_legend_handles_labels()
        handles, labels = handles + twin_handles, labels + twin_labels
    ax.legend(handles, labels, loc="upper left")
    return figure


# --- timeline ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """One column of a timeline: a label, its timeseries and (if known) its events."""

    label: str
    timeseries: pd.DataFrame
    events: pd.DataFrame | None


TimelineInput = Result | Comparison | pd.DataFrame | Sequence[Result] | Mapping[str, Result]


def timeline(
    data: TimelineInput,
    *,
    events: pd.DataFrame | None = None,
    slo_latency_s: float | None = None,
    replication: int | None = None,
    title: str | None = None,
) -> Figure:
    """Per-policy timelines: one column of four panels per policy, sharing the time axis.

    1. **Load and capacity**: the arrival rate (grey area, left axis, req/s) against the
       replicas ready (solid) and the replicas the SLO demands at that load (dashed; right
       axis). Capacity below the dashed line is a shortfall; far above it, money spent idle.
    2. **p95 latency** (log scale) against the SLO's latency (red dashed line); intervals that
       missed the SLO (latency or errors) are shaded red.
    3. **Replicas and nodes**: desired and ready replicas, pending pods and ready nodes.
    4. **Cumulative cost** in US dollars.

    Thin vertical lines mark the controllers' actions (the ``events`` rows whose source is not
    the model itself, see :data:`MODEL_SOURCES`: the HPA, the cluster autoscaler, the Swarm
    operator, node lifecycle, ...), one per distinct time; red dashed lines mark faults.

    ``data`` is a :class:`~sim.Result`, a sequence of them or a mapping label → result (one
    column each), a :class:`~sim.Comparison` (one column per policy, replication
    ``replication`` or the first; a comparison keeps no events), or a timeseries frame: a
    single run's, or a long one with a ``policy`` column (and ``replication``, of which one is
    drawn). With a frame, pass ``events`` (with a ``policy`` column when there are several
    policies) and ``slo_latency_s``; without the latter no SLO line is drawn. An explicit
    ``slo_latency_s`` also overrides the scenario's.
    """
    runs, scenario_slo_s, scenario_name = _timeline_runs(data, events, replication)
    if not runs:
        raise ValueError("timeline() needs at least one run; the input holds none")
    slo_s = slo_latency_s if slo_latency_s is not None else scenario_slo_s
    span_s = max(
        (float(run.timeseries["time_s"].max()) for run in runs if len(run.timeseries)),
        default=0.0,
    )
    divisor, unit = _time_scale(span_s)
    colors = policy_colors(run.label for run in runs)
    figure = Figure(figsize=(max(7.0, 4.8 * len(runs)), 11), layout="constrained")
    grid = figure.subplots(4, len(runs), sharex=True, sharey="row", squeeze=False)
    twins: list[Axes] = []
    for column, run in enumerate(runs):
        panels: list[Axes] = [grid[row, column] for row in range(4)]
        time = run.timeseries["time_s"].to_numpy(dtype=float) / divisor
        twins.append(_load_panel(panels[0], run, time, colors[run.label]))
        _latency_panel(panels[1], run, time, slo_s, colors[run.label])
        _capacity_panel(panels[2], run, time, colors[run.label])
        _cost_panel(panels[3], run, time, colors[run.label])
        if run.events is not None:
            _mark_events(panels, run.events, divisor)
        panels[3].set_xlabel(f"time ({unit})")
    highest = max(twin.get_ylim()[1] for twin in twins)
    for twin in twins[1:]:
        twin.sharey(twins[0])
    twins[0].set_ylim(0, highest)
    heading = title if title is not None else scenario_name
    if heading:
        figure.suptitle(heading)
    return figure


def _timeline_runs(
    data: TimelineInput, events: pd.DataFrame | None, replication: int | None
) -> tuple[list[_Run], float | None, str | None]:
    """The runs to draw, the scenario's SLO latency and the scenario's name (when known)."""
    if isinstance(data, pd.DataFrame):
        return _frame_runs(data, events, replication), None, None
    if isinstance(data, Result):
        data = [data]
    if isinstance(data, Mapping):
        results = list(data.values())
        runs = [
            _Run(str(label), result.timeseries, result.events) for label, result in data.items()
        ]
        return runs, _common_slo(results), _common_name(results)
    if isinstance(data, Comparison):
        if events is None and not data.events.empty:
            events = data.events
        runs = _frame_runs(data.timeseries, events, replication)
        return runs, data.scenario.slo.latency_s, data.scenario.name
    results = list(data)
    runs = [_Run(result.policy, result.timeseries, result.events) for result in results]
    return runs, _common_slo(results), _common_name(results)


def _common_slo(results: Sequence[Result]) -> float | None:
    values = {result.scenario.slo.latency_s for result in results}
    return values.pop() if len(values) == 1 else None


def _common_name(results: Sequence[Result]) -> str | None:
    names = {result.scenario.name for result in results}
    return names.pop() if len(names) == 1 else None


def _frame_runs(
    timeseries: pd.DataFrame, events: pd.DataFrame | None, replication: int | None
) -> list[_Run]:
    _require(timeseries, ("time_s",), "timeline()")
    frame = timeseries
    if "replication" in frame.columns and len(frame):
        chosen = frame["replication"].iloc[0] if replication is None else replication
        frame = frame[frame["replication"] == chosen]
        if not len(frame):
            raise ValueError(f"timeline(): no rows with replication {replication}")
    if "policy" not in frame.columns:
        return [_Run("run", frame, events)]
    policies = [str(policy) for policy in frame["policy"].unique()]
    if events is not None and "policy" not in events.columns and len(policies) > 1:
        raise ValueError(
            "timeline(): events for several policies need a 'policy' column to tell them apart"
        )
    runs = []
    for policy in policies:
        policy_events = events
        if events is not None and "policy" in events.columns:
            policy_events = events[events["policy"] == policy]
        runs.append(_Run(policy, frame[frame["policy"] == policy], policy_events))
    return runs


def _load_panel(ax: Axes, run: _Run, time: npt.NDArray[np.float64], color: str) -> Axes:
    rate = _series(run.timeseries, "arrival_rate_rps")
    if rate is not None:
        ax.fill_between(time, rate, step="pre", color="#c7c7c7", alpha=0.8, label="arrival rate")
    ax.set_ylabel("arrival rate (req/s)")
    _from_zero_with_headroom(ax)
    ax.set_title(f"{run.label} · load and capacity")
    twin = ax.twinx()
    ready = _series(run.timeseries, "replicas_ready")
    if ready is not None:
        twin.plot(time, ready, drawstyle="steps-pre", color=color, lw=1.5, label="replicas ready")
    demand = _series(run.timeseries, "replicas_demand")
    if demand is not None:
        twin.plot(
            time,
            demand,
            drawstyle="steps-pre",
            color="black",
            ls="--",
            lw=1,
            label="replicas the SLO needs",
        )
    twin.set_ylabel("replicas")
    _from_zero_with_headroom(twin)
    handles, labels = ax.get_legend_handles_labels()
    twin_handles, twin_labels = twin.get_legend_handles_labels()
    ax.legend(handles + twin_handles, labels + twin_labels, loc="upper left", fontsize="small")
    return twin


def _latency_panel(
    ax: Axes, run: _Run, time: npt.NDArray[np.float64], slo_s: float | None, color: str
) -> None:
    p95 = _series(run.timeseries, "latency_p95_s")
    if p95 is not None:
        ax.plot(time, p95, drawstyle="steps-pre", color=color, lw=1, label="p95 latency")
        if np.any(p95 > 0):
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(_log_minor_label))
    if slo_s is not None:
        ax.axhline(slo_s, color=SLO_COLOR, ls="--", lw=1.2, label=f"SLO {slo_s:g} s", gid=SLO_GID)
    met = run.timeseries["slo_met"] if "slo_met" in run.timeseries.columns else None
    if met is not None and len(met):
        missed = ~met.to_numpy(dtype=bool)
        ax.fill_between(
            time,
            0,
            1,
            where=missed,
            step="pre",
            transform=ax.get_xaxis_transform(),
            color=SLO_COLOR,
            alpha=0.12,
            lw=0,
            label="SLO missed",
        )
    ax.set_ylabel("p95 latency (s)")
    ax.set_title(f"{run.label} · p95 latency")
    ax.legend(loc="upper left", fontsize="small")


def _capacity_panel(ax: Axes, run: _Run, time: npt.NDArray[np.float64], color: str) -> None:
    lines = (  # column, label, colour, line style, width
        ("replicas_desired", "replicas desired", color, "--", 1.0),
        ("replicas_ready", "replicas ready", color, "-", 1.5),
        ("pods_pending", "pending", "#ff7f0e", "-", 1.0),
        ("nodes_ready", "nodes ready", "black", "-", 1.2),
    )
    for column, label, line_color, style, width in lines:
        values = _series(run.timeseries, column)
        if values is not None and (column != "pods_pending" or np.any(values > 0)):
            ax.plot(
                time, values, drawstyle="steps-pre", color=line_color, ls=style, lw=width,
                label=label,
            )  # fmt: skip
    ax.set_ylabel("count")
    _from_zero_with_headroom(ax)
    ax.set_title(f"{run.label} · replicas and nodes")
    ax.legend(loc="upper left", fontsize="small")


def _cost_panel(ax: Axes, run: _Run, time: npt.NDArray[np.float64], color: str) -> None:
    cost = _series(run.timeseries, "cost_usd")
    if cost is not None:
        ax.plot(time, cost, color=color, lw=1.5)
        if len(cost):
            ax.annotate(
                f"${cost[-1]:,.2f}",
                (time[-1], cost[-1]),
                xytext=(-4, -4),
                textcoords="offset points",
                ha="right",
                va="top",
                fontsize="small",
            )
    ax.set_ylabel("cost (US$, cumulative)")
    _from_zero_with_headroom(ax)
    ax.set_title(f"{run.label} · cost")


def controller_events(events: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``events`` that a controller wrote: its scaling and recovery actions."""
    return events[~events["source"].isin(list(MODEL_SOURCES))]


def fault_events(events: pd.DataFrame) -> pd.DataFrame:
    """The faults that struck (``source == "fault"``; a fault with no target is ``skipped``)."""
    return events[(events["source"] == "fault") & (events["action"] != "skipped")]


def _mark_events(panels: Sequence[Axes], events: pd.DataFrame, divisor: float) -> None:
    """One vertical line per distinct time of a controller action, and per fault, per panel."""
    if not len(events):
        return
    _require(events, ("time_s", "source", "action"), "timeline() events")
    kinds = (
        (controller_events(events), EVENT_GID, EVENT_COLOR, "-", "controller action"),
        (fault_events(events), FAULT_GID, FAULT_COLOR, "--", "fault"),
    )
    for rows, gid, color, style, label in kinds:
        times = np.unique(rows["time_s"].to_numpy(dtype=float)) / divisor
        for panel in panels:
            for index, time in enumerate(times):
                panel.axvline(
                    time,
                    color=color,
                    ls=style,
                    lw=0.8 if gid == EVENT_GID else 1.4,
                    alpha=0.6 if gid == EVENT_GID else 0.9,
                    gid=gid,
                    label=label if index == 0 and panel is panels[2] else "_nolegend_",
                    zorder=0.5,
                )
    panels[2].legend(loc="upper left", fontsize="small")


# --- comparisons -------------------------------------------------------------------------------


def _mean_and_ci(data: Comparison | pd.DataFrame, metric: str) -> tuple[pd.Series, pd.Series]:
    """A metric's mean and 95 % half-width per group, from any of the accepted layouts.

    Accepted: a :class:`~sim.Comparison`; its ``.table`` (or any :func:`summarize` output:
    columns (metric, ``mean``|``ci95``), one row per group); a flat table with
    ``<metric>_mean`` and ``<metric>_ci95`` columns (``policy`` column or the index naming the
    groups); or a runs frame (one row per run with a ``policy`` column), summarised here.
    """
    table = data.table if isinstance(data, Comparison) else data
    if isinstance(table.columns, pd.MultiIndex):
        if (metric, "mean") not in table.columns:
            raise ValueError(f"the table has no metric {metric!r}")
        mean = table[(metric, "mean")].astype(float)
        ci = (
            table[(metric, "ci95")].astype(float)
            if (metric, "ci95") in table.columns
            else pd.Series(math.nan, index=table.index)
        )
        return _by_label(mean), _by_label(ci)
    if f"{metric}_mean" in table.columns:
        flat = table.set_index("policy") if "policy" in table.columns else table
        mean = flat[f"{metric}_mean"].astype(float)
        ci_column = f"{metric}_ci95"
        ci = (
            flat[ci_column].astype(float)
            if ci_column in flat.columns
            else pd.Series(math.nan, index=flat.index)
        )
        return _by_label(mean), _by_label(ci)
    if "policy" in table.columns and metric in table.columns:
        summary = summarize(table, "policy", [metric])
        return _by_label(summary[(metric, "mean")]), _by_label(summary[(metric, "ci95")])
    raise ValueError(
        f"expected a Comparison, its .table, a flat table with {metric}_mean and {metric}_ci95 "
        f"columns, or a runs frame with 'policy' and {metric!r} columns"
    )


def _by_label(series: pd.Series) -> pd.Series:
    labelled = series.copy()
    labelled.index = pd.Index([_label(value) for value in series.index])
    return labelled


def compare_bars(
    table: Comparison | pd.DataFrame,
    metrics: Sequence[str] = tuple(headline_metrics()),
    *,
    title: str = "Policies compared: mean and 95 % confidence interval",
) -> Figure:
    """One panel per metric: a bar per policy at its mean, with its 95 % confidence interval.

    The whiskers are the Student-t interval of the mean over replications (the ``ci95`` of
    :attr:`Comparison.table`); with one replication there is none and no whisker is drawn.
    Overlapping whiskers do not prove two policies equal: the replications are paired, so
    :meth:`Comparison.paired` gives the sharper test. Shares (error rate, SLO attainment) are
    shown in percent.

    ``table`` is a :class:`~sim.Comparison`, its ``.table`` (rows: policies; columns:
    (metric, ``mean``/``ci95``)), a flat frame with ``<metric>_mean`` and ``<metric>_ci95``
    columns (``policy`` column or index), or a runs frame with a ``policy`` column.
    """
    if not metrics:
        raise ValueError("compare_bars() needs at least one metric")
    figure = Figure(figsize=(max(6.0, 3.6 * len(metrics)), 4.2), layout="constrained")
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        mean, ci = _mean_and_ci(table, metric)
        labels = list(mean.index)
        colors = policy_colors(labels)
        positions = np.arange(len(labels))
        ax.bar(
            positions,
            mean.to_numpy(dtype=float),
            yerr=ci.reindex(mean.index).to_numpy(dtype=float),
            capsize=4,
            color=[colors[label] for label in labels],
            error_kw={"elinewidth": 1.2},
        )
        rotate = len(labels) > 3
        ax.set_xticks(
            positions, labels, rotation=30 if rotate else 0, ha="right" if rotate else "center"
        )
        if np.all(mean.dropna().to_numpy() >= 0):
            ax.set_ylim(bottom=0)
        ax.set_ylabel(metric_label(metric))
        ax.set_title(_metric_title(metric)[0])
        _format_axis(ax, metric)
    figure.suptitle(title)
    return figure


def pareto_front(
    cost: Sequence[float] | npt.ArrayLike, benefit: Sequence[float] | npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Which points no other point beats: none is as cheap and as good, and better in one.

    Point ``i`` is dominated when some ``j`` has ``cost[j] <= cost[i]`` and
    ``benefit[j] >= benefit[i]`` with at least one strict. Identical points do not dominate
    each other; a point with a NaN is never on the front.
    """
    costs = np.asarray(cost, dtype=float)
    benefits = np.asarray(benefit, dtype=float)
    if costs.shape != benefits.shape or costs.ndim != 1:
        raise ValueError("cost and benefit must be 1-D and of equal length")
    valid = ~(np.isnan(costs) | np.isnan(benefits))
    front: npt.NDArray[np.bool_] = valid.copy()
    for i in np.flatnonzero(valid):
        no_worse = valid & (costs <= costs[i]) & (benefits >= benefits[i])
        better = (costs < costs[i]) | (benefits > benefits[i])
        if np.any(no_worse & better):
            front[i] = False
    return front


def cost_vs_slo(
    runs_or_table: Comparison | pd.DataFrame,
    *,
    cost: str = "cost_usd",
    attainment: str = "slo_attainment",
    title: str = "Cost against SLO attainment",
) -> Figure:
    """Each policy's mean cost (x) against its mean SLO attainment (y), with 95 % CI crosses.

    Up and to the left is better: more intervals within the SLO for less money. Ringed points
    form the Pareto front, joined by a staircase: no other policy is both cheaper and at
    least as good. A policy off the front is beaten on both counts by one on it. With a runs
    frame (or a :class:`~sim.Comparison`), every replication is also drawn as a faint dot, so
    the spread behind each cross shows.

    ``runs_or_table`` is a :class:`~sim.Comparison`, its ``.runs`` (one row per run with a
    ``policy`` column) or its ``.table`` (or the flat ``<metric>_mean``/``_ci95`` layout).
    ``cost`` and ``attainment`` name other metrics to put on the axes (e.g.
    ``attainment="requests_within_slo"``).
    """
    cost_mean, cost_ci = _mean_and_ci(runs_or_table, cost)
    benefit_mean, benefit_ci = _mean_and_ci(runs_or_table, attainment)
    labels = list(cost_mean.index)
    benefit_mean = benefit_mean.reindex(labels)
    benefit_ci = benefit_ci.reindex(labels)
    colors = policy_colors(labels)
    figure = Figure(figsize=(7.5, 5.5), layout="constrained")
    ax = figure.add_subplot()
    runs = runs_or_table.runs if isinstance(runs_or_table, Comparison) else runs_or_table
    if not isinstance(runs.columns, pd.MultiIndex) and {"policy", cost, attainment} <= set(
        runs.columns
    ):
        for label in labels:
            rows = runs[runs["policy"].map(_label) == label]
            ax.scatter(rows[cost], rows[attainment], s=12, color=colors[label], alpha=0.3, lw=0)
    for label in labels:
        ax.errorbar(
            cost_mean[label],
            benefit_mean[label],
            xerr=_whisker(cost_ci[label]),
            yerr=_whisker(benefit_ci[label]),
            fmt="o",
            ms=7,
            capsize=3,
            color=colors[label],
            label=label,
        )
        ax.annotate(
            label,
            (cost_mean[label], benefit_mean[label]),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize="small",
        )
    front = pareto_front(cost_mean.to_numpy(), benefit_mean.to_numpy())
    order = np.argsort(cost_mean.to_numpy()[front])
    front_x = cost_mean.to_numpy()[front][order]
    front_y = benefit_mean.to_numpy()[front][order]
    ax.plot(front_x, front_y, drawstyle="steps-post", color="black", lw=1, alpha=0.5)
    ax.scatter(
        front_x,
        front_y,
        s=260,
        facecolors="none",
        edgecolors="black",
        linewidths=1.2,
        label="Pareto front",
        gid=PARETO_GID,
    )
    ax.set_xlabel(metric_label(cost))
    ax.set_ylabel(metric_label(attainment))
    _format_axis(ax, cost, axis="x")
    _format_axis(ax, attainment)
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    return figure


def _whisker(half_width: float) -> float | None:
    return None if math.isnan(half_width) else half_width


# --- sweeps ------------------------------------------------------------------------------------


def sweep_heatmap(
    frame: pd.DataFrame,
    x: str,
    y: str,
    value: str,
    *,
    cmap: str = "viridis",
    title: str | None = None,
) -> Figure:
    """A metric over two swept settings: one cell per pair of values, coloured and annotated.

    Each cell is the mean of ``value`` over the replications (and any other swept keys) at
    that pair of ``x`` and ``y`` values; its number is printed in it. Empty cells are pairs
    the sweep did not run. ``frame`` is what :func:`~sim.sweep` returns (one row per grid
    point and replication, one column per swept key); ``x`` and ``y`` are two of its swept
    keys (``"policy"`` works too).
    """
    _require(frame, (x, y, value), "sweep_heatmap()")
    grid = frame.pivot_table(index=y, columns=x, values=value, aggfunc="mean", dropna=False)
    matrix = grid.to_numpy(dtype=float)
    figure = Figure(figsize=(max(5.0, 1.1 * grid.shape[1] + 3), max(3.5, 0.6 * grid.shape[0] + 2)))
    figure.set_layout_engine("constrained")
    ax = figure.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, aspect="auto", origin="lower")
    ax.set_xticks(np.arange(grid.shape[1]), [_label(v) for v in grid.columns])
    ax.set_yticks(np.arange(grid.shape[0]), [_label(v) for v in grid.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    _annotate_cells(ax, image, matrix, value)
    colorbar = figure.colorbar(image, ax=ax)
    colorbar.set_label(metric_label(value))
    if _is_share(value):
        colorbar.formatter = PercentFormatter(1.0)
        colorbar.update_ticks()
    if title is None:
        replications = (
            int(frame["replication"].nunique()) if "replication" in frame.columns else None
        )
        over = f", mean over {replications} replications" if replications else ""
        title = f"{_metric_title(value)[0]}{over}"
    ax.set_title(title)
    return figure


def _annotate_cells(
    ax: Axes, image: AxesImage, matrix: npt.NDArray[np.float64], value: str
) -> None:
    """Print each cell's value in it, dark on light cells and light on dark ones."""
    for (row, column), cell in np.ndenumerate(matrix):
        if not math.isfinite(cell):
            continue
        rgba = np.asarray(image.cmap(image.norm(np.asarray([cell]))), dtype=float)[0]
        luminance = float(rgba[:3] @ np.array([0.299, 0.587, 0.114]))
        ax.text(
            column,
            row,
            _cell_text(float(cell), value),
            ha="center",
            va="center",
            fontsize="small",
            color="black" if luminance > 0.5 else "white",
        )


def _cell_text(cell: float, value: str) -> str:
    if _is_share(value):
        return f"{cell:.1%}"
    if _metric_title(value)[1] == "US$":
        return f"${cell:,.2f}"
    if cell == 0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(cell))))
    return f"{cell:,.{decimals}f}"


__all__ = [
    "EVENT_GID",
    "FAULT_GID",
    "MODEL_SOURCES",
    "PARETO_GID",
    "POLICY_COLORS",
    "SLO_GID",
    "compare_bars",
    "controller_events",
    "cost_vs_slo",
    "fault_events",
    "metric_label",
    "pareto_front",
    "policy_colors",
    "sweep_heatmap",
    "timeline",
    "traffic",
]

"""The metric table: every summary key and timeseries column of a run, declared once.

Each :class:`Metric` says what one number means, in which unit users see it, what kind of
quantity it is and where it is shown first. :data:`SUMMARY_METRICS` lists the keys of
``Result.summary`` and :data:`TIMESERIES_METRICS` the columns of ``Result.timeseries``, both in
the order the engine produces them. The result's minimum keys, the comparison and report
tables, the plots' labels and ``python -m sim metrics`` read this table; a column missing from
it is an error (:func:`check_columns`), never silently dropped.

Names carry their unit (``latency_p95_s``, ``cost_usd``, ``arrival_rate_rps``); a share is a
fraction in [0, 1] that users read as a percentage. The constructor enforces both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

Kind = Literal[
    "seconds", "share", "count", "money", "rate", "ratio", "cores", "hours", "time", "flag"
]  # fmt: skip
"""What a metric measures: a duration (``seconds``), a fraction in [0, 1] (``share``), a
number of things (``count``), US dollars (``money``), events per unit of time (``rate``), a
quotient that may pass 1 (``ratio``), CPU cores (``cores``), a duration in hours (``hours``),
a clock reading (``time``) or a yes/no (``flag``)."""

Aggregate = Literal["mean"]
"""How replications combine a metric: ``mean`` is the mean with its 95 % Student-t interval,
which :func:`sim.experiment.statistics.summarize` gives every numeric summary metric."""

Table = Literal["summary", "timeseries"]

KINDS: tuple[Kind, ...] = get_args(Kind)
AGGREGATES: tuple[Aggregate, ...] = get_args(Aggregate)

UNITS_OF_KIND: dict[Kind, tuple[str, ...]] = {
    "seconds": ("s",),
    "share": ("%",),
    "count": ("",),
    "money": ("US$",),
    "rate": ("req/s", "/min"),
    "ratio": ("%", ""),
    "cores": ("cores",),
    "hours": ("h",),
    "time": ("s",),
    "flag": ("",),
}
"""The units users may see a metric of each kind in."""

NAME_SUFFIXES = {
    "s": "_s",
    "US$": "_usd",
    "req/s": "_rps",
    "/min": "_per_min",
    "h": "_hours",
    "cores": "_cores",
}
"""The suffix a name ends with for each unit, and only for it (style rule 6)."""


def heading(title: str, unit: str) -> str:
    """A column heading or axis label: ``p95 latency (s)``, ``elasticity jitter per min``."""
    if not unit:
        return title
    if unit.startswith("/"):
        return f"{title} per {unit.removeprefix('/')}"
    return f"{title} ({unit})"


@dataclass(frozen=True, slots=True)
class Metric:
    """One summary key or timeseries column.

    ``unit`` is what users see (``s``, ``%``, ``US$``, ``req/s``, ``h``, ``""`` for a plain
    number); values are stored in the base unit (seconds, a fraction for ``%``, dollars).
    ``headline`` metrics open every comparison table and the report's; ``report_rank`` is the
    metric's row in the report's comparison table (1 first; headline metrics keep that order
    in the other tables); ``aggregate`` is how replications combine it; ``required`` marks the
    names DESIGN.md fixes. ``title`` defaults to the name without its unit suffix, ``label``
    (for axes and the report's headings) to ``title (unit)``.
    """

    name: str
    unit: str
    kind: Kind
    description: str
    headline: bool = False
    aggregate: Aggregate = "mean"
    report_rank: int | None = None
    required: bool = False
    title: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise ValueError(f"metric {self.name!r}: {problem}")
        if not self.title:
            suffix = NAME_SUFFIXES.get(self.unit, "")
            object.__setattr__(self, "title", self.name.removesuffix(suffix).replace("_", " "))
        if not self.label:
            object.__setattr__(self, "label", heading(self.title, self.unit))


def _problem(metric: Metric) -> str:
    """What is wrong with a metric's declaration, or ``""``."""
    if metric.kind not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}, got {metric.kind!r}"
    if metric.unit not in UNITS_OF_KIND[metric.kind]:
        units = " or ".join(repr(unit) for unit in UNITS_OF_KIND[metric.kind])
        return f"a {metric.kind} metric is shown in {units}, got unit {metric.unit!r}"
    expected = NAME_SUFFIXES.get(metric.unit, "")
    if expected and not metric.name.endswith(expected):
        return f"a name in {metric.unit} ends with {expected!r}"
    if not expected:
        for unit, suffix in NAME_SUFFIXES.items():
            if metric.name.endswith(suffix):
                return f"a name ending with {suffix!r} is in {unit}, got unit {metric.unit!r}"
    if not metric.description.strip() or "\n" in metric.description:
        return "description must be one non-empty line"
    if metric.aggregate not in AGGREGATES:
        return f"aggregate must be one of {', '.join(AGGREGATES)}, got {metric.aggregate!r}"
    if metric.headline and metric.report_rank is None:
        return "a headline metric needs a report_rank (its place in the report's table)"
    return ""


# --- the tables --------------------------------------------------------------------------------

_AFTER_WARMUP = "that arrived after the warm-up"

SUMMARY_METRICS: tuple[Metric, ...] = (
    Metric("requests", "", "count", f"Requests {_AFTER_WARMUP}", required=True),
    Metric("completed", "", "count",
           f"Requests {_AFTER_WARMUP} and completed before their client's timeout",
           required=True),
    Metric("rejected", "", "count",
           f"Requests {_AFTER_WARMUP} and were refused or lost to a fault (an HTTP 5xx)",
           required=True),
    Metric("timed_out", "", "count",
           f"Requests {_AFTER_WARMUP} whose client gave up after `service.timeout_s`",
           required=True),
    Metric("in_flight", "", "count",
           f"Requests {_AFTER_WARMUP} still queued or in service when the run ended",
           required=True),
    Metric("error_rate", "%", "share",
           "Per attempt: (rejected + timed_out) / (completed + rejected + timed_out); 0 if none "
           "(`user_error_rate` counts user requests)",
           headline=True, report_rank=3, required=True),
    Metric("latency_mean_s", "s", "seconds",
           f"Mean response time of the completed requests {_AFTER_WARMUP}",
           required=True, title="mean latency"),
    Metric("latency_p50_s", "s", "seconds",
           "Median response time of the same requests (log-bucketed histogram)",
           required=True, title="p50 latency"),
    Metric("latency_p95_s", "s", "seconds",
           "95th percentile of the same response times", headline=True, report_rank=1,
           required=True, title="p95 latency"),
    Metric("latency_p99_s", "s", "seconds", "99th percentile of the same response times",
           report_rank=2, required=True, title="p99 latency"),
    Metric("slo_attainment", "%", "share",
           "Share of sample intervals after the warm-up that met the SLO (as `slo_met`)",
           headline=True, report_rank=4, required=True, title="SLO attainment",
           label="SLO attainment (% of intervals)"),
    Metric("slo_violation_s", "s", "seconds",
           "Total length of the sample intervals after the warm-up that missed the SLO",
           required=True, title="time the SLO was missed"),
    Metric("cost_usd", "US$", "money",
           "The nodes' bill for the run: per second, each running stretch at least "
           "`cluster.billing_minimum_s`",
           headline=True, report_rank=5, required=True, title="cost"),
    Metric("node_hours", "h", "hours", "Node time billed for the run, by the same rule",
           report_rank=6, required=True, title="node-hours"),
    Metric("peak_nodes", "", "count",
           "Most nodes billed at a sample time (provisioning ones included)",
           report_rank=7, required=True),
    Metric("peak_replicas", "", "count", "Most replicas ready at a sample time",
           report_rank=8, required=True),
    Metric("scale_actions", "", "count",
           "Policy decisions that changed capacity: a replica count, a node launch (one per "
           "batch), removal or resize",
           report_rank=9, required=True),
    Metric("wall_time_s", "s", "seconds", "Real time the run took (not simulated time)",
           required=True),
    Metric("rejected_no_replica", "", "count", "Of `rejected`: no routable replica"),
    Metric("rejected_queue_full", "", "count",
           "Of `rejected`: the replica's accept queue was full (`queue_limit`, "
           "`overflow: reject`)"),
    Metric("rejected_fault", "", "count",
           "Of `rejected`: lost with a replica that crashed, was stopped or outlived its "
           "drain grace period, or a proxy's 504 after its next-upstream tries"),
    Metric("rejected_connect", "", "count",
           "Of `rejected`: a connection never answered within `service.connect_timeout_s` "
           "(a full backlog under `overflow: drop`, a dead machine)"),
    Metric("requests_within_slo", "%", "share",
           f"Completed within `slo.latency_s`, as a share of the answered requests {_AFTER_WARMUP}",
           title="requests within the SLO latency"),
    Metric("goodput_rps", "req/s", "rate",
           "Answers that reached a client still waiting, per second after the warm-up",
           report_rank=None),
    Metric("wasted_cpu_s", "s", "seconds",
           "CPU-seconds spent on requests whose client had given up (late answers; work "
           "cancelled at the timeout)", title="wasted CPU"),
    Metric("attempts", "", "count",
           f"Attempts {_AFTER_WARMUP}: first attempts (`requests`) and `retries`; the outcome "
           "counts above are per attempt"),
    Metric("retries", "", "count",
           "Retry attempts sent after the warm-up (`service.retries`; 0 without retries)"),
    Metric("amplification", "", "ratio", "`attempts` / `requests`: the load retries multiply",
           title="retry amplification"),
    Metric("user_error_rate", "%", "share",
           "User requests whose last attempt failed / user requests answered or failed "
           "(`error_rate` counts attempts)"),
    Metric("recovery_s", "s", "seconds",
           "From the end of the last surge or crash until the SLO holds for "
           "`slo.recovery_hold_s` unbroken; inf: never, NaN: nothing to recover from",
           title="recovery time"),
    Metric("elasticity_under_accuracy", "%", "ratio",
           "Mean over intervals after the warm-up of (demand − ready)⁺ / demand (SPEC)",
           report_rank=10),
    Metric("elasticity_over_accuracy", "%", "ratio",
           "Mean of (ready − demand)⁺ / demand over the same intervals; may pass 100 %",
           report_rank=11),
    Metric("elasticity_under_timeshare", "%", "share",
           "Share of those intervals with fewer replicas ready than `replicas_demand`",
           report_rank=12),
    Metric("elasticity_over_timeshare", "%", "share",
           "Share of those intervals with more replicas ready than `replicas_demand`"),
    Metric("elasticity_jitter_per_min", "/min", "rate",
           "(changes of ready replicas − changes of demand) per minute: < 0 lags, > 0 oscillates",
           report_rank=13),
)  # fmt: skip
"""``Result.summary``: counts and latency statistics over the requests that arrived after
``warmup_s``, SLO and elasticity figures over the sample intervals after it, the bill over
the whole run."""

TIMESERIES_METRICS: tuple[Metric, ...] = (
    Metric("time_s", "s", "time", "End of the sample interval, from the start of the run",
           required=True),
    Metric("arrivals", "", "count", "Requests that arrived in the interval", required=True),
    Metric("completed", "", "count", "Requests completed in the interval", required=True),
    Metric("rejected", "", "count", "Requests refused or lost to a fault in the interval",
           required=True),
    Metric("timed_out", "", "count", "Requests whose client gave up in the interval",
           required=True),
    Metric("arrival_rate_rps", "req/s", "rate", "arrivals / the interval's length",
           required=True),
    Metric("throughput_rps", "req/s", "rate",
           "Answers the servers finished / the interval's length, late ones included",
           required=True),
    Metric("goodput_rps", "req/s", "rate",
           "completed / the interval's length: answers that reached a client still waiting"),
    Metric("latency_mean_s", "s", "seconds",
           "Mean response time of the requests completed in the interval (empty if none)",
           title="mean latency"),
    Metric("latency_p50_s", "s", "seconds", "Median of the same response times",
           required=True, title="p50 latency"),
    Metric("latency_p95_s", "s", "seconds", "95th percentile of the same response times",
           required=True, title="p95 latency"),
    Metric("latency_p99_s", "s", "seconds", "99th percentile of the same response times",
           required=True, title="p99 latency"),
    Metric("latency_slo_percentile_s", "s", "seconds",
           "The same response times at the SLO's percentile (`slo.percentile`)",
           title="latency at the SLO percentile"),
    Metric("error_rate", "%", "share",
           "(rejected + timed_out) / (completed + rejected + timed_out); 0 if none"),
    Metric("slo_met", "", "flag",
           "The SLO held: `latency_slo_percentile_s` ≤ `slo.latency_s` (or none completed) and "
           "`error_rate` ≤ `slo.max_error_rate`",
           title="SLO met"),
    Metric("replicas_desired", "", "count", "Replicas the policy asks for (`spec.replicas`)",
           required=True),
    Metric("replicas_ready", "", "count", "Replicas ready", required=True),
    Metric("replicas_starting", "", "count", "Replicas pulling their image or starting",
           required=True),
    Metric("replicas_terminating", "", "count", "Replicas draining"),
    Metric("pods_pending", "", "count", "Replicas waiting for a node", required=True),
    Metric("nodes_ready", "", "count", "Nodes ready", required=True),
    Metric("nodes_provisioning", "", "count", "Nodes booting (or stopped for a resize)",
           required=True),
    Metric("cpu_utilization", "%", "share",
           "CPU used in the interval / cores of the nodes ready (empty if none)",
           required=True, title="CPU utilization"),
    Metric("replica_cpu_utilization", "%", "ratio",
           "CPU used in the interval / CPU requested by the replicas ready (the HPA's measure)",
           title="replica CPU utilization"),
    Metric("in_flight", "", "count", "Requests queued or in service in the replicas"),
    Metric("late_answers", "", "count",
           "Answers finished in the interval for clients that had already given up"),
    Metric("wasted_cpu_s", "s", "seconds",
           "CPU-seconds spent on requests whose client had given up, counted when they left",
           title="wasted CPU"),
    Metric("cost_usd", "US$", "money", "The nodes' bill from the start of the run (cumulative)",
           required=True, title="cost"),
    Metric("replicas_demand", "", "count",
           "Fewest replicas meeting the SLO's latency at the interval's arrival rate "
           "(M/M/c, `sim.elasticity`)"),
)  # fmt: skip
"""``Result.timeseries``: one row per sample interval, describing the interval that ends at
``time_s``: counts and latencies over the interval, gauges (replicas, nodes, in flight) as of
``time_s``."""

_TABLES: dict[Table, tuple[Metric, ...]] = {
    "summary": SUMMARY_METRICS,
    "timeseries": TIMESERIES_METRICS,
}
_BY_NAME: dict[Table, dict[str, Metric]] = {
    table: {metric.name: metric for metric in metrics} for table, metrics in _TABLES.items()
}


# --- look-ups ----------------------------------------------------------------------------------


class UnknownMetricError(KeyError):
    """A name that is not in the metric table."""

    def __str__(self) -> str:
        return str(self.args[0])


def find_metric(name: str, table: Table = "summary") -> Metric | None:
    """The metric called ``name`` in ``table``, or ``None`` (a column a user added)."""
    return _by_name(table).get(name)


def metric(name: str, table: Table = "summary") -> Metric:
    """The metric called ``name`` in ``table``; :class:`UnknownMetricError` names it if absent."""
    found = find_metric(name, table)
    if found is None:
        raise UnknownMetricError(
            f"unknown {table} metric {name!r}: declare it in sim/measure/metrics.py"
        )
    return found


def summary_keys() -> list[str]:
    """The keys of ``Result.summary``, in order."""
    return [metric.name for metric in SUMMARY_METRICS]


def timeseries_columns() -> list[str]:
    """The columns of ``Result.timeseries``, in order."""
    return [metric.name for metric in TIMESERIES_METRICS]


def headline_metrics() -> list[str]:
    """What a capacity planner reads first: the SLO's two sides, how often it held, the cost."""
    return [name for name in report_metrics() if _BY_NAME["summary"][name].headline]


def report_metrics() -> list[str]:
    """The rows of the report's comparison table, in order: the headline ones and more."""
    ranked = [metric for metric in SUMMARY_METRICS if metric.report_rank is not None]
    return [metric.name for metric in sorted(ranked, key=lambda m: m.report_rank or 0)]


def check_columns(columns: Iterable[str], table_name: Table) -> None:
    """Raise ``ValueError`` listing the ``columns`` that ``table_name``'s table does not declare."""
    known = _by_name(table_name)
    missing = [str(column) for column in columns if column not in known]
    if missing:
        raise ValueError(
            f"{table_name} columns missing from the metric table (sim/measure/metrics.py): "
            + ", ".join(missing)
        )


def _by_name(table: Table) -> dict[str, Metric]:
    if table not in _BY_NAME:
        raise ValueError(f"table must be one of {', '.join(_BY_NAME)}, got {table!r}")
    return _BY_NAME[table]


# --- documentation -----------------------------------------------------------------------------


def records() -> list[dict[str, object]]:
    """Both tables as flat records (``table`` first), for JSON."""
    return [
        {"table": table, **dataclasses.asdict(metric)}
        for table, metrics in _TABLES.items()
        for metric in metrics
    ]


def markdown_table() -> str:
    """Both tables in Markdown (name, unit, kind, description; headline for the summary)."""
    summary = [(m, _shown_first(m)) for m in SUMMARY_METRICS]
    timeseries = [(m, None) for m in TIMESERIES_METRICS]
    return "\n".join(
        [
            "`Result.summary` (one value per run; *headline*: which tables show it first):",
            "",
            *_markdown_rows(summary),
            "",
            "`Result.timeseries` (one row per sample interval, ending at `time_s`):",
            "",
            *_markdown_rows(timeseries),
        ]
    )


def _shown_first(metric: Metric) -> str:
    if metric.headline:
        return "all tables"
    return "report" if metric.report_rank is not None else ""


def _markdown_rows(rows: Sequence[tuple[Metric, str | None]]) -> list[str]:
    columns = ["name", "unit", "kind", "description"]
    with_headline = any(shown is not None for _, shown in rows)
    if with_headline:
        columns.append("headline")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for metric, shown in rows:
        cells = [f"`{metric.name}`", metric.unit, metric.kind, metric.description]
        if with_headline:
            cells.append(shown or "")
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return lines

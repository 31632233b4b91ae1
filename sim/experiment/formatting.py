"""Summary tables as text for a terminal, and flat for a CSV file."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pandas as pd

from sim.measure.metrics import find_metric, heading, headline_metrics

HEADLINE_METRICS = tuple(headline_metrics())
"""What a capacity planner reads first: the SLO's two sides, how often it held, what it cost."""

# For columns the metric table does not know (a user's own), the unit is guessed from the name.
_SHARE_SUFFIXES = ("_rate", "_attainment", "_accuracy", "_timeshare", "_share")
_METRICS_PER_BLOCK = 5


def displayed_metrics(metrics: Sequence[str]) -> list[str]:
    """The headline metrics, then the elasticity and accuracy metrics, of those present."""
    headline = [metric for metric in HEADLINE_METRICS if metric in metrics]
    extra = [
        metric
        for metric in metrics
        if metric not in headline and (metric.startswith("elasticity_") or "_accuracy" in metric)
    ]
    return [*headline, *extra]


def format_table(table: pd.DataFrame, metrics: Sequence[str] | None = None) -> str:
    """A summary table (rows: groups; columns: (metric, mean|ci95)) as aligned text.

    Each cell reads ``mean ± half-width`` in the metric's unit (seconds or milliseconds,
    percent, dollars); blocks of at most five metrics keep lines short.
    """
    available = list(dict.fromkeys(table.columns.get_level_values("metric")))
    chosen = displayed_metrics(available) if metrics is None else list(metrics)
    blocks = [
        chosen[start : start + _METRICS_PER_BLOCK]
        for start in range(0, len(chosen), _METRICS_PER_BLOCK)
    ]
    return "\n\n".join(_format_block(table, block) for block in blocks)


def flat_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table with one column per metric and statistic (``cost_usd_mean``), index as columns."""
    flat = table.copy()
    flat.columns = [
        f"{metric}_{statistic}"
        for metric, statistic in zip(
            table.columns.get_level_values("metric"),
            table.columns.get_level_values("statistic"),
            strict=True,
        )
    ]
    return flat.reset_index()


def _format_block(table: pd.DataFrame, metrics: Sequence[str]) -> str:
    """Columns of text (labels left-aligned, values right-aligned) joined into lines."""
    label_columns = [
        [str(name), *(_label(value) for value in table.index.get_level_values(level))]
        for level, name in enumerate(table.index.names)
    ]
    value_columns = [[_title(metric, table), *_cells(table, metric)] for metric in metrics]
    aligned = [_align(column, str.ljust) for column in label_columns]
    aligned += [_align(column, str.rjust) for column in value_columns]
    return "\n".join("  ".join(row).rstrip() for row in zip(*aligned, strict=True))


def _align(column: list[str], justify: Callable[[str, int], str]) -> list[str]:
    width = max(len(text) for text in column)
    return [justify(text, width) for text in column]


def _label(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _unit(metric: str, table: pd.DataFrame) -> str:
    """The unit shown: the table's, dollars as a ``$`` prefix, times under a second in ms."""
    known = find_metric(metric)
    unit = known.unit if known is not None else _guessed_unit(metric)
    if unit == "US$":
        return "$"
    if unit == "s":
        means = table[(metric, "mean")].dropna().abs()
        return "ms" if len(means) and means.max() < 1 else "s"
    return unit


def _guessed_unit(metric: str) -> str:
    if metric.endswith("_usd"):
        return "US$"
    if metric.endswith(_SHARE_SUFFIXES):
        return "%"
    return "s" if metric.endswith("_s") else ""


def _title(metric: str, table: pd.DataFrame) -> str:
    known = find_metric(metric)
    if known is not None:
        title = known.title
    else:
        name = metric.removeprefix("elasticity_")
        name = name.removesuffix("_usd").removesuffix("_s")
        title = name.replace("_", " ")
        if metric.startswith("elasticity_"):
            title = f"elasticity {title}"
    unit = _unit(metric, table)
    return title if unit == "$" else heading(title, unit)


def _cells(table: pd.DataFrame, metric: str) -> list[str]:
    unit = _unit(metric, table)
    scale = {"ms": 1000.0, "%": 100.0}.get(unit, 1.0)
    means = table[(metric, "mean")].to_numpy(dtype=float) * scale
    half_widths = table[(metric, "ci95")].to_numpy(dtype=float) * scale
    prefix = "$" if unit == "$" else ""
    return [
        prefix + plus_minus(float(mean), float(half_width))
        for mean, half_width in zip(means, half_widths, strict=True)
    ]


def plus_minus(mean: float, half_width: float) -> str:
    """``mean ± half_width``, the half-width to two significant digits and the mean to match.

    Without a half-width (NaN: one replication) the mean alone, to three significant digits.
    """
    if math.isnan(mean):
        return "—"
    if math.isnan(half_width):
        return _significant(mean)
    if half_width == 0:
        return f"{_significant(mean)} ± 0"
    decimals = min(6, max(0, 1 - math.floor(math.log10(half_width))))
    return f"{mean:,.{decimals}f} ± {half_width:,.{decimals}f}"


def _significant(value: float, digits: int = 3) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"

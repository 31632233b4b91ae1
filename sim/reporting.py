"""The capacity-planning report: what a team reads to decide how to grow.

``sim.report(comparison, "reports/booking")`` writes, into one folder:

* ``index.html`` — self-contained (figures embedded), opens offline in any browser;
* ``report.md`` — the same text, figures linked from ``figures/``;
* ``figures/*.png`` — traffic, the comparison with intervals, cost against SLO attainment,
  each policy's timeline;
* ``summary.csv`` — per policy, the mean and 95 % half-width of every metric.

Sections: the question and the scenario; the recommendation (the cheapest policy that holds
the SLO with the stated confidence, what it saves against the runner-up and how sure that
is); the traffic; the comparison table; each policy's timeline; what each policy's defaults
are and where they come from; how to reproduce the numbers.

A policy *holds the SLO* when, over its replications, the lower end of the 95 % interval of
its SLO attainment (the share of sample intervals meeting the latency percentile and the
error ceiling) is at least ``slo.attainment_target``. The saving is a paired difference:
every replication gave all policies the same requests.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import platform
import shlex
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: the report never opens a window

import pandas as pd
from matplotlib.figure import Figure

from sim import plots
from sim.config.schema import Scenario
from sim.experiment.compare import Comparison
from sim.experiment.formatting import flat_table, plus_minus
from sim.measure.metrics import find_metric, report_metrics
from sim.planning import Plan
from sim.policies.registry import POLICIES
from sim.version import __version__

REPORT_METRICS = tuple(report_metrics())
"""The rows of the report's comparison table (the metric table's ``report_rank`` order)."""


@dataclass(frozen=True)
class Recommendation:
    """The report's answer: which policy, what it costs, how sure."""

    policy: str | None
    holds_slo: list[str]
    runner_up: str | None
    saving_usd: float
    saving_ci95_usd: float
    text: str


def report(
    comparison: Comparison,
    out_dir: str | Path,
    *,
    command: str | None = None,
    plan: Plan | None = None,
) -> Path:
    """Write the report of ``comparison`` into ``out_dir``; returns the path of index.html.

    ``command`` is the command line that reproduces the comparison (shown in the report);
    by default the equivalent ``python -m sim report`` call is given. A ``plan`` from
    :func:`sim.planning.plan` adds its answer after the recommendation: the cheapest safe
    configuration, the runner-up, what it would cost to be wrong, and the runs it used.
    """
    directory = Path(out_dir)
    figures_directory = directory / "figures"
    figures_directory.mkdir(parents=True, exist_ok=True)
    scenario = comparison.scenario
    advice = recommend(comparison)
    figures = _figures(comparison)
    for name, figure in figures.items():
        figure.savefig(figures_directory / f"{name}.png", dpi=110, bbox_inches="tight")
    table = comparison.table
    flat_table(table).to_csv(directory / "summary.csv", index=False)
    sections = _sections(comparison, advice, command or _default_command(comparison))
    if plan is not None:
        sections[2:2] = _plan_sections(plan)
    (directory / "report.md").write_text(_markdown(scenario, sections, figures), encoding="utf-8")
    index = directory / "index.html"
    index.write_text(_html(scenario, sections, figures_directory, figures), encoding="utf-8")
    return index


# --- the answer --------------------------------------------------------------------------------


def recommend(comparison: Comparison) -> Recommendation:
    """The cheapest policy whose SLO attainment holds with 95 % confidence."""
    table = comparison.table
    target = comparison.scenario.slo.attainment_target
    attainment = table["slo_attainment"]
    cost = table["cost_usd"]["mean"]
    lower = attainment["mean"] - attainment["ci95"].fillna(0.0)
    holding = [str(policy) for policy in table.index if lower[policy] >= target]
    if not holding:
        best = str(attainment["mean"].idxmax())
        text = (
            f"No policy holds the SLO ({_slo_text(comparison.scenario)}) in at least "
            f"{target:.0%} of intervals with 95 % confidence. The closest is {best}: "
            f"{_cell('slo_attainment', attainment['mean'][best], attainment['ci95'][best])} "
            f"of intervals at ${cost[best]:,.2f}. More capacity at the start, or a policy "
            "that reacts sooner, is needed: the timelines show where the SLO was lost."
        )
        return Recommendation(None, [], None, math.nan, math.nan, text)
    ordered = sorted(holding, key=lambda policy: cost[policy])
    choice = ordered[0]
    runner_up = ordered[1] if len(ordered) > 1 else None
    saving, saving_ci = math.nan, math.nan
    held = _cell("slo_attainment", attainment["mean"][choice], attainment["ci95"][choice])
    text = (
        f"**{choice}** is the cheapest policy that holds the SLO "
        f"({_slo_text(comparison.scenario)}) in at least {target:.0%} of intervals with 95 % "
        f"confidence: {held} of intervals, for ${cost[choice]:,.2f} "
        f"(± ${table['cost_usd']['ci95'].fillna(0.0)[choice]:,.2f}) over the scenario."
    )
    if runner_up is not None:
        paired = comparison.paired(runner_up)["cost_usd"]
        saving = -float(paired["mean"][choice])
        saving_ci = float(paired["ci95"].fillna(0.0)[choice])
        text += (
            f" The runner-up, {runner_up}, costs ${saving:,.2f} more "
            f"(± ${saving_ci:,.2f}, paired over the same requests)."
        )
    others = [policy for policy in table.index if policy not in holding]
    if others:
        text += " Not holding the SLO: " + ", ".join(
            f"{policy} ({attainment['mean'][policy]:.0%})" for policy in others
        )
        text += "."
    return Recommendation(choice, holding, runner_up, saving, saving_ci, text)


def _slo_text(scenario: Scenario) -> str:
    slo = scenario.slo
    return (
        f"p{slo.percentile:g} ≤ {slo.latency_s:g} s and errors ≤ {slo.max_error_rate:.1%} "
        f"per {scenario.sample_interval_s:g} s interval"
    )


# --- content -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    title: str
    paragraphs: tuple[str, ...] = ()
    table: pd.DataFrame | None = None
    figures: tuple[str, ...] = ()


def _sections(comparison: Comparison, advice: Recommendation, command: str) -> list[Section]:
    scenario = comparison.scenario
    replications = int(comparison.runs["replication"].nunique())
    return [
        Section(
            "The question",
            (
                f"How should **{scenario.name}** grow? {scenario.description.strip()}".strip(),
                f"Each of {len(comparison.policies)} policies ({', '.join(comparison.policies)}) "
                f"replayed the same traffic {replications} times (replication r of every "
                f"policy used seed {int(comparison.runs['seed'].min())} + r, so the policies "
                "saw the same requests). Intervals are 95 % Student-t intervals over the "
                "replications.",
                _scenario_text(scenario),
            ),
        ),
        Section("Recommendation", (advice.text,)),
        Section("Traffic", ("Offered load over the run.",), figures=("traffic",)),
        Section(
            "Comparison",
            (
                "Mean ± 95 % half-width over replications. SLO attainment is the share of "
                "sample intervals that met the SLO; elasticity metrics compare the replicas "
                "supplied with the fewest that would have met the SLO at each interval's "
                "load (SPEC Research Group).",
            ),
            table=_display_table(comparison),
            figures=("comparison", "cost_vs_slo"),
        ),
        Section(
            "Timelines",
            (
                "One column per policy (first replication): load against capacity, the "
                "latency percentile against the SLO line, replicas and nodes, cumulative "
                "cost; thin lines mark the policies' actions, red ones faults.",
            ),
            figures=("timelines",),
        ),
        Section(
            "What each policy does by default, and where that comes from",
            (),
            table=_defaults_table(comparison.policies),
        ),
        Section("How to reproduce", _reproduce_text(comparison, command)),
    ]


def _plan_sections(plan: Plan) -> list[Section]:
    wrong = plan.wrong_lines() or ["No cheaper candidate clearly failed, and no other holds."]
    runner_up = plan.describe(plan.runner_up) if plan.runner_up is not None else "None."
    return [
        Section("Cheapest safe configuration", (plan.best_text(),)),
        Section("Runner-up", (runner_up,)),
        Section("What it would cost to be wrong", tuple(wrong)),
        Section("Runs used", (plan.runs_text(),), table=plan.table),
    ]


def _scenario_text(scenario: Scenario) -> str:
    traffic = scenario.traffic
    base = (
        f"{traffic.rate_rps:g} req/s base rate"
        if traffic.rate_rps is not None
        else f"a replay of {traffic.replay.path if traffic.replay else '?'}"
    )
    surges = ", ".join(
        f"×{surge.multiplier:g} from {surge.start_s:g} s" for surge in traffic.surges
    )
    cluster = scenario.cluster
    return (
        f"Scenario: {scenario.duration_s:g} s simulated ({scenario.warmup_s:g} s warm-up), "
        f"{base}{'; surges ' + surges if surges else ''}; "
        f"{scenario.service.initial_replicas} replicas on {cluster.initial_nodes} "
        f"{cluster.node_type} to start with; SLO {_slo_text(scenario)}, to hold in "
        f"{scenario.slo.attainment_target:.0%} of intervals."
    )


def _display_table(comparison: Comparison) -> pd.DataFrame:
    table = comparison.table
    available = [m for m in REPORT_METRICS if m in table.columns.get_level_values("metric")]
    rows = {}
    for policy in table.index:
        rows[str(policy)] = {
            plots.metric_label(metric): _cell(
                metric, table[metric]["mean"][policy], table[metric]["ci95"][policy]
            )
            for metric in available
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _cell(metric: str, mean: float, half_width: float) -> str:
    known = find_metric(metric)
    unit = known.unit if known is not None else ""
    if unit == "%":
        return f"{mean:.1%}" + ("" if math.isnan(half_width) else f" ± {half_width:.1%}")
    if unit == "US$":
        return f"${mean:,.2f}" + ("" if math.isnan(half_width) else f" ± {half_width:,.2f}")
    return plus_minus(mean, half_width)


def _defaults_table(policies: list[str]) -> pd.DataFrame:
    rows = {
        policy: {"defaults": POLICIES[policy].defaults, "sources": POLICIES[policy].sources}
        for policy in policies
        if policy in POLICIES
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def _reproduce_text(comparison: Comparison, command: str) -> tuple[str, ...]:
    scenario_json = json.dumps(comparison.scenario.to_dict(), sort_keys=True)
    digest = hashlib.sha256(scenario_json.encode()).hexdigest()
    versions = ", ".join(
        f"{name} {_version(name)}" for name in ("simpy", "numpy", "pandas", "scipy", "pydantic")
    )
    return (
        f"`{command}`",
        f"Seeds {int(comparison.runs['seed'].min())}…{int(comparison.runs['seed'].max())}; "
        f"sim {__version__}, Python {platform.python_version()}, {versions}.",
        f"Resolved scenario SHA-256: `{digest}` (the same scenario and seeds give the same "
        "numbers on any machine and executor).",
    )


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def _default_command(comparison: Comparison) -> str:
    replications = int(comparison.runs["replication"].nunique())
    seed = int(comparison.runs["seed"].min())
    policies = ",".join(comparison.policies)
    source = comparison.scenario.name
    return (
        f"python -m sim report {shlex.quote(source)}.yaml --policies {policies} "
        f"--replications {replications} --seed {seed}"
    )


def _figures(comparison: Comparison) -> dict[str, Figure]:
    first = comparison.timeseries
    if "replication" in first:
        first = first[first["replication"] == first["replication"].min()]
    one_policy = first[first["policy"] == comparison.policies[0]]
    return {
        "traffic": plots.traffic(one_policy.drop(columns=["policy"], errors="ignore")),
        "comparison": plots.compare_bars(comparison),
        "cost_vs_slo": plots.cost_vs_slo(comparison),
        "timelines": plots.timeline(comparison),
    }


# --- rendering ---------------------------------------------------------------------------------


def _markdown(scenario: Scenario, sections: list[Section], figures: dict[str, Figure]) -> str:
    lines = [f"# Capacity plan: {scenario.name}", ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph, ""]
        if section.table is not None:
            lines += [_markdown_table(section.table), ""]
        for name in section.figures:
            lines += [f"![{name}](figures/{name}.png)", ""]
    return "\n".join(lines)


def _markdown_table(table: pd.DataFrame) -> str:
    header = ["policy", *[str(column) for column in table.columns]]
    rows = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for index, row in table.iterrows():
        cells = [str(index), *[str(value).replace("|", "/") for value in row]]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #1d2733; line-height: 1.5; }
h1 { font-size: 1.8rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #dde3ea; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #dde3ea; padding: 0.35rem 0.6rem; text-align: left;
         vertical-align: top; }
th { background: #f3f6f9; }
img { max-width: 100%; margin: 0.8rem 0; border: 1px solid #eef1f4; }
.answer { background: #eef7ee; border-left: 4px solid #2e7d32; padding: 0.8rem 1rem; }
code { background: #f3f6f9; padding: 0.1rem 0.3rem; }
.wide { overflow-x: auto; }
"""

# Marks the page once every figure has decoded, so a browser test (or a curious reader's
# developer tools) can tell a complete page from one with a broken image.
_IMAGES_LOADED_SCRIPT = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (image) {
    return image.complete && image.naturalWidth > 0;
  });
  document.body.setAttribute("data-images", images.length);
  document.body.setAttribute("data-images-loaded", loaded.length);
});
</script>"""


def _html(
    scenario: Scenario, sections: list[Section], figures_directory: Path, figures: dict[str, Any]
) -> str:
    body = [f"<h1>Capacity plan: {html.escape(scenario.name)}</h1>"]
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        for paragraph in section.paragraphs:
            css = ' class="answer"' if section.title == "Recommendation" else ""
            body.append(f"<p{css}>{_inline(paragraph)}</p>")
        if section.table is not None:
            body.append(f'<div class="wide">{section.table.to_html(escape=True, border=0)}</div>')
        for name in section.figures:
            data = base64.b64encode((figures_directory / f"{name}.png").read_bytes()).decode()
            body.append(f'<img alt="{name}" src="data:image/png;base64,{data}">')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Capacity plan: {html.escape(scenario.name)}</title>"
        f"<style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + f"\n{_IMAGES_LOADED_SCRIPT}\n</body></html>\n"
    )


def _inline(text: str) -> str:
    """Markdown's ``**bold**`` and ``code`` for the few inline marks the report uses."""
    escaped = html.escape(text)
    parts = escaped.split("**")
    escaped = "".join(
        f"<strong>{part}</strong>" if index % 2 else part for index, part in enumerate(parts)
    )
    parts = escaped.split("`")
    return "".join(
        f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts)
    )

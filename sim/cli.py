"""The command line: a thin layer over the same calls a notebook makes.

    python -m sim run SCENARIO [--policy P] [--seed N] [--set key=value]... [--out DIR]
    python -m sim validate SCENARIO
    python -m sim bench [--quick] [--json]
    python -m sim compare SCENARIO [--policies P1,P2,...] [--replications N] [--executor E] ...
    python -m sim sweep SCENARIO --grid key=v1,v2 [--grid key2=...] [--replications N] ...
    python -m sim plan SCENARIO --space key=v1,v2 [--space ...] [--replications N] [--seed S]
    python -m sim import compose FILE [--service NAME] [--out FILE]
    python -m sim import k8s FILE... [--deployment NAME] [--out FILE]
    python -m sim metrics [--json]

Bad input (a scenario, an override, a trace, an argument) prints one line on stderr naming the
file, field or line and what was expected, and exits with code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import pandas as pd

from sim.config.errors import InputError, trace_context
from sim.config.overrides import parse_assignment
from sim.config.schema import POLICY_NAMES

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m sim", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="simulate one scenario under one policy")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--policy", choices=POLICY_NAMES, help="override the scenario's policy")
    run.add_argument("--seed", type=_seed, default=0, help="random seed, 0 or more (default 0)")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field by its dotted key, e.g. traffic.rate_rps=80 (repeatable)",
    )
    run.add_argument("--out", help="save the result (Parquet + scenario + metadata) here")
    run.add_argument(
        "--format", choices=("table", "json"), default="table", help="how to print the summary"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")

    validate = commands.add_parser("validate", help="check a scenario file and its trace")
    validate.add_argument("scenario", help="scenario YAML file")

    bench = commands.add_parser("bench", help="measure simulated requests per wall second")
    bench.add_argument("--quick", action="store_true", help="a small version (seconds)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--child-requests", type=int, default=0, help=argparse.SUPPRESS)
    _add_experiment_commands(commands)
    _add_plan_command(commands)
    _add_import_command(commands)

    metrics = commands.add_parser(
        "metrics", help="print the summary keys and timeseries columns with units and meanings"
    )
    metrics.add_argument("--json", action="store_true", help="one JSON record per metric")
    return parser


def _whole_number(text: str, minimum: int) -> int:
    """``text`` as a whole number of at least ``minimum``, or an argparse error saying so."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"expected {minimum} or more, got {number}")
    return number


def _seed(text: str) -> int:
    """A run seed: a whole number, 0 or more (what numpy's SeedSequence accepts)."""
    return _whole_number(text, 0)


def _output_directory(path: str) -> None:
    """Refuse an --out that cannot become a result directory, before spending a run on it."""
    from pathlib import Path

    target = Path(path)
    if target.exists() and not target.is_dir():
        raise InputError("expected a directory for the result, but a file is there", file=path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    arguments = _parser().parse_args(argv)
    try:
        if arguments.command == "run":
            return _run(arguments)
        if arguments.command == "validate":
            return _validate(arguments)
        if arguments.command == "compare":
            return _compare(arguments)
        if arguments.command == "report":
            return _report(arguments)
        if arguments.command == "sweep":
            return _sweep(arguments)
        if arguments.command == "plan":
            return _plan(arguments)
        if arguments.command == "import":
            return _import(arguments)
        if arguments.command == "metrics":
            return _metrics(arguments)
        if arguments.command == "bench":
            from sim.benchmark import run_benchmark

            return run_benchmark(
                quick=arguments.quick,
                as_json=arguments.json,
                child_requests=arguments.child_requests,
            )
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as command-line tools do.
        sys.stderr.close()
        return 0
    return 0


def _load(arguments: argparse.Namespace) -> Any:
    from sim.config.loading import load_scenario

    scenario = load_scenario(arguments.scenario)
    overrides = dict(parse_assignment(text) for text in getattr(arguments, "set", []))
    return scenario.with_overrides(overrides) if overrides else scenario


def _run(arguments: argparse.Namespace) -> int:
    from sim.engine import run

    scenario = _load(arguments)
    _check_trace(scenario)
    if arguments.out:
        _output_directory(arguments.out)
    result = run(
        scenario,
        policy=arguments.policy,
        seed=arguments.seed,
        progress=False if arguments.no_progress else None,
    )
    if arguments.format == "json":
        print(json.dumps(_plain(result.summary), indent=2))
    else:
        print(format_summary(result.summary, scenario, result.policy, result.seed))
    if arguments.out:
        path = result.save(arguments.out)
        print(f"saved to {path}")
    return 0


def _metrics(arguments: argparse.Namespace) -> int:
    """The metric table in Markdown (the README's copy) or as JSON records."""
    from sim.measure.metrics import markdown_table, records

    print(
        json.dumps(records(), indent=2, ensure_ascii=False) if arguments.json else markdown_table()
    )
    return 0


def _validate(arguments: argparse.Namespace) -> int:
    scenario = _load(arguments)
    _check_trace(scenario)
    replay = scenario.traffic.replay
    trace = f", trace {replay.path} ({replay.format})" if replay else ""
    endpoints = len(scenario.service.endpoints)
    print(
        f"{arguments.scenario}: valid scenario {scenario.name!r}: {scenario.duration_s:g} s, "
        f"{endpoints} endpoint{'s' if endpoints != 1 else ''}, policy {scenario.policy.name}"
        f"{trace}"
    )
    return 0


def _check_trace(scenario: Any) -> None:
    """Read the replayed trace, if any, so that a bad one is reported before the run."""
    replay = scenario.traffic.replay
    if replay is None:
        return
    import numpy as np

    from sim.traffic import load_replay

    with trace_context():
        load_replay(replay, scenario.resolve_path(replay.path), np.random.default_rng(0))


def _plain(summary: pd.Series) -> dict[str, Any]:
    plain: dict[str, Any] = {}
    for key, value in summary.items():
        number = value.item() if hasattr(value, "item") else value
        plain[str(key)] = None if isinstance(number, float) and math.isnan(number) else number
    return plain


def format_summary(summary: pd.Series, scenario: Any, policy: str, seed: int) -> str:
    """The summary as a few readable lines, units included."""
    s = summary
    slo = scenario.slo
    resolved = s["completed"] + s["rejected"] + s["timed_out"]
    completed_share = s["completed"] / resolved if resolved else math.nan
    lines = [
        f"{scenario.name} · policy {policy} · seed {seed} · "
        f"{scenario.duration_s:,.0f} s simulated in {s['wall_time_s']:.1f} s",
        f"requests   {s['requests']:>12,}   completed {s['completed']:,} ({completed_share:.1%})"
        f"   rejected {s['rejected']:,}   timed out {s['timed_out']:,}"
        f"   in flight {s['in_flight']:,}",
        f"latency    mean {_seconds(s['latency_mean_s'])}   p50 {_seconds(s['latency_p50_s'])}"
        f"   p95 {_seconds(s['latency_p95_s'])}   p99 {_seconds(s['latency_p99_s'])}",
        f"errors     {s['error_rate']:.2%} of answered requests"
        f" (no replica {s['rejected_no_replica']:,}, queue full {s['rejected_queue_full']:,},"
        f" lost to faults {s['rejected_fault']:,}, never connected {s['rejected_connect']:,})",
        f"SLO        p{slo.percentile:g} ≤ {slo.latency_s:g} s and errors ≤ "
        f"{slo.max_error_rate:.1%}: met in {s['slo_attainment']:.1%} of intervals"
        f" (violated {s['slo_violation_s']:,.0f} s)",
        f"cost       ${s['cost_usd']:,.2f}   node-hours {s['node_hours']:,.1f}"
        f"   peak nodes {s['peak_nodes']}   peak replicas {s['peak_replicas']}"
        f"   scale actions {s['scale_actions']}",
    ]
    if scenario.warmup_s:
        lines.append(f"(requests arriving in the first {scenario.warmup_s:g} s are not counted)")
    return "\n".join(lines)


def _seconds(value: float) -> str:
    if math.isnan(value):
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


# --- compare and sweep -------------------------------------------------------------------------


def _add_experiment_commands(commands: Any) -> None:
    from sim.experiment.compare import DEFAULT_REPLICATIONS as COMPARE_REPLICATIONS
    from sim.experiment.sweep import DEFAULT_REPLICATIONS as SWEEP_REPLICATIONS

    REPORT_REPLICATIONS = 3  # enough for Student-t intervals, quick enough for `make demo`

    compare = commands.add_parser(
        "compare", help="run policies over replications: means and 95 %% confidence intervals"
    )
    compare.add_argument("scenario", help="scenario YAML file")
    compare.add_argument(
        "--policies",
        type=_policy_list,
        metavar="P1,P2,...",
        help=f"policies to compare (default: all of {','.join(POLICY_NAMES)})",
    )
    _experiment_options(compare, COMPARE_REPLICATIONS)

    sweep = commands.add_parser("sweep", help="run every point of a grid of overrides")
    sweep.add_argument("scenario", help="scenario YAML file")
    sweep.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="KEY=V1,V2,...",
        help="values of a dotted key to sweep, read as YAML (repeatable: the cartesian product)",
    )
    sweep.add_argument("--policy", choices=POLICY_NAMES, help="override the scenario's policy")
    _experiment_options(sweep, SWEEP_REPLICATIONS)

    report = commands.add_parser(
        "report",
        help="compare policies and write a capacity-planning report (HTML, Markdown, figures)",
    )
    report.add_argument(
        "scenario",
        help="scenario YAML file (the comparison is run), or a folder stored by compare --out",
    )
    report.add_argument(
        "--policies",
        type=_policy_list,
        metavar="P1,P2,...",
        help=f"policies to compare (default: all of {','.join(POLICY_NAMES)})",
    )
    _experiment_options(report, REPORT_REPLICATIONS)
    report.add_argument(
        "--report-dir",
        metavar="DIR",
        help="where to write the report (default: reports/<scenario name>)",
    )


def _experiment_options(parser: argparse.ArgumentParser, replications: int) -> None:
    from sim.experiment.executors import EXECUTORS

    parser.add_argument(
        "--replications",
        type=_positive,
        default=replications,
        help=f"runs per policy or grid point, seeds SEED, SEED+1, ... (default {replications})",
    )
    parser.add_argument("--seed", type=_seed, default=0, help="seed of replication 0 (default 0)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field by its dotted key before running (repeatable)",
    )
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        help="where runs execute (default: process, or dask with --dask-scheduler)",
    )
    parser.add_argument("--jobs", type=_positive, help="worker processes (default: one per core)")
    parser.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="store every run here as it finishes; resume from it"
    )
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _positive(text: str) -> int:
    """A count: a whole number, 1 or more."""
    return _whole_number(text, 1)


def _policy_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in POLICY_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown policy {unknown[0]!r}; expected some of {','.join(POLICY_NAMES)}"
        )
    return names


def _grid(arguments: argparse.Namespace) -> dict[str, list[Any]]:
    """``--grid key=v1,v2`` options as a grid; each value is read as YAML (``0.5``, ``[1, 2]``)."""
    import yaml

    grid: dict[str, list[Any]] = {}
    overridden = {parse_assignment(text)[0] for text in arguments.set}
    for text in arguments.grid:
        key, separator, raw = text.partition("=")
        key = key.strip()
        if not separator or not key or not raw.strip():
            raise InputError(f"expected KEY=V1,V2,..., got {text!r}", field="--grid")
        if key in grid or key in overridden:
            raise InputError(f"{key} is given more than once", field="--grid")
        try:
            grid[key] = list(yaml.safe_load(f"[{raw}]"))
        except yaml.YAMLError:
            raise InputError(f"cannot read {raw!r} as YAML values", field=f"--grid {key}") from None
    return grid


def _executor_options(arguments: argparse.Namespace) -> dict[str, Any]:
    if arguments.out:
        _output_directory(arguments.out)
    if arguments.csv:
        _csv_file(arguments.csv)
    scheduler_address = arguments.dask_scheduler
    return {
        "executor": arguments.executor or ("dask" if scheduler_address else "process"),
        "jobs": arguments.jobs,
        "scheduler_address": scheduler_address,
        "out_dir": arguments.out,
        "progress": False if arguments.no_progress else None,
    }


def _csv_file(path: str) -> None:
    """Refuse a --csv that cannot be written, before spending runs on it."""
    from pathlib import Path

    target = Path(path)
    if target.is_dir() or not target.resolve().parent.is_dir():
        raise InputError("expected a file in an existing directory for the CSV", file=path)


def _compare(arguments: argparse.Namespace) -> int:
    from sim.experiment import compare
    from sim.experiment.formatting import format_table

    scenario = _load(arguments)
    _check_trace(scenario)
    options = _executor_options(arguments)
    comparison = compare(
        scenario, arguments.policies, arguments.replications, arguments.seed, **options
    )
    policies = len(comparison.policies)
    print(
        f"{scenario.name} · {policies} polic{'ies' if policies != 1 else 'y'} × "
        f"{_replications(arguments)} · mean ± 95 % confidence interval (Student t)\n"
    )
    print(format_table(comparison.table))
    _finish(arguments, comparison.table)
    return 0


def _report(arguments: argparse.Namespace) -> int:
    """Compare (or load a stored comparison), print the table, write the report."""
    from pathlib import Path

    from sim.experiment import compare
    from sim.experiment.compare import Comparison
    from sim.experiment.formatting import format_table
    from sim.reporting import recommend, report

    source = Path(arguments.scenario)
    if source.is_dir():
        comparison = Comparison.load(source)
        command = f"python -m sim report {arguments.scenario}"
    else:
        scenario = _load(arguments)
        _check_trace(scenario)
        comparison = compare(
            scenario,
            arguments.policies,
            arguments.replications,
            arguments.seed,
            **_executor_options(arguments),
        )
        command = "python -m sim " + " ".join(shlex.quote(part) for part in sys.argv[1:])
    name = comparison.scenario.name
    print(f"{name} · mean ± 95 % confidence interval (Student t)\n")
    print(format_table(comparison.table))
    _finish(arguments, comparison.table)
    target = Path(arguments.report_dir or Path("reports") / name.replace("-", "_"))
    index = report(comparison, target, command=command)
    print("\n" + recommend(comparison).text.replace("**", ""))
    print(f"\nreport: {index}")
    return 0


def _sweep(arguments: argparse.Namespace) -> int:
    from sim.experiment import summarize, sweep
    from sim.experiment.formatting import format_table

    scenario = _load(arguments)
    grid: dict[str, Any] = _grid(arguments)
    swept_keys = sorted(grid)
    if arguments.policy:
        if "policy.name" in grid:
            raise InputError("give the policy by --policy or by --grid, not both", field="--policy")
        grid["policy.name"] = arguments.policy  # one value: fixed, not a column
    _check_trace(scenario)
    options = _executor_options(arguments)
    runs = sweep(scenario, grid, arguments.replications, arguments.seed, **options)
    table = summarize(runs, swept_keys)
    points = len(table)
    print(
        f"{scenario.name} · {points} grid point{'s' if points != 1 else ''} × "
        f"{_replications(arguments)} · mean ± 95 % confidence interval (Student t)\n"
    )
    print(format_table(table))
    _finish(arguments, table)
    return 0


def _replications(arguments: argparse.Namespace) -> str:
    count = arguments.replications
    last = arguments.seed + count - 1
    seeds = f"seed {last}" if count == 1 else f"seeds {arguments.seed}–{last}"
    return f"{count} replication{'s' if count != 1 else ''} ({seeds})"


def _finish(arguments: argparse.Namespace, table: pd.DataFrame) -> None:
    from sim.experiment.formatting import flat_table

    if arguments.csv:
        try:
            flat_table(table).to_csv(arguments.csv, index=False)
        except OSError as error:
            raise InputError(
                f"cannot write the CSV ({error.strerror})", file=arguments.csv
            ) from None
        print(f"\ntable written to {arguments.csv}")
    if arguments.out:
        print(f"runs stored in {arguments.out}")


# --- import ------------------------------------------------------------------------------------


def _add_import_command(commands: Any) -> None:
    importer = commands.add_parser(
        "import", help="write a scenario from a Compose file or Kubernetes manifests"
    )
    kinds = importer.add_subparsers(dest="source", required=True, parser_class=_Parser)
    compose = kinds.add_parser("compose", help="a Compose or Swarm stack file")
    compose.add_argument("file", help="docker-compose.yml or a stack file")
    compose.add_argument("--service", metavar="NAME", help="the service (if there are several)")
    compose.add_argument("--out", metavar="FILE", help="write the scenario here (default stdout)")
    k8s = kinds.add_parser("k8s", help="Kubernetes manifests (Deployment, HPA, Nodes)")
    k8s.add_argument("files", nargs="+", metavar="FILE", help="manifest files, multi-document")
    k8s.add_argument("--deployment", metavar="NAME", help="the Deployment (if there are several)")
    k8s.add_argument("--out", metavar="FILE", help="write the scenario here (default stdout)")


def _import(arguments: argparse.Namespace) -> int:
    """Import, print the warnings on stderr and the scenario as YAML on stdout or --out."""
    from sim.importers import import_compose, import_kubernetes, to_yaml

    if arguments.source == "compose":
        result = import_compose(arguments.file, service=arguments.service)
        source = arguments.file
    else:
        result = import_kubernetes(arguments.files, deployment=arguments.deployment)
        source = " ".join(arguments.files)
    text = to_yaml(result, source=source)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if arguments.out:
        try:
            with open(arguments.out, "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as error:
            raise InputError(
                f"cannot write the scenario ({error.strerror})", file=arguments.out
            ) from None
        print(
            f"scenario written to {arguments.out}: replace the ASSUMED lines "
            f"({len(result.assumptions)}) with your figures",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0


# --- plan --------------------------------------------------------------------------------------


def _add_plan_command(commands: Any) -> None:
    from sim.experiment.executors import EXECUTORS

    plan = commands.add_parser(
        "plan", help="find the cheapest configuration whose SLO holds, with few runs"
    )
    plan.add_argument("scenario", help="scenario YAML file")
    plan.add_argument(
        "--space",
        action="append",
        required=True,
        metavar="KEY=V1,V2,...",
        help="values of a dotted key to search, read as YAML (repeatable: the cartesian product)",
    )
    plan.add_argument(
        "--replications",
        type=_positive,
        default=5,
        help="the most runs any candidate gets, seeds SEED, SEED+1, ... (default 5)",
    )
    plan.add_argument("--seed", type=_seed, default=0, help="seed of replication 0 (default 0)")
    plan.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="confidence of the SLO and cost intervals (default 0.95)",
    )
    plan.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field by its dotted key before planning (repeatable)",
    )
    plan.add_argument("--executor", choices=EXECUTORS, default="process", help="where runs execute")
    plan.add_argument("--jobs", type=_positive, help="worker processes (default: one per core)")
    plan.add_argument("--no-prune", action="store_true", help="skip the queueing-theory bound")
    plan.add_argument("--no-progress", action="store_true", help="no progress bar")


def _plan(arguments: argparse.Namespace) -> int:
    """Plan, print the candidates' table and the answer."""
    from sim.planning import plan

    scenario = _load(arguments)
    space = _grid(argparse.Namespace(grid=arguments.space, set=arguments.set))
    _check_trace(scenario)
    result = plan(
        scenario,
        space,
        replications=arguments.replications,
        confidence=arguments.confidence,
        seed=arguments.seed,
        executor=arguments.executor,
        jobs=arguments.jobs,
        progress=False if arguments.no_progress else None,
        prune=not arguments.no_prune,
    )
    print(
        f"{scenario.name} · {result.candidates} candidates · SLO attainment ≥ "
        f"{scenario.slo.attainment_target:.0%} with {arguments.confidence:.0%} confidence\n"
    )
    with pd.option_context("display.max_colwidth", 90, "display.width", 250):
        print(result.table.to_string(float_format=lambda value: f"{value:.4g}"))
    print("\n" + result.summary_text())
    return 0

"""A results store on disk: every finished run is kept at once, so an experiment can resume.

Layout of ``out_dir``::

    manifest.json            the experiment: kind, resolved base scenario, grid or policies,
                             replications, seeds, and the label of every run it needs
    runs/<run_id>/           one finished run:
        summary.parquet          one row, every summary key
        timeseries.parquet       one row per sample interval
        events.parquet           scaling actions, faults, lifecycle changes
        run.json                 its spec (resolved scenario, policy, seed, swept values)
                                 and the sim version that ran it
    log.jsonl                one line per run executed into this store (id, time, process);
                             a process killed between storing a run and logging it misses
                             that run's line, never more

A run is written into a hidden temporary directory and renamed into place only when complete,
so a process killed at any moment (even by SIGKILL) leaves either a whole run or none; a run
directory that exists is finished. Run ids hash the resolved scenario, policy, seed and sim
version, so any experiment that needs a run already stored reuses it, and re-running an
experiment runs only what is missing. The manifest describes the last experiment started in
the store.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from sim.config.errors import InputError
from sim.experiment.runs import (
    RunLabel,
    RunOutput,
    RunSpec,
    events_frame,
    plain_summary,
    runs_frame,
    timeseries_frame,
)
from sim.version import __version__

STORE_FORMAT = 1
MANIFEST = "manifest.json"
RUNS = "runs"
LOG = "log.jsonl"
_TEMPORARY_PREFIX = ".partial-"
_RUN_FILES = ("summary.parquet", "timeseries.parquet", "run.json")


class StoredRuns(NamedTuple):
    """A store read back: the tidy runs frame, the long timeseries, the manifest, what is missing.

    ``runs`` and ``timeseries`` are the frames the experiment returned (rows in the manifest's
    order); ``missing`` holds the ids of runs the manifest lists that are not stored yet;
    ``events`` stacks the runs' events like the timeseries.
    """

    runs: pd.DataFrame
    timeseries: pd.DataFrame
    manifest: dict[str, Any]
    missing: tuple[str, ...]
    events: pd.DataFrame


class RunStore:
    """The runs of one store; :meth:`prepare` readies it for an experiment."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.runs_directory = self.directory / RUNS

    def prepare(self, manifest: dict[str, Any]) -> None:
        """Create the store if needed, clear what killed writers left, write ``manifest``."""
        if self.directory.exists() and not self.directory.is_dir():
            raise InputError(
                "expected a directory for the results, but a file is there", file=self.directory
            )
        try:
            self.runs_directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(
                f"cannot create the results directory ({error.strerror})", file=self.directory
            ) from None
        self._remove_abandoned()
        contents = {"format": STORE_FORMAT, "sim_version": __version__, **manifest}
        _write_atomically(self.directory / MANIFEST, json.dumps(contents, indent=2) + "\n")

    def has(self, run_id: str) -> bool:
        """Whether the run is stored (a run directory only exists once complete)."""
        return (self.runs_directory / run_id).is_dir()

    def write(self, spec: RunSpec, output: RunOutput) -> None:
        """Store one finished run atomically; a run already stored is left as it is."""
        final = self.runs_directory / spec.run_id
        if final.exists():
            return
        temporary = Path(
            tempfile.mkdtemp(prefix=f"{_TEMPORARY_PREFIX}{os.getpid()}-", dir=self.runs_directory)
        )
        try:
            _write_run(temporary, spec, output)
            try:
                os.rename(temporary, final)
            except OSError:
                if not final.is_dir():
                    raise
                shutil.rmtree(temporary)  # another writer stored the same run first
                return
            _sync_directory(self.runs_directory)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        record = {
            "run_id": spec.run_id,
            "finished": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "process": os.getpid(),
        }
        with open(self.directory / LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")

    def read(self, run_id: str, *, timeseries: bool = True) -> RunOutput:
        """One stored run; ``timeseries=False`` reads only its summary."""
        path = self.runs_directory / run_id
        metadata = json.loads((path / "run.json").read_text(encoding="utf-8"))
        summary_row = pd.read_parquet(path / "summary.parquet")
        summary = plain_summary({column: summary_row[column].iloc[0] for column in summary_row})
        frame = pd.read_parquet(path / "timeseries.parquet") if timeseries else None
        events_path = path / "events.parquet"
        events = pd.read_parquet(events_path) if timeseries and events_path.is_file() else None
        return RunOutput(run_id, summary, frame, str(metadata.get("sim_version", "")), events)

    def _remove_abandoned(self) -> None:
        """Delete the temporary files and run directories of writers that no longer exist."""
        for folder in (self.directory, self.runs_directory):
            for entry in folder.glob(f"{_TEMPORARY_PREFIX}*"):
                process = entry.name.removeprefix(_TEMPORARY_PREFIX).split("-", 1)[0]
                if process.isdigit() and not _process_exists(int(process)):
                    if entry.is_dir():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)


def load_store(directory: str | Path) -> StoredRuns:
    """Read a store back as the frames its experiment returned (finished runs only)."""
    path = Path(directory)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise InputError(f"not a results store (no {MANIFEST})", file=path)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise InputError(f"unreadable manifest ({error})", file=manifest_path) from None
    labels = [RunLabel.from_dict(entry) for entry in manifest["runs"]]
    store = RunStore(path)
    run_ids = list(dict.fromkeys(label.run_id for label in labels))
    outputs = {run_id: store.read(run_id) for run_id in run_ids if store.has(run_id)}
    missing = tuple(run_id for run_id in run_ids if run_id not in outputs)
    return StoredRuns(
        runs_frame(labels, outputs),
        timeseries_frame(labels, outputs),
        manifest,
        missing,
        events_frame(labels, outputs),
    )


def executed_run_ids(directory: str | Path) -> list[str]:
    """The ids of the runs executed into a store, in the order they finished (from its log)."""
    log = Path(directory) / LOG
    if not log.is_file():
        return []
    run_ids = []
    for line in log.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            run_ids.append(str(json.loads(line)["run_id"]))  # a killed writer may cut a line
    return run_ids


def _write_run(directory: Path, spec: RunSpec, output: RunOutput) -> None:
    pd.DataFrame([output.summary]).to_parquet(directory / "summary.parquet", index=False)
    if output.timeseries is None:
        raise ValueError("a run is stored with its timeseries")
    output.timeseries.to_parquet(directory / "timeseries.parquet", index=False)
    if output.events is not None:
        output.events.to_parquet(directory / "events.parquet", index=False)
    metadata = {
        "run_id": spec.run_id,
        "policy": spec.policy,
        "seed": spec.seed,
        "replication": spec.replication,
        "values": spec.values,
        "scenario": spec.scenario,
        "scenario_source_dir": spec.source_dir,
        "sim_version": output.sim_version,
        "stored": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (directory / "run.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    for name in _RUN_FILES:
        _sync_file(directory / name)
    _sync_directory(directory)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f"{_TEMPORARY_PREFIX}{os.getpid()}-{path.name}")
    temporary.write_text(text, encoding="utf-8")
    _sync_file(temporary)
    os.replace(temporary, path)


def _sync_file(path: Path) -> None:
    # Renaming is atomic for a killed process; syncing first makes it so for a lost machine too.
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _sync_directory(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return  # a platform that cannot open directories (Windows) syncs them on its own
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _process_exists(process_id: int) -> bool:
    try:
        os.kill(process_id, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True

"""Where runs execute: in this process, in a pool of worker processes, or on a Dask cluster.

Every executor calls the same :func:`~sim.experiment.runs.execute` on the same specs and the
engine is deterministic per seed, so the numbers do not depend on the executor; only the order
in which runs finish does, and the callers put rows back in spec order.

* ``serial``: one run after another in this process (debugging, profiling, tiny jobs).
* ``process``: a :class:`concurrent.futures.ProcessPoolExecutor` with one worker per core (or
  ``jobs``). Workers start from a fork server (or are spawned), never forked from the
  caller, so a script that calls :func:`sim.compare` or :func:`sim.sweep` needs the usual
  ``if __name__ == "__main__":`` guard (notebooks do not).
* ``dask``: a ``dask.distributed`` client, connected to ``scheduler_address``
  (``tcp://host:8786``) or to a :class:`~distributed.LocalCluster` of ``jobs`` single-threaded
  worker processes started for the occasion. Remote workers need the same ``sim`` version.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Generator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from sim.config.errors import InputError
from sim.experiment.runs import RunOutput, RunSpec, execute

EXECUTORS = ("serial", "process", "dask")
DASK_CONNECT_TIMEOUT = "10s"


def check_executor(executor: str, jobs: int | None, scheduler_address: str | None) -> None:
    """Reject an unknown executor or options that do not apply to it, before any run."""
    if executor not in EXECUTORS:
        raise InputError(
            f"expected one of {', '.join(EXECUTORS)}, got {executor!r}", field="executor"
        )
    if jobs is not None and jobs < 1:
        raise InputError(f"expected 1 or more workers, got {jobs}", field="jobs")
    if executor == "serial" and jobs is not None and jobs > 1:
        raise InputError("the serial executor runs one run at a time", field="jobs")
    if scheduler_address is not None and executor != "dask":
        raise InputError(
            f"a scheduler address needs the dask executor, not {executor}",
            field="scheduler_address",
        )
    if scheduler_address is not None and jobs is not None:
        raise InputError(
            "jobs sizes a local Dask cluster; a scheduler at an address has its own workers",
            field="jobs",
        )


def execute_all(
    specs: Sequence[RunSpec],
    executor: str = "process",
    *,
    jobs: int | None = None,
    scheduler_address: str | None = None,
) -> Generator[RunOutput, None, None]:
    """Run every spec and yield each output as soon as it finishes (in no fixed order).

    The options are checked at once; the runs start when iteration does. Whatever the
    executor opened (a pool, a cluster, a client) is closed when the generator is exhausted
    or closed: close it early (``contextlib.closing``) to cancel the runs not yet started.
    """
    check_executor(executor, jobs, scheduler_address)
    if executor == "serial" or not specs:
        return (execute(spec) for spec in specs)
    workers = min(jobs or os.cpu_count() or 1, len(specs))
    if executor == "process":
        return _process_pool(specs, workers)
    return _dask(specs, None if scheduler_address else workers, scheduler_address)


def _process_pool(specs: Sequence[RunSpec], workers: int) -> Generator[RunOutput, None, None]:
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context())
    try:
        futures = [pool.submit(execute, spec) for spec in specs]
        for future in as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _worker_context() -> multiprocessing.context.BaseContext:
    """How pool workers start: never by forking this process, which may run threads.

    Forking a process with threads (a progress bar's monitor, a Dask client's event loop) can
    copy a held lock into the child. A fork server is a clean single-threaded process that
    imports ``sim`` once and forks each worker from there, so only the first pool of a
    session pays for the imports; where there is none (Windows), workers are spawned.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sim.experiment.runs"])
    return context


def _dask(
    specs: Sequence[RunSpec], workers: int | None, scheduler_address: str | None
) -> Generator[RunOutput, None, None]:
    # distributed has no type hints; Any keeps strict mypy from flagging every call.
    import distributed

    dask: Any = distributed
    cluster: Any = None
    if scheduler_address is None:
        cluster = dask.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    try:
        client = _connect(dask, cluster if cluster is not None else scheduler_address)
        try:
            futures = [
                client.submit(execute, spec, key=f"sim-run-{spec.run_id}", pure=False)
                for spec in specs
            ]
            for future in dask.as_completed(futures):
                output: RunOutput = future.result()
                future.release()
                yield output
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def _connect(dask: Any, target: Any) -> Any:
    try:
        return dask.Client(target, timeout=DASK_CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as error:
        raise InputError(
            f"cannot reach the Dask scheduler at {target} ({error})", field="scheduler_address"
        ) from None

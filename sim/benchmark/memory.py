"""Peak memory of a command, measured in a child process of its own.

Memory is measured in a fresh process because a Python process rarely returns freed memory to
the operating system: a benchmark's peak resident set size (RSS) would otherwise include
whatever ran before it. ``resource.getrusage(RUSAGE_CHILDREN)`` cannot isolate one child
either, since it reports the largest peak among all children ever waited for. The usage that
``os.wait4`` returns for one child is that child's own (and that of any descendants it waited
for), so each measurement stands alone. POSIX only.

One more trap: Linux counts in a process's peak the memory it had *before* ``exec`` — for a
child forked from a large Python process (a benchmark, a test runner), the parent's whole
resident set. So the command is started by a small launcher, a fresh interpreter holding a few
megabytes, whose own child is the command; the launcher reports that child's usage.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from typing import IO

# ru_maxrss is reported in KiB on Linux and in bytes on macOS.
_MAXRSS_UNIT_BYTES = 1 if sys.platform == "darwin" else 1024
_BYTES_PER_MB = 1024 * 1024
_STDERR_TAIL_CHARS = 2000

# Runs the command as its own child and writes that child's ru_maxrss to the file named first.
_LAUNCHER = """
import os, subprocess, sys
usage_path, argv = sys.argv[1], sys.argv[2:]
try:
    command = subprocess.Popen(argv)
except OSError as error:
    sys.exit(f"cannot start {argv[0]}: {error}")
_, status, usage = os.wait4(command.pid, 0)
with open(usage_path, "w") as usage_file:
    usage_file.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


def peak_rss_mb_of(argv: list[str], timeout_s: float | None = None) -> tuple[float, str]:
    """Run ``argv`` to completion and return its peak RSS in MB (2**20 bytes) and its stdout.

    ``argv`` is the full command line, e.g. ``[sys.executable, "-m", "sim", "bench", ...]``.
    Raises ``RuntimeError`` with the end of the child's stderr if it exits with a non-zero
    status, and ``subprocess.TimeoutExpired`` if it is still running after ``timeout_s``
    seconds (it is then killed).
    """
    if not argv:
        raise ValueError("argv must name a command, got an empty list")
    if timeout_s is not None and not timeout_s > 0.0:
        raise ValueError(f"timeout_s must be positive or None, got {timeout_s}")
    # Files rather than pipes: nothing has to drain them while the child runs, so the parent
    # can block in wait4 without risking a deadlock on a full pipe.
    with (
        tempfile.TemporaryFile() as stdout_file,
        tempfile.TemporaryFile() as stderr_file,
        tempfile.NamedTemporaryFile("r", suffix=".maxrss") as usage_file,
    ):
        launcher = [sys.executable, "-c", _LAUNCHER, usage_file.name, *argv]
        with subprocess.Popen(
            launcher,
            stdin=subprocess.DEVNULL,
            stdout=stdout_file,
            stderr=stderr_file,
            start_new_session=True,  # one process group: a timeout kills the command too
        ) as child:
            exit_code, _, timed_out = _reap_with_usage(child, timeout_s)
        stdout = _read_text(stdout_file)
        usage_text = usage_file.read().strip()
        peak_rss_mb = int(usage_text) * _MAXRSS_UNIT_BYTES / _BYTES_PER_MB if usage_text else 0.0
        if timed_out:
            raise subprocess.TimeoutExpired(argv, timeout_s or 0.0, stdout, _read_text(stderr_file))
        if exit_code != 0:
            stderr_tail = _read_text(stderr_file)[-_STDERR_TAIL_CHARS:]
            raise RuntimeError(
                f"{argv[0]} exited with status {exit_code}; end of its stderr:\n{stderr_tail}"
            )
    return peak_rss_mb, stdout


def _reap_with_usage(
    child: subprocess.Popen[bytes], timeout_s: float | None
) -> tuple[int, float, bool]:
    """Wait for ``child`` and return its exit code, its peak RSS in MB and whether it timed out.

    The child is reaped with ``os.wait4`` rather than ``Popen.wait``, which would discard its
    resource usage; ``Popen`` is then told the exit code so it does not wait again.
    """
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        # os.kill, not Popen.kill: Popen.kill polls first and could reap the child, losing its
        # usage. Where os.waitid exists the child is not reaped before the timer has stopped, so
        # its pid cannot have been reused by another process.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)

    timer = threading.Timer(timeout_s, kill) if timeout_s is not None else None
    if timer is not None:
        timer.start()
    try:
        if timer is not None and hasattr(os, "waitid"):
            # Wait for the exit but leave the child a zombie, so that its pid cannot be reused
            # while the timer is stopped; only then reap it.
            os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    finally:
        if timer is not None:
            timer.cancel()
            timer.join()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    peak_rss_mb = usage.ru_maxrss * _MAXRSS_UNIT_BYTES / _BYTES_PER_MB
    # The timer may fire just after a normal exit; only a kill that ended the child counts.
    killed_by_timer = timed_out.is_set() and child.returncode == -signal.SIGKILL
    return child.returncode, peak_rss_mb, killed_by_timer


def _read_text(file: IO[bytes]) -> str:
    """The whole content of a temporary output file, decoded leniently as UTF-8."""
    file.seek(0)
    return file.read().decode("utf-8", errors="replace")

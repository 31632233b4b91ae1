"""What real web servers do with requests they cannot start at once: presets for a container.

A server has ``concurrency`` worker slots (threads, processes, an event loop), room for
``queue_limit`` more connections waiting for one, and an ``overflow`` behaviour once that room
is full. Where the room is the kernel's listen backlog, a full backlog *drops* the
connection: Linux ignores the SYN (``tcp_abort_on_overflow`` = 0), the client's kernel
resends it after 1 s, 2 s, 4 s … and the client sees a connect timeout, not an HTTP error
(Documentation/networking/ip-sysctl). An immediate 503 (*reject*) comes only from something
that chooses to shed: an application limiter, uvicorn's ``--limit-concurrency``, Envoy's
circuit breakers, nginx ``limit_conn``.

Each preset is what a user of the named server gets with its defaults (``service.container.
server``; the scenario's own ``concurrency``, ``queue_limit`` or ``overflow`` win over it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

ServerName = Literal["tomcat", "gunicorn", "uvicorn", "nginx"]
"""The servers with a preset (``service.container.server``)."""
SERVER_NAMES: tuple[str, ...] = get_args(ServerName)

Overflow = Literal["reject", "drop"]
"""What happens to a connection beyond ``queue_limit``: an immediate 503, or no answer."""


@dataclass(frozen=True)
class ServerPreset:
    """A server's worker slots, waiting room and overflow behaviour, with where they come from."""

    concurrency: int
    queue_limit: int
    overflow: Overflow
    source: str


SERVERS: dict[str, ServerPreset] = {
    "tomcat": ServerPreset(
        # The NIO connector accepts up to maxConnections (8192) connections, maxThreads (200)
        # of them in service; acceptCount (100) more wait in the kernel's backlog; beyond
        # that the kernel drops them.
        concurrency=200,
        queue_limit=8192 - 200 + 100,
        overflow="drop",
        source="Apache Tomcat 9 HTTP connector reference: maxThreads 200, maxConnections 8192, "
        "acceptCount 100",
    ),
    "gunicorn": ServerPreset(
        # One sync worker (--workers 1) serves one request at a time; --backlog 2048.
        concurrency=1,
        queue_limit=2048,
        overflow="drop",
        source="gunicorn settings reference: workers 1, worker_class sync, backlog 2048",
    ),
    "uvicorn": ServerPreset(
        # One event loop runs the handlers' CPU one at a time; without --limit-concurrency it
        # accepts every connection (its loop drains the 2048 backlog whenever it runs), so
        # the waiting room is, in effect, unbounded.
        concurrency=1,
        queue_limit=1_000_000,
        overflow="drop",
        source="uvicorn settings: workers 1, backlog 2048, limit-concurrency unset",
    ),
    "nginx": ServerPreset(
        # One worker process with worker_connections 512; listen backlog 511 on Linux.
        concurrency=512,
        queue_limit=511,
        overflow="drop",
        source="nginx core module: worker_processes 1, worker_connections 512, listen backlog=511",
    ),
}
"""Every preset, by name."""

DEFAULT_SERVER: ServerName = "tomcat"
"""The server a container is unless the scenario says otherwise (Kubernetes' and Spring Boot's
most common Java stack; its 200 threads were this project's default concurrency)."""

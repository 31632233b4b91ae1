"""Docker Compose and Swarm stack files → a scenario.

What is read, and what it means in Compose (compose-spec) and Swarm (swarmkit):

- ``deploy.replicas`` / ``scale``: containers (Swarm tasks) of the service →
  ``service.initial_replicas``. Compose rejects a file where both are set and differ; so do we.
- ``deploy.resources.limits.cpus`` (v2 files: ``cpus``): the CFS quota in cores →
  ``service.container.cpu_limit_m``.
- ``deploy.resources.reservations.cpus``: a Swarm scheduling reservation (Compose ignores it)
  → ``cpu_request_m`` under the ``swarm`` policy.
- ``deploy.resources.reservations.memory`` (v2: ``mem_reservation``) → ``memory_request_mib``;
  ``limits.memory`` (v2: ``mem_limit``) is a hard cap the simulator does not model (a warning).
- ``healthcheck``: Docker marks a container healthy at its first passing check, one
  ``interval`` after start (30 s by default), and failures within ``start_period`` do not
  count; the container serves once healthy, so ``startup_s`` is the larger of the two.
- ``stop_grace_period``: SIGTERM to SIGKILL (10 s by default) → ``termination_grace_s``.
- ``deploy.restart_policy.delay`` → ``policy.swarm.restart_delay_s``.
- ``image`` → ``service.container.image``.

A service with a ``deploy`` key runs under the ``swarm`` policy; otherwise ``static`` on one
host, since Compose drives a single Docker engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.config.errors import InputError
from sim.importers._common import (
    DEFAULT_NODE_TYPE,
    PLACEHOLDER_ASSUMPTIONS,
    PLACEHOLDER_DURATION_S,
    PLACEHOLDER_SLO,
    ImportResult,
    nodes_for,
    parse_compose_memory_mib,
    parse_cpus_m,
    parse_duration_s,
    placeholder_endpoints,
    placeholder_traffic,
    read_documents,
)

_SERVICE_KEYS_USED = {
    "image",
    "deploy",
    "scale",
    "healthcheck",
    "cpus",
    "mem_limit",
    "mem_reservation",
    "stop_grace_period",
}
_DEPLOY_KEYS_USED = {"replicas", "resources", "restart_policy", "mode"}
_HEALTHCHECK_DEFAULT_INTERVAL_S = 30.0  # Docker HEALTHCHECK default
_STOP_GRACE_DEFAULT_S = 10.0  # docker stop / Compose stop_grace_period default


def import_compose(path: str | Path, service: str | None = None) -> ImportResult:
    """Read a Compose or Swarm stack file and build the scenario of one of its services.

    ``service`` names it; it may be left out when the file has only one. Raises
    :class:`InputError` for bad YAML, a file without services, an unknown or ambiguous
    service, and ``scale`` disagreeing with ``deploy.replicas``.
    """
    services, top_level = _read(path)
    name = _choose(services, service, path)
    spec = services[name]
    if not isinstance(spec, dict):
        raise InputError(
            "expected a mapping of service fields", file=path, field=f"services.{name}"
        )
    result = ImportResult(scenario={})
    result.warnings += [f"{key}: not modelled" for key in top_level if key != "services"]
    result.warnings += [f"services.{other}: not imported" for other in services if other != name]
    _Mapper(path, name, spec, result).build()
    return result


def _read(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    documents = [document for document in read_documents(path) if document is not None]
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise InputError("expected one Compose document, a mapping with services:", file=path)
    top_level: dict[str, Any] = documents[0]
    services = top_level.get("services")
    if not isinstance(services, dict) or not services:
        raise InputError("expected a services: mapping with at least one service", file=path)
    return services, top_level


def _choose(services: dict[str, Any], service: str | None, path: str | Path) -> str:
    names = ", ".join(services)
    if service is None:
        if len(services) > 1:
            raise InputError(
                f"the file defines {len(services)} services ({names}); choose one with --service",
                file=path,
            )
        return next(iter(services))
    if service not in services:
        raise InputError(f"no service {service!r}; the file defines {names}", file=path)
    return service


class _Mapper:
    """Maps one service's fields, collecting warnings and assumptions as it goes."""

    def __init__(
        self, path: str | Path, name: str, spec: dict[str, Any], result: ImportResult
    ) -> None:
        self.path = path
        self.name = name
        self.spec = spec
        self.deploy: dict[str, Any] = spec.get("deploy") or {}
        self.swarm = "deploy" in spec
        self.result = result

    def where(self, key: str) -> str:
        return f"services.{self.name}.{key}"

    def warn(self, key: str, why: str = "not modelled") -> None:
        self.result.warnings.append(f"{self.where(key)}: {why}")

    def assume(self, text: str) -> None:
        self.result.assumptions.append(text)

    # --- the scenario ----------------------------------------------------------------------

    def build(self) -> None:
        for key in self.spec:
            if key not in _SERVICE_KEYS_USED:
                self.warn(key)
        for key in self.deploy:
            if key not in _DEPLOY_KEYS_USED:
                self.warn(f"deploy.{key}")
        replicas = self.replicas()
        container = self.container()
        policy: dict[str, Any] = {"name": "swarm" if self.swarm else "static"}
        if self.swarm:
            policy["swarm"] = self.swarm_settings()
        elif "restart_policy" in self.deploy:
            self.warn("deploy.restart_policy", "not modelled under Compose (no restarts)")
        source = Path(self.path).name
        self.result.scenario = {
            "name": self.name,
            "description": f"Imported from {source} (service {self.name}).",
            "duration_s": PLACEHOLDER_DURATION_S,
            "slo": dict(PLACEHOLDER_SLO),
            "service": {
                "endpoints": placeholder_endpoints(),
                "initial_replicas": replicas,
                "container": container,
            },
            "cluster": self.cluster(replicas, container["cpu_request_m"]),
            "traffic": placeholder_traffic(replicas),
            "policy": policy,
        }
        self.result.assumptions[:0] = PLACEHOLDER_ASSUMPTIONS

    def replicas(self) -> int:
        """``deploy.replicas`` and ``scale`` must agree when both are set (compose-go)."""
        mode = self.deploy.get("mode", "replicated")
        if mode != "replicated":
            self.warn("deploy.mode", f"{mode} is not modelled; imported as replicated")
        values = {
            key: value
            for key, value in (
                ("deploy.replicas", self.deploy.get("replicas")),
                ("scale", self.spec.get("scale")),
            )
            if value is not None
        }
        for key, value in values.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InputError(
                    f"expected a whole number, 0 or more, got {value!r}",
                    file=self.path,
                    field=self.where(key),
                )
        if len(set(values.values())) > 1:
            raise InputError(
                f"deploy.replicas ({values['deploy.replicas']}) and scale ({values['scale']}) "
                "disagree; Compose rejects this too",
                file=self.path,
                field=f"services.{self.name}",
            )
        return next(iter(values.values()), 1)

    def container(self) -> dict[str, Any]:
        resources = self.deploy.get("resources") or {}
        limits = resources.get("limits") or {}
        reservations = resources.get("reservations") or {}
        container: dict[str, Any] = {}
        if "image" in self.spec:
            container["image"] = str(self.spec["image"])
        cpus = limits.get("cpus", self.spec.get("cpus"))
        cpus_key = "deploy.resources.limits.cpus" if "cpus" in limits else "cpus"
        limit_m = None if cpus is None else self.cpus(cpus, cpus_key)
        request_m = None
        if "cpus" in reservations:
            request_m = self.cpus(reservations["cpus"], "deploy.resources.reservations.cpus")
            self.warn(
                "deploy.resources.reservations.cpus",
                "a Swarm reservation (cpu_request_m); docker compose up ignores it",
            )
        container["cpu_request_m"] = self.cpu_request(request_m, limit_m)
        if limit_m is not None:
            container["cpu_limit_m"] = limit_m
        container["memory_request_mib"] = self.memory_request(reservations)
        self.memory_limit(limits)
        for key in [k for k in limits if k not in {"cpus", "memory"}]:
            self.warn(f"deploy.resources.limits.{key}")
        for key in [k for k in reservations if k not in {"cpus", "memory"}]:
            self.warn(f"deploy.resources.reservations.{key}")
        for key in [k for k in resources if k not in {"limits", "reservations"}]:
            self.warn(f"deploy.resources.{key}")
        startup_s = self.healthcheck()
        if startup_s is not None:
            container["startup_s"] = {"dist": "constant", "value": startup_s}
        grace = self.spec.get("stop_grace_period")
        grace_s = (
            _STOP_GRACE_DEFAULT_S
            if grace is None
            else parse_duration_s(grace, file=self.path, field=self.where("stop_grace_period"))
        )
        container["termination_grace_s"] = grace_s
        return container

    def cpus(self, value: Any, key: str) -> int:
        return parse_cpus_m(value, file=self.path, field=self.where(key))

    def cpu_request(self, request_m: int | None, limit_m: int | None) -> int:
        """Swarm reserves ``reservations.cpus``; without it every replica gets Docker's equal
        CPU shares, which any equal request reproduces: the limit, or one core."""
        if request_m is not None:
            if limit_m is not None and request_m > limit_m:
                raise InputError(
                    f"reservations.cpus ({request_m} m) exceeds limits.cpus ({limit_m} m)",
                    file=self.path,
                    field=self.where("deploy.resources"),
                )
            return request_m
        chosen = limit_m if limit_m is not None else 1000
        self.assume(
            "service.container.cpu_request_m: no CPU reservation in the file; "
            f"{chosen} m assumed (equal CPU shares for every replica)"
        )
        return chosen

    def memory_request(self, reservations: dict[str, Any]) -> int:
        memory = reservations.get("memory", self.spec.get("mem_reservation"))
        if memory is None:
            return 0  # nothing reserved: Docker's default
        key = (
            "deploy.resources.reservations.memory"
            if "memory" in reservations
            else ("mem_reservation")
        )
        return round(parse_compose_memory_mib(memory, file=self.path, field=self.where(key)))

    def memory_limit(self, limits: dict[str, Any]) -> None:
        memory = limits.get("memory", self.spec.get("mem_limit"))
        if memory is None:
            return
        key = "deploy.resources.limits.memory" if "memory" in limits else "mem_limit"
        mib = parse_compose_memory_mib(memory, file=self.path, field=self.where(key))
        self.warn(key, f"memory limit of {mib:g} MiB not modelled (no out-of-memory kills)")

    def healthcheck(self) -> float | None:
        """Seconds until the first passing check: ``max(interval, start_period)``."""
        check = self.spec.get("healthcheck")
        if not isinstance(check, dict) or check.get("disable") or check.get("test") == ["NONE"]:
            self.assume(
                "service.container.startup_s: no healthcheck; the schema's start-up time is used"
            )
            return None
        interval_s = _HEALTHCHECK_DEFAULT_INTERVAL_S
        start_period_s = 0.0
        if "interval" in check:
            field = self.where("healthcheck.interval")
            interval_s = parse_duration_s(check["interval"], file=self.path, field=field)
        if "start_period" in check:
            field = self.where("healthcheck.start_period")
            start_period_s = parse_duration_s(check["start_period"], file=self.path, field=field)
        for key in [k for k in check if k not in {"interval", "start_period", "test"}]:
            self.warn(f"healthcheck.{key}", "not modelled (failure detection)")
        return max(interval_s, start_period_s)

    def swarm_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {}
        restart = self.deploy.get("restart_policy") or {}
        if "delay" in restart:
            field = self.where("deploy.restart_policy.delay")
            settings["restart_delay_s"] = parse_duration_s(
                restart["delay"], file=self.path, field=field
            )
        for key in [k for k in restart if k not in {"delay"}]:
            self.warn(f"deploy.restart_policy.{key}")
        return settings

    def cluster(self, replicas: int, cpu_request_m: int) -> dict[str, Any]:
        nodes = nodes_for(replicas, cpu_request_m) if self.swarm else 1
        self.assume(f"cluster.node_type: the file names no machine; {DEFAULT_NODE_TYPE} assumed")
        if self.swarm:
            self.assume(
                "cluster.initial_nodes: Swarm nodes are not in a stack file; enough "
                f"{DEFAULT_NODE_TYPE} for the replicas' CPU assumed"
            )
        return {"node_type": DEFAULT_NODE_TYPE, "initial_nodes": nodes, "max_nodes": max(10, nodes)}

"""Kubernetes manifests (``kubectl``/Helm output) → a ``kubernetes`` policy scenario.

What is read, and what it means in Kubernetes:

- ``Deployment`` (``apps/v1``): ``spec.replicas`` (default 1) → ``service.initial_replicas``;
  the first container's ``resources.requests``/``limits`` ``cpu`` → ``cpu_request_m``/
  ``cpu_limit_m`` and ``requests.memory`` → ``memory_request_mib`` (a request left out while
  the limit is set defaults to the limit, as the API server does); ``readinessProbe``
  ``initialDelaySeconds``/``periodSeconds`` → ``policy.kubernetes.readiness_probe``;
  ``terminationGracePeriodSeconds`` (SIGTERM to SIGKILL, 30 s) → ``termination_grace_s``.
- ``HorizontalPodAutoscaler`` whose ``scaleTargetRef`` is that Deployment: ``autoscaling/v2``
  ``minReplicas``/``maxReplicas``, the ``Resource`` ``cpu`` metric's ``averageUtilization``
  (percent of the request) and ``behavior`` → ``policy.kubernetes.hpa``; ``autoscaling/v1``
  ``targetCPUUtilizationPercentage`` is read with a warning.
- ``Node``: their count → ``cluster.initial_nodes``; the ``node.kubernetes.io/instance-type``
  label or ``status.capacity`` → ``cluster.node_type`` (a custom ``instance_types`` entry when
  no catalogue type matches); capacity − allocatable → the cluster's reserved CPU and memory.

Documents of every file are read in order; ``kind: List`` is flattened; anything else
(Services, ConfigMaps, Ingresses, ...) is listed as not modelled.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from sim.config.catalogue import CATALOGUE
from sim.config.errors import InputError
from sim.importers._common import (
    DEFAULT_NODE_TYPE,
    PLACEHOLDER_ASSUMPTIONS,
    PLACEHOLDER_DURATION_S,
    PLACEHOLDER_SLO,
    ImportResult,
    nodes_for,
    parse_cpus_m,
    parse_k8s_memory_mib,
    placeholder_endpoints,
    placeholder_traffic,
    read_documents,
)

_CONTAINER_KEYS_USED = {"name", "image", "resources", "readinessProbe"}
_POD_KEYS_USED = {"containers", "terminationGracePeriodSeconds"}
_INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
_ASSUMED_USD_PER_VCPU_HOUR = 0.048  # m5/m6i on-demand, us-east-1 (see the catalogue)


class _Object:
    """One manifest object and the file it came from."""

    def __init__(self, body: dict[str, Any], file: str | Path) -> None:
        self.body = body
        self.file = file
        self.kind = str(body.get("kind", ""))
        self.api_version = str(body.get("apiVersion", ""))
        self.name = str((body.get("metadata") or {}).get("name", ""))

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name} ({Path(self.file).name})"

    def spec(self) -> dict[str, Any]:
        spec = self.body.get("spec") or {}
        return spec if isinstance(spec, dict) else {}


def import_kubernetes(paths: list[str | Path], deployment: str | None = None) -> ImportResult:
    """Read manifests and build the scenario of one Deployment.

    ``deployment`` names it; it may be left out when the files hold only one. Raises
    :class:`InputError` for bad YAML, a missing or ambiguous Deployment and API versions this
    importer does not know.
    """
    if not paths:
        raise InputError("give at least one manifest file")
    objects = [item for path in paths for item in _objects(path)]
    target = _choose(objects, deployment, paths)
    result = ImportResult(scenario={})
    mapper = _Mapper(target, result)
    hpas = [item for item in objects if item.kind == "HorizontalPodAutoscaler"]
    nodes = [item for item in objects if item.kind == "Node"]
    for item in objects:
        if item.kind == "Deployment" and item is not target:
            result.warnings.append(f"{item.label}: not imported (only {target.name})")
        elif item.kind not in ("Deployment", "HorizontalPodAutoscaler", "Node"):
            result.warnings.append(f"{item.label}: not modelled")
    mapper.build(hpas, nodes)
    return result


def _objects(path: str | Path) -> list[_Object]:
    """Every object of a file: empty documents skipped, ``kind: List`` flattened."""
    objects = []
    for number, document in enumerate(read_documents(path), start=1):
        if document is None:
            continue
        if not isinstance(document, dict) or "kind" not in document:
            raise InputError(f"document {number} is not a Kubernetes object (no kind:)", file=path)
        if document["kind"] == "List" or str(document["kind"]).endswith("List"):
            items = document.get("items") or []
            objects += [_Object(item, path) for item in items if isinstance(item, dict)]
        else:
            objects.append(_Object(document, path))
    return objects


def _choose(objects: list[_Object], name: str | None, paths: list[str | Path]) -> _Object:
    deployments = [item for item in objects if item.kind == "Deployment"]
    files = ", ".join(str(path) for path in paths)
    if not deployments:
        raise InputError(f"no Deployment found in {files}")
    if name is not None:
        deployments = [item for item in deployments if item.name == name]
        if not deployments:
            raise InputError(f"no Deployment named {name!r} in {files}")
    if len(deployments) > 1:
        names = ", ".join(item.name for item in deployments)
        raise InputError(f"several Deployments ({names}); choose one with --deployment")
    chosen = deployments[0]
    if chosen.api_version != "apps/v1":
        raise InputError(
            f"unknown apiVersion {chosen.api_version or '(none)'} for Deployment in "
            f"{chosen.file}: expected apps/v1"
        )
    return chosen


class _Mapper:
    """Maps the Deployment and what refers to it, collecting warnings and assumptions."""

    def __init__(self, deployment: _Object, result: ImportResult) -> None:
        self.deployment = deployment
        self.file = deployment.file
        self.result = result
        self.kubernetes: dict[str, Any] = {}

    def warn(self, text: str) -> None:
        self.result.warnings.append(text)

    def assume(self, text: str) -> None:
        self.result.assumptions.append(text)

    def build(self, hpas: list[_Object], nodes: list[_Object]) -> None:
        spec = self.deployment.spec()
        replicas = spec.get("replicas", 1)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise InputError(
                f"expected a whole number, 0 or more, got {replicas!r}",
                file=self.file,
                field="spec.replicas",
            )
        for key in [k for k in spec if k not in {"replicas", "template", "selector"}]:
            self.warn(f"{self.deployment.label}: spec.{key}: not modelled")
        container = self.container(spec)
        self.hpa(hpas, replicas)
        cluster = self.cluster(nodes, replicas, container.get("cpu_request_m", 1000))
        self.result.scenario = {
            "name": self.deployment.name or "deployment",
            "description": f"Imported from Deployment {self.deployment.name} "
            f"({Path(self.file).name}).",
            "duration_s": PLACEHOLDER_DURATION_S,
            "slo": dict(PLACEHOLDER_SLO),
            "service": {
                "endpoints": placeholder_endpoints(),
                "initial_replicas": replicas,
                "container": container,
            },
            "cluster": cluster,
            "traffic": placeholder_traffic(replicas),
            "policy": {"name": "kubernetes", "kubernetes": self.kubernetes},
        }
        self.result.assumptions[:0] = PLACEHOLDER_ASSUMPTIONS

    # --- the pod ---------------------------------------------------------------------------

    def container(self, spec: dict[str, Any]) -> dict[str, Any]:
        pod = (spec.get("template") or {}).get("spec") or {}
        containers = pod.get("containers") or []
        if not containers or not isinstance(containers[0], dict):
            raise InputError(
                "the Deployment's pod template has no containers",
                file=self.file,
                field="spec.template.spec.containers",
            )
        label = self.deployment.label
        for key in [k for k in pod if k not in _POD_KEYS_USED]:
            self.warn(f"{label}: spec.template.spec.{key}: not modelled")
        for extra in containers[1:]:
            self.warn(f"{label}: container {extra.get('name')}: not modelled (first one only)")
        first = containers[0]
        for key in [k for k in first if k not in _CONTAINER_KEYS_USED]:
            self.warn(f"{label}: containers[0].{key}: not modelled")
        mapped: dict[str, Any] = {}
        if "image" in first:
            mapped["image"] = str(first["image"])
        mapped.update(self.resources(first.get("resources") or {}))
        if "terminationGracePeriodSeconds" in pod:
            mapped["termination_grace_s"] = float(pod["terminationGracePeriodSeconds"])
        self.readiness(first.get("readinessProbe"))
        return mapped

    def resources(self, resources: dict[str, Any]) -> dict[str, Any]:
        """Requests and limits; a request left out while the limit is set takes the limit."""
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        field = "spec.template.spec.containers[0].resources"
        mapped: dict[str, Any] = {}
        cpu_request = requests.get("cpu", limits.get("cpu"))
        if cpu_request is not None:
            mapped["cpu_request_m"] = parse_cpus_m(cpu_request, file=self.file, field=field)
        else:
            self.assume(
                "service.container.cpu_request_m: no CPU request (the HPA needs one); "
                "the schema's one core is used"
            )
        if "cpu" in limits:
            mapped["cpu_limit_m"] = parse_cpus_m(limits["cpu"], file=self.file, field=field)
        memory = requests.get("memory", limits.get("memory"))
        if memory is not None:
            mib = parse_k8s_memory_mib(memory, file=self.file, field=field)
            mapped["memory_request_mib"] = math.ceil(mib)
        if "memory" in limits:
            self.warn(f"{self.deployment.label}: limits.memory: not modelled (no OOM kills)")
        for key in [k for k in {**requests, **limits} if k not in {"cpu", "memory"}]:
            self.warn(f"{self.deployment.label}: resources {key}: not modelled")
        return mapped

    def readiness(self, probe: Any) -> None:
        if not isinstance(probe, dict):
            return
        settings: dict[str, float] = {}
        if "initialDelaySeconds" in probe:
            settings["initial_delay_s"] = float(probe["initialDelaySeconds"])
        if "periodSeconds" in probe:
            settings["period_s"] = float(probe["periodSeconds"])
        for key in [k for k in probe if k not in {"initialDelaySeconds", "periodSeconds"}]:
            if key.endswith(("Threshold", "Seconds")):
                self.warn(f"{self.deployment.label}: readinessProbe.{key}: not modelled")
        if settings:
            self.kubernetes["readiness_probe"] = settings

    # --- the autoscaler --------------------------------------------------------------------

    def hpa(self, hpas: list[_Object], replicas: int) -> None:
        mine = [item for item in hpas if self._targets_deployment(item)]
        for item in hpas:
            if item not in mine:
                self.warn(f"{item.label}: not imported (targets another workload)")
        if not mine:
            fixed = max(1, replicas)
            self.kubernetes["hpa"] = {"min_replicas": fixed, "max_replicas": fixed}
            self.warn(
                f"no HorizontalPodAutoscaler targets Deployment {self.deployment.name}: "
                f"replicas held at {fixed} (hpa min = max)"
            )
            return
        for extra in mine[1:]:
            self.warn(f"{extra.label}: not imported (a second HPA for the same Deployment)")
        self.kubernetes["hpa"] = self._hpa_settings(mine[0])

    def _targets_deployment(self, hpa: _Object) -> bool:
        target = hpa.spec().get("scaleTargetRef") or {}
        return bool(
            target.get("kind") == "Deployment" and target.get("name") == self.deployment.name
        )

    def _hpa_settings(self, hpa: _Object) -> dict[str, Any]:
        spec = hpa.spec()
        settings: dict[str, Any] = {
            "min_replicas": int(spec.get("minReplicas", 1)),
            "max_replicas": int(spec["maxReplicas"]) if "maxReplicas" in spec else None,
        }
        if settings["max_replicas"] is None:
            raise InputError("missing maxReplicas", file=hpa.file, field=f"{hpa.label} spec")
        if hpa.api_version == "autoscaling/v1":
            self.warn(f"{hpa.label}: autoscaling/v1 read as CPU target only")
            if "targetCPUUtilizationPercentage" in spec:
                target = spec["targetCPUUtilizationPercentage"]
                settings["target_cpu_utilization"] = float(target) / 100
        elif hpa.api_version == "autoscaling/v2":
            target = self._cpu_target(hpa, spec.get("metrics") or [])
            if target is not None:
                settings["target_cpu_utilization"] = target
            if "behavior" in spec:
                try:
                    settings["behavior"] = _behavior(spec["behavior"] or {}, hpa, self.warn)
                except (KeyError, TypeError, ValueError, AttributeError):
                    raise InputError(
                        "expected behavior policies with type, value and periodSeconds",
                        file=hpa.file,
                        field=f"{hpa.label} spec.behavior",
                    ) from None
        else:
            raise InputError(
                f"unknown apiVersion {hpa.api_version or '(none)'} for HorizontalPodAutoscaler "
                f"in {hpa.file}: expected autoscaling/v2 or autoscaling/v1"
            )
        return settings

    def _cpu_target(self, hpa: _Object, metrics: list[Any]) -> float | None:
        target = None
        for metric in metrics:
            resource = metric.get("resource") or {} if isinstance(metric, dict) else {}
            goal = resource.get("target") or {}
            if (
                metric.get("type") == "Resource"
                and resource.get("name") == "cpu"
                and goal.get("type") == "Utilization"
            ):
                target = float(goal["averageUtilization"]) / 100
            else:
                what = resource.get("name") or metric.get("type")
                self.warn(f"{hpa.label}: metric {what}: not modelled (CPU utilization only)")
        return target

    # --- the machines ----------------------------------------------------------------------

    def cluster(self, nodes: list[_Object], replicas: int, cpu_request_m: int) -> dict[str, Any]:
        if not nodes:
            count = nodes_for(replicas, cpu_request_m)
            self.assume(f"cluster.node_type: no Node in the files; {DEFAULT_NODE_TYPE} assumed")
            self.assume(
                "cluster.initial_nodes: no Node in the files; enough for the replicas' "
                "CPU requests assumed"
            )
            return {
                "node_type": DEFAULT_NODE_TYPE,
                "initial_nodes": count,
                "max_nodes": max(10, count),
            }
        shapes = Counter(self._shape(node) for node in nodes)
        shape, _ = shapes.most_common(1)[0]
        if len(shapes) > 1:
            self.warn(f"Nodes of {len(shapes)} shapes: all imported as the most common one")
        label, cpu_m, memory_mib, reserved_cpu_m, reserved_memory_mib = shape
        cluster: dict[str, Any] = {}
        node_type = self._catalogue_type(label, cpu_m, memory_mib)
        if node_type is None:
            node_type = label or f"node-{cpu_m // 1000}cpu-{memory_mib}mib"
            price = round(cpu_m / 1000 * _ASSUMED_USD_PER_VCPU_HOUR, 6)
            cluster["instance_types"] = {
                node_type: {
                    "vcpu": max(1, cpu_m // 1000),
                    "memory_mib": memory_mib,
                    "price_per_hour_usd": price,
                }
            }
            self.warn(f"Node capacity matches no catalogue type: added {node_type}")
            self.assume(
                f"cluster.instance_types.{node_type}.price_per_hour_usd: "
                f"${_ASSUMED_USD_PER_VCPU_HOUR} per vCPU-hour (m5 on-demand) assumed"
            )
        cluster.update(
            {"node_type": node_type, "initial_nodes": len(nodes), "max_nodes": max(10, len(nodes))}
        )
        if reserved_cpu_m:
            cluster["reserved_cpu_m"] = reserved_cpu_m
        if reserved_memory_mib:
            cluster["reserved_memory_mib"] = reserved_memory_mib
        return cluster

    def _shape(self, node: _Object) -> tuple[str, int, int, int, int]:
        """Instance-type label, capacity and capacity − allocatable of a Node."""
        labels = (node.body.get("metadata") or {}).get("labels") or {}
        status = node.body.get("status") or {}
        capacity = status.get("capacity") or {}
        allocatable = status.get("allocatable") or capacity
        if "cpu" not in capacity or "memory" not in capacity:
            raise InputError(f"{node.label} has no status.capacity cpu and memory", file=node.file)
        field = f"{node.label} status"
        cpu_m = parse_cpus_m(capacity["cpu"], file=node.file, field=field)
        memory_mib = math.floor(
            parse_k8s_memory_mib(capacity["memory"], file=node.file, field=field)
        )
        free_cpu_m = parse_cpus_m(
            allocatable.get("cpu", capacity["cpu"]), file=node.file, field=field
        )
        free_memory_mib = math.floor(
            parse_k8s_memory_mib(
                allocatable.get("memory", capacity["memory"]), file=node.file, field=field
            )
        )
        return (
            str(labels.get(_INSTANCE_TYPE_LABEL, "")),
            cpu_m,
            memory_mib,
            max(0, cpu_m - free_cpu_m),
            max(0, memory_mib - free_memory_mib),
        )

    @staticmethod
    def _catalogue_type(label: str, cpu_m: int, memory_mib: int) -> str | None:
        """The labelled type if the catalogue has it; else the cheapest type whose vCPU
        count equals the capacity and whose memory is within 10 % above it (a node reports
        a little less memory than the instance's nominal size)."""
        if label in CATALOGUE:
            return label
        matches = [
            name
            for name, instance in CATALOGUE.items()
            if instance.cpu_m == cpu_m and memory_mib <= instance.memory_mib <= memory_mib * 1.1
        ]
        return min(matches, key=lambda name: CATALOGUE[name].price_per_hour_usd, default=None)


def _behavior(behavior: dict[str, Any], hpa: _Object, warn: Any) -> dict[str, Any]:
    """``spec.behavior`` → :class:`HpaBehavior` fields."""
    mapped: dict[str, Any] = {}
    for api_key, key in (("scaleUp", "scale_up"), ("scaleDown", "scale_down")):
        rules = behavior.get(api_key)
        if not isinstance(rules, dict):
            continue
        converted: dict[str, Any] = {}
        if "stabilizationWindowSeconds" in rules:
            converted["stabilization_window_s"] = int(rules["stabilizationWindowSeconds"])
        if "selectPolicy" in rules:
            converted["select_policy"] = str(rules["selectPolicy"])
        if "policies" in rules:
            converted["policies"] = [
                {
                    "type": rule["type"],
                    "value": int(rule["value"]),
                    "period_s": int(rule["periodSeconds"]),
                }
                for rule in rules["policies"] or []
            ]
        for extra in [
            k for k in rules if k not in {"stabilizationWindowSeconds", "selectPolicy", "policies"}
        ]:
            warn(f"{hpa.label}: behavior.{api_key}.{extra}: not modelled")
        mapped[key] = converted
    return mapped

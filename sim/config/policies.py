"""Settings of the capacity policies, each default taken from the real system (cited).

Sources are the ones collected in the project's orchestrator reference: Kubernetes
(kube-controller-manager and API defaults for the HPA, kube-scheduler, cluster-autoscaler,
metrics-server, node lifecycle), Docker Swarm (swarmkit dispatcher and service defaults) and
AWS (EC2 Auto Scaling target tracking, ELB health checks, EC2 stop/start).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.config.distributions import Constant, Distribution, LogNormal


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --- Kubernetes ------------------------------------------------------------------------------


class HpaScalingPolicy(_Model):
    """One rate limit of ``behavior``: at most ``value`` pods (or percent) per ``period_s``."""

    type: Literal["Pods", "Percent"]
    value: int = Field(gt=0)
    period_s: int = Field(gt=0, le=1800)  # API validation: periodSeconds ≤ 1800


class HpaScalingRules(_Model):
    """``behavior.scaleUp`` or ``behavior.scaleDown``; unset fields take the API defaults
    (scale-up: no stabilization, Max of +4 pods and +100 % per 15 s; scale-down: the
    controller's 300 s window, −100 % per 15 s)."""

    stabilization_window_s: int | None = Field(default=None, ge=0, le=3600)
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"
    policies: tuple[HpaScalingPolicy, ...] | None = None


class HpaBehavior(_Model):
    """``spec.behavior``: when set (even empty), the HPA takes its behavior code path."""

    scale_up: HpaScalingRules | None = None
    scale_down: HpaScalingRules | None = None


class Hpa(_Model):
    """The Horizontal Pod Autoscaler on CPU utilization (kube-controller-manager defaults:
    sync 15 s, tolerance 0.1, CPU initialization 5 min, initial readiness delay 30 s,
    downscale stabilization 5 min; ``minReplicas`` defaults to 1; 0.8 is ``kubectl
    autoscale``'s default target)."""

    min_replicas: int = Field(default=1, ge=1)
    max_replicas: int = Field(default=10, ge=1)
    target_cpu_utilization: float = Field(default=0.8, gt=0)
    tolerance: float = Field(default=0.1, ge=0, lt=1)
    sync_period_s: float = Field(default=15, gt=0)
    cpu_initialization_period_s: float = Field(default=300, ge=0)
    initial_readiness_delay_s: float = Field(default=30, ge=0)
    downscale_stabilization_s: float = Field(default=300, ge=0)
    behavior: HpaBehavior | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Hpa:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"max_replicas ({self.max_replicas}) must be at least min_replicas "
                f"({self.min_replicas})"
            )
        return self


class MetricsServer(_Model):
    """metrics-server: scrapes every ``resolution_s`` (15 s in its shipped manifests) the
    mean CPU usage over the last ``window_s``."""

    resolution_s: float = Field(default=15, ge=10)
    window_s: float = Field(default=15, gt=0)


class KubeScheduler(_Model):
    """kube-scheduler: NodeResourcesFit scoring strategy (LeastAllocated by default) plus
    BalancedAllocation, ties broken at random; at most 110 pods per node (kubelet)."""

    scoring: Literal["LeastAllocated", "MostAllocated"] = "LeastAllocated"
    max_pods_per_node: int = Field(default=110, ge=1)


class ClusterAutoscaler(_Model):
    """cluster-autoscaler (FAQ flag defaults): scan 10 s, ``least-waste`` expander, scale
    down below 0.5 requested for 10 min, not within 10 min of a scale-up, give up on a node
    not ready within 15 min, remove an unready node after 20 min."""

    enabled: bool = True
    scan_interval_s: float = Field(default=10, gt=0)
    expander: Literal["least-waste", "random", "price", "most-pods"] = "least-waste"
    node_groups: tuple[str, ...] = ()  # instance types; empty: cluster.node_type only
    scale_down_enabled: bool = True
    scale_down_utilization_threshold: float = Field(default=0.5, gt=0, le=1)
    scale_down_unneeded_s: float = Field(default=600, ge=0)
    scale_down_unready_s: float = Field(default=1200, ge=0)
    scale_down_delay_after_add_s: float = Field(default=600, ge=0)
    max_node_provision_s: float = Field(default=900, gt=0)


class ReadinessProbe(_Model):
    """Pod readiness probe (API defaults: no initial delay, every 10 s, ready after one
    success)."""

    initial_delay_s: float = Field(default=0, ge=0)
    period_s: float = Field(default=10, gt=0)


class NodeLifecycle(_Model):
    """Node failure handling: NotReady after the monitor grace period (50 s since 1.32),
    pods evicted after the default not-ready/unreachable toleration (300 s)."""

    node_monitor_grace_s: float = Field(default=50, ge=0)
    pod_eviction_toleration_s: float = Field(default=300, ge=0)


class Kubernetes(_Model):
    """The ``kubernetes`` policy: HPA, scheduler, cluster autoscaler, kube-proxy random."""

    hpa: Hpa = Hpa()
    metrics_server: MetricsServer = MetricsServer()
    scheduler: KubeScheduler = KubeScheduler()
    cluster_autoscaler: ClusterAutoscaler = ClusterAutoscaler()
    readiness_probe: ReadinessProbe = ReadinessProbe()
    node_lifecycle: NodeLifecycle = NodeLifecycle()


# --- Docker Swarm ----------------------------------------------------------------------------


class ScheduledReplicas(_Model):
    """A planned ``docker service scale`` at ``at_s``."""

    at_s: float = Field(ge=0)
    replicas: int = Field(ge=0)


class Operator(_Model):
    """A human on call, since Swarm has no autoscaler: an alert rule (Prometheus-style:
    evaluated every minute, firing once the condition held ``for_s``), a reaction delay
    until someone runs ``docker service scale``, a scaling rule, worker nodes added when
    tasks stay pending, and a scale back after a calm period.

    The reaction delay (median 10 min) is an on-call acknowledge-and-act time; set it to
    your own team's figure.
    """

    metric: Literal["cpu_utilization", "latency_p95_s", "error_rate"] = "cpu_utilization"
    threshold: float = Field(default=0.75, gt=0)
    for_s: float = Field(default=300, ge=0)
    evaluation_interval_s: float = Field(default=60, gt=0)
    reaction_s: Distribution = LogNormal(dist="lognormal", mean=600, cv=0.5)
    scale_factor: float = Field(default=1.5, gt=1)
    max_replicas: int = Field(default=50, ge=1)
    add_nodes_when_pending: bool = True
    pending_for_s: float = Field(default=120, ge=0)
    calm_threshold: float = Field(default=0.3, gt=0)
    calm_for_s: float = Field(default=3600, ge=0)


class Swarm(_Model):
    """The ``swarm`` policy. Defaults from swarmkit: heartbeat every 5 s, a node is Down
    after 3 missed periods; tasks restart after 5 s; one manager, which runs tasks unless
    drained; the routing mesh balances round robin (IPVS)."""

    managers: int = Field(default=1, ge=1)
    drain_managers: bool = False
    heartbeat_s: float = Field(default=5, gt=0)
    heartbeat_misses: int = Field(default=3, ge=1)
    restart_delay_s: float = Field(default=5, ge=0)
    operator: Operator | None = Operator()
    schedule: tuple[ScheduledReplicas, ...] = ()


# --- VM-group scale-out ----------------------------------------------------------------------


class ScaleOut(_Model):
    """The ``scale_out`` policy: an EC2 Auto Scaling group behind a load balancer, target
    tracking on the group's average CPU. AWS defaults: one-minute metrics, scale out after 3
    breaching minutes, scale in after 15, 300 s instance warm-up and cooldown; ELB health
    checks every 30 s, healthy after 5 (instances serve about 2.5 min after boot)."""

    target_cpu_utilization: float = Field(default=0.5, gt=0, lt=1)
    containers_per_vm: int = Field(default=2, ge=1)
    min_vms: int = Field(default=1, ge=0)
    max_vms: int = Field(default=10, ge=1)
    metric_period_s: float = Field(default=60, gt=0)
    scale_out_datapoints: int = Field(default=3, ge=1)
    scale_in_datapoints: int = Field(default=15, ge=1)
    scale_in_ratio: float = Field(default=0.9, gt=0, le=1)
    warmup_s: float = Field(default=300, ge=0)
    cooldown_s: float = Field(default=300, ge=0)
    health_check_interval_s: float = Field(default=30, gt=0)
    healthy_threshold: int = Field(default=5, ge=1)


# --- vertical scale-up -----------------------------------------------------------------------


class ScaleUp(_Model):
    """The ``scale_up`` policy: the node steps up its family's ladder when CPU stays high
    (and, optionally, down when it stays low). A resize stops the instance (EC2 changes the
    type only while stopped): stop ~45 s plus boot ~120 s. ``workers_per_core`` scales the
    container's worker slots with the machine, the way a Compose deployment sized by
    ``nproc`` would: each container then has ``workers_per_core × vCPU / replicas_per_node``
    worker slots and no CPU limit, so a bigger machine is used in full."""

    ladder: tuple[str, ...] = ()  # empty: the node type's family, smallest to largest
    scale_up_threshold: float = Field(default=0.75, gt=0, le=1)
    scale_down_threshold: float | None = Field(default=None, gt=0, lt=1)
    sustained_s: float = Field(default=300, ge=0)
    evaluation_period_s: float = Field(default=60, gt=0)
    cooldown_s: float = Field(default=600, ge=0)
    resize_downtime_s: Distribution = Constant(dist="constant", value=165.0)
    replicas_per_node: int = Field(default=1, ge=1)
    workers_per_core: int | None = Field(default=None, ge=1)

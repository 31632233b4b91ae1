"""The scenario schema: every field a scenario file may hold, its bounds and its default.

Defaults live here and only here, each taken from the real system it models (the source is
named beside it). Unknown keys are rejected everywhere, so a typo never silently falls back to
a default. Instances are frozen; use :meth:`Scenario.with_overrides` to derive variants.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.config.catalogue import CATALOGUE, InstanceType
from sim.config.distributions import Constant, Distribution
from sim.config.policies import Kubernetes, ScaleOut, ScaleUp, Swarm
from sim.config.servers import DEFAULT_SERVER, SERVERS, Overflow, ServerName

PolicyName = Literal["static", "scale_up", "scale_out", "swarm", "kubernetes"]
"""The capacity policies (DESIGN.md); each is a module of :mod:`sim.policies`."""
POLICY_NAMES: tuple[str, ...] = get_args(PolicyName)
BalancerAlgorithm = Literal["round_robin", "random", "least_connections", "power_of_two_choices"]
"""How a load balancer picks a replica; each is a class of :mod:`sim.model.balancer`."""
TraceFormat = Literal["rate_csv", "interarrival", "access_log"]
"""The trace formats :mod:`sim.traffic.traces` reads."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --- service level objective -------------------------------------------------------------------


class Slo(_Model):
    """The target a sample interval must meet: a latency percentile and an error ceiling.

    ``attainment_target`` is the share of intervals that must meet it for a policy to count
    as holding the SLO (0.99: the "two nines" objective common in SRE practice).
    ``recovery_hold_s`` is how long the SLO must hold without a break for the service to
    count as recovered after a surge or a fault (``recovery_s``): 300 s, the short window of
    the SRE Workbook's multiwindow burn-rate alerts ("Alerting on SLOs"), the shortest span
    over which on-call practice trusts that an incident is over.
    """

    latency_s: float = Field(default=0.5, gt=0)
    percentile: float = Field(default=95, gt=0, lt=100)
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    attainment_target: float = Field(default=0.99, gt=0, le=1)
    recovery_hold_s: float = Field(default=300.0, gt=0, allow_inf_nan=False)


# --- service -----------------------------------------------------------------------------------


class Endpoint(_Model):
    """One kind of request (search, book, ...) with its share of traffic and its CPU demand.

    ``cpu_demand_s`` is CPU-seconds on one core: a request that gets a whole core finishes
    after exactly that long; one that shares the core takes longer.
    """

    name: str = Field(min_length=1)
    weight: float = Field(gt=0)
    cpu_demand_s: Distribution


class Container(_Model):
    """One replica of the service (a Compose container, a Swarm task, a Kubernetes pod).

    ``server`` names the web server inside (:mod:`sim.config.servers`); its preset gives
    ``concurrency`` (worker slots), ``queue_limit`` (connections that may wait for one) and
    ``overflow`` (``drop``: the kernel's full backlog leaves the connection unanswered and the
    client waits its ``service.connect_timeout_s``; ``reject``: an immediate 503 from an
    application limiter or a proxy in front), unless the scenario sets them. The default is
    Apache Tomcat as it ships: 200 threads, 8,092 connections waiting, then dropped.

    ``cpu_limit_m`` null means unlimited, the Docker and Kubernetes default. A limit is
    enforced as the kernel's CFS bandwidth control does it: ``limit × cfs_period_s`` of CPU
    time per period (100 ms, the kubelet's ``cpuCFSQuotaPeriod`` and the kernel's default),
    spent by all the container's requests together, after which they all stall until the
    next period (``Documentation/scheduler/sched-bwc.rst``); ``cfs_period_s: null`` applies
    the limit as a smooth cap instead, which is faster to simulate. Kubernetes sets no CPU
    request by default, but the HPA cannot compute utilization without one, so the default is
    one core. ``termination_grace_s`` is the Pod API default (30 s); the startup default is
    the Kubernetes pod start-up SLO (p99 ≤ 5 s, image pull excluded). ``startup_cpu_m``: CPU
    a starting container burns for its warm-up (JVM class loading and JIT, Python imports),
    taken from its node's neighbours by CFS weights; 0 (the default) leaves it out.
    """

    server: ServerName = DEFAULT_SERVER
    # At most 100,000 worker slots: beyond any real server's threads or connections, and the
    # bound of the per-container tables the CPU model keeps (one entry per slot).
    concurrency: int = Field(default=SERVERS[DEFAULT_SERVER].concurrency, ge=1, le=100_000)
    queue_limit: int = Field(default=SERVERS[DEFAULT_SERVER].queue_limit, ge=0)
    overflow: Overflow = SERVERS[DEFAULT_SERVER].overflow
    cpu_request_m: int = Field(default=1000, ge=1)
    cpu_limit_m: int | None = Field(default=None, ge=1)
    cfs_period_s: float | None = Field(default=0.1, ge=0.001, le=1.0, allow_inf_nan=False)
    startup_cpu_m: int = Field(default=0, ge=0)
    memory_request_mib: int = Field(default=512, ge=0)
    image: str = Field(default="service", min_length=1)
    image_size_mb: float = Field(default=400, ge=0)
    startup_s: Distribution = Constant(dist="constant", value=5.0)
    termination_grace_s: float = Field(default=30, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _server_preset(cls, data: Any) -> Any:
        """Fill what the scenario leaves unset from its server's preset."""
        if not isinstance(data, dict):
            return data
        name = data.get("server", DEFAULT_SERVER)
        preset = SERVERS.get(name) if isinstance(name, str) else None
        if preset is None:
            return data  # the field's own check names the servers
        return {
            "concurrency": preset.concurrency,
            "queue_limit": preset.queue_limit,
            "overflow": preset.overflow,
            **data,
        }

    @field_validator("cpu_limit_m")
    @classmethod
    def _limit_covers_request(cls, limit_m: int | None, info: ValidationInfo) -> int | None:
        request_m = info.data.get("cpu_request_m")
        if limit_m is not None and request_m is not None and limit_m < request_m:
            raise ValueError(
                f"must be at least cpu_request_m ({request_m}), as Kubernetes requires; "
                f"got {limit_m}"
            )
        return limit_m


RetryOutcome = Literal["timeout", "error", "connect"]
"""What a client may retry: its own timeout, an error answer (HTTP 5xx: no replica, a full
queue under ``overflow: reject``, a replica lost to a fault) or a connection that was never
answered within ``service.connect_timeout_s`` (a full backlog under ``overflow: drop``, a dead
machine)."""


class Backoff(_Model):
    """How long a client waits before its next attempt: exponential, capped, jittered.

    Before retry ``k`` (1 for the first retry) the wait is ``min(cap_s, base_s × 2^(k−1))``;
    with ``full`` jitter it is drawn uniformly between 0 and that ("Exponential Backoff And
    Jitter", AWS Architecture Blog, 2015). Defaults are the AWS SDKs' standard retry mode:
    base 1 s (a factor of 2 per attempt) and at most 20 s, full jitter (AWS SDKs and Tools
    reference, "Retry behavior").
    """

    base_s: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    cap_s: float = Field(default=20.0, gt=0, allow_inf_nan=False)
    jitter: Literal["full", "none"] = "full"


class Retries(_Model):
    """Clients that try again: up to ``max_attempts`` attempts per user request.

    ``max_attempts`` 1 (the default) means no retries; the AWS SDKs' standard mode makes 3,
    Envoy's default route retry policy 2 (``num_retries`` 1). A retry is a new attempt of the
    same request (same endpoint, a fresh CPU demand) sent after the back-off, for the
    outcomes listed in ``on``. ``budget_ratio`` caps retries at that many per first attempt,
    as a retry budget does (Envoy's ``retry_budget``, gRPC retry throttling): every first
    attempt adds ``budget_ratio`` to a bucket (holding at most 10, a small reserve: engineering
    judgement), and a retry needs a whole token; None: no budget.
    """

    max_attempts: int = Field(default=1, ge=1, le=100)
    on: tuple[RetryOutcome, ...] = ("timeout", "error", "connect")
    backoff: Backoff = Backoff()
    budget_ratio: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class Service(_Model):
    """The web service: its endpoints, the client's timeout and its containers.

    ``timeout_s`` defaults to 60 s, the default of AWS ALB's idle timeout and of nginx's
    ``proxy_read_timeout``: a request not answered by then counts as timed out.
    ``initial_replicas`` defaults to 1, the Kubernetes Deployment default. ``retries``: how
    its clients retry (by default they do not).

    ``cancel_on_timeout``: whether the server stops working on a request when its client
    gives up. By default it does not, as thread-per-request servers behave: Tomcat and
    gunicorn's sync workers notice a closed connection only when they write the answer, so a
    request whose client left still waits its turn and runs to the end, and its CPU is wasted
    (``wasted_cpu_s``). ``true`` models deadline propagation (gRPC deadlines, a proxy that
    cancels the upstream request): the request leaves the queue or service at the timeout.

    ``connect_timeout_s``: how long a client waits for a connection that is not answered (a
    full listen backlog under ``overflow: drop``, a dead machine) before it counts an error;
    ``timeout_s`` still bounds the whole request. 10 s is OkHttp's default connect timeout
    (the HTTP client of most Android apps) and the AWS SDK for Java 1.x's. Meanwhile the
    client's kernel resends its SYN after 1, 2, 4 … s (RFC 6298's initial 1 s), so a backlog
    that makes room in time lets the connection through, late.
    """

    endpoints: tuple[Endpoint, ...] = Field(min_length=1)
    timeout_s: float = Field(default=60, gt=0)
    connect_timeout_s: float = Field(default=10, gt=0, allow_inf_nan=False)
    cancel_on_timeout: bool = False
    container: Container = Container()
    initial_replicas: int = Field(default=1, ge=0)
    retries: Retries = Retries()

    @field_validator("endpoints")
    @classmethod
    def _unique_endpoint_names(cls, endpoints: tuple[Endpoint, ...]) -> tuple[Endpoint, ...]:
        names = [endpoint.name for endpoint in endpoints]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"endpoint names must be unique; repeated: {', '.join(duplicates)}")
        return endpoints


# --- cluster -----------------------------------------------------------------------------------


class Cluster(_Model):
    """The machines: their instance type, how many, and how images reach them.

    ``pull_bandwidth_mb_s`` (8 MB/s) is what Kubernetes e2e tests observe for 500–740 MB
    images pulled in 1–2 minutes (kubernetes/kubernetes#9452, #25784). Billing is per second
    with a 60 s minimum per start, as on EC2 (Linux on-demand). ``boot_s`` overrides the
    catalogue's boot time with a distribution.
    """

    instance_types: dict[str, InstanceType] = Field(default_factory=dict)
    node_type: str = "m5.xlarge"
    initial_nodes: int = Field(default=1, ge=0)
    min_nodes: int = Field(default=0, ge=0)
    max_nodes: int = Field(default=10, ge=1)
    boot_s: Distribution | None = None
    pull_bandwidth_mb_s: float = Field(default=8.0, gt=0)
    image_cached_on_initial_nodes: bool = True
    reserved_cpu_m: int = Field(default=0, ge=0)
    reserved_memory_mib: int = Field(default=0, ge=0)
    billing_minimum_s: float = Field(default=60, ge=0)

    @field_validator("node_type")
    @classmethod
    def _known_type(cls, node_type: str, info: ValidationInfo) -> str:
        catalogue = {**CATALOGUE, **info.data.get("instance_types", {})}
        if node_type not in catalogue:
            families = sorted({name.split(".", 1)[0] for name in catalogue})
            raise ValueError(
                f"{node_type!r} is not in the catalogue; expected a type such as m5.xlarge "
                f"(families {', '.join(families)}), or add it under cluster.instance_types"
            )
        return node_type

    @model_validator(mode="after")
    def _node_bounds(self) -> Cluster:
        if self.max_nodes < self.initial_nodes:
            raise ValueError(
                f"max_nodes ({self.max_nodes}) must be at least initial_nodes "
                f"({self.initial_nodes})"
            )
        if self.min_nodes > self.max_nodes:
            raise ValueError(
                f"min_nodes ({self.min_nodes}) must be at most max_nodes ({self.max_nodes})"
            )
        return self

    def catalogue(self) -> dict[str, InstanceType]:
        """The built-in catalogue with this scenario's own types and prices laid over it."""
        return {**CATALOGUE, **self.instance_types}

    @property
    def instance(self) -> InstanceType:
        return self.catalogue()[self.node_type]


class Connections(_Model):
    """Clients that keep connections open (HTTP keep-alive, HTTP/2, gRPC channels).

    ``count`` connections are held open; each carries requests to the replica it opened to
    until it has carried ``requests_per_connection`` (nginx's ``keepalive_requests`` default,
    1000; null: no limit) or is ``max_age_s`` old (null: no age limit, as most HTTP client
    pools), then it is opened again and balanced anew.
    """

    count: int = Field(ge=1, le=1_000_000)
    requests_per_connection: int | None = Field(default=1000, ge=1)
    max_age_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class LoadBalancer(_Model):
    """How requests are spread over routable replicas.

    ``round_robin`` is the Swarm routing mesh and IPVS default, ``random`` is kube-proxy in
    iptables mode (a uniform pick per connection). Unset, each policy uses its own system's:
    ``random`` for ``kubernetes``, ``round_robin`` for the others (Swarm's mesh, an
    application load balancer). ``update_delay_s`` is how long a replica
    that became ready waits before the balancer sends it traffic: kube-proxy's
    ``minSyncPeriod`` of 1 s.

    ``next_upstream``: whether the balancer, when a replica does not answer (its machine is
    dead), tries the next one after its own ``connect_timeout_s``, up to
    ``next_upstream_tries`` replicas in all, as ingress-nginx does (``proxy-next-upstream``
    "error timeout", ``proxy-next-upstream-tries`` 3, ``proxy-connect-timeout`` 5 s; Envoy's
    retries likewise). Off by default, as none of the policies' own balancers does it: the
    AWS ALB does not retry, and kube-proxy and the Swarm routing mesh are layer 4 (IPVS,
    iptables) and cannot; the client then waits its own connect timeout.

    ``connections``: set it for clients that keep connections open, where the balancer is
    layer 4 (kube-proxy, the Swarm routing mesh): it then balances connections, not
    requests, and replicas added by a scale-out get traffic only as connections are
    recycled. Unset (the default), every request is balanced on its own: what an L7 proxy or
    the ALB does, and what many short-lived client connections (a mobile app's) amount to.
    """

    algorithm: BalancerAlgorithm | None = None
    update_delay_s: float = Field(default=1.0, ge=0)
    next_upstream: bool = False
    next_upstream_tries: int = Field(default=3, ge=1, le=100)
    connect_timeout_s: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    connections: Connections | None = None


# --- traffic -----------------------------------------------------------------------------------


class Diurnal(_Model):
    """A daily cycle: the rate is multiplied by ``1 + amplitude·cos(2π(t − peak_at_s)/period)``."""

    amplitude: float = Field(ge=0, lt=1)
    period_s: float = Field(default=86400, gt=0)
    peak_at_s: float = 0.0


class Growth(_Model):
    """Traffic growth: ``rate_per_day`` 0.05 is +5 % a day (compounded when exponential)."""

    rate_per_day: float = Field(gt=-1)
    kind: Literal["exponential", "linear"] = "exponential"


class Surge(_Model):
    """A promotion or holiday rush: a linear ramp to ``multiplier``, a hold, a linear decay."""

    start_s: float = Field(ge=0)
    ramp_s: float = Field(default=0, ge=0)
    hold_s: float = Field(default=0, ge=0)
    decay_s: float = Field(default=0, ge=0)
    multiplier: float = Field(gt=0)


class Burst(_Model):
    """Burstiness beyond Poisson: the rate of each ``period_s`` slot is multiplied by an
    independent gamma factor with mean 1 and coefficient of variation ``cv``."""

    cv: float = Field(gt=0)
    period_s: float = Field(default=10, gt=0)


class Replay(_Model):
    """A real trace replayed as the traffic's base.

    ``rate_csv``: per-interval counts (a timestamp column and a count column, header
    optional); ``interarrival``: one inter-arrival time in seconds per line; ``access_log``:
    Common or Combined Log Format. The trace is cut to ``[start_s, end_s)`` (seconds from its
    first record), compressed in time by ``speedup`` and scaled so that its peak rate,
    measured over ``peak_window_s`` windows, is ``scale_to_peak_rps``.
    """

    path: str = Field(min_length=1)
    format: TraceFormat
    start_s: float = Field(default=0, ge=0)
    end_s: float | None = Field(default=None, gt=0)
    speedup: float = Field(default=1.0, gt=0)
    scale_to_peak_rps: float | None = Field(default=None, gt=0)
    peak_window_s: float = Field(default=60, gt=0)

    @model_validator(mode="after")
    def _window(self) -> Replay:
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        return self


class Traffic(_Model):
    """Offered load: a base (``rate_rps`` or a ``replay``) shaped by the optional terms."""

    rate_rps: float | None = Field(default=None, ge=0)
    diurnal: Diurnal | None = None
    growth: Growth | None = None
    surges: tuple[Surge, ...] = ()
    burst: Burst | None = None
    replay: Replay | None = None

    @model_validator(mode="after")
    def _one_base(self) -> Traffic:
        if (self.rate_rps is None) == (self.replay is None):
            raise ValueError("give exactly one base: rate_rps (requests per second) or replay")
        return self


# --- policy and faults -------------------------------------------------------------------------


class Policy(_Model):
    """Which capacity policy runs, and the settings of each (only the named one is used)."""

    name: PolicyName = "static"
    kubernetes: Kubernetes = Kubernetes()
    swarm: Swarm = Swarm()
    scale_out: ScaleOut = ScaleOut()
    scale_up: ScaleUp = ScaleUp()


class NodeCrash(_Model):
    """A node fails at ``at_s``: its containers and their requests are lost, and the policy
    recovers the way its real system does (or, for ``static``, does not)."""

    kind: Literal["node_crash"]
    at_s: float = Field(ge=0)
    node: int = Field(default=0, ge=0, description="index of the node in launch order")


class ContainerCrash(_Model):
    """A container's process dies at ``at_s`` (an out-of-memory kill, a panic): the requests
    in it are lost and it restarts in place after the policy's restart delay."""

    kind: Literal["container_crash"]
    at_s: float = Field(ge=0)
    replica: int = Field(default=0, ge=0, description="index of the replica in creation order")


class NodeFailures(_Model):
    """Random node failures: each node fails after an exponential time with mean
    ``mtbf_s`` from its launch (the ``faults`` random stream)."""

    kind: Literal["node_failures"]
    mtbf_s: float = Field(gt=0)


class ContainerFailures(_Model):
    """Random container crashes: each running container crashes after an exponential time
    with mean ``mtbf_s``, and again after every restart."""

    kind: Literal["container_failures"]
    mtbf_s: float = Field(gt=0)


Fault = Annotated[
    NodeCrash | ContainerCrash | NodeFailures | ContainerFailures, Field(discriminator="kind")
]


# --- the scenario ------------------------------------------------------------------------------


class Scenario(_Model):
    """A whole experiment: service, cluster, balancer, traffic, SLO, policy and faults."""

    name: str = Field(min_length=1)
    description: str = ""
    duration_s: float = Field(gt=0)
    warmup_s: float = Field(default=0, ge=0)
    sample_interval_s: float = Field(default=10, gt=0)
    slo: Slo = Slo()
    service: Service
    cluster: Cluster = Cluster()
    load_balancer: LoadBalancer = LoadBalancer()
    traffic: Traffic
    policy: Policy = Policy()
    faults: tuple[Fault, ...] = ()

    _source_dir: Path | None = PrivateAttr(default=None)

    @field_validator("warmup_s")
    @classmethod
    def _warmup_within_run(cls, warmup_s: float, info: ValidationInfo) -> float:
        duration_s = info.data.get("duration_s")
        if duration_s is not None and warmup_s >= duration_s:
            raise ValueError(f"must be less than duration_s ({duration_s:g}); got {warmup_s:g}")
        return warmup_s

    @field_validator("sample_interval_s")
    @classmethod
    def _interval_within_run(cls, interval_s: float, info: ValidationInfo) -> float:
        duration_s = info.data.get("duration_s")
        if duration_s is not None and interval_s > duration_s:
            raise ValueError(f"must be at most duration_s ({duration_s:g}); got {interval_s:g}")
        return interval_s

    @property
    def source_dir(self) -> Path | None:
        """Directory of the file this scenario came from; relative trace paths start there."""
        return self._source_dir

    def resolve_path(self, path: str) -> Path:
        """``path`` as written in the scenario, made absolute against :attr:`source_dir`."""
        candidate = Path(path)
        if candidate.is_absolute() or self._source_dir is None:
            return candidate
        return self._source_dir / candidate

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A copy with dotted keys replaced, e.g. ``{"traffic.rate_rps": 80}``; validated again."""
        from sim.config.overrides import apply_overrides

        return apply_overrides(self, overrides)

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as plain data, with every default filled in."""
        return self.model_dump(mode="json", by_alias=True)

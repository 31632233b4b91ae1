"""Closed-form queueing results that the simulator is validated against.

Each function gives the steady-state value of a textbook model, so that a simulation run of the
same model can be compared with it. Notation used throughout:

* λ is ``arrival_rate`` (Poisson arrivals), μ is ``service_rate`` per server, c is ``servers``
  and K is ``capacity``, the most customers the system holds (in service plus waiting);
* A = λ/μ is the offered load in Erlangs and ρ = A/c the utilization of each server;
* Wq is the wait in queue, W = Wq + service time the response (sojourn) time, and Lq and L the
  matching mean numbers of customers, tied to them by Little's law L = λW.

Times are in seconds and rates per second because that is the simulator's clock; any consistent
unit works. Formulas that only exist for a stable queue (ρ < 1) raise ``ValueError`` rather than
return a negative or infinite figure. Sums that grow like A^c/c! are evaluated by recursions or in
logarithms, so hundreds of servers and hundreds of Erlangs neither overflow nor lose precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special  # type: ignore[import-untyped]

__all__ = [
    "QueueMetrics",
    "erlang_b",
    "erlang_b_max_load",
    "erlang_b_servers_needed",
    "erlang_c",
    "independent_queues",
    "littles_law_in_system",
    "md1",
    "mg1",
    "mg1_ps_conditional_response_s",
    "min_servers_for_response_quantile",
    "mm1",
    "mm1_ps_response_mean_s",
    "mmc",
    "mmc_response_cdf",
    "mmc_response_quantile_s",
    "mmc_state_probability",
    "mmc_wait_quantile_s",
    "mmck",
    "mmck_state_probabilities",
    "service_level",
]

# brentq stops at xtol + rtol·|root|. A negligible xtol leaves only the relative tolerance, which
# matters when a root lies many orders of magnitude below the end of its bracket.
_NEGLIGIBLE_XTOL = float(np.finfo(np.float64).tiny)
_ROOT_MAX_ITERATIONS = 200


@dataclass(frozen=True, slots=True)
class QueueMetrics:
    """Steady-state means of one queueing station.

    Attributes:
        wait_mean_s: Wq, mean time an admitted customer waits before service starts.
        response_mean_s: W = Wq + mean service time, mean time an admitted customer spends
            in the system.
        queue_length_mean: Lq, time-average number of customers waiting (not in service).
        in_system_mean: L, time-average number of customers waiting or in service.
        wait_probability: chance that an admitted customer has to wait at all (Erlang C for
            M/M/c).
        blocking_probability: chance that an arrival finds the system full and is lost; 0 for
            an infinite queue.
        throughput_rps: rate of admitted customers, λ(1 − blocking_probability); in steady
            state it is also the departure rate.
        utilization: busy fraction of each server, from the admitted load only.
    """

    wait_mean_s: float
    response_mean_s: float
    queue_length_mean: float
    in_system_mean: float
    wait_probability: float
    blocking_probability: float
    throughput_rps: float
    utilization: float


# --- argument checks ------------------------------------------------------------------------


def _require_non_negative(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _require_positive(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _require_count(name: str, value: int, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _require_open_probability(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")


def _require_stable(model: str, utilization: float) -> None:
    if utilization >= 1.0:
        raise ValueError(
            f"{model} is unstable: utilization rho = {utilization:.6g} must be < 1 "
            "(arrivals must come slower than all servers together can serve)"
        )


# --- Erlang B and C -------------------------------------------------------------------------


def _erlang_b_step(previous_blocking: float, servers: int, offered_load: float) -> float:
    """B(c, A) from B(c − 1, A): B(c) = A·B(c−1) / (c + A·B(c−1))."""
    carried = offered_load * previous_blocking
    return carried / (servers + carried)


def _erlang_c_from_b(blocking: float, servers: int, offered_load: float) -> float:
    """C(c, A) = B / (1 − ρ(1 − B)), with ρ = A/c < 1."""
    return blocking / (1.0 - offered_load / servers * (1.0 - blocking))


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of the Erlang loss system M/M/c/c (Erlang B formula).

    B(c, A) = (A^c/c!) / Σ_{k=0..c} A^k/k! is the share of arrivals that find all c servers
    busy and are lost. It holds for any service distribution with the same mean (M/G/c/c).
    Evaluated by the recursion B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1)), whose every step
    stays within [0, 1], so there is neither overflow nor cancellation.
    """
    _require_count("servers", servers)
    _require_non_negative("offered_load", offered_load)
    blocking = 1.0
    for count in range(1, servers + 1):
        blocking = _erlang_b_step(blocking, count, offered_load)
    return blocking


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival has to wait in M/M/c (Erlang C formula).

    By PASTA it equals the time-average probability that all c servers are busy. Computed from
    Erlang B as C = B / (1 − ρ(1 − B)) with ρ = A/c, which inherits the recursion's stability.
    Needs A < c, or the queue grows without bound.
    """
    _require_count("servers", servers)
    _require_non_negative("offered_load", offered_load)
    _require_stable("M/M/c", offered_load / servers)
    return _erlang_c_from_b(erlang_b(servers, offered_load), servers, offered_load)


def erlang_b_max_load(servers: int, blocking: float) -> float:
    """Largest offered load (Erlangs) that ``servers`` trunks carry at the given Erlang B blocking.

    This is the inverse that traffic tables print ("c trunks at 2 % carry A Erlangs"). B(c, A)
    increases with A, and B(c, A) ≥ 1 − c/A because at most c Erlangs are carried, so the root
    lies in (0, c/(1 − b) + 1] and is found with Brent's method.
    """
    _require_count("servers", servers)
    _require_open_probability("blocking", blocking)
    upper_load = servers / (1.0 - blocking) + 1.0
    root = optimize.brentq(
        lambda load: erlang_b(servers, load) - blocking,
        0.0,
        upper_load,
        xtol=_NEGLIGIBLE_XTOL,
        maxiter=_ROOT_MAX_ITERATIONS,
    )
    return float(root)


def erlang_b_servers_needed(offered_load: float, blocking: float, max_servers: int = 10000) -> int:
    """Smallest number of servers c with Erlang B blocking B(c, A) ≤ ``blocking``.

    Walks the Erlang B recursion upwards, one server at a time, so the answer is exact rather
    than read off a rounded table.
    """
    _require_non_negative("offered_load", offered_load)
    _require_open_probability("blocking", blocking)
    _require_count("max_servers", max_servers)
    current = 1.0
    for servers in range(1, max_servers + 1):
        current = _erlang_b_step(current, servers, offered_load)
        if current <= blocking:
            return servers
    raise ValueError(
        f"more than max_servers={max_servers} servers are needed for blocking <= {blocking} "
        f"at offered_load={offered_load}"
    )


# --- single-server and multi-server infinite queues ------------------------------------------


def _infinite_queue_metrics(
    arrival_rate: float,
    wait_mean_s: float,
    service_mean_s: float,
    wait_probability: float,
    utilization: float,
) -> QueueMetrics:
    """Fill in the means that follow from Wq by W = Wq + E[S] and Little's law (no blocking)."""
    response_mean_s = wait_mean_s + service_mean_s
    return QueueMetrics(
        wait_mean_s=wait_mean_s,
        response_mean_s=response_mean_s,
        queue_length_mean=arrival_rate * wait_mean_s,
        in_system_mean=arrival_rate * response_mean_s,
        wait_probability=wait_probability,
        blocking_probability=0.0,
        throughput_rps=arrival_rate,
        utilization=utilization,
    )


def mm1(arrival_rate: float, service_rate: float) -> QueueMetrics:
    """M/M/1: one server, Poisson arrivals, exponential service, infinite FCFS queue.

    The number in system is geometric, P(N = n) = (1 − ρ)ρ^n, which gives W = 1/(μ − λ),
    Wq = ρ/(μ − λ), and a waiting probability of ρ (the chance the server is busy).
    """
    _require_non_negative("arrival_rate", arrival_rate)
    _require_positive("service_rate", service_rate)
    utilization = arrival_rate / service_rate
    _require_stable("M/M/1", utilization)
    wait_mean_s = utilization / (service_rate - arrival_rate)
    return _infinite_queue_metrics(
        arrival_rate, wait_mean_s, 1.0 / service_rate, utilization, utilization
    )


@dataclass(frozen=True, slots=True)
class _MMcWaitLaw:
    """Distribution of the M/M/c FCFS wait and response time.

    The wait is 0 with probability 1 − C and otherwise exponential with the drain rate cμ − λ
    (while all servers are busy, the queue empties at that net rate). The response time adds an
    independent exponential service of rate μ.
    """

    wait_probability: float
    drain_rate: float
    service_rate: float

    def wait_survival(self, time_s: float) -> float:
        """P(Wq > t) = C·e^{−(cμ−λ)t}."""
        return self.wait_probability * math.exp(-self.drain_rate * time_s)

    def response_survival(self, time_s: float) -> float:
        """P(W > t) = (1 − C)·e^{−μt} + C·P(Exp(cμ−λ) + Exp(μ) > t).

        For rates a ≤ b the tail of the sum of two exponentials is
        (b·e^{−at} − a·e^{−bt}) / (b − a) = e^{−at}·(1 + a·t·(1 − e^{−(b−a)t}) / ((b−a)t)).
        The second form has no cancellation when the rates nearly coincide, and the ratio tends
        to 1 when they are equal (cμ − λ = μ), giving the Erlang-2 tail (1 + μt)·e^{−μt}.
        """
        slow = min(self.drain_rate, self.service_rate)
        fast = max(self.drain_rate, self.service_rate)
        gap = (fast - slow) * time_s
        ratio = -math.expm1(-gap) / gap if gap > 0.0 else 1.0
        sum_tail = math.exp(-slow * time_s) * (1.0 + slow * time_s * ratio)
        no_wait_tail = math.exp(-self.service_rate * time_s)
        return (1.0 - self.wait_probability) * no_wait_tail + self.wait_probability * sum_tail


def _mmc_wait_law(arrival_rate: float, service_rate: float, servers: int) -> _MMcWaitLaw:
    _require_non_negative("arrival_rate", arrival_rate)
    _require_positive("service_rate", service_rate)
    _require_count("servers", servers)
    offered_load = arrival_rate / service_rate
    _require_stable("M/M/c", offered_load / servers)
    return _MMcWaitLaw(
        wait_probability=erlang_c(servers, offered_load),
        drain_rate=servers * service_rate - arrival_rate,
        service_rate=service_rate,
    )


def mmc(arrival_rate: float, service_rate: float, servers: int) -> QueueMetrics:
    """M/M/c: c identical exponential servers sharing one infinite FCFS queue (Erlang C model).

    Wq = C(c, A) / (cμ − λ) and W = Wq + 1/μ; Lq and L follow from Little's law.
    """
    law = _mmc_wait_law(arrival_rate, service_rate, servers)
    return _infinite_queue_metrics(
        arrival_rate,
        law.wait_probability / law.drain_rate,
        1.0 / service_rate,
        law.wait_probability,
        arrival_rate / (servers * service_rate),
    )


def mmc_state_probability(
    arrival_rate: float, service_rate: float, servers: int, customers: int
) -> float:
    """P(N = n), the steady-state probability of n customers in an M/M/c system.

    At or above c all servers are busy and P(N = n) = C·(1 − ρ)·ρ^{n−c}. Below c the balance
    equations make P(N = n) proportional to A^n/n!, i.e. a Poisson(A) law truncated to n < c,
    scaled by the remaining mass 1 − C; the Poisson terms are taken in logarithms.
    """
    law = _mmc_wait_law(arrival_rate, service_rate, servers)
    _require_count("customers", customers, minimum=0)
    offered_load = arrival_rate / service_rate
    utilization = offered_load / servers
    if customers >= servers:
        return law.wait_probability * (1.0 - utilization) * utilization ** (customers - servers)
    if offered_load == 0.0:
        return 1.0 if customers == 0 else 0.0
    log_poisson = customers * math.log(offered_load) - offered_load - math.lgamma(customers + 1)
    poisson_below_servers = float(special.pdtr(servers - 1, offered_load))
    return (1.0 - law.wait_probability) * math.exp(log_poisson) / poisson_below_servers


def service_level(arrival_rate: float, service_rate: float, servers: int, wait_s: float) -> float:
    """Call-centre service level of M/M/c FCFS: P(Wq ≤ t) = 1 − C·e^{−(cμ−λ)t}."""
    law = _mmc_wait_law(arrival_rate, service_rate, servers)
    _require_non_negative("wait_s", wait_s)
    return 1.0 - law.wait_survival(wait_s)


def mmc_wait_quantile_s(
    arrival_rate: float, service_rate: float, servers: int, quantile: float
) -> float:
    """The ``quantile`` of the M/M/c FCFS wait: smallest t with P(Wq ≤ t) ≥ q.

    Inverting 1 − C·e^{−(cμ−λ)t} = q gives t = ln(C / (1 − q)) / (cμ − λ); when q ≤ 1 − C at
    least that share of customers does not wait and the quantile is 0.
    """
    law = _mmc_wait_law(arrival_rate, service_rate, servers)
    _require_open_probability("quantile", quantile)
    if law.wait_probability <= 1.0 - quantile:
        return 0.0
    return math.log(law.wait_probability / (1.0 - quantile)) / law.drain_rate


def mmc_response_cdf(
    arrival_rate: float, service_rate: float, servers: int, time_s: float
) -> float:
    """P(W ≤ t) for the M/M/c FCFS response (sojourn) time: wait plus exponential service.

    Exact closed form, a mixture of the service time alone (no wait, probability 1 − C) and the
    sum of two exponentials of rates cμ − λ and μ (probability C); see ``_MMcWaitLaw``.
    """
    law = _mmc_wait_law(arrival_rate, service_rate, servers)
    _require_non_negative("time_s", time_s)
    return 1.0 - law.response_survival(time_s)


def _response_quantile(law: _MMcWaitLaw, quantile: float) -> float:
    """Root of P(W > t) = 1 − q, bracketed by doubling from the mean response time."""
    target_survival = 1.0 - quantile
    upper_s = 1.0 / law.drain_rate + 1.0 / law.service_rate
    while law.response_survival(upper_s) > target_survival:
        upper_s *= 2.0
    root = optimize.brentq(
        lambda time_s: law.response_survival(time_s) - target_survival,
        0.0,
        upper_s,
        xtol=_NEGLIGIBLE_XTOL,
        maxiter=_ROOT_MAX_ITERATIONS,
    )
    return float(root)


def mmc_response_quantile_s(
    arrival_rate: float, service_rate: float, servers: int, quantile: float
) -> float:
    """The ``quantile`` of the M/M/c FCFS response time, solved from its exact CDF with brentq.

    For c = 1 the response time is exponential with rate μ − λ, so this reduces to
    −ln(1 − q)/(μ − λ). The root is solved on the survival function, which is accurate in the
    upper tail that capacity targets use; for a tiny q the relative error of t grows like
    1e-16/q, since the CDF there cannot be told apart from 0 any better.
    """
    law = _mmc_wait_law(arrival_rate, service_rate, servers)
    _require_open_probability("quantile", quantile)
    return _response_quantile(law, quantile)


def min_servers_for_response_quantile(
    arrival_rate: float,
    service_rate: float,
    quantile: float,
    target_s: float,
    max_servers: int = 10000,
) -> int:
    """Smallest c whose M/M/c response-time ``quantile`` is at most ``target_s``.

    Adding a server lowers the waiting probability and raises the drain rate, so the response
    time only shrinks as c grows, and the first c that meets the target is the answer. Servers
    are tried one by one along the Erlang B recursion, and each is tested by comparing the exact
    CDF at the target with q, so no root-finding tolerance can move the answer by one. Even
    infinitely many servers cannot beat the service time itself, so a target below the service
    time's own quantile, −ln(1 − q)/μ, is rejected.
    """
    _require_non_negative("arrival_rate", arrival_rate)
    _require_positive("service_rate", service_rate)
    _require_open_probability("quantile", quantile)
    _require_positive("target_s", target_s)
    _require_count("max_servers", max_servers)
    target_survival = 1.0 - quantile
    if math.exp(-service_rate * target_s) > target_survival:
        service_quantile_s = -math.log1p(-quantile) / service_rate
        raise ValueError(
            f"target_s={target_s} is unreachable: with no waiting at all the {quantile} quantile "
            f"of the response time is already the service time's, {service_quantile_s:.6g} s"
        )
    offered_load = arrival_rate / service_rate
    blocking = 1.0
    for servers in range(1, max_servers + 1):
        blocking = _erlang_b_step(blocking, servers, offered_load)
        if offered_load >= servers:
            continue
        law = _MMcWaitLaw(
            wait_probability=_erlang_c_from_b(blocking, servers, offered_load),
            drain_rate=servers * service_rate - arrival_rate,
            service_rate=service_rate,
        )
        if law.response_survival(target_s) <= target_survival:
            return servers
    raise ValueError(
        f"more than max_servers={max_servers} servers are needed for a {quantile} response-time "
        f"quantile <= {target_s} s"
    )


# --- finite capacity --------------------------------------------------------------------------


def _mmck_occupancy(offered_load: float, servers: int, capacity: int) -> NDArray[np.float64]:
    """P(N = n) for n = 0..K of M/M/c/K, from the birth–death balance equations.

    P(N = n) is proportional to A^n/n! up to c, then gains a factor ρ = A/c per waiting customer.
    The weights are formed in logarithms and scaled by the largest before exponentiating.
    """
    if offered_load == 0.0:
        idle = np.zeros(capacity + 1)
        idle[0] = 1.0
        return idle
    counts = np.arange(capacity + 1, dtype=np.float64)
    log_load = math.log(offered_load)
    below_servers = counts * log_load - special.gammaln(counts + 1.0)
    at_servers = servers * log_load - math.lgamma(servers + 1)
    above_servers = at_servers + (counts - servers) * math.log(offered_load / servers)
    log_weights = np.where(counts <= servers, below_servers, above_servers)
    weights = np.exp(log_weights - log_weights.max())
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def _require_mmck(arrival_rate: float, service_rate: float, servers: int, capacity: int) -> None:
    _require_non_negative("arrival_rate", arrival_rate)
    _require_positive("service_rate", service_rate)
    _require_count("servers", servers)
    _require_count("capacity", capacity)
    if capacity < servers:
        raise ValueError(
            f"capacity must be >= servers (it counts customers in service plus waiting), "
            f"got capacity={capacity} < servers={servers}"
        )


def mmck_state_probabilities(
    arrival_rate: float, service_rate: float, servers: int, capacity: int
) -> NDArray[np.float64]:
    """Steady-state probabilities P(N = n), n = 0..K, of the M/M/c/K queue; sums to 1."""
    _require_mmck(arrival_rate, service_rate, servers, capacity)
    return _mmck_occupancy(arrival_rate / service_rate, servers, capacity)


def mmck(arrival_rate: float, service_rate: float, servers: int, capacity: int) -> QueueMetrics:
    """M/M/c/K: c exponential servers and room for K customers in all; arrivals finding K leave.

    Stable at any load. By PASTA an arrival is blocked with probability P_K. Time and wait means
    are over ADMITTED customers: Little's law with λ_eff = λ(1 − P_K), so W = L/λ_eff and
    Wq = Lq/λ_eff. (Dividing Lq by the offered λ instead gives a smaller figure that no
    customer experiences.) λ_eff is computed as μ·E[busy servers], which equals λ(1 − P_K) by
    flow balance and stays accurate when P_K is close to 1.
    """
    _require_mmck(arrival_rate, service_rate, servers, capacity)
    if arrival_rate == 0.0:
        return _infinite_queue_metrics(0.0, 0.0, 1.0 / service_rate, 0.0, 0.0)
    occupancy = _mmck_occupancy(arrival_rate / service_rate, servers, capacity)
    counts = np.arange(capacity + 1)
    busy_servers_mean = float(np.minimum(counts, servers) @ occupancy)
    queue_length_mean = float(np.maximum(counts - servers, 0) @ occupancy)
    in_system_mean = busy_servers_mean + queue_length_mean
    admitted_rate = service_rate * busy_servers_mean
    admitted_share = float(occupancy[:-1].sum())
    return QueueMetrics(
        wait_mean_s=queue_length_mean / admitted_rate,
        response_mean_s=in_system_mean / admitted_rate,
        queue_length_mean=queue_length_mean,
        in_system_mean=in_system_mean,
        wait_probability=float(occupancy[servers:-1].sum()) / admitted_share,
        blocking_probability=float(occupancy[-1]),
        throughput_rps=admitted_rate,
        utilization=busy_servers_mean / servers,
    )


# --- general service: Pollaczek–Khinchine -----------------------------------------------------


def mg1(arrival_rate: float, service_mean_s: float, service_scv: float) -> QueueMetrics:
    """M/G/1 FCFS by the Pollaczek–Khinchine mean-value formula.

    Wq = λ·E[S²] / (2(1 − ρ)) = ρ·E[S]·(1 + scv) / (2(1 − ρ)), with ρ = λ·E[S] and
    scv = Var(S)/E[S]². Only the first two moments of service matter: scv = 1 is M/M/1,
    scv = 0 is M/D/1, scv = 1/k is Erlang-k service. A customer waits when the server is busy,
    which by PASTA happens with probability ρ.
    """
    _require_non_negative("arrival_rate", arrival_rate)
    _require_positive("service_mean_s", service_mean_s)
    _require_non_negative("service_scv", service_scv)
    utilization = arrival_rate * service_mean_s
    _require_stable("M/G/1", utilization)
    wait_mean_s = utilization * service_mean_s * (1.0 + service_scv) / (2.0 * (1.0 - utilization))
    return _infinite_queue_metrics(
        arrival_rate, wait_mean_s, service_mean_s, utilization, utilization
    )


def md1(arrival_rate: float, service_time_s: float) -> QueueMetrics:
    """M/D/1: constant service time; Pollaczek–Khinchine with scv = 0, half the M/M/1 wait."""
    _require_positive("service_time_s", service_time_s)
    return mg1(arrival_rate, service_time_s, 0.0)


# --- processor sharing --------------------------------------------------------------------------


def mm1_ps_response_mean_s(arrival_rate: float, service_mean_s: float) -> float:
    """Mean response time of a single processor-sharing server: E[S] / (1 − ρ).

    The same as M/M/1 FCFS, and insensitive to the service distribution: it holds for M/G/1-PS
    with any service law of mean E[S].
    """
    _require_non_negative("arrival_rate", arrival_rate)
    _require_positive("service_mean_s", service_mean_s)
    utilization = arrival_rate * service_mean_s
    _require_stable("M/G/1-PS", utilization)
    return service_mean_s / (1.0 - utilization)


def mg1_ps_conditional_response_s(service_time_s: float, utilization: float) -> float:
    """Mean response time in M/G/1-PS of a job needing ``service_time_s`` of work: x / (1 − ρ).

    Every job is slowed by the same factor 1/(1 − ρ) whatever its size, which is why
    processor sharing is fair to short requests.
    """
    _require_non_negative("service_time_s", service_time_s)
    _require_non_negative("utilization", utilization)
    _require_stable("M/G/1-PS", utilization)
    return service_time_s / (1.0 - utilization)


# --- several separate queues ---------------------------------------------------------------------


def _round_robin_idle_root(arrival_rate: float, service_rate: float, queues: int) -> float:
    """Root x = 1 − σ in (0, 1) of the GI/M/1 equation for Erlang-c interarrival times.

    σ solves σ = (λ / (λ + μ(1 − σ)))^c. In terms of x it reads
    h(x) = 1 − (1 + μx/λ)^{−c} − x = 0, written with expm1/log1p so that small x (heavy load)
    keeps full precision. h is concave with h(0) = 0, h'(0) = 1/ρ − 1 > 0 and h(1) < 0, so the
    root is bracketed by the first x = 2^{−k} with h(x) > 0 and by 1.
    """

    def balance(idle: float) -> float:
        return -math.expm1(-queues * math.log1p(service_rate * idle / arrival_rate)) - idle

    lower = 0.5
    while balance(lower) <= 0.0:
        lower /= 2.0
        if lower == 0.0:
            raise ValueError("round-robin queues are too close to saturation to solve")
    root = optimize.brentq(balance, lower, 1.0, xtol=_NEGLIGIBLE_XTOL, maxiter=_ROOT_MAX_ITERATIONS)
    return float(root)


def independent_queues(
    arrival_rate: float,
    service_rate: float,
    queues: int,
    kind: Literal["random", "round_robin"] = "random",
) -> QueueMetrics:
    """One of c separate single-server queues that share a Poisson stream λ; no pooling.

    ``kind="random"``: each arrival picks a queue uniformly at random. Random splitting of a
    Poisson stream gives independent Poisson streams of rate λ/c, so every queue is M/M/1.
    ``kind="round_robin"``: arrivals are dealt to the queues in turn, so each queue sees
    Erlang-c interarrival times (the sum of c exponentials of rate λ) and is an E_c/M/1 queue.
    By the GI/M/1 result an arrival finds it busy with probability σ, the root of
    σ = (λ/(λ + μ(1 − σ)))^c, and Wq = σ/(μ(1 − σ)).

    The queues are identical, so the metrics of one are also the system's per-customer means;
    queue_length_mean and in_system_mean are per queue.
    """
    _require_non_negative("arrival_rate", arrival_rate)
    _require_positive("service_rate", service_rate)
    _require_count("queues", queues)
    if kind not in ("random", "round_robin"):
        raise ValueError(f"kind must be 'random' or 'round_robin', got {kind!r}")
    per_queue_rate = arrival_rate / queues
    utilization = per_queue_rate / service_rate
    _require_stable(f"{kind} routing to {queues} queues", utilization)
    if kind == "random" or arrival_rate == 0.0:
        return mm1(per_queue_rate, service_rate)
    idle_root = _round_robin_idle_root(arrival_rate, service_rate, queues)
    busy_on_arrival = 1.0 - idle_root
    return _infinite_queue_metrics(
        per_queue_rate,
        busy_on_arrival / (service_rate * idle_root),
        1.0 / service_rate,
        busy_on_arrival,
        utilization,
    )


def littles_law_in_system(arrival_rate: float, response_mean_s: float) -> float:
    """Little's law L = λ·W: mean number in a system from its throughput and mean time inside."""
    _require_non_negative("arrival_rate", arrival_rate)
    _require_non_negative("response_mean_s", response_mean_s)
    return arrival_rate * response_mean_s

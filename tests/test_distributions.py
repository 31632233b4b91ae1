"""The scenario's distributions: their moments, their samplers and their parameter checks.

Sample moments are compared with the stated moments at fixed seeds, with a tolerance of five
standard errors (estimated from the sample's own fourth moment for the variance), so the
tests are deterministic and fail only when a sampler or a moment formula is wrong.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from sim.config import ScenarioError, validate_scenario
from sim.config.distributions import (
    Constant,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    LogNormal,
    Uniform,
)

DISTRIBUTION: TypeAdapter[Any] = TypeAdapter(Distribution)
SAMPLES = 400_000
STANDARD_ERRORS = 5.0


def parse(spec: dict[str, Any]) -> Any:
    return DISTRIBUTION.validate_python(spec)


# name: (scenario mapping, expected type, mean, variance), the moments worked out by hand
MOMENT_CASES = {
    "constant": ({"dist": "constant", "value": 0.2}, Constant, 0.2, 0.0),
    "exponential": ({"dist": "exponential", "mean": 0.5}, Exponential, 0.5, 0.25),
    "uniform": ({"dist": "uniform", "low": 1.0, "high": 3.0}, Uniform, 2.0, 4.0 / 12),
    "uniform, degenerate": ({"dist": "uniform", "low": 2.0, "high": 2.0}, Uniform, 2.0, 0.0),
    "lognormal cv 0.5": (
        {"dist": "lognormal", "mean": 0.04, "cv": 0.5},
        LogNormal,
        0.04,
        (0.5 * 0.04) ** 2,
    ),
    "lognormal cv 1.5": (
        {"dist": "lognormal", "mean": 2.0, "cv": 1.5},
        LogNormal,
        2.0,
        (1.5 * 2.0) ** 2,
    ),
    "gamma cv 0.5 (Erlang-4)": (
        {"dist": "gamma", "mean": 2.0, "cv": 0.5},
        Gamma,
        2.0,
        (0.5 * 2.0) ** 2,
    ),
    "gamma cv 2": ({"dist": "gamma", "mean": 0.1, "cv": 2.0}, Gamma, 0.1, (2.0 * 0.1) ** 2),
    "empirical": ({"dist": "empirical", "values": [1, 2, 2, 7]}, Empirical, 3.0, 5.5),
}


@pytest.mark.parametrize(
    ("spec", "kind", "mean", "variance"), MOMENT_CASES.values(), ids=list(MOMENT_CASES.keys())
)
def test_stated_moments(spec: dict[str, Any], kind: type, mean: float, variance: float) -> None:
    distribution = parse(spec)
    assert type(distribution) is kind
    assert distribution.mean == pytest.approx(mean, rel=1e-12)
    assert distribution.variance == pytest.approx(variance, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("spec", "mean", "variance"),
    [(spec, mean, variance) for spec, _, mean, variance in MOMENT_CASES.values()],
    ids=list(MOMENT_CASES.keys()),
)
def test_sample_moments_match(spec: dict[str, Any], mean: float, variance: float) -> None:
    rng = np.random.default_rng(20240611)
    sample = parse(spec).sample(rng, SAMPLES)
    assert sample.shape == (SAMPLES,)
    assert sample.dtype == np.float64
    assert sample.min() >= 0

    sample_mean = float(sample.mean())
    sample_variance = float(sample.var())
    fourth = float(np.mean((sample - sample_mean) ** 4))
    mean_error = math.sqrt(variance / SAMPLES)
    variance_error = math.sqrt(max(fourth - sample_variance**2, 0.0) / SAMPLES)
    assert abs(sample_mean - mean) <= STANDARD_ERRORS * mean_error + 1e-12 * mean
    assert abs(sample_variance - variance) <= STANDARD_ERRORS * variance_error + 1e-12 * mean**2


@pytest.mark.parametrize(("dist", "cv"), [("lognormal", 0.3), ("gamma", 1.2)])
def test_mean_and_cv_parameterise_the_sample(dist: str, cv: float) -> None:
    rng = np.random.default_rng(7)
    sample = parse({"dist": dist, "mean": 0.08, "cv": cv}).sample(rng, SAMPLES)
    assert sample.mean() == pytest.approx(0.08, rel=0.01)
    assert sample.std() / sample.mean() == pytest.approx(cv, rel=0.02)


def test_lognormal_underlying_normal() -> None:
    # sigma² = ln(1 + cv²), mu = ln(mean) − sigma²/2 (the docstring's parameterisation)
    mean, cv = 0.04, 1.5
    sigma2 = math.log(1 + cv**2)
    logs = np.log(
        parse({"dist": "lognormal", "mean": mean, "cv": cv}).sample(
            np.random.default_rng(3), SAMPLES
        )
    )
    assert logs.mean() == pytest.approx(math.log(mean) - sigma2 / 2, abs=0.01)
    assert logs.var() == pytest.approx(sigma2, rel=0.01)


def test_same_seed_same_sample() -> None:
    distribution = parse({"dist": "gamma", "mean": 1.0, "cv": 0.7})
    first = distribution.sample(np.random.default_rng(11), 1000)
    again = distribution.sample(np.random.default_rng(11), 1000)
    other = distribution.sample(np.random.default_rng(12), 1000)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_empirical_draws_only_its_values() -> None:
    sample = parse({"dist": "empirical", "values": [0.1, 0.5, 0.9]}).sample(
        np.random.default_rng(5), 3000
    )
    assert set(np.unique(sample)) == {0.1, 0.5, 0.9}


SCV_CASES = {
    # name: (scenario mapping, squared coefficient of variation)
    "exponential": ({"dist": "exponential", "mean": 3.0}, 1.0),
    "constant": ({"dist": "constant", "value": 0.2}, 0.0),
    "constant zero": ({"dist": "constant", "value": 0.0}, 0.0),
    "uniform from zero": ({"dist": "uniform", "low": 0.0, "high": 1.0}, 1.0 / 3),
    "lognormal cv 2": ({"dist": "lognormal", "mean": 0.1, "cv": 2.0}, 4.0),
    "gamma cv 0.5": ({"dist": "gamma", "mean": 5.0, "cv": 0.5}, 0.25),
    "empirical": ({"dist": "empirical", "values": [1, 3]}, 0.25),
}


@pytest.mark.parametrize(("spec", "scv"), SCV_CASES.values(), ids=list(SCV_CASES.keys()))
def test_squared_coefficient_of_variation(spec: dict[str, Any], scv: float) -> None:
    assert parse(spec).scv == pytest.approx(scv, rel=1e-12, abs=1e-15)


INVALID_CASES = {
    # name: (scenario mapping, field in pydantic's location, words of the message)
    "uniform high below low": ({"dist": "uniform", "low": 2, "high": 1}, None, "high (1.0)"),
    "uniform negative low": ({"dist": "uniform", "low": -1, "high": 1}, "low", "greater than"),
    "exponential negative mean": ({"dist": "exponential", "mean": -1}, "mean", "greater than"),
    "exponential zero mean": ({"dist": "exponential", "mean": 0}, "mean", "greater than"),
    "lognormal negative mean": (
        {"dist": "lognormal", "mean": -0.1, "cv": 1},
        "mean",
        "greater than",
    ),
    "lognormal zero cv": ({"dist": "lognormal", "mean": 0.1, "cv": 0}, "cv", "greater than"),
    "gamma negative mean": ({"dist": "gamma", "mean": -2, "cv": 1}, "mean", "greater than"),
    "gamma missing cv": ({"dist": "gamma", "mean": 2}, "cv", "required"),
    "constant negative": ({"dist": "constant", "value": -1}, "value", "greater than"),
    "empirical empty": ({"dist": "empirical", "values": []}, "values", "at least 1"),
    "empirical negative value": (
        {"dist": "empirical", "values": [1, -1]},
        None,
        "non-negative",
    ),
    "unknown parameter": ({"dist": "exponential", "mean": 1, "rate": 2}, "rate", "Extra"),
    "unknown distribution": ({"dist": "pareto", "alpha": 2}, None, "pareto"),
    "no dist key": ({"mean": 1}, None, "dist"),
}


@pytest.mark.parametrize(
    ("spec", "field", "words"), INVALID_CASES.values(), ids=list(INVALID_CASES.keys())
)
def test_invalid_parameters_are_rejected(
    spec: dict[str, Any], field: str | None, words: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(spec)
    problems = caught.value.errors()
    assert len(problems) == 1, problems
    if field is not None:
        assert problems[0]["loc"][-1] == field
    assert words in str(caught.value)


SCENARIO_CASES = {
    # name: (distribution, field of the ScenarioError)
    "uniform high below low": (
        {"dist": "uniform", "low": 2, "high": 1},
        "service.endpoints.0.cpu_demand_s",
    ),
    "negative mean": (
        {"dist": "lognormal", "mean": -1, "cv": 1},
        "service.endpoints.0.cpu_demand_s.mean",
    ),
    "empty empirical": (
        {"dist": "empirical", "values": []},
        "service.endpoints.0.cpu_demand_s.values",
    ),
}


@pytest.mark.parametrize(
    ("spec", "field"), SCENARIO_CASES.values(), ids=list(SCENARIO_CASES.keys())
)
def test_invalid_distribution_in_a_scenario_names_its_path(
    spec: dict[str, Any], field: str
) -> None:
    data = {
        "name": "d",
        "duration_s": 60,
        "service": {"endpoints": [{"name": "a", "weight": 1, "cpu_demand_s": spec}]},
        "traffic": {"rate_rps": 1},
    }
    with pytest.raises(ScenarioError) as caught:
        validate_scenario(data)
    assert caught.value.field == field
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "spec", [case[0] for case in MOMENT_CASES.values()], ids=list(MOMENT_CASES)
)
def test_dump_by_alias_round_trips(spec: dict[str, Any]) -> None:
    distribution = parse(spec)
    dumped = DISTRIBUTION.dump_python(distribution, mode="json", by_alias=True)
    assert set(dumped) == set(spec)
    assert parse(dumped) == distribution

"""Probability distributions a scenario can name, and how to draw from them in bulk.

A distribution is written in a scenario as a small mapping, for example
``{dist: lognormal, mean: 0.04, cv: 1.5}``. ``lognormal`` and ``gamma`` are given by their
mean and coefficient of variation (standard deviation / mean) because that is how measured
service times are usually reported, and because the M/G/1 formulas need exactly those two.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Dist(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws as a float64 array."""
        raise NotImplementedError

    @property
    def mean(self) -> float:
        raise NotImplementedError

    @property
    def variance(self) -> float:
        raise NotImplementedError

    @property
    def scv(self) -> float:
        """Squared coefficient of variation, Var/mean² (1 for exponential, 0 for constant)."""
        return self.variance / self.mean**2 if self.mean > 0 else 0.0


class Constant(_Dist):
    """Always ``value`` (the D in M/D/1)."""

    dist: Literal["constant"]
    value: float = Field(ge=0)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value, dtype=np.float64)

    @property
    def mean(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0


class Exponential(_Dist):
    """Exponential with the given ``mean`` (the M in M/M/1)."""

    dist: Literal["exponential"]
    mean_value: float = Field(gt=0, alias="mean")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean_value, size)

    @property
    def mean(self) -> float:
        return self.mean_value

    @property
    def variance(self) -> float:
        return self.mean_value**2


class Uniform(_Dist):
    """Uniform on ``[low, high]``."""

    dist: Literal["uniform"]
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be at least low ({self.low})")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12


class LogNormal(_Dist):
    """Log-normal with the given ``mean`` and coefficient of variation ``cv``.

    Request service times are heavy-tailed and close to log-normal in measured web workloads;
    the underlying normal has ``sigma² = ln(1 + cv²)`` and ``mu = ln(mean) − sigma²/2``.
    """

    dist: Literal["lognormal"]
    mean_value: float = Field(gt=0, alias="mean")
    cv: float = Field(gt=0)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean_value) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), size)

    @property
    def mean(self) -> float:
        return self.mean_value

    @property
    def variance(self) -> float:
        return (self.cv * self.mean_value) ** 2


class Gamma(_Dist):
    """Gamma with the given ``mean`` and ``cv`` (shape ``1/cv²``; cv = 1/√k is Erlang-k)."""

    dist: Literal["gamma"]
    mean_value: float = Field(gt=0, alias="mean")
    cv: float = Field(gt=0)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, self.mean_value / shape, size)

    @property
    def mean(self) -> float:
        return self.mean_value

    @property
    def variance(self) -> float:
        return (self.cv * self.mean_value) ** 2


class Empirical(_Dist):
    """Resampling with replacement from measured ``values`` (e.g. latencies from a profile)."""

    dist: Literal["empirical"]
    values: tuple[float, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _non_negative(self) -> Empirical:
        if min(self.values) < 0:
            raise ValueError("values must all be non-negative")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=np.float64), size)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def variance(self) -> float:
        return float(np.var(self.values))


Distribution = Annotated[
    Constant | Exponential | Uniform | LogNormal | Gamma | Empirical,
    Field(discriminator="dist"),
]
"""Any of the distributions above, chosen by the ``dist`` key."""

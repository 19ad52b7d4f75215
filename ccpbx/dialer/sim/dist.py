"""Duration distributions of the simulator, given by mean and coefficient of variation."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

KINDS = ("fixed", "exponential", "lognormal")


@dataclass(frozen=True, slots=True)
class Dist:
    """A non-negative duration law: ``fixed``, ``exponential`` or ``lognormal``.

    ``cv`` (standard deviation over mean) only matters for ``lognormal``; an exponential
    law has cv 1 and a fixed one cv 0.
    """

    kind: str
    mean: float
    cv: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"dist must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not math.isfinite(self.mean) or self.mean < 0:
            raise ValueError(f"mean must be a finite number >= 0, not {self.mean!r}")
        if self.kind == "lognormal" and (not math.isfinite(self.cv) or self.cv <= 0):
            raise ValueError(f"lognormal needs cv > 0, not {self.cv!r}")
        if self.kind == "exponential" and self.mean <= 0:
            raise ValueError("exponential needs mean > 0")

    @property
    def true_cv(self) -> float:
        """Coefficient of variation of the law as sampled."""
        if self.kind == "fixed":
            return 0.0
        if self.kind == "exponential":
            return 1.0
        return self.cv

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        """A fast zero-argument sampler bound to ``rng``."""
        if self.kind == "fixed" or self.mean == 0:
            mean = self.mean
            return lambda: mean
        if self.kind == "exponential":
            rate = 1.0 / self.mean
            expo = rng.expovariate
            return lambda: expo(rate)
        sigma2 = math.log1p(self.cv * self.cv)
        mu = math.log(self.mean) - sigma2 / 2
        sigma = math.sqrt(sigma2)
        logn = rng.lognormvariate
        return lambda: logn(mu, sigma)

    def cdf(self, x: float) -> float:
        """P(duration <= x)."""
        if x < 0:
            return 0.0
        if self.kind == "fixed" or self.mean == 0:
            return 1.0 if x >= self.mean else 0.0
        if self.kind == "exponential":
            return -math.expm1(-x / self.mean)
        if x == 0:
            return 0.0
        sigma2 = math.log1p(self.cv * self.cv)
        mu = math.log(self.mean) - sigma2 / 2
        return 0.5 * math.erfc(-(math.log(x) - mu) / math.sqrt(2 * sigma2))

    def to_json(self) -> dict[str, object]:
        """The scenario-file form of this law."""
        out: dict[str, object] = {"dist": self.kind, "mean": self.mean}
        if self.kind == "lognormal":
            out["cv"] = self.cv
        return out


def parse_dist(raw: object, where: str) -> Dist:
    """Build a :class:`Dist` from its JSON object, naming ``where`` in errors."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return Dist("fixed", float(raw))
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object like {{'dist': ..., 'mean': ...}}")
    unknown = set(raw) - {"dist", "mean", "cv"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    kind = raw.get("dist", "fixed")
    mean = raw.get("mean")
    cv = raw.get("cv", 0.0)
    if not isinstance(kind, str):
        raise ValueError(f"{where}.dist: expected a string")
    if not isinstance(mean, int | float) or isinstance(mean, bool):
        raise ValueError(f"{where}.mean: expected a number")
    if not isinstance(cv, int | float) or isinstance(cv, bool):
        raise ValueError(f"{where}.cv: expected a number")
    try:
        return Dist(kind, float(mean), float(cv))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None

"""The fundamental value: an Ornstein-Uhlenbeck process with Poisson jumps and volatility regimes.

The path is drawn once, on a fixed grid (default 1 s), from its own random stream, and read back
by time: every agent that is allowed to see the fundamental (value traders, with noise; informed
traders, ahead of time) reads the same path. Values are in ticks (floats).

Dynamics per grid step Δ (exact OU transition; a random walk when there is no mean reversion)::

    x' = m + (x - m)·e^(-κΔ) + σ_r · sqrt((1 - e^(-2κΔ)) / 2κ) · ε      ε ~ N(0, 1)
    + J·N                                                               N ~ Poisson(λΔ), J ~ N(μ_J, σ_J)

with κ = ln 2 / half_life and σ_r = σ · multiplier of the current regime; regimes switch as a
Markov chain (leaving regime r with probability Δ / mean_duration_r, to one of the others
uniformly). News shocks add a permanent jump at their time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from abmm.schema.timing import HOUR, SECOND


@dataclass
class FundamentalSpec:
    """Parameters in ticks and nanoseconds (the scenario layer converts from price units)."""

    initial: float
    mean: float | None = None  # long-run mean (default: initial)
    half_life_ns: int | None = None  # mean-reversion half-life; None = random walk
    sigma_1h: float = 0.0  # diffusion: std of the change over one hour (ticks)
    jump_rate_1h: float = 0.0  # expected jumps per hour
    jump_mean: float = 0.0
    jump_std: float = 0.0
    regime_multipliers: list[float] = field(default_factory=lambda: [1.0])
    regime_mean_durations_ns: list[int] = field(default_factory=lambda: [0])
    grid_ns: int = SECOND


class Fundamental:
    """A drawn fundamental path on ``[start, end]``; ``value(t)`` reads it (piecewise constant)."""

    def __init__(self, spec: FundamentalSpec, start: int, end: int, rng: np.random.Generator,
                 z: np.ndarray | None = None):
        """Draw the path from ``rng``; ``z`` (``n_points(...)`` standard normals): the diffusive
        shocks to use instead of drawing them (correlated paths of a multi-symbol market)."""
        self.spec = spec
        self.start = start
        self.grid = spec.grid_ns
        n = (end - start) // self.grid + 2
        dt_h = self.grid / HOUR
        sigma = spec.sigma_1h * math.sqrt(dt_h)
        mean = spec.initial if spec.mean is None else spec.mean
        # regimes
        k = len(spec.regime_multipliers)
        regime = np.zeros(n, np.int64)
        if k > 1:
            u = rng.random(n)
            pick = rng.integers(0, k - 1, n)
            leave = np.array([self.grid / d if d else 0.0 for d in spec.regime_mean_durations_ns])
            r = 0
            for i in range(1, n):
                if u[i] < leave[r]:
                    r = int(pick[i] + (pick[i] >= r))
                regime[i] = r
        mult = np.asarray(spec.regime_multipliers, float)[regime]
        eps = (rng.standard_normal(n) if z is None else np.asarray(z, float)) * sigma * mult
        if spec.half_life_ns:
            kappa = math.log(2) / (spec.half_life_ns / SECOND)  # per second
            a = math.exp(-kappa * self.grid / SECOND)
            eps *= math.sqrt((1 - a * a) / (2 * kappa * self.grid / SECOND))
        else:
            a = 1.0
        if spec.jump_rate_1h > 0:
            counts = rng.poisson(spec.jump_rate_1h * dt_h, n)
            jumps = np.zeros(n)
            hit = counts > 0
            jumps[hit] = rng.normal(spec.jump_mean * counts[hit],
                                    spec.jump_std * np.sqrt(counts[hit]))
            eps += jumps
        eps[0] = 0.0
        x = np.empty(n)
        x[0] = spec.initial
        if a == 1.0:
            np.cumsum(eps, out=x)
            x += spec.initial
        else:
            prev = spec.initial
            for i in range(1, n):  # OU recursion (n ~ 23k-500k: fine once per run)
                prev = mean + (prev - mean) * a + eps[i]
                x[i] = prev
        self.path = x
        self.regime = regime

    @staticmethod
    def n_points(start: int, end: int, grid_ns: int) -> int:
        """The number of grid points of a path on ``[start, end]``."""
        return (end - start) // grid_ns + 2

    @classmethod
    def index(cls, parts: list, weights: list[float]) -> Fundamental:
        """The weighted sum of other paths (same grid; ticks of the index's own symbol are the
        caller's business): an index future's fundamental."""
        out = cls.__new__(cls)
        out.spec, out.start, out.grid = parts[0].spec, parts[0].start, parts[0].grid
        out.path = sum(w * p.path for p, w in zip(parts, weights, strict=True))
        out.regime = parts[0].regime
        return out

    def add_jump(self, t: int, size: float) -> None:
        """A permanent jump of ``size`` ticks from time ``t`` on (news)."""
        i = max(0, min(len(self.path), -(-(t - self.start) // self.grid)))
        self.path[i:] += size

    def value(self, t: int) -> float:
        """The fundamental at time ``t`` (ticks)."""
        i = (t - self.start) // self.grid
        if i < 0:
            i = 0
        elif i >= len(self.path):
            i = len(self.path) - 1
        return float(self.path[i])

    def times(self) -> np.ndarray:
        """The grid times (ns) of the path's points, as int64."""
        return self.start + np.arange(len(self.path), dtype=np.int64) * self.grid

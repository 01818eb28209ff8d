"""The model-based market of Avellaneda & Stoikov (2008), batched in numpy: ``ASMarket``.

Avellaneda, M. & Stoikov, S. (2008), "High-frequency trading in a limit order book",
Quantitative Finance 8(3), 217-224. The mid ``s`` moves on its own (it does not react to the
market makers); a market maker quoting a bid ``delta_b`` below and an ask ``delta_a`` above the
mid is filled by market orders arriving with intensity ``lambda(delta) = A exp(-k delta)``.

``ASMarket`` runs ``n_paths`` independent trajectories (and ``n_agents`` market makers per
trajectory) at once, for fast training and for the paper's Monte-Carlo experiment
(``benchmarks/as2008.py``). ``abmm.env.model_based_v0`` is its PettingZoo face; the paper's
quotes are in ``abmm.policy.closed_form``.

Dynamics per step ``dt`` (time ``t`` from 0 to ``T``):

1. Each agent's quotes are ``s - delta_b`` and ``s + delta_a`` (or absent). On each side a
   market order arrives with probability ``A exp(-k delta*) dt`` (``fill="paper"``, the paper's
   rule; it needs ``A dt <= 1``) or ``1 - exp(-A exp(-k delta*) dt)`` (``fill="poisson"``, at
   least one Poisson arrival), where ``delta*`` is the best (smallest) offset on that side; it
   fills ``order_size`` at the best quote, ties going to a uniformly drawn agent among the best.
   A fill at the bid buys (``q += size``, ``cash -= (s - delta_b) size``).
2. The mid moves: ``binomial`` (the paper: ``s +- sigma sqrt(dt)`` with probability 1/2 each),
   ``brownian`` (``s + sigma sqrt(dt) Z``) or ``ou`` (exact Ornstein-Uhlenbeck step towards
   ``s0`` with rate ``kappa``). ``step(..., drift=b)`` adds ``b dt`` to that move (``b`` a scalar
   or one value per path: Spooner & Savani's adversary sets it, ``abmm.env.adversarial``);
   without ``drift`` nothing is added and the arithmetic is the driftless one, bit for bit.
3. Wealth ``cash + q s`` is marked at the new mid.

Inventory limit (``q_max``, default none): a side whose fill would take ``|q|`` past ``q_max``
is not quoted that step (Spooner & Savani's ``+-50``).

Random streams: ``numpy.random.Generator(PCG64(seed))``; per step the draws are, in order, the
arrival uniforms of both sides, the tie-break uniforms and the price shocks, so the same seed
gives the same paths whatever the agents do.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ASMarket", "AS2008"]

#: The paper's simulation experiment (section 3.3).
AS2008 = {"s0": 100.0, "T": 1.0, "sigma": 2.0, "dt": 0.005, "A": 140.0, "k": 1.5}


class ASMarket:
    """Independent trajectories of the model-based market, several market makers in each.

    ``n_paths`` trajectories, ``n_agents`` market makers each; arrays are ``(n_paths,
    n_agents)``. ``reset(seed)``, then ``step(delta_b, delta_a)`` with offsets as arrays broadcastable to
    ``(n_paths, n_agents)`` (``NaN`` or ``inf``: no quote on that side) until ``done``.
    ``wealth`` is ``cash + q s`` (mark-to-market at the current mid)."""

    def __init__(self, n_paths: int = 1, n_agents: int = 1, s0: float = 100.0, T: float = 1.0,
                 sigma: float = 2.0, dt: float = 0.005, A: float = 140.0, k: float = 1.5,
                 mid: str = "binomial", kappa: float = 0.0, fill: str = "paper",
                 order_size: float = 1.0, q_max: float | None = None,
                 seed: int | None = None):
        """Check the parameters and reset with ``seed``."""
        if n_paths < 1 or n_agents < 1:
            raise ValueError(f"n_paths and n_agents must be >= 1, got {n_paths}, {n_agents}")
        for name, v in (("T", T), ("dt", dt), ("A", A), ("k", k), ("order_size", order_size)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        if not (math.isfinite(sigma) and sigma >= 0):
            raise ValueError(f"sigma must be >= 0, got {sigma!r}")
        if mid not in ("binomial", "brownian", "ou"):
            raise ValueError(f"mid must be 'binomial', 'brownian' or 'ou', not {mid!r}")
        if fill not in ("paper", "poisson"):
            raise ValueError(f"fill must be 'paper' or 'poisson', not {fill!r}")
        if fill == "paper" and A * dt > 1:
            raise ValueError(f"fill='paper' needs A*dt <= 1 (a probability), got {A * dt:g}")
        self.n_paths, self.n_agents = int(n_paths), int(n_agents)
        self.s0, self.T, self.sigma, self.dt = float(s0), float(T), float(sigma), float(dt)
        self.A, self.k, self.kappa = float(A), float(k), float(kappa)
        self.mid_kind, self.fill, self.size = mid, fill, float(order_size)
        if q_max is not None and not (math.isfinite(q_max) and q_max > 0):
            raise ValueError(f"q_max must be a positive number or None, got {q_max!r}")
        self.q_max = None if q_max is None else float(q_max)
        self.n_steps = int(round(T / dt))
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
        """Start every trajectory again at ``s0`` with no inventory or cash."""
        self.rng = np.random.Generator(np.random.PCG64(seed))
        shape = (self.n_paths, self.n_agents)
        self.s = np.full(self.n_paths, self.s0)
        self.q = np.zeros(shape)
        self.cash = np.zeros(shape)
        self.i = 0
        self.fills_b = np.zeros(shape, np.int64)  # cumulative fill counts
        self.fills_a = np.zeros(shape, np.int64)

    @property
    def t(self) -> float:
        """The current time."""
        return self.i * self.dt

    @property
    def done(self) -> bool:
        """Whether the trajectories reached ``T``."""
        return self.i >= self.n_steps

    @property
    def wealth(self) -> np.ndarray:
        """``cash + q s``, marked at the current mid."""
        return self.cash + self.q * self.s[:, None]

    def _side(self, delta, u, tie):
        """Which agent (one-hot) is filled on one side; ``delta`` (n_paths, n_agents)."""
        quoted = np.isfinite(delta)
        d = np.where(quoted, delta, np.inf)
        best = d[:, 0] if self.n_agents == 1 else d.min(axis=1)
        lam = self.A * np.exp(-self.k * np.where(np.isfinite(best), best, 0.0)) * self.dt
        p = lam if self.fill == "paper" else -np.expm1(-lam)
        hit = (u < p) & np.isfinite(best)
        if self.n_agents == 1:
            return hit[:, None] & quoted
        at_best = quoted & (d == best[:, None])
        n_best = at_best.sum(axis=1)
        pick = np.minimum((tie * n_best).astype(np.int64), np.maximum(n_best - 1, 0))
        rank = np.cumsum(at_best, axis=1) - 1
        return at_best & (rank == pick[:, None]) & hit[:, None]

    def step(self, delta_b, delta_a, drift=None) -> tuple[np.ndarray, np.ndarray]:
        """Quote, fill, move the mid; returns the fills ``(bought, sold)`` (bool arrays).

        ``drift``: ``None`` (the driftless model) or the mid's drift ``b`` this step, a scalar
        or an array of ``n_paths``; the mid's move gains ``b dt``."""
        if self.done:
            raise RuntimeError("the trajectories are over (t = T); call reset()")
        shape = (self.n_paths, self.n_agents)
        db = np.broadcast_to(np.asarray(delta_b, np.float64), shape)
        da = np.broadcast_to(np.asarray(delta_a, np.float64), shape)
        if self.q_max is not None:
            db = np.where(self.q + self.size > self.q_max + 1e-9, np.inf, db)
            da = np.where(self.q - self.size < -self.q_max - 1e-9, np.inf, da)
        rng = self.rng
        u = rng.random((2, self.n_paths))
        tie = rng.random((2, self.n_paths)) if self.n_agents > 1 else (None, None)
        buy = self._side(db, u[0], tie[0])
        sell = self._side(da, u[1], tie[1])
        s = self.s[:, None]
        size = self.size
        self.q += size * (buy.astype(np.float64) - sell)
        self.cash += size * (np.where(sell, s + da, 0.0) - np.where(buy, s - db, 0.0))
        self.fills_b += buy
        self.fills_a += sell
        if self.mid_kind == "binomial":
            self.s += self.sigma * math.sqrt(self.dt) * np.where(rng.random(self.n_paths) < 0.5,
                                                                 1.0, -1.0)
        elif self.mid_kind == "brownian":
            self.s += self.sigma * math.sqrt(self.dt) * rng.standard_normal(self.n_paths)
        else:
            a = math.exp(-self.kappa * self.dt)
            sd = self.sigma * math.sqrt((1 - a * a) / (2 * self.kappa)) if self.kappa > 0 \
                else self.sigma * math.sqrt(self.dt)
            self.s = self.s0 + (self.s - self.s0) * a + sd * rng.standard_normal(self.n_paths)
        if drift is not None:
            self.s += np.asarray(drift, np.float64) * self.dt
        self.i += 1
        return buy, sell

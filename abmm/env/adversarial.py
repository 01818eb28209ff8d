"""Spooner & Savani's zero-sum market-making game, vectorised over paths: ``MarketMakingGame``.

Spooner, T. & Savani, R. (2020), "Robust market making via adversarial reinforcement learning",
IJCAI 2020. The Avellaneda-Stoikov model-based market (``abmm.env.model_based_sim.ASMarket``)
with a second player, the *adversary*, who sets the mid's drift each step. ``n_paths``
independent games run at once (one market maker and one adversary each); everything is numpy
arrays over the paths, so a learner can roll out thousands of games per update
(``abmm.learn.adversarial`` trains both players).

Defaults (the paper's): ``dt = 0.005``, ``T = 1`` (200 steps), ``s0 = 100``, ``sigma = 2``,
``A = 140``, ``k = 1.5``, inventory limited to ``+-q_max = 50``, drift ``b in [-10, 10]``.

One step, given the maker's offsets ``(delta_b, delta_a)`` and the adversary's drift ``b``
(arrays of ``n_paths``):

1. the maker quotes ``s - delta_b`` and ``s + delta_a``; a side whose fill would take ``|q|`` past
   ``q_max`` is not quoted. Each side is hit by a unit market order with probability
   ``A exp(-k delta) dt`` (``fill="paper"``); a fill at the bid buys at ``s - delta_b``.
2. the mid moves ``s' = s + b dt + sigma sqrt(dt) Z``, ``Z ~ N(0, 1)`` (``mid="brownian"``; ``b`` is
   clipped to ``[-drift_max, drift_max]``).
3. rewards: the maker's is ``r = delta_b 1{bought} + delta_a 1{sold} + q' (s' - s)`` (spread
   captured plus the inventory after the fills times the mid's change), which is exactly the
   change of its wealth ``cash + q s`` marked at the mid; the adversary's is ``-r`` (zero-sum).

At ``T`` what is left is liquidated at the mid at no cost, so an episode's summed reward is the
terminal wealth ``cash_T + q_T s_T``, the PnL (``pnl``).

Spaces (per path; ``gymnasium`` boxes in ``observation_space``, ``mm_action_space``,
``adversary_action_space``):

* observation, the same for both players: ``(t / T, q / q_max)`` in ``[0, 1] x [-1, 1]``;
* market maker: ``(delta_b, delta_a)``, offsets from the mid (``>= 0`` in the learners'
  parametrisation, ``mm_offsets``; ``inf``/``NaN`` means no quote on that side);
* adversary: the drift ``b`` in ``[-drift_max, drift_max]``.

``worst_case_drift(q)`` is the adversary's myopic best response, ``-drift_max sign(q)``: the
drift only enters the maker's reward through ``q' b dt`` and moves neither fills nor
observations, so against a maker that does not see it it is the best response outright.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from abmm.env.model_based_sim import ASMarket

__all__ = ["MarketMakingGame", "SS2020", "mm_offsets", "worst_case_drift"]

#: Spooner & Savani's (2020) defaults: the Avellaneda-Stoikov experiment, +-50 inventory, +-10 drift.
SS2020 = {"s0": 100.0, "T": 1.0, "sigma": 2.0, "dt": 0.005, "A": 140.0, "k": 1.5,
          "q_max": 50.0, "drift_max": 10.0}


def mm_offsets(skew, half_spread):
    """Offsets ``(delta_b, delta_a)`` of quotes ``half_spread`` either side of ``s + skew``.

    ``delta_b = half_spread - skew``, ``delta_a = half_spread + skew``, each clipped at 0 (a
    quote never crosses the mid). A positive skew raises both quotes (buy more, sell less)."""
    skew = np.asarray(skew, np.float64)
    half = np.asarray(half_spread, np.float64)
    return np.maximum(half - skew, 0.0), np.maximum(half + skew, 0.0)


def worst_case_drift(q, drift_max: float = 10.0):
    """``-drift_max sign(q)``: the drift that costs a holder of ``q`` the most (0 at ``q = 0``)."""
    return -drift_max * np.sign(np.asarray(q, np.float64))


class MarketMakingGame:
    """``n_paths`` independent market-maker-versus-adversary games (module docstring).

    ``reset(seed)`` returns the observations ``(n_paths, 2)``; ``step(delta_b, delta_a, drift)``
    returns ``(obs, r_mm, r_adv, done)`` with ``r_adv = -r_mm``; ``done`` is a bool (all paths
    end together at ``T``). ``q``, ``s``, ``cash``, ``pnl`` (``cash + q s``) are arrays of
    ``n_paths``; ``last_drift`` the clipped drift of the last step."""

    def __init__(self, n_paths: int = 1, s0: float = 100.0, T: float = 1.0, sigma: float = 2.0,
                 dt: float = 0.005, A: float = 140.0, k: float = 1.5, q_max: float = 50.0,
                 drift_max: float = 10.0, mid: str = "brownian", fill: str = "paper",
                 seed: int | None = None):
        """Check the parameters (``ASMarket``'s, plus ``drift_max >= 0``) and reset with ``seed``."""
        if not (np.isfinite(drift_max) and drift_max >= 0):
            raise ValueError(f"drift_max must be >= 0, got {drift_max!r}")
        self.drift_max = float(drift_max)
        self.market = ASMarket(n_paths, 1, s0=s0, T=T, sigma=sigma, dt=dt, A=A, k=k, mid=mid,
                               fill=fill, q_max=q_max, seed=seed)
        self.n_paths, self.q_max, self.T = self.market.n_paths, self.market.q_max, self.market.T
        self.n_steps, self.dt = self.market.n_steps, self.market.dt
        self.observation_space = spaces.Box(np.array([0.0, -1.0], np.float32),
                                            np.array([1.0, 1.0], np.float32))
        self.mm_action_space = spaces.Box(0.0, np.inf, (2,), np.float64)
        self.adversary_action_space = spaces.Box(-self.drift_max, self.drift_max, (1,), np.float64)
        self.last_drift = np.zeros(self.n_paths)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start every game again; returns the observations."""
        self.market.reset(seed)
        self.last_drift = np.zeros(self.n_paths)
        return self.obs()

    def obs(self) -> np.ndarray:
        """``(t / T, q / q_max)`` per path, shape ``(n_paths, 2)``."""
        o = np.empty((self.n_paths, 2))
        o[:, 0] = self.market.t / self.T
        o[:, 1] = self.market.q[:, 0] / self.q_max
        return o

    @property
    def q(self) -> np.ndarray:
        """The maker's inventory per path."""
        return self.market.q[:, 0]

    @property
    def s(self) -> np.ndarray:
        """The mid per path."""
        return self.market.s

    @property
    def cash(self) -> np.ndarray:
        """The maker's cash per path."""
        return self.market.cash[:, 0]

    @property
    def pnl(self) -> np.ndarray:
        """``cash + q s``: the wealth marked (and, at ``T``, liquidated) at the mid."""
        return self.market.wealth[:, 0]

    @property
    def done(self) -> bool:
        """Whether the games reached ``T``."""
        return self.market.done

    def step(self, delta_b, delta_a, drift) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """One step of every game (module docstring); returns ``(obs, r_mm, r_adv, done)``."""
        b = np.clip(np.broadcast_to(np.asarray(drift, np.float64), (self.n_paths,)),
                    -self.drift_max, self.drift_max)
        db = np.broadcast_to(np.asarray(delta_b, np.float64), (self.n_paths,))
        da = np.broadcast_to(np.asarray(delta_a, np.float64), (self.n_paths,))
        s_before = self.market.s.copy()
        buy, sell = self.market.step(db[:, None], da[:, None], drift=b)
        buy, sell = buy[:, 0], sell[:, 0]
        spread = np.where(buy, db, 0.0) + np.where(sell, da, 0.0)
        r = self.market.size * spread + self.q * (self.market.s - s_before)
        self.last_drift = b
        return self.obs(), r, -r, self.done

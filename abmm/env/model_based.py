"""The model-based market of Avellaneda & Stoikov (2008): an exogenous mid and Poisson fills.

Avellaneda, M. & Stoikov, S. (2008), "High-frequency trading in a limit order book",
Quantitative Finance 8(3), 217-224. The mid ``s`` moves on its own (it does not react to the
market makers); a market maker quoting a bid ``delta_b`` below and an ask ``delta_a`` above the
mid is filled by market orders arriving with intensity ``lambda(delta) = A exp(-k delta)``.

Two faces, one model:

* ``ASMarket``: batched in numpy over ``n_paths`` independent trajectories (and ``n_agents``
  market makers per trajectory), for fast training and for the paper's Monte-Carlo experiment
  (``benchmarks/as2008.py``);
* ``ModelBasedEnv`` (``parallel_env()``, ``env()``): the PettingZoo version, one trajectory,
  with the observation, action and reward conventions of ``abmm.env.market_v0``.

Dynamics per step ``dt`` (time ``t`` from 0 to ``T``):

1. Each agent's quotes are ``s - delta_b`` and ``s + delta_a`` (or absent). On each side a
   market order arrives with probability ``A exp(-k delta*) dt`` (``fill="paper"``, the paper's
   rule; it needs ``A dt <= 1``) or ``1 - exp(-A exp(-k delta*) dt)`` (``fill="poisson"``, at
   least one Poisson arrival), where ``delta*`` is the best (smallest) offset on that side; it
   fills ``order_size`` at the best quote, ties going to a uniformly drawn agent among the best.
   A fill at the bid buys (``q += size``, ``cash -= (s - delta_b) size``).
2. The mid moves: ``binomial`` (the paper: ``s +- sigma sqrt(dt)`` with probability 1/2 each),
   ``brownian`` (``s + sigma sqrt(dt) Z``) or ``ou`` (exact Ornstein-Uhlenbeck step towards
   ``s0`` with rate ``kappa``).
3. Wealth ``cash + q s`` is marked at the new mid.

Random streams: ``numpy.random.Generator(PCG64(seed))``; per step the draws are, in order, the
arrival uniforms of both sides, the tie-break uniforms and the price shocks, so the same seed
gives the same paths whatever the agents do.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.utils import parallel_to_aec, wrappers

from abmm.env.actions import DEFAULT_OFFSETS, InvalidActionError, QuoteActions
from abmm.env.observations import N_FEATURES
from abmm.env.rewards import COMPONENTS, check_weights

__all__ = ["ASMarket", "ModelBasedEnv", "parallel_env", "env", "raw_env", "as_quotes",
           "glft_quotes", "cartea_jaimungal_value", "AS2008"]

#: The paper's simulation experiment (section 3.3).
AS2008 = {"s0": 100.0, "T": 1.0, "sigma": 2.0, "dt": 0.005, "A": 140.0, "k": 1.5}


def as_quotes(s, q, t, gamma, sigma, k, T):
    """Avellaneda-Stoikov inventory-strategy offsets ``(delta_b, delta_a)`` from the mid:
    reservation price ``r = s - q gamma sigma^2 (T - t)`` and spread ``gamma sigma^2 (T - t) +
    (2 / gamma) ln(1 + gamma / k)`` centred on ``r`` (the paper's eqs. 29-30)."""
    tau = np.maximum(T - t, 0.0)
    r = s - q * gamma * sigma ** 2 * tau
    half = 0.5 * (gamma * sigma ** 2 * tau + 2.0 / gamma * math.log1p(gamma / k))
    return s - (r - half), (r + half) - s


def glft_quotes(q, gamma, sigma, k, A):
    """Gueant, Lehalle & Fernandez-Tapia (2013) closed-form asymptotic offsets
    ``delta_b = c1 + (2q + 1)/2 c2``, ``delta_a = c1 - (2q - 1)/2 c2`` with ``c1 = ln(1 + gamma /
    k) / gamma`` and ``c2 = sigma sqrt(gamma / (2 k A) (1 + gamma / k)^(1 + k / gamma))``
    (unit order size)."""
    c1 = math.log1p(gamma / k) / gamma
    c2 = sigma * math.sqrt(gamma / (2 * k * A) * (1 + gamma / k) ** (1 + k / gamma))
    return c1 + (2 * q + 1) / 2 * c2, c1 - (2 * q - 1) / 2 * c2


class ASMarket:
    """``n_paths`` independent trajectories of the model-based market, ``n_agents`` market
    makers each; arrays are ``(n_paths, n_agents)``.

    ``reset(seed)``, then ``step(delta_b, delta_a)`` with offsets as arrays broadcastable to
    ``(n_paths, n_agents)`` (``NaN`` or ``inf``: no quote on that side) until ``done``.
    ``wealth`` is ``cash + q s`` (mark-to-market at the current mid)."""

    def __init__(self, n_paths: int = 1, n_agents: int = 1, s0: float = 100.0, T: float = 1.0,
                 sigma: float = 2.0, dt: float = 0.005, A: float = 140.0, k: float = 1.5,
                 mid: str = "binomial", kappa: float = 0.0, fill: str = "paper",
                 order_size: float = 1.0, seed: int | None = None):
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
        self.n_steps = int(round(T / dt))
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
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
        return self.i * self.dt

    @property
    def done(self) -> bool:
        return self.i >= self.n_steps

    @property
    def wealth(self) -> np.ndarray:
        return self.cash + self.q * self.s[:, None]

    def _side(self, delta, u, tie):
        """Which agent (one-hot) is filled on one side; ``delta`` (n_paths, n_agents)."""
        quoted = np.isfinite(delta)
        d = np.where(quoted, delta, np.inf)
        best = d.min(axis=1)
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

    def step(self, delta_b, delta_a) -> tuple[np.ndarray, np.ndarray]:
        """Quote, fill, move the mid; returns the fills ``(bought, sold)`` (bool arrays)."""
        if self.done:
            raise RuntimeError("the trajectories are over (t = T); call reset()")
        shape = (self.n_paths, self.n_agents)
        db = np.broadcast_to(np.asarray(delta_b, np.float64), shape)
        da = np.broadcast_to(np.asarray(delta_a, np.float64), shape)
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
        self.i += 1
        return buy, sell


# ------------------------------------------------------------------------------ PettingZoo
class ModelBasedEnv(ParallelEnv):
    """Market makers in ``ASMarket`` trajectories, with the conventions of
    ``abmm.env.market_v0``. ``n_agents`` market makers compete in each of ``n_paths``
    independent trajectories; the agents are ``"mm_0" .. "mm_{n_paths * n_agents - 1}"``
    (agent ``j`` is market maker ``j % n_agents`` of path ``j // n_agents``), so many paths
    train one shared policy fast (``sharing: shared``).

    * observations ``Box(-1, 1, (16,), float32)`` in the same layout; the features the model
      has no counterpart for (imbalance, microprice, OFI, VPIN, trade flow, queues) are 0,
      ``spread`` is the best quoted spread of the path over ``20 tick``, ``volatility`` is
      ``tanh(sigma sqrt(dt) / tick)``, ``trade_intensity`` ``tanh`` of the path's fills in the
      last step;
    * actions as in ``market_v0`` (``discrete``: offset pairs from ``offsets`` in units of
      ``tick``, plus don't-quote; ``continuous``: offsets in ``[0.5, max_offset]`` ticks and
      sizes, a size of 0 meaning no quote -- any positive size quotes ``order_size``);
    * rewards: the same named components (``abmm.env.rewards``) over ``reward_scale``:
      spread capture ``delta`` per fill, inventory PnL ``q ds``, inventory cost ``-gamma q^2
      sigma^2 dt`` (plus ``-terminal_penalty q_T^2`` at the last step), adverse selection
      ``min(0, x ds)`` of the step's fills, order cost 0, dampened PnL, absolute inventory
      ``-|q| dt``; default weights
      ``{"spread_capture": 1, "inventory_pnl": 1}`` (the PnL). With ``inventory_gamma =
      phi / sigma^2`` and ``terminal_penalty = alpha``, spread capture + inventory PnL +
      inventory cost is the objective of Cartea, Jaimungal & Penalva (2015, ch. 10),
      ``X_T + q_T S_T - alpha q_T^2 - phi int q^2 dt`` (``cartea_jaimungal_value``).

    The episode is the paper's: ``T / dt`` steps (or ``max_cycles``), terminated at ``T``.
    """

    metadata = {"name": "abmm_model_based_v0", "render_modes": ["human", "ansi", "rgb_array"],
                "is_parallelizable": True, "render_fps": 10}

    def __init__(self, n_agents: int = 1, n_paths: int = 1, max_cycles: int | None = None,
                 action_mode: str = "discrete", reward: dict | None = None,
                 vector_reward: bool = False, render_mode: str | None = None,
                 tick: float = 0.1, offsets=DEFAULT_OFFSETS, max_offset: float = 20.0,
                 max_inventory: int = 50, inventory_gamma: float = 0.0,
                 terminal_penalty: float = 0.0, damping: float = 0.5,
                 reward_scale: float = 1.0, seed: int | None = None, **market):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or "
                             f"None, not {render_mode!r}")
        params = {**AS2008, **market}
        self._market_kw = params
        self.market = ASMarket(n_paths, n_agents, seed=seed, **params)
        if max_cycles is not None and (isinstance(max_cycles, bool) or int(max_cycles) < 1):
            raise ValueError(f"max_cycles must be a positive int, got {max_cycles!r}")
        self.max_cycles = self.market.n_steps if max_cycles is None else int(max_cycles)
        self.tick = float(tick)
        self.actions = QuoteActions(action_mode, 1, 1, max_offset, offsets)
        self.action_mode = action_mode
        self.weights = check_weights(reward if reward is not None else
                                     {"spread_capture": 1.0, "inventory_pnl": 1.0})
        self._w = np.array([self.weights[k] for k in COMPONENTS])
        self.vector_reward = bool(vector_reward)
        self.render_mode = render_mode
        self.max_inventory = int(max_inventory)
        self.inventory_gamma = float(inventory_gamma)
        self.terminal_penalty = float(terminal_penalty)
        self.damping = float(damping)
        self.reward_scale = float(reward_scale)
        self.n_agents, self.n_paths = int(n_agents), int(n_paths)
        self.possible_agents = [f"mm_{j}" for j in range(self.n_paths * self.n_agents)]
        self._index = {a: j for j, a in enumerate(self.possible_agents)}
        self.agents: list[str] = []
        self._space = spaces.Box(-1.0, 1.0, (N_FEATURES,), np.float32)
        self._next_seed = 0 if seed is None else int(seed)
        shape = (self.n_paths, self.n_agents)
        self._qb = np.full(shape, np.inf)
        self._qa = np.full(shape, np.inf)
        self._last_fills = np.zeros(self.n_paths)

    @functools.cache  # noqa: B019
    def observation_space(self, agent):
        return self._space

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        return self.actions.space

    def policy_config(self) -> dict:
        return {"tick": self.tick, "action_mode": self.action_mode,
                "offsets": list(self.actions.offsets), "max_offset": self.actions.max_offset,
                "max_inventory": self.max_inventory}

    def reset(self, seed=None, options=None):
        if seed is not None:
            self._next_seed = int(seed)
        self.episode_seed = self._next_seed
        self._next_seed += 1
        self.market.reset(self.episode_seed)
        self.agents = list(self.possible_agents)
        self.num_cycles = 0
        self._qb[:] = np.inf
        self._qa[:] = np.inf
        self._last_fills[:] = 0
        all_obs = self._observe_all()
        obs = {a: all_obs[j] for j, a in enumerate(self.possible_agents)}
        infos = self._infos(None)
        return obs, infos

    def step(self, actions):
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        if not isinstance(actions, dict):
            raise InvalidActionError(f"actions must be a dict {{agent: action}}, got "
                                     f"{type(actions).__name__}")
        mk = self.market
        na = self.n_agents
        for name, action in actions.items():
            j = self._index.get(name)
            if j is None or name not in self.agents:
                why = "is done" if j is not None else "is not an agent of this env"
                raise InvalidActionError(f"action for {name!r}, which {why}")
            p, i = divmod(j, na)
            ob, sb, oa, sa = self.actions.decode(name, action)
            q = mk.q[p, i]
            self._qb[p, i] = ob * self.tick if sb > 0 and q < self.max_inventory else np.inf
            self._qa[p, i] = oa * self.tick if sa > 0 and q > -self.max_inventory else np.inf
        q0 = mk.q.copy()
        s0 = mk.s.copy()
        buy, sell = mk.step(self._qb, self._qa)
        ds = (mk.s - s0)[:, None]
        size = mk.size
        x = size * (buy.astype(np.float64) - sell)
        spread = size * (np.where(buy, self._qb, 0.0) + np.where(sell, self._qa, 0.0))
        inv_pnl = (q0 + x) * ds
        adverse = np.minimum(0.0, x * ds)
        q = mk.q
        inv_cost = -self.inventory_gamma * q * q * mk.sigma ** 2 * mk.dt
        self.num_cycles += 1
        term = mk.done
        trunc = not term and self.num_cycles >= self.max_cycles
        if term or trunc:
            inv_cost = inv_cost - self.terminal_penalty * q * q
        comp = np.stack([spread, inv_pnl, inv_cost, adverse, np.zeros_like(spread),
                         spread + inv_pnl - self.damping * np.maximum(0.0, inv_pnl),
                         -np.abs(q) * mk.dt], axis=-1)
        comp /= self.reward_scale
        r = comp @ self._w
        self._last_fills = (buy | sell).sum(axis=1)
        all_obs = self._observe_all()
        live = self.agents
        rewards, obs = {}, {}
        for a in live:
            j = self._index[a]
            p, i = divmod(j, na)
            rewards[a] = float(r[p, i])
            obs[a] = all_obs[j]
        infos = self._infos(comp, live)
        terminations = {a: bool(term) for a in live}
        truncations = {a: bool(trunc) for a in live}
        if term or trunc:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terminations, truncations, infos

    def _observe_all(self) -> np.ndarray:
        mk = self.market
        P, na = self.n_paths, self.n_agents
        o = np.zeros((P, na, N_FEATURES), np.float32)
        o[..., 0] = np.clip(mk.q / self.max_inventory, -1, 1)
        horizon = min(mk.n_steps, self.max_cycles)
        o[..., 1] = max(0.0, 1.0 - mk.i / horizon)
        best = self._qb.min(axis=1) + self._qa.min(axis=1)
        o[..., 2] = np.where(np.isfinite(best), np.minimum(best / self.tick, 20) / 20, 1.0)[:, None]
        o[..., 7] = math.tanh(mk.sigma * math.sqrt(mk.dt) / self.tick)
        o[..., 9] = np.tanh(self._last_fills)[:, None]
        mo = self.actions.max_offset
        fb, fa = np.isfinite(self._qb), np.isfinite(self._qa)
        o[..., 10] = np.where(fb, np.minimum(np.where(fb, self._qb, 0) / self.tick / mo, 1), 0)
        o[..., 11] = np.where(fa, np.minimum(np.where(fa, self._qa, 0) / self.tick / mo, 1), 0)
        o[..., 14] = fb
        o[..., 15] = fa
        return o.reshape(P * na, N_FEATURES)

    def _infos(self, comp, agents=None) -> dict:
        mk = self.market
        w = mk.wealth
        out = {}
        for a in (self.possible_agents if agents is None else agents):
            p, i = divmod(self._index[a], self.n_agents)
            info = {"inventory": float(mk.q[p, i]), "wealth": float(w[p, i]),
                    "mid": float(mk.s[p]), "t": float(mk.t)}
            if self.vector_reward:
                info["reward_vector"] = (np.zeros(len(COMPONENTS), np.float32) if comp is None
                                         else comp[p, i].astype(np.float32))
            out[a] = info
        return out

    def render(self):
        if self.render_mode is None:
            return None
        mk = self.market
        text = f"t={mk.t:.3f} s={mk.s[0]:.3f} " + " ".join(
            f"{a}: q={mk.q[0, i]:+.0f} w={mk.wealth[0, i]:+.2f}"
            for i, a in enumerate(self.possible_agents[:self.n_agents]))
        if self.render_mode == "ansi":
            return text
        if self.render_mode == "rgb_array":
            img = np.full((60, 120, 3), 255, np.uint8)
            for i in range(min(self.n_agents, 5)):
                h = int(min(abs(mk.q[0, i]) / self.max_inventory, 1) * 59)
                img[59 - h:, 10 + 20 * i:25 + 20 * i] = (40, 160, 60) if mk.q[0, i] >= 0 \
                    else (200, 50, 50)
            return img
        import logging

        logging.getLogger(__name__).info("%s", text)
        return None

    def close(self):
        self.agents = []


def cartea_jaimungal_value(phi: float, alpha: float, A: float = 140.0, k: float = 1.5,
                           T: float = 1.0, q0: int = 0, q_max: int = 50) -> float:
    """The optimal expected value ``h(0, q0)`` of Cartea, Jaimungal & Penalva (2015), section
    10.2: ``max E[X_T + q_T S_T - alpha q_T^2 - phi int_0^T q_t^2 dt] - (X_0 + q_0 S_0)`` for
    unit orders filled at intensity ``A exp(-k delta)`` on each side, a martingale mid and
    ``|q| <= q_max``. With ``h = log(omega) / k``, ``omega`` solves ``omega' + M omega = 0``,
    ``M_qq = -k phi q^2``, ``M_{q,q-1} = M_{q,q+1} = A / e``, ``omega(T, q) = exp(-k alpha
    q^2)``, so ``omega(0) = expm(M T) omega(T)``."""
    from scipy.linalg import expm

    qs = np.arange(q_max, -q_max - 1, -1)
    n = len(qs)
    M = np.diag(-k * phi * qs.astype(float) ** 2)
    off = A * math.exp(-1.0)
    M += np.diag(np.full(n - 1, off), 1) + np.diag(np.full(n - 1, off), -1)
    omega = expm(M * T) @ np.exp(-k * alpha * qs.astype(float) ** 2)
    return float(math.log(omega[q_max - q0]) / k)


def parallel_env(**kwargs) -> ModelBasedEnv:
    """The parallel model-based environment (see ``ModelBasedEnv``)."""
    return ModelBasedEnv(**kwargs)


def raw_env(**kwargs):
    return parallel_to_aec(ModelBasedEnv(**kwargs))


def env(**kwargs):
    """The AEC version, with PettingZoo's order-enforcing wrapper."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))

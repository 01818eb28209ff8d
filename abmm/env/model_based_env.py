"""The model-based market as a PettingZoo ``ParallelEnv`` (``ModelBasedEnv``).

The environment is documented in ``abmm.env.model_based_v0``, its entry module; the market
itself (``ASMarket``) in ``abmm.env.model_based_sim``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from abmm.env.actions import DEFAULT_OFFSETS, InvalidActionError, QuoteActions
from abmm.env.episodes import check_max_cycles
from abmm.env.model_based_sim import AS2008, ASMarket
from abmm.env.observations import N_FEATURES
from abmm.env.rewards import COMPONENTS, check_weights

__all__ = ["ModelBasedEnv"]


class ModelBasedEnv(ParallelEnv):
    """Market makers in ``ASMarket`` trajectories, with the conventions of ``abmm.env.market_v0``.

    ``n_agents`` market makers compete in each of ``n_paths``
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
      ``X_T + q_T S_T - alpha q_T^2 - phi int q^2 dt`` (``abmm.policy.closed_form.
      cartea_jaimungal_value``).

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
        """Build the market and the spaces (see ``model_based_v0`` for the arguments)."""
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or "
                             f"None, not {render_mode!r}")
        self.market = ASMarket(n_paths, n_agents, seed=seed, **{**AS2008, **market})
        check_max_cycles(max_cycles)
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
        self._last_fills = np.zeros(self.n_paths, np.int64)
        self._tanh_fills = np.tanh(np.arange(2 * self.n_agents + 1, dtype=np.float64))

    @functools.cache  # noqa: B019
    def observation_space(self, agent):
        """The same ``Box(-1, 1, (16,), float32)`` for every agent."""
        return self._space

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        """The ``action_mode``'s space, the same for every agent."""
        return self.actions.space

    def policy_config(self) -> dict:
        """What a saved policy needs to act in this environment again."""
        return {"tick": self.tick, "action_mode": self.action_mode,
                "offsets": list(self.actions.offsets), "max_offset": self.actions.max_offset,
                "max_inventory": self.max_inventory}

    def reset(self, seed=None, options=None):
        """Start the trajectories again (``seed``: the episode's, else the next)."""
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
        """Quote the agents' actions, fill, move the mid; the PettingZoo 5-tuple."""
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
        r, comp, term, trunc = self._advance()
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

    def _advance(self):
        """Fill the quotes in ``_qb``/``_qa``, move the mids: rewards ``(paths, agents)``,
        their components, terminated, truncated."""
        mk = self.market
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
        self._last_fills = (buy | sell)[:, 0].astype(np.int64) if self.n_agents == 1 \
            else (buy | sell).sum(axis=1)
        parts = {"spread_capture": spread, "inventory_pnl": inv_pnl,
                 "inventory_cost": inv_cost, "adverse_selection": adverse}
        if self.vector_reward or any(self.weights[k] for k in COMPONENTS if k not in parts):
            comp = np.stack([spread, inv_pnl, inv_cost, adverse, np.zeros_like(spread),
                             spread + inv_pnl - self.damping * np.maximum(0.0, inv_pnl),
                             -np.abs(q) * mk.dt], axis=-1)
            comp /= self.reward_scale
            return comp @ self._w, comp, term, trunc
        r = None  # the common case: a weighted sum of the components with a weight
        for k, x in parts.items():
            w = self.weights[k]
            if w:
                r = w * x if r is None else r + w * x
        r = np.zeros_like(spread) if r is None else r / self.reward_scale
        return r, None, term, trunc

    # ------------------------------------------------------------------ batched interface
    def reset_array(self, seed=None) -> np.ndarray:
        """``reset`` without the dicts: the observations as one ``(n_paths * n_agents, 16)``
        array, agent ``j`` in row ``j``."""
        self.reset(seed)
        return self._observe_all()

    def step_array(self, actions) -> tuple[np.ndarray, np.ndarray, bool, bool]:
        """``step`` without the dicts, for many paths at once (mbt-gym's vectorized
        interface): ``actions`` holds every agent's action in agent order (``(N,)`` discrete
        or ``(N, 4)`` continuous, ``N = n_paths * n_agents``); returns the observations
        ``(N, 16)``, the rewards ``(N,)``, terminated and truncated (the same for all). The
        same market, quotes and rewards as ``step`` with the same actions."""
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        a = np.asarray(actions)
        if len(a) != len(self.possible_agents):
            raise InvalidActionError(f"step_array needs one action per agent "
                                     f"({len(self.possible_agents)}), got {len(a)}")
        ob, sb, oa, sa = self.actions.decode_batch(a)
        shape = self._qb.shape
        q = self.market.q
        self._qb = np.where((sb > 0).reshape(shape) & (q < self.max_inventory),
                            ob.reshape(shape) * self.tick, np.inf)
        self._qa = np.where((sa > 0).reshape(shape) & (q > -self.max_inventory),
                            oa.reshape(shape) * self.tick, np.inf)
        r, _, term, trunc = self._advance()
        if term or trunc:
            self.agents = []
        return self._observe_all(), r.reshape(-1), bool(term), bool(trunc)

    def _observe_all(self) -> np.ndarray:
        mk = self.market
        P, na = self.n_paths, self.n_agents
        o = np.zeros((P, na, N_FEATURES), np.float32)
        o[..., 0] = np.clip(mk.q / self.max_inventory, -1, 1)
        horizon = min(mk.n_steps, self.max_cycles)
        o[..., 1] = max(0.0, 1.0 - mk.i / horizon)
        best = self._qb[:, 0] + self._qa[:, 0] if na == 1 else \
            self._qb.min(axis=1) + self._qa.min(axis=1)
        # (an unquoted side is +inf: min(inf / tick, 20) / 20 = 1 and min(inf, 1) * 0 = 0)
        o[..., 2] = (np.minimum(best / self.tick, 20) / 20)[:, None]
        o[..., 7] = math.tanh(mk.sigma * math.sqrt(mk.dt) / self.tick)
        o[..., 9] = self._tanh_fills[self._last_fills][:, None]
        mo = self.actions.max_offset
        fb, fa = np.isfinite(self._qb), np.isfinite(self._qa)
        o[..., 10] = np.minimum(self._qb / self.tick / mo, 1) * fb
        o[..., 11] = np.minimum(self._qa / self.tick / mo, 1) * fa
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
        """The first trajectory as text (``ansi``, ``human``) or an inventory chart."""
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
        """End the episode."""
        self.agents = []

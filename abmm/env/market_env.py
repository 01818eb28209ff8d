"""``MarketEnv``: the PettingZoo ``ParallelEnv`` over the agent-based market.

The documented entry point is ``abmm.env.market_v0`` (its docstring is the environment's doc
page); this module holds the class.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from abmm.env.actions import (
    DEFAULT_OFFSETS,
    QuoteActions,
    check_action_dict,
    requote,
    target_quotes,
)
from abmm.env.episodes import EpisodeMarkets, check_max_cycles, env_scenario
from abmm.env.observations import (
    FEATURES,
    N_FEATURES,
    MarketFeatures,
    book_features,
    observation_space,
)
from abmm.env.rewards import COMPONENTS, check_weights, components
from abmm.policy.features import MARKET, OWN_HEAD, OWN_TAIL, agent_feature_values

log = logging.getLogger(__name__)

# the columns _collect reads back from the observations (positions in FEATURES)
_BID_OFF, _ASK_OFF = FEATURES.index("bid_offset"), FEATURES.index("ask_offset")
_HAS_BID, _HAS_ASK = FEATURES.index("has_bid"), FEATURES.index("has_ask")

#: The default scenario: two learnable market makers in a one-hour market (package data).
DEFAULT_SCENARIO = Path(__file__).with_name("market_making.yaml")
#: The agent kinds market_v0 may drive: they quote (any other learnable kind is an error).
QUOTING_KINDS = ("market_maker", "policy")


class MarketEnv(EpisodeMarkets, ParallelEnv):
    """Learning agents (the scenario's ``learnable: true`` agents) quoting in a ``MarketModel``.

    See ``abmm.env.market_v0`` for the observations, actions, rewards and arguments.
    """

    metadata = {"name": "abmm_market_v0", "render_modes": ["human", "ansi", "rgb_array"],
                "is_parallelizable": True, "render_fps": 1}

    def __init__(self, scenario=None, decision_interval=None, max_cycles: int | None = None,
                 action_mode: str = "discrete", reward: dict | None = None,
                 vector_reward: bool = False, render_mode: str | None = None,
                 overrides: list[str] | None = None, quote_size: int | None = None,
                 max_size: int | None = None, max_inventory: int | None = None,
                 offsets=DEFAULT_OFFSETS, max_offset: float = 20.0,
                 inventory_gamma: float = 0.01, damping: float = 0.5,
                 reward_scale: float | None = None, vol_halflife: float = 30.0,
                 vpin_bucket: int = 500, log_dir: str | Path | None = None,
                 book_levels: int = 0, book_scale: float = 20.0):
        from abmm.schema.timing import parse_duration

        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or "
                             f"None, not {render_mode!r}")
        if scenario is None:
            scenario = DEFAULT_SCENARIO
        self.scenario = env_scenario(scenario, overrides)
        sc = self.scenario
        m = sc.market
        di = m.step if decision_interval is None else parse_duration(decision_interval)
        if di <= 0 or di % m.step:
            raise ValueError(f"decision_interval ({di} ns) must be a positive multiple of the "
                             f"scenario's market.step ({m.step} ns)")
        self.decision_ns = di
        self._substeps = di // m.step
        start = m.start_ns + m.warmup_ns
        self._horizon = (m.end_ns - start) // di
        if self._horizon < 1:
            raise ValueError("the session after the warm-up is shorter than one decision "
                             "interval")
        check_max_cycles(max_cycles)
        self.max_cycles = self._horizon if max_cycles is None else int(max_cycles)
        # PettingZoo-style names "group_index"; the Mesa agent is "group/index"
        self._mesa_names = {f"{g.group_name}_{i}": f"{g.group_name}/{i}" for g in sc.agents
                            if g.learnable for i in range(g.count)}
        self.possible_agents = list(self._mesa_names)
        if not self.possible_agents:
            raise ValueError(f"scenario {sc.name!r} has no learnable agents: mark a group "
                             "'learnable: true'")
        groups = {g.group_name: g for g in sc.agents if g.learnable}
        bad = [f"{g.group_name} (kind {g.kind})" for g in groups.values()
               if g.kind not in QUOTING_KINDS]
        if bad:
            hint = " (learnable chartists: abmm.env.trading_v0; executors: execution_v0)"
            raise ValueError(f"market_v0 drives learnable quoting agents only "
                             f"({', '.join(QUOTING_KINDS)}); scenario {sc.name!r} has "
                             f"learnable {', '.join(bad)}{hint}")
        size = quote_size if quote_size is not None else \
            min(getattr(g, "size", 10) for g in groups.values())
        self.max_inventory = int(max_inventory if max_inventory is not None else
                                 min(getattr(g, "max_inventory", 100) for g in groups.values()))
        if self.max_inventory < 1:
            raise ValueError(f"max_inventory must be >= 1, got {self.max_inventory}")
        self.actions = QuoteActions(action_mode, size, max_size or 2 * size, max_offset, offsets)
        self.action_mode = action_mode
        self.weights = check_weights(reward)
        self._wl = [self.weights[k] for k in COMPONENTS]
        self.vector_reward = bool(vector_reward)
        self.render_mode = render_mode
        self.inventory_gamma = float(inventory_gamma)
        self.damping = float(damping)
        self.reward_scale = float(reward_scale if reward_scale is not None else size)
        self.vol_halflife = float(vol_halflife)
        self.vpin_bucket = int(vpin_bucket)
        self.log_dir = None if log_dir is None else Path(log_dir)
        if isinstance(book_levels, bool) or not isinstance(book_levels, int) \
                or not 0 <= book_levels <= 50:
            raise ValueError(f"book_levels must be an int in [0, 50], got {book_levels!r}")
        if not float(book_scale) > 0:
            raise ValueError(f"book_scale must be > 0 lots, got {book_scale!r}")
        self.book_levels = book_levels
        self.book_scale = float(book_scale)
        self.n_obs = N_FEATURES + 4 * book_levels
        self._book = np.zeros(4 * book_levels, np.float32)
        self._book_at = None  # the market time self._book was computed at
        self._obs_space = observation_space(self.n_obs)
        self.agents: list[str] = []
        self.model = None
        self._episodes = 0
        self._np_random, self._seed = seeding.np_random(None)
        self._next_seed = int(sc.seed)

    # ----------------------------------------------------------------------------- spaces
    @functools.cache  # noqa: B019 - one space per agent, as PettingZoo wants
    def observation_space(self, agent):
        """The observation space (the same for every agent)."""
        return self._obs_space

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        """The action space (the same for every agent)."""
        return self.actions.space

    # ----------------------------------------------------------------------------- episodes
    def reset(self, seed=None, options=None):
        """Start an episode on a new market: ``seed`` (an int) seeds the scenario; without one,
        the first episode uses the scenario's seed and later ones the next integers."""
        model = self._new_market(seed)
        self._attach(model)
        while model.now < model.warmup_end:
            model.step()
        return self._begin()

    def step(self, actions):
        """Apply every live agent's action, advance one decision interval; PettingZoo's 5-tuple."""
        if self.model is None:
            raise RuntimeError("call reset() before step()")
        check_action_dict(actions, self.agents, self.possible_agents)
        sent = self._act(actions)
        for _ in range(self._substeps):
            self.model.step()
        obs, rewards, infos = self._collect(sent)
        terminations, truncations = self._step_ends()
        return obs, rewards, terminations, truncations, infos

    # ------------------------------------------------------------------ episode phases
    # reset = _attach, the warm-up, _begin; step = _act, the market steps (each followed by
    # _substep), _collect. abmm.env.ecology_v0 runs several roles' phases on one market.
    def _attach(self, model) -> None:
        """Take the learners out of the market's own schedule (before the warm-up)."""
        self._learners = {name: model.by_name(self._mesa_names[name])
                          for name in self.possible_agents}
        for a in self._learners.values():
            model.detach(a)
            a.cancel_all()

    def _warm_tick(self) -> None:
        """After each warm-up market step (nothing to sample here)."""

    def _begin(self) -> tuple[dict, dict]:
        """The episode starts now (after the warm-up): first observations and infos."""
        model = self.model
        self._fills = {n: model.watch_fills(a) for n, a in self._learners.items()}
        self._book_at = None
        self.features = MarketFeatures(model, self.decision_ns, self.vol_halflife,
                                       vpin_bucket=self.vpin_bucket)
        self._t0 = model.now
        self._t_end = min(model.end, self._t0 + self.max_cycles * self.decision_ns)
        mark = model.mark_price()
        self._pnl = {n: a.cash + a.inventory * mark for n, a in self._learners.items()}
        self.agents = list(self.possible_agents)
        self.num_cycles = 0
        market = self.features.update()
        obs = {n: self._observe(n, market) for n in self.agents}
        infos = {n: self._info(n, None) for n in self.agents}
        return obs, infos

    def _act(self, actions: dict) -> dict:
        """Send the learners' quotes; returns how many requests each sent."""
        decode = self.actions.decode
        decoded = [(n, decode(n, a)) for n, a in actions.items()]  # every action checked first
        mid = self.features.mid
        learners, mi = self._learners, self.max_inventory
        sent = dict.fromkeys(self.agents, 0)
        for name, (ob, sb, oa, sa) in decoded:
            agent = learners[name]
            sent[name] = requote(agent, target_quotes(mid, ob, sb, oa, sa, agent.inventory, mi))
        return sent

    def _substep(self) -> None:
        """After each market step of a decision interval (nothing to do here)."""

    def _collect(self, sent: dict) -> tuple[dict, dict, dict]:
        """After the decision interval: observations, rewards and infos of the live agents."""
        model = self.model
        self.num_cycles += 1
        market = self.features.update()
        mark = model.mark_price()
        sigma2 = self.features.var
        dt = self.decision_ns / 1e9
        rewards, infos, obs = {}, {}, {}
        w = self._wl
        scale = self.reward_scale
        names = self.agents
        rows = self._observe_rows(names, market)  # every live agent's observation at once
        # two-sided quoting and the quoted spread (ticks; float32 as the features) for all rows
        quoting_all = ((rows[:, _HAS_BID] != 0) & (rows[:, _HAS_ASK] != 0)).tolist()
        spread_all = ((rows[:, _BID_OFF] + rows[:, _ASK_OFF]) * self.actions.max_offset).tolist()
        learners, fills_of, last_pnl = self._learners, self._fills, self._pnl
        vector = self.vector_reward
        ig, damping = self.inventory_gamma, self.damping
        for i, name in enumerate(names):
            agent = learners[name]
            q = agent.inventory
            pnl = agent.cash + q * mark
            fills = fills_of[name]
            c = components(fills, pnl - last_pnl[name], q, mark, sigma2, dt, sent[name], ig,
                           damping)
            traded = realized = 0
            if fills:
                traded = sum(abs(f[1]) for f in fills)
                realized = sum(f[1] * (mark - f[2]) for f in fills if f[4])
                fills.clear()
            last_pnl[name] = pnl
            rewards[name] = (w[0] * c[0] + w[1] * c[1] + w[2] * c[2] + w[3] * c[3]
                             + w[4] * c[4] + w[5] * c[5] + w[6] * c[6]) / scale
            obs[name] = rows[i]
            infos[name] = info = self._info(name, np.array(c) / scale if vector else None)
            info["traded"] = int(traded)
            info["realized_spread"] = float(realized)
            info["quoting"] = quoting = quoting_all[i]
            # own quoted spread (ticks) when two-sided, from the offsets features (else 0)
            info["quoted_spread"] = spread_all[i] if quoting else 0.0
        return obs, rewards, infos

    # ----------------------------------------------------------------------------- pieces
    def _observe(self, name: str, market: list) -> np.ndarray:
        return self._observe_rows([name], market)[0]

    def _observe_rows(self, names: list, market: list) -> np.ndarray:
        """The observations of ``names`` as the rows of one float32 array, laid out as
        ``abmm.policy.features`` says (``OWN_HEAD``, ``MARKET``, ``OWN_TAIL``, then the book
        levels): one conversion for all the agents instead of one array each."""
        rows = np.empty((len(names), self.n_obs), np.float32)
        if not names:
            return rows
        model = self.model
        mid = self.features.mid
        left = (self._t_end - model.now) / (self._t_end - self._t0)
        mi, mo = self.max_inventory, self.actions.max_offset
        learners = self._learners
        own = np.array([agent_feature_values(learners[n], model, mid, left, mi, mo)
                        for n in names], np.float32)  # features 0, 1, 10..15 of each agent
        rows[:, OWN_HEAD] = own[:, 0:2]
        rows[:, MARKET] = np.asarray(market, np.float32)
        rows[:, OWN_TAIL] = own[:, 2:]
        if self.book_levels:  # the same for every agent: computed once per decision
            if self._book_at != model.now:
                book_features(model.book, mid, self.book_levels, mo, self.book_scale,
                              self._book, 0)
                self._book_at = model.now
            rows[:, N_FEATURES:] = self._book
        return rows

    def _info(self, name: str, comp) -> dict:
        a = self._learners[name]
        info = {"inventory": int(a.inventory), "pnl_ticks": float(self._pnl[name]),
                "time_ns": int(self.model.now)}
        if self.vector_reward:
            info["reward_vector"] = (np.zeros(len(COMPONENTS), np.float32) if comp is None
                                     else comp.astype(np.float32))
        return info

    def policy_config(self) -> dict:
        """What a policy trained here needs to act elsewhere (``abmm.agents.policy``): the
        decision interval and the observation and action conventions."""
        a = self.actions
        return {"decision_ns": int(self.decision_ns), "action_mode": a.mode,
                "quote_size": a.quote_size, "max_size": a.max_size,
                "max_inventory": self.max_inventory, "offsets": list(a.offsets),
                "max_offset": a.max_offset, "vol_halflife": self.vol_halflife,
                "vpin_bucket": self.vpin_bucket, "book_levels": self.book_levels,
                "book_scale": self.book_scale}

    def learner(self, name: str):
        """The Mesa agent behind an env agent (its account, open orders, latency)."""
        return self._learners[name]

    # ----------------------------------------------------------------------------- render
    def render(self):
        """Render the book and the learners (per ``render_mode``)."""
        if self.render_mode is None:
            log.warning("render() called without a render_mode")
            return None
        if self.model is None:
            return None if self.render_mode == "human" else (
                "" if self.render_mode == "ansi" else np.zeros((120, 200, 3), np.uint8))
        if self.render_mode == "rgb_array":
            return self._depth_image()
        from abmm.schema.timing import format_ns

        m = self.model
        bid, bq, ask, aq = m.top
        lines = [f"{format_ns(m.now)}  bid {bid} x {bq}  ask {ask} x {aq}  "
                 f"last {m.last_price:g}  volume {m.volume}"]
        for name, a in self._learners.items():
            lines.append(f"  {name}: inventory {a.inventory:+d}, PnL {self._pnl[name]:+.0f} "
                         f"tick-lots, {len(a.open_orders)} quotes")
        text = "\n".join(lines)
        if self.render_mode == "ansi":
            return text
        log.info("%s", text)
        return None

    def _depth_image(self, levels: int = 10, h: int = 120, w: int = 200) -> np.ndarray:
        """The top ``levels`` of each side as bars: bids green (left), asks red (right)."""
        img = np.full((h, w, 3), 255, np.uint8)
        book = self.model.book
        bids = book.depth(0, levels)[1]
        asks = book.depth(1, levels)[1]
        top = max(int(bids.max()) if len(bids) else 0, int(asks.max()) if len(asks) else 0, 1)
        bw = w // (2 * levels)
        for i, q in enumerate(bids):  # best bid next to the centre
            x1 = w // 2 - i * bw
            img[h - int(q / top * (h - 1)) - 1:, max(x1 - bw + 1, 0):x1] = (40, 160, 60)
        for i, q in enumerate(asks):
            x0 = w // 2 + i * bw
            img[h - int(q / top * (h - 1)) - 1:, x0:x0 + bw - 1] = (200, 50, 50)
        return img

    # ----------------------------------------------------------------------------- cleanup

    def close(self):
        """Release the market model."""
        self._dispose()
        self.agents = []

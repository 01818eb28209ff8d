"""``MultiAssetEnv``: learning market makers that quote several symbols and hedge.

The documented entry point is ``abmm.env.multi_asset_v0`` (its docstring is the environment's
doc page); this module holds the class.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from abmm.env.actions import check_action_dict
from abmm.env.episodes import EpisodeMarkets, check_max_cycles, env_scenario

#: The default scenario: one learnable hedging market maker on A (hedging with the index
#: future IDX) among default's crowd on A, B and IDX and an index arbitrageur (package data).
DEFAULT_SCENARIO = Path(__file__).with_name("multi_asset.yaml")
#: Half-spreads (ticks) and centre shifts (ticks) of a quoted symbol's action.
HALF_SPREADS = (1, 2, 3, 5)
SHIFTS = (-2, -1, 0, 1, 2)
#: Quote actions per quoted symbol: ``k = 5 * half_spread_index + shift_index``.
N_QUOTE = len(HALF_SPREADS) * len(SHIFTS)
#: Hedge actions: 0 none, 1 half way to the target, 2 all the way.
HEDGE_FRACTIONS = (0.0, 0.5, 1.0)
#: Observation features per leg and the whole vector's layout (``multi_asset_v0``).
LEG_FEATURES = ("spread", "return_1", "return_10", "imbalance", "inventory")


def n_observations(n_quote: int) -> int:
    """The observation length of a learner quoting ``n_quote`` symbols (plus one hedge)."""
    return len(LEG_FEATURES) * (n_quote + 1) + n_quote + 2


class MultiAssetEnv(EpisodeMarkets, ParallelEnv):
    """Learnable ``hedging_mm`` agents quoting several symbols in a multi-symbol market.

    See ``abmm.env.multi_asset_v0`` for the observations, actions, rewards and arguments.
    """

    metadata = {"name": "abmm_multi_asset_v0", "render_modes": ["ansi"],
                "is_parallelizable": True}

    def __init__(self, scenario=None, decision_interval=None, max_cycles: int | None = None,
                 overrides: list[str] | None = None, inventory_gamma: float = 1e-4,
                 reward_scale: float = 1.0, render_mode: str | None = None,
                 log_dir: str | Path | None = None, action_mode: str = "multi_discrete"):
        from abmm.schema.timing import parse_duration

        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or "
                             f"None, not {render_mode!r}")
        self.scenario = sc = env_scenario(DEFAULT_SCENARIO if scenario is None else scenario,
                                          overrides)
        learn = [g for g in sc.agents if g.learnable and g.count]
        if not learn:
            raise ValueError(f"scenario {sc.name!r} has no learnable agents: mark a "
                             "hedging_mm group 'learnable: true'")
        bad = [f"{g.group_name} (kind {g.kind})" for g in learn if g.kind != "hedging_mm"]
        if bad:
            raise ValueError(f"multi_asset_v0 drives learnable hedging_mm groups only; "
                             f"scenario {sc.name!r} has learnable {', '.join(bad)}")
        if len({len(g.quote) for g in learn}) > 1:
            raise ValueError("every learnable hedging_mm group must quote the same number of "
                             "symbols (one observation and action space)")
        self.n_quote = len(learn[0].quote)
        m = sc.market
        di = learn[0].wake.interval if decision_interval is None else \
            parse_duration(decision_interval)
        if di <= 0 or di % m.step:
            raise ValueError(f"decision_interval ({di} ns) must be a positive multiple of the "
                             f"scenario's market.step ({m.step} ns)")
        self.decision_ns = di
        self._substeps = di // m.step
        if (m.end_ns - m.start_ns - m.warmup_ns) // di < 1:
            raise ValueError("the session after the warm-up is shorter than one decision "
                             "interval")
        check_max_cycles(max_cycles)
        self.max_cycles = max_cycles
        self._mesa_names = {f"{g.group_name}_{i}": f"{g.group_name}/{i}" for g in learn
                            for i in range(g.count)}
        self.possible_agents = list(self._mesa_names)
        self.inventory_gamma = float(inventory_gamma)
        if not float(reward_scale) > 0:
            raise ValueError(f"reward_scale must be > 0, got {reward_scale!r}")
        self.reward_scale = float(reward_scale)
        self.render_mode = render_mode
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.n_obs = n_observations(self.n_quote)
        self._obs_space = spaces.Box(-1.0, 1.0, (self.n_obs,), np.float32)
        self._nvec = [N_QUOTE] * self.n_quote + [len(HEDGE_FRACTIONS)]
        if action_mode not in ("multi_discrete", "discrete"):
            raise ValueError(f"action_mode must be 'multi_discrete' or 'discrete', not "
                             f"{action_mode!r}")
        self.action_mode = action_mode
        self._act_space = spaces.MultiDiscrete(self._nvec) if action_mode == "multi_discrete" \
            else spaces.Discrete(int(np.prod(self._nvec)))
        self.agents: list[str] = []
        self.model = None
        self._episodes = 0
        self._next_seed = int(sc.seed)

    @functools.cache  # noqa: B019 - one space per agent, as PettingZoo wants
    def observation_space(self, agent):
        """``Box(-1, 1, (n_obs,), float32)`` (the same for every agent)."""
        return self._obs_space

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        """``MultiDiscrete([20] * n_quote + [3])``, or with ``action_mode="discrete"`` its
        flattening ``Discrete(20 ** n_quote * 3)`` (the same for every agent)."""
        return self._act_space

    def decode(self, name: str, action) -> list[int]:
        """An action as ``[quote_1, ..., quote_n, hedge]`` (``ValueError`` naming the agent
        and the space when it is not in the action space)."""
        space = self._act_space
        if self.action_mode == "discrete":
            ok = np.ndim(action) == 0 and np.issubdtype(np.asarray(action).dtype, np.integer) \
                and 0 <= int(action) < space.n
            if not ok:
                raise ValueError(f"{name}: action {action!r} is not in {space}")
            return [int(x) for x in np.unravel_index(int(action), self._nvec)]
        a = np.asarray(action).reshape(-1)
        if a.shape != (self.n_quote + 1,) or not space.contains(a.astype(space.dtype)):
            raise ValueError(f"{name}: action {action!r} is not in {space} (one quote action "
                             f"in [0, {N_QUOTE}) per quoted symbol, then a hedge action in "
                             f"[0, {len(HEDGE_FRACTIONS)}))")
        return [int(x) for x in a]

    # ----------------------------------------------------------------------------- episodes
    def reset(self, seed=None, options=None):
        """Start an episode on a new market (``seed`` as in ``market_v0``)."""
        model = self._new_market(seed)
        self._learners = {n: model.by_name(self._mesa_names[n]) for n in self.possible_agents}
        for a in self._learners.values():
            model.detach(a)
        while model.now < model.warmup_end:
            model.step()
        self._t0 = model.now
        horizon = model.end if self.max_cycles is None else min(
            model.end, self._t0 + self.max_cycles * self.decision_ns)
        self._t_end = horizon
        self._hist = {n: [] for n in self.possible_agents}
        self._pnl = {n: a.pnl_value() for n, a in self._learners.items()}
        self._pnl0 = dict(self._pnl)
        self.agents = list(self.possible_agents)
        self.num_cycles = 0
        for n in self.agents:
            self._sample(n)
        obs = {n: self._observe(n) for n in self.agents}
        return obs, {n: self._info(n) for n in self.agents}

    def step(self, actions):
        """Apply every live agent's action, advance one decision interval; PettingZoo's 5-tuple."""
        if self.model is None:
            raise RuntimeError("call reset() before step()")
        check_action_dict(actions, self.agents, self.possible_agents)
        for name, act in actions.items():
            self._apply(self._learners[name], self.decode(name, act))
        for _ in range(self._substeps):
            self.model.step()
        self.num_cycles += 1
        rewards, obs, infos = {}, {}, {}
        for n in self.agents:
            agent = self._learners[n]
            self._sample(n)
            pnl = agent.pnl_value()
            risk = agent.net_exposure()
            rewards[n] = (pnl - self._pnl[n] - self.inventory_gamma * risk * risk) \
                / self.reward_scale
            self._pnl[n] = pnl
            obs[n] = self._observe(n)
            infos[n] = self._info(n)
        terminations, truncations = self._step_ends()
        return obs, rewards, terminations, truncations, infos

    # ----------------------------------------------------------------------------- pieces
    def _apply(self, agent, action: list[int]) -> None:
        """Quote each quoted symbol per its action, then hedge per the last one."""
        p = agent.params
        for leg, k in zip(agent.quoted, action[:-1], strict=True):
            mid = leg.venue.mid()
            if mid is None:
                continue
            half = HALF_SPREADS[k // len(SHIFTS)]
            agent.quote_ladder(leg, mid + SHIFTS[k % len(SHIFTS)], half, p.size, p.max_inventory)
        mids = [leg.venue.mid() for leg in agent.quoted]
        hmid = agent.hedge_leg.venue.mid()
        if hmid is None or any(m is None for m in mids):
            return
        agent.betas.update(self.model.now, mids, hmid)
        frac = HEDGE_FRACTIONS[action[-1]]
        if frac:
            target = agent.target_lots(mids, hmid)
            agent.trade_hedge(round(frac * (target - agent.hedge_leg.inventory)),
                              agent.hedge_leg.venue.top)

    def _sample(self, name: str) -> None:
        agent = self._learners[name]
        self._hist[name].append([leg.venue.mid() for leg in agent.legs.values()])
        if len(self._hist[name]) > 11:
            del self._hist[name][0]

    def _observe(self, name: str) -> np.ndarray:
        agent = self._learners[name]
        hist = self._hist[name]
        out = np.zeros(self.n_obs, np.float32)
        k = 0
        cap = agent.params.max_inventory
        for j, leg in enumerate(agent.legs.values()):
            v = leg.venue
            bid, bq, ask, aq = v.top
            now, prev, old = hist[-1][j], (hist[-2][j] if len(hist) > 1 else None), hist[0][j]
            out[k] = min((ask - bid) / 20.0, 1.0) if bid is not None and ask is not None else 1
            if now and prev:
                out[k + 1] = math.tanh(math.log(now / prev) * 1e4 / 10)
            if now and old:
                out[k + 2] = math.tanh(math.log(now / old) * 1e4 / 30)
            out[k + 3] = (bq - aq) / (bq + aq) if bq + aq > 0 else 0.0
            out[k + 4] = max(-1.0, min(1.0, leg.inventory / cap))
            k += len(LEG_FEATURES)
        for b in agent.current_betas():
            out[k] = 0.0 if b is None else max(-1.0, min(1.0, b))
            k += 1
        mids = [leg.venue.mid() for leg in agent.quoted]
        hmid = agent.hedge_leg.venue.mid()
        if hmid and all(mids):
            gap = agent.hedge_leg.inventory - agent.target_lots(mids, hmid)
            out[k] = max(-1.0, min(1.0, gap / cap))
        out[k + 1] = (self._t_end - self.model.now) / max(self._t_end - self._t0, 1)
        return out

    def _info(self, name: str) -> dict:
        a = self._learners[name]
        return {"pnl": float(self._pnl[name] - self._pnl0[name]),
                "inventory": int(a.quoted[0].inventory),
                "inventories": {s: int(leg.inventory) for s, leg in a.legs.items()},
                "net_exposure": float(a.net_exposure()),
                "time_ns": int(self.model.now)}

    def learner(self, name: str):
        """The Mesa agent behind an env agent."""
        return self._learners[name]

    def render(self):
        """A text line per learner (``render_mode="ansi"``)."""
        if self.render_mode != "ansi" or self.model is None:
            return None
        return "\n".join(f"{n}: PnL {self._pnl[n]:+.2f}, inventory "
                         f"{self._info(n)['inventories']}" for n in self._learners)

    def close(self):
        """Release the market model."""
        self._dispose()
        self.agents = []

"""The directional-trading environment as a PettingZoo ``ParallelEnv`` (``TradingEnv``).

The environment is documented in ``abmm.env.trading_v0``, its entry module; this module holds
the class, the action grid and the observation layout.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from abmm.agents.base import BUY, SELL
from abmm.env.actions import check_action_dict
from abmm.env.episodes import EpisodeMarkets, check_max_cycles, env_scenario
from abmm.policy.chartist import (
    N_ACTIONS,
    N_OBS,
    OBSERVATIONS,
    POSITIONS,
    STOPS,
    ChartistView,
    decode_action,
)

__all__ = ["TradingEnv", "DEFAULT_SCENARIO", "OBSERVATIONS", "N_OBS", "POSITIONS", "STOPS",
           "N_ACTIONS", "LEARNABLE_KINDS"]

log = logging.getLogger(__name__)

#: The default scenario: two learnable chartists in a short market (package data).
DEFAULT_SCENARIO = Path(__file__).with_name("trading.yaml")
#: The agent kinds trading_v0 drives.
LEARNABLE_KINDS = ("momentum",)
DEFAULT_HORIZONS = ("1min", "5min", "15min", "60min")


class TradingEnv(EpisodeMarkets, ParallelEnv):
    """Learnable chartists trading toward target positions in the agent-based market (see
    ``abmm.env.trading_v0``)."""

    metadata = {"name": "abmm_trading_v0", "render_modes": ["human", "ansi"],
                "is_parallelizable": True, "render_fps": 1}

    def __init__(self, scenario=None, overrides: list[str] | None = None,
                 decision_interval=None, max_cycles: int | None = None,
                 action_mode: str = "discrete", max_position: int | None = None,
                 horizons=DEFAULT_HORIZONS, risk_aversion: float = 0.01,
                 reward_scale: float | None = None, vol_halflife: float = 30.0,
                 vol_scale: float = 1.0, trend_scale: float = 10.0,
                 stop_horizon="5min", min_stop_ticks: float = 2.0,
                 max_stop_sigma: float = 3.0, render_mode: str | None = None,
                 log_dir: str | Path | None = None):
        """Load the scenario and check its learnable chartists (see ``trading_v0``)."""
        from abmm.schema.timing import parse_duration

        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or "
                             f"None, not {render_mode!r}")
        if action_mode not in ("discrete", "continuous"):
            raise ValueError(f"action_mode must be 'discrete' or 'continuous', not "
                             f"{action_mode!r}")
        if scenario is None:
            scenario = DEFAULT_SCENARIO
        self.scenario = env_scenario(scenario, overrides)
        sc = self.scenario
        groups = [g for g in sc.agents if g.learnable]
        bad = [f"{g.group_name} (kind {g.kind})" for g in groups if g.kind not in LEARNABLE_KINDS]
        if not groups or bad:
            raise ValueError(f"trading_v0 drives learnable momentum chartists only; scenario "
                             f"{sc.name!r}: learnable groups {[g.group_name for g in groups]}"
                             + (f", not chartists: {bad}" if bad else ""))
        m = sc.market
        di = groups[0].wake.interval if decision_interval is None else \
            parse_duration(decision_interval)
        if di <= 0 or di % m.step:
            raise ValueError(f"decision_interval ({di} ns) must be a positive multiple of the "
                             f"scenario's market.step ({m.step} ns)")
        self.decision_ns = di
        self._substeps = di // m.step
        self._horizon = (m.end_ns - m.start_ns - m.warmup_ns) // di
        if self._horizon < 1:
            raise ValueError("the session after the warm-up is shorter than one decision "
                             "interval")
        check_max_cycles(max_cycles)
        self.max_cycles = self._horizon if max_cycles is None else int(max_cycles)
        self._mesa = {f"{g.group_name}_{i}": f"{g.group_name}/{i}" for g in groups
                      for i in range(g.count)}
        self.possible_agents = list(self._mesa)
        self.params = {n: g for g in groups for n in self._mesa
                       if self._mesa[n].startswith(g.group_name + "/")}
        self.max_position = int(max_position if max_position is not None else
                                min(g.max_position for g in groups))
        if self.max_position < 1:
            raise ValueError(f"max_position must be >= 1, got {self.max_position}")
        if isinstance(horizons, (str, int)) or len(horizons) != 4:
            raise ValueError(f"horizons must be 4 durations, got {horizons!r}")
        self.horizons = [max(1, round(parse_duration(h) / di)) for h in horizons]
        self.action_mode = action_mode
        self.risk_aversion = float(risk_aversion)
        self.reward_scale = float(reward_scale if reward_scale is not None else
                                  self.max_position)
        self.vol_halflife = float(vol_halflife)
        self.vol_scale = float(vol_scale)
        self.trend_scale = float(trend_scale)
        self.stop_horizon_s = parse_duration(stop_horizon) / 1e9
        self.min_stop_ticks = float(min_stop_ticks)
        self.max_stop_sigma = float(max_stop_sigma)
        self.render_mode = render_mode
        self.log_dir = None if log_dir is None else Path(log_dir)
        self._obs_space = spaces.Box(-1.0, 1.0, (N_OBS,), np.float32)
        self._act_space = spaces.Discrete(N_ACTIONS) if action_mode == "discrete" else \
            spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.model = None
        self.agents: list[str] = []
        self._episodes = 0
        self._next_seed = int(sc.seed)

    @functools.cache  # noqa: B019 - one space per agent, as PettingZoo wants
    def observation_space(self, agent):
        """The same ``Box(-1, 1, (12,), float32)`` for every agent."""
        return self._obs_space

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        """``Discrete(15)`` or ``Box(-1, 1, (2,), float32)`` (``action_mode``)."""
        return self._act_space

    def policy_config(self) -> dict:
        """What a saved policy needs to act in this environment again: the decision interval,
        the action decoding (``action_mode``, ``max_position``, the grid ``positions`` and
        ``stops``, ``max_stop_sigma``, ``stop_horizon_s``, ``min_stop_ticks``) and the
        observation's conventions (``horizons`` in decisions, ``vol_halflife``, ``vol_scale``,
        ``trend_scale``, ``observations``)."""
        return {"decision_ns": int(self.decision_ns), "action_mode": self.action_mode,
                "max_position": self.max_position, "positions": list(POSITIONS),
                "stops": list(STOPS), "max_stop_sigma": self.max_stop_sigma,
                "stop_horizon_s": self.stop_horizon_s, "min_stop_ticks": self.min_stop_ticks,
                "horizons": [int(h) for h in self.horizons], "vol_halflife": self.vol_halflife,
                "vol_scale": self.vol_scale, "trend_scale": self.trend_scale,
                "observations": list(OBSERVATIONS), "windows": self._windows()}

    def _windows(self) -> dict:
        """The indicator windows (decisions) of the learnable chartists' group."""
        p = self.params[self.possible_agents[0]]
        return {"short": p.short_window, "long": p.long_window, "signal": p.signal_window,
                "rsi": p.rsi_window}

    # ----------------------------------------------------------------------------- actions
    def decode(self, agent: str, action) -> tuple[int, float | None]:
        """``(target position in lots, stop distance in sigmas or None)`` of one action, else
        ``InvalidActionError`` naming the agent, the action and what was expected."""
        return decode_action(agent, action, self.action_mode, self.max_position,
                             self.max_stop_sigma)

    def action_index(self, target: float, stop: float | None = None) -> int:
        """The discrete action nearest to a target position (in units of ``max_position``)
        and a stop (sigmas, ``None`` for none)."""
        i = int(np.argmin([abs(p - target) for p in POSITIONS]))
        j = 0 if stop is None else 1 + int(np.argmin([abs(s - stop) for s in STOPS[1:]]))
        return i * len(STOPS) + j

    # ----------------------------------------------------------------------------- episodes
    def reset(self, seed=None, options=None):
        """Build the market for a new episode and run it through the warm-up (sampling the mid
        once per decision interval for the indicators)."""
        m = self._new_market(seed)
        self._attach(m)
        while m.now < m.warmup_end:
            m.step()
            self._warm_tick()
        return self._begin()

    # ------------------------------------------------------------------ episode phases
    # reset = _attach, the warm-up (each market step followed by _warm_tick), _begin; step =
    # _act, the market steps (each followed by _substep), _collect (abmm.env.ecology_v0 runs
    # several roles' phases on one market).
    def _attach(self, m) -> None:
        """Take the chartists out of the market's own schedule; start the indicators."""
        self.traders = {n: m.by_name(self._mesa[n]) for n in self.possible_agents}
        for a in self.traders.values():
            m.detach(a)
            a.cancel_all()
        self.view = ChartistView(self.policy_config())
        self._origin = m.now

    def _warm_tick(self) -> None:
        """After each warm-up market step: sample the mid on decision boundaries."""
        if (self.model.now - self._origin) % self.decision_ns == 0:
            self._sample()

    def _begin(self) -> tuple[dict, dict]:
        """The episode starts now (after the warm-up): first observations and infos."""
        m = self.model
        self._sample()
        self._fills = {n: m.watch_fills(a) for n, a in self.traders.items()}
        self._t0 = m.now
        self._t_end = min(m.end, self._t0 + self.max_cycles * self.decision_ns)
        mark = m.mark_price()
        self.state = {n: {"pos": a.inventory, "entry": mark if a.inventory else 0.0,
                          "stop": None, "stopped": False, "stops_hit": 0, "trades": 0,
                          "traded": 0, "pnl": a.cash + a.inventory * mark}
                      for n, a in self.traders.items()}
        self.agents = list(self.possible_agents)
        self.num_cycles = 0
        obs = {n: self._observe(n, mark) for n in self.agents}
        return obs, {n: self._info(n) for n in self.agents}

    def _sample(self) -> None:
        """One decision's mid into the history, the EMAs and the volatility."""
        m = self.model
        self.view.sample(m.now, m.top, m.mark_price())

    @property
    def sigma(self) -> float:
        """The volatility of the mid (EWMA, ticks per sqrt(second))."""
        return self.view.sigma

    def stop_ticks(self, k: float) -> float:
        """The stop distance of ``k`` sigmas, in ticks per lot against the entry price:
        ``k max(sigma sqrt(stop_horizon), min_stop_ticks)``."""
        return self.view.stop_ticks(k)

    def step(self, actions):
        """Trade toward every live agent's target, run one decision interval (enforcing the
        stops at every market step); PettingZoo's 5-tuple."""
        if self.model is None:
            raise RuntimeError("call reset() before step()")
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        check_action_dict(actions, self.agents, self.possible_agents)
        before = self._act(actions)
        for _ in range(self._substeps):
            self.model.step()
            self._account()
        obs, rewards, infos = self._collect(before)
        terms, truncs = self._step_ends()
        return obs, rewards, terms, truncs, infos

    def _act(self, actions: dict) -> dict:
        """Trade toward the targets and set the stops; returns the counters before the step."""
        decoded = {n: self.decode(n, a) for n, a in actions.items()}
        for n, (target, stop) in decoded.items():
            a, s = self.traders[n], self.state[n]
            a.cancel_all()
            delta = target - a.inventory
            if delta:
                a.market_order(BUY if delta > 0 else SELL, abs(delta))
            s["stop"] = None if stop is None else self.stop_ticks(stop)
            s["stopped"] = False
        return {n: (s["stops_hit"], s["trades"], s["traded"]) for n, s in self.state.items()}

    def _substep(self) -> None:
        """After each market step: book the fills, fire the stops."""
        self._account()

    def _collect(self, before: dict) -> tuple[dict, dict, dict]:
        """After the decision interval: observations, rewards and infos of the live agents."""
        m = self.model
        self.num_cycles += 1
        self._sample()
        mark = m.mark_price()
        var = self.view.variance
        dt = self.decision_ns / 1e9
        rewards, obs, infos = {}, {}, {}
        for n in self.agents:
            a, s = self.traders[n], self.state[n]
            pnl = a.cash + a.inventory * mark
            q = a.inventory
            rewards[n] = float((pnl - s["pnl"] - self.risk_aversion * q * q * var * dt)
                               / self.reward_scale)
            s["pnl"] = pnl
            obs[n] = self._observe(n, mark)
            infos[n] = info = self._info(n)
            hit, trades, traded = before[n]
            info["stop_hit"] = s["stops_hit"] > hit
            info["step_trades"] = s["trades"] - trades
            info["step_traded"] = s["traded"] - traded
        return obs, rewards, infos

    def _account(self) -> None:
        """Book the fills of the last market step (position, average entry) and fire stops."""
        mark = None
        for n in self.agents:
            s, fills = self.state[n], self._fills[n]
            for _, x, p, _, _ in fills:
                q = s["pos"]
                new = q + x
                if new == 0:
                    s["entry"] = 0.0
                elif q == 0 or (q > 0) != (new > 0):
                    s["entry"] = float(p)
                elif abs(new) > abs(q):
                    s["entry"] = (s["entry"] * abs(q) + p * abs(x)) / abs(new)
                s["pos"] = new
                s["trades"] += 1
                s["traded"] += abs(x)
            fills.clear()
            q = s["pos"]
            if s["stop"] is None or s["stopped"] or not q:
                continue
            if mark is None:
                mark = self.model.mark_price()
            if (mark - s["entry"]) * (1 if q > 0 else -1) <= -s["stop"]:
                a = self.traders[n]
                a.cancel_all()
                a.market_order(SELL if q > 0 else BUY, abs(q))
                s["stopped"] = True
                s["stops_hit"] += 1

    def _observe(self, n: str, mark: float) -> np.ndarray:
        s, q = self.state[n], self.traders[n].inventory
        left = (self._t_end - self.model.now) / (self._t_end - self._t0)
        return self.view.observe(q, s["entry"], mark, left)

    def _info(self, n: str) -> dict:
        a, s = self.traders[n], self.state[n]
        return {"position": int(a.inventory), "pnl_ticks": float(s["pnl"]),
                "entry_price": float(s["entry"]), "trades": int(s["trades"]),
                "traded": int(s["traded"]), "stops_hit": int(s["stops_hit"]),
                "time_ns": int(self.model.now)}

    def learner(self, name: str):
        """The Mesa agent behind an env agent (its account, open orders, latency)."""
        return self.traders[name]

    # ----------------------------------------------------------------------------- render
    def render(self):
        """Every trader's state as text (``ansi`` returns it, ``human`` logs it)."""
        if self.render_mode is None:
            log.warning("render() called without a render_mode")
            return None
        if self.model is None:
            return None if self.render_mode == "human" else ""
        text = " ".join(f"{n}: {self._info(n)}" for n in self.possible_agents)
        if self.render_mode == "ansi":
            return text
        log.info("%s", text)
        return None

    # ----------------------------------------------------------------------------- cleanup

    def close(self):
        """Release the market."""
        self._dispose()
        self.agents = []

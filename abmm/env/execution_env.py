"""The execution environment as a PettingZoo ``ParallelEnv`` (``ExecutionEnv``).

The environment is documented in ``abmm.env.execution_v0``, its entry module.
"""

from __future__ import annotations

import functools

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from abmm.env.actions import check_action_dict
from abmm.env.episodes import check_max_cycles, env_scenario
from abmm.policy.execution import (
    LEVELS,
    N_ACTIONS,
    N_OBS,
    SIZES,
    ExecutionTape,
    base_lot,
    check_action,
    observe,
    send_child,
)
from abmm.resources import scenario_path

__all__ = ["ExecutionEnv", "DEFAULT_SCENARIO", "N_OBS", "N_ACTIONS", "SIZES", "LEVELS"]

#: The shipped scenario used without ``scenario=`` (``scenarios/execution_rl.yaml``).
DEFAULT_SCENARIO = "execution_rl"


class ExecutionEnv(ParallelEnv):
    """Learning executors working parent orders in the agent-based market (see ``execution_v0``)."""

    metadata = {"name": "abmm_execution_v0", "render_modes": ["human", "ansi"],
                "is_parallelizable": True, "render_fps": 1}

    def __init__(self, scenario=None, overrides: list[str] | None = None,
                 decision_interval=None, max_cycles: int | None = None,
                 render_mode: str | None = None, vol_scale: float = 2.0):
        """Load the scenario and check its learnable executors (see ``execution_v0``)."""
        from abmm.schema.timing import parse_duration

        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or "
                             f"None, not {render_mode!r}")
        if scenario is None:
            scenario = scenario_path(DEFAULT_SCENARIO)
        self.scenario = env_scenario(scenario, overrides)
        groups = [g for g in self.scenario.agents if g.learnable]
        bad = [g.group_name for g in groups if g.kind != "executor"]
        if not groups or bad:
            raise ValueError("execution_v0 drives learnable executors only; learnable groups: "
                             f"{[g.group_name for g in groups]} (not executors: {bad})")
        starts = {g.start for g in groups}
        if len(starts) != 1:
            raise ValueError("learnable executors must share one start time")
        self.start_ns = starts.pop()
        self.duration_ns = max(g.duration for g in groups)
        m = self.scenario.market
        di = groups[0].wake.interval if decision_interval is None else \
            parse_duration(decision_interval)
        if di <= 0 or di % m.step:
            raise ValueError(f"decision_interval ({di} ns) must be a positive multiple of "
                             f"market.step ({m.step} ns)")
        self.decision_ns = di
        self._substeps = di // m.step
        self.n_decisions = max(1, self.duration_ns // di)
        check_max_cycles(max_cycles)
        self.max_cycles = self.n_decisions + 60 if max_cycles is None else int(max_cycles)
        self._mesa = {f"{g.group_name}_{i}": f"{g.group_name}/{i}" for g in groups
                      for i in range(g.count)}
        self.possible_agents = list(self._mesa)
        self.render_mode = render_mode
        self.vol_scale = float(vol_scale)
        self.model = None
        self.agents: list[str] = []
        self._next_seed = int(self.scenario.seed)
        self._obs_space = spaces.Box(-1.0, 1.0, (N_OBS,), np.float32)
        self._act_space = spaces.Discrete(N_ACTIONS)

    @functools.cache  # noqa: B019
    def observation_space(self, agent):
        """The same ``Box(-1, 1, (8,), float32)`` for every agent."""
        return self._obs_space

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        """The same ``Discrete(13)`` for every agent."""
        return self._act_space

    def policy_config(self) -> dict:
        """What a saved policy needs to act in this environment again."""
        return {"decision_ns": int(self.decision_ns), "actions": N_ACTIONS,
                "vol_scale": self.vol_scale}

    # ------------------------------------------------------------------------ episodes
    def reset(self, seed=None, options=None):
        """Build the market for a new episode and run it to the executors' start."""
        from abmm.scenario import build_model

        if seed is not None:
            self._next_seed = int(seed)
        ep = self._next_seed
        self._next_seed += 1
        if self.model is not None:
            self.model.release()
        m = build_model(self.scenario, seed=ep)
        self.model = m
        self.episode_seed = ep
        self._attach(m)
        while m.now < self.start_ns:
            m.step()
        return self._begin()

    # ------------------------------------------------------------------ episode phases
    # reset = _attach, the market up to start_ns, _begin; step = _act, the market steps (each
    # followed by _substep), _collect (abmm.env.ecology_v0 runs several roles on one market).
    def _attach(self, m) -> None:
        """Take the executors out of the market's own schedule."""
        self.ex = {n: m.by_name(self._mesa[n]) for n in self.possible_agents}
        for a in self.ex.values():
            m.detach(a)

    def _warm_tick(self) -> None:
        """After each market step before the start (nothing to sample here)."""

    def _begin(self) -> tuple[dict, dict]:
        """The parent orders start now (``start_ns``): first observations and infos."""
        m = self.model
        self._fills = {n: m.watch_fills(a) for n, a in self.ex.items()}
        self.tape = ExecutionTape(m)
        self.arrival = m.mark_price()
        self.t_end = self.start_ns + self.duration_ns
        self.state = {n: {"executed": 0, "cost": 0.0, "notional": 0.0}
                      for n in self.possible_agents}
        for a in self.ex.values():
            a.arrival_price = self.arrival
        self.agents = list(self.possible_agents)
        self.num_cycles = 0
        obs = {n: self._observe(n) for n in self.agents}
        return obs, {n: self._info(n) for n in self.agents}

    def _base(self, a) -> float:
        """The base lot: what is left over the decisions left (the adaptive TWAP slice)."""
        return base_lot(a.params.quantity, a.inventory, self.t_end, self.model.now,
                        self.decision_ns)

    def step(self, actions):
        """Send the child orders, run one decision interval; the PettingZoo 5-tuple."""
        if self.model is None:
            raise RuntimeError("call reset() before step()")
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        check_action_dict(actions, self.agents, self.possible_agents)
        self._act(actions)
        for _ in range(self._substeps):
            self.model.step()
        obs, rewards, infos, finished, trunc = self._collect()
        term = {n: bool(finished) for n in self.agents}
        truncs = {n: bool(trunc) for n in self.agents}
        if finished or trunc:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, rewards, term, truncs, infos

    def _act(self, actions: dict) -> None:
        """Send every live executor's child order (the rest at market after the end)."""
        final = self.model.now >= self.t_end
        for n in self.agents:
            a = self.ex[n]
            act = check_action(n, actions.get(n, 0))
            send_child(self.model, a, 0 if final else act, final, a.params.quantity,
                       a.params.side == "buy", self._base(a))

    def _substep(self) -> None:
        """After each market step (nothing to do here)."""

    def _collect(self) -> tuple[dict, dict, dict, bool, bool]:
        """After the decision interval: observations, rewards and infos of the live agents,
        and whether the parent orders are finished or truncated (``max_cycles``)."""
        m = self.model
        self.num_cycles += 1
        self.tape.track(m)
        rewards, obs, infos = {}, {}, {}
        done_all = True
        for n in self.agents:
            a = self.ex[n]
            s = self.state[n]
            side = 1 if a.params.side == "buy" else -1
            cost = 0.0
            for _, x, p, _, _ in self._fills[n]:
                q = abs(x)
                cost += side * (p - self.arrival) * q
                s["executed"] += q
                s["notional"] += p * q
            self._fills[n].clear()
            s["cost"] += cost
            Q = a.params.quantity
            rewards[n] = -cost / (self.arrival * Q) * 1e4
            obs[n] = self._observe(n)
            infos[n] = self._info(n)
            if s["executed"] < Q and m.now < m.end:
                done_all = False
        finished = (m.now >= self.t_end and done_all) or m.now >= m.end
        trunc = not finished and self.num_cycles >= self.max_cycles
        if finished or trunc:  # what is left is valued at the mark: its opportunity cost
            mark = m.mark_price()
            for n in self.agents:
                a, s = self.ex[n], self.state[n]
                left = a.params.quantity - s["executed"]
                if left > 0:
                    side = 1 if a.params.side == "buy" else -1
                    opp = side * (mark - self.arrival) * left
                    s["cost"] += opp
                    rewards[n] -= opp / (self.arrival * a.params.quantity) * 1e4
                infos[n] = self._info(n)
        return obs, rewards, infos, finished, trunc

    def _observe(self, n: str) -> np.ndarray:
        a = self.ex[n]
        return observe(self.model, a, self.tape, a.params.quantity,
                       1 if a.params.side == "buy" else -1, self.arrival, self.t_end,
                       self.duration_ns, self.vol_scale)

    def _info(self, n: str) -> dict:
        a, s = self.ex[n], self.state[n]
        done = s["executed"]
        return {"executed": int(done), "remaining": int(a.params.quantity - done),
                "inventory": int(a.inventory),
                "shortfall_bps": float(s["cost"] / (self.arrival * a.params.quantity) * 1e4)}

    def render(self):
        """Every executor's state as text (``ansi`` returns it, ``human`` logs it)."""
        if self.render_mode is None or self.model is None:
            return None
        text = " ".join(f"{n}: {self._info(n)}" for n in self.possible_agents)
        if self.render_mode == "ansi":
            return text
        import logging

        logging.getLogger(__name__).info("%s", text)
        return None

    def close(self):
        """Release the market."""
        if self.model is not None:
            self.model.release()
            self.model = None
        self.agents = []

"""The ecology environment as a PettingZoo ``ParallelEnv`` (``EcologyEnv``): every learning
archetype in one market.

The environment is documented in ``abmm.env.ecology_v0``, its entry module; this module holds
the class. Each role keeps the observations, actions and rewards of its own environment
(``market_v0`` for market makers, ``trading_v0`` for chartists, ``execution_v0`` for
executors): the ecology builds one market per episode and runs every role's episode phases on
it (``_attach``, the warm-up with ``_warm_tick``, ``_begin``; then per decision ``_act``, the
market steps with ``_substep``, ``_collect``).
"""

from __future__ import annotations

import copy
import functools
import logging
from pathlib import Path

from pettingzoo import ParallelEnv

from abmm.env.actions import check_action_dict
from abmm.env.episodes import EpisodeMarkets, check_max_cycles, env_scenario

__all__ = ["EcologyEnv", "DEFAULT_SCENARIO", "ROLES", "ROLE_OF_KIND"]

log = logging.getLogger(__name__)

#: The default scenario: learning makers, chartists and an executor in default's crowd.
DEFAULT_SCENARIO = Path(__file__).with_name("ecology.yaml")
#: The roles, in the order of ``possible_agents``.
ROLES = ("maker", "chartist", "executor", "adversary")
#: The learnable agent kinds and the role each plays.
ROLE_OF_KIND = {"market_maker": "maker", "policy": "maker", "momentum": "chartist",
                "executor": "executor", "informed": "adversary"}
#: What the ecology sets for every role (not allowed in a role's arguments).
_SHARED_ARGS = ("scenario", "overrides", "decision_interval", "max_cycles", "render_mode",
                "log_dir")


class EcologyEnv(EpisodeMarkets, ParallelEnv):
    """Learning market makers, chartists, executors and adversaries in one agent-based market
    (see ``abmm.env.ecology_v0``)."""

    metadata = {"name": "abmm_ecology_v0", "render_modes": ["human", "ansi"],
                "is_parallelizable": True, "render_fps": 1}

    def __init__(self, scenario=None, overrides: list[str] | None = None,
                 decision_interval="10s", max_cycles: int | None = None,
                 maker: dict | None = None, chartist: dict | None = None,
                 executor: dict | None = None, adversary: dict | None = None,
                 render_mode: str | None = None,
                 log_dir: str | Path | None = None):
        """Load the scenario, sort its learnable groups into roles and build each role's
        environment on it (see ``ecology_v0``)."""
        from abmm.scenario import load_scenario
        from abmm.schema.timing import parse_duration

        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or "
                             f"None, not {render_mode!r}")
        if scenario is None:
            scenario = DEFAULT_SCENARIO
        self.scenario = env_scenario(scenario, overrides)
        sc = self.scenario
        groups = [g for g in sc.agents if g.learnable]
        bad = [f"{g.group_name} (kind {g.kind})" for g in groups if g.kind not in ROLE_OF_KIND]
        if not groups or bad:
            raise ValueError(f"ecology_v0 drives learnable {', '.join(ROLE_OF_KIND)} agents; "
                             f"scenario {sc.name!r}: learnable groups "
                             f"{[g.group_name for g in groups]}"
                             + (f", of other kinds: {bad}" if bad else ""))
        m = sc.market
        di = parse_duration(decision_interval)
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
        args = {"maker": maker, "chartist": chartist, "executor": executor,
                "adversary": adversary}
        for role, kw in args.items():
            if kw is not None and not isinstance(kw, dict):
                raise ValueError(f"{role}: expected a dict of {role} environment arguments, "
                                 f"got {type(kw).__name__}")
            shared = sorted(set(kw or ()) & set(_SHARED_ARGS))
            if shared:
                raise ValueError(f"{role}: {shared} are the ecology's own arguments (set them "
                                 "once, for every role)")
        if not (args["adversary"] or {}).get("targets"):
            # the adversary plays against the learnable makers unless told otherwise
            makers = [g.group_name for g in groups if ROLE_OF_KIND[g.kind] == "maker"]
            args["adversary"] = {**(args["adversary"] or {}), "targets": makers}
        resolved = sc.resolved()
        self.roles: dict = {}
        self.role_of: dict[str, str] = {}
        for role in ROLES:
            mine = [g.group_name for g in groups if ROLE_OF_KIND[g.kind] == role]
            if not mine:
                continue
            data = copy.deepcopy(resolved)
            for g in data["agents"]:
                if g.get("learnable") and (g.get("name") or g["kind"]) not in mine:
                    g["learnable"] = False
            env = self._role_env(role, load_scenario(data), args[role] or {})
            self.roles[role] = env
            for n in env.possible_agents:
                self.role_of[n] = role
        self.possible_agents = [n for r in self.roles.values() for n in r.possible_agents]
        self.render_mode = render_mode
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.model = None
        self.agents: list[str] = []
        self._episodes = 0
        self._next_seed = int(sc.seed)

    def _role_env(self, role: str, scenario, kw: dict):
        common = {"scenario": scenario, "decision_interval": self.decision_ns,
                  "max_cycles": self.max_cycles}
        try:
            if role == "maker":
                from abmm.env.market_env import MarketEnv

                return MarketEnv(**common, **kw)
            if role == "chartist":
                from abmm.env.trading_env import TradingEnv

                return TradingEnv(**common, **kw)
            if role == "adversary":
                from abmm.env.adversary_env import InformedAdversary

                return InformedAdversary(**common, **kw)
            from abmm.env.execution_env import ExecutionEnv

            return ExecutionEnv(**common, **kw)
        except TypeError as exc:  # an argument the role's environment does not take
            raise ValueError(f"{role}: {exc}") from None

    # ----------------------------------------------------------------------------- spaces
    @functools.cache  # noqa: B019 - one space per agent, as PettingZoo wants
    def observation_space(self, agent):
        """The observation space of the agent's role (its own environment's)."""
        return self.roles[self.role_of[agent]].observation_space(agent)

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        """The action space of the agent's role (its own environment's)."""
        return self.roles[self.role_of[agent]].action_space(agent)

    def role(self, agent: str) -> str:
        """``"maker"``, ``"chartist"``, ``"executor"`` or ``"adversary"``."""
        return self.role_of[agent]

    def learner(self, name: str):
        """The Mesa agent behind an env agent."""
        r = self.roles[self.role_of[name]]
        return r.ex[name] if self.role_of[name] == "executor" else r.learner(name)

    def policy_config(self) -> dict:
        """What a saved policy needs to act again: the decision interval, each agent's role
        and each role's own ``policy_config``."""
        return {"decision_ns": int(self.decision_ns), "roles": dict(self.role_of),
                **{role: env.policy_config() for role, env in self.roles.items()}}

    # ----------------------------------------------------------------------------- episodes
    def reset(self, seed=None, options=None):
        """Build the market for a new episode, run the warm-up, start every role."""
        m = self._new_market(seed)
        for r in self.roles.values():
            r.model = m
            r._attach(m)
        while m.now < m.warmup_end:
            m.step()
            for r in self.roles.values():
                r._warm_tick()
        obs, infos = {}, {}
        for role, r in self.roles.items():
            if role == "executor":  # parent orders start with the episode
                r.start_ns = m.now
            o, i = r._begin()
            obs.update(o)
            infos.update(i)
        self._t0 = m.now
        self._t_end = min(m.end, self._t0 + self.max_cycles * self.decision_ns)
        self.agents = list(self.possible_agents)
        self.num_cycles = 0
        return obs, infos

    def step(self, actions):
        """Every role acts, the market runs one decision interval, every role collects;
        PettingZoo's 5-tuple. Executors whose parent order is done leave early."""
        if self.model is None:
            raise RuntimeError("call reset() before step()")
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        check_action_dict(actions, self.agents, self.possible_agents)
        mine = {role: {} for role in self.roles}
        for n, a in actions.items():
            mine[self.role_of[n]][n] = a
        pre = {role: r._act(mine[role]) for role, r in self.roles.items() if r.agents}
        m = self.model
        for _ in range(self._substeps):
            m.step()
            for role in pre:
                self.roles[role]._substep()
        self.num_cycles += 1
        obs, rewards, infos = {}, {}, {}
        done_early, done_trunc = [], False
        for role, r in self.roles.items():
            if role not in pre:
                continue
            if role == "executor":
                o, rw, i, finished, trunc = r._collect()
                if finished or trunc:
                    done_early = list(r.agents)
                    done_trunc = bool(trunc and not finished)
                    r.agents = []
            else:
                o, rw, i = r._collect(pre[role])
            obs.update(o)
            rewards.update(rw)
            infos.update(i)
        for n in done_early:
            self.agents.remove(n)
        terms, truncs = self._step_ends()
        for n in done_early:
            terms[n], truncs[n] = not done_trunc, done_trunc
        if not self.agents:
            for r in self.roles.values():
                r.agents = []
        return obs, rewards, terms, truncs, infos

    # ----------------------------------------------------------------------------- render
    def render(self):
        """Every role's text line (``ansi`` returns it, ``human`` logs it)."""
        if self.render_mode is None:
            log.warning("render() called without a render_mode")
            return None
        if self.model is None:
            return None if self.render_mode == "human" else ""
        m = self.model
        lines = [f"t={m.now} top={m.top} last={m.last_price:g}"]
        for n in self.possible_agents:
            a = self.learner(n)
            lines.append(f"  {n} ({self.role_of[n]}): inventory {a.inventory:+d}, "
                         f"PnL {a.cash + a.inventory * m.mark_price():+.0f} tick-lots")
        text = "\n".join(lines)
        if self.render_mode == "ansi":
            return text
        log.info("%s", text)
        return None

    def close(self):
        """Release the market."""
        for r in self.roles.values():
            r.model = None
            r.agents = []
        self._dispose()
        self.agents = []

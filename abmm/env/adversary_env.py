"""The ecology's adversary role (``InformedAdversary``): a learner that steers a group of
informed traders against the market makers.

The agent-based counterpart of Spooner & Savani's (2020) adversary, who sets the mid's drift
in the model-based game (``abmm.env.adversarial``). Here nobody sets the price: the adversary
steers *flow*. One adversary per learnable ``informed`` group of an ``abmm.env.ecology_v0``
scenario (agent ``"GROUP_0"``) chooses, every decision interval, how the group's informed
traders act until the next decision:

* a **direction** ``d`` in ``DIRECTIONS`` (-1, -0.5, 0, 0.5, 1): each trader acts on
  ``fundamental(now + horizon) + d push_ticks`` instead of the future fundamental itself, so
  ``d = +1`` makes them buy unless the price is already far above their information;
* an **intensity** ``k`` in ``INTENSITIES`` (0, 1, 2): their order size is ``k qty`` (0:
  silent).

Action ``i`` (``Discrete(15)``) is ``(DIRECTIONS[i // 3], INTENSITIES[i % 3])``; action 7,
``(0, 1)``, is the informed traders' own rule. They keep their own wake times, thresholds and
position caps (``max_position``), so the adversary times and leans real, capped flow; it
cannot move the price by decree. Before the first decision (the warm-up) they act by their own
rule.

Reward (zero-sum, as in Spooner & Savani): minus the mean change of the *target* makers'
mark-to-market PnL (``cash + inventory * mark``, tick-lots) over the interval, divided by
``reward_scale``. Targets are the groups named in ``targets``; by default the ecology's
learnable market makers (give ``targets`` to play against rule-based or ``kind: policy``
makers).

Observation (``Box(-1, 1, (6,))``):

0. ``tanh(mean target inventory / inventory_scale)``;
1. the group's mean position over its ``max_position``;
2. the fraction of the episode left;
3. ``tanh(mid change over the last interval / vol_scale)`` (ticks);
4. ``tanh((fundamental(now + horizon) - mid) / push_ticks)``: the group's own information;
5. ``tanh(target makers' PnL change over the last interval / (10 reward_scale))``.

Arguments (the ecology's ``adversary={...}``): ``push_ticks`` (default: four times the
group's ``threshold_ticks``; the push must outweigh the traders' own information to override
it), ``targets``, ``inventory_scale`` (25 lots), ``vol_scale`` (5 ticks),
``reward_scale`` (100 tick-lots).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from gymnasium import spaces

from abmm.policy.actions import check_discrete

__all__ = ["InformedAdversary", "DIRECTIONS", "INTENSITIES", "N_ACTIONS", "N_OBS",
           "PLAIN_ACTION"]

#: Directions of the push, in units of ``push_ticks``.
DIRECTIONS = (-1.0, -0.5, 0.0, 0.5, 1.0)
#: Order-size multipliers.
INTENSITIES = (0.0, 1.0, 2.0)
N_ACTIONS = len(DIRECTIONS) * len(INTENSITIES)
#: The action that leaves the informed traders to their own rule: direction 0, intensity 1.
PLAIN_ACTION = DIRECTIONS.index(0.0) * len(INTENSITIES) + INTENSITIES.index(1.0)
N_OBS = 6


class InformedAdversary:
    """The adversary role of the ecology (see the module docstring)."""

    def __init__(self, scenario, decision_interval: int, max_cycles: int,
                 targets: list[str] | None = None, push_ticks: float | None = None,
                 inventory_scale: float = 25.0, vol_scale: float = 5.0,
                 reward_scale: float = 100.0):
        groups = [g for g in scenario.agents if g.learnable and g.kind == "informed"]
        if not groups:
            raise ValueError("the adversary role needs a learnable informed group")
        names = {g.group_name for g in scenario.agents}
        if not targets:
            raise ValueError("adversary: name the market makers it plays against (targets: "
                             "[GROUP, ...]); by default the ecology's learnable makers")
        unknown = [t for t in targets if t not in names]
        if unknown:
            raise ValueError(f"adversary: targets {unknown} are not groups of the scenario "
                             f"({sorted(names)})")
        for name, v in (("inventory_scale", inventory_scale), ("vol_scale", vol_scale),
                        ("reward_scale", reward_scale)) + \
                (() if push_ticks is None else (("push_ticks", push_ticks),)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"adversary: {name} must be a positive number, got {v!r}")
        self.groups = {f"{g.group_name}_0": g for g in groups}
        self.possible_agents = list(self.groups)
        self.targets = list(targets)
        self.push = {n: float(push_ticks if push_ticks is not None else 4 * g.threshold_ticks)
                     for n, g in self.groups.items()}
        self.inventory_scale = float(inventory_scale)
        self.vol_scale = float(vol_scale)
        self.reward_scale = float(reward_scale)
        self.decision_ns = int(decision_interval)
        self.max_cycles = int(max_cycles)
        self.model = None
        self.agents: list[str] = []
        self._obs_space = spaces.Box(-1.0, 1.0, (N_OBS,), np.float32)
        self._act_space = spaces.Discrete(N_ACTIONS)

    @functools.cache  # noqa: B019
    def observation_space(self, agent):
        """``Box(-1, 1, (6,), float32)``."""
        return self._obs_space

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        """``Discrete(15)``: direction x intensity."""
        return self._act_space

    def policy_config(self) -> dict:
        """What a saved adversary needs to act again."""
        return {"decision_ns": self.decision_ns, "actions": N_ACTIONS,
                "push_ticks": dict(self.push), "targets": list(self.targets),
                "inventory_scale": self.inventory_scale, "vol_scale": self.vol_scale,
                "reward_scale": self.reward_scale}

    def learner(self, name: str):
        """The group's first informed trader (the Mesa agent shown for ``name``)."""
        return self.traders[name][0]

    # ------------------------------------------------------------------ episode phases
    def _attach(self, m) -> None:
        self.model = m
        self.traders = {n: list(m.groups[g.group_name]) for n, g in self.groups.items()}
        self.makers = [a for t in self.targets for a in m.groups[t]]
        for ts in self.traders.values():
            for a in ts:
                a.bias_ticks, a.qty_scale = 0.0, 1.0

    def _warm_tick(self) -> None:
        """After each market step of the warm-up (nothing to sample)."""

    def _pnl(self) -> float:
        mark = self.model.mark_price()
        return sum(a.cash + a.inventory * mark for a in self.makers) / max(len(self.makers), 1)

    def _begin(self) -> tuple[dict, dict]:
        m = self.model
        self.t0 = m.now
        self.horizon = max(1, min(self.max_cycles, (m.end - m.now) // self.decision_ns))
        self.cycles = 0
        self._mid = self._mid_now()
        self._pnl0 = self._pnl()
        self._dpnl = 0.0
        self._last = {n: (0.0, 1.0) for n in self.possible_agents}
        self.agents = list(self.possible_agents)
        return ({n: self._observe(n, 0.0) for n in self.agents},
                {n: self._info(n) for n in self.agents})

    def _mid_now(self) -> float:
        m = self.model
        mid = m.mid()
        return mid if mid is not None else m.mark_price()

    def _act(self, actions: dict) -> dict:
        for n in self.agents:
            act = check_discrete(n, actions.get(n, PLAIN_ACTION), N_ACTIONS)
            d, k = DIRECTIONS[act // len(INTENSITIES)], INTENSITIES[act % len(INTENSITIES)]
            for a in self.traders[n]:
                a.bias_ticks, a.qty_scale = d * self.push[n], k
            self._last[n] = (d, k)
        return {}

    def _substep(self) -> None:
        """After each market step (nothing to do)."""

    def _collect(self, sent: dict) -> tuple[dict, dict, dict]:
        self.cycles += 1
        mid = self._mid_now()
        move, self._mid = mid - self._mid, mid
        pnl = self._pnl()
        self._dpnl, self._pnl0 = pnl - self._pnl0, pnl
        reward = -self._dpnl / self.reward_scale
        obs = {n: self._observe(n, move) for n in self.agents}
        return obs, {n: reward for n in self.agents}, {n: self._info(n) for n in self.agents}

    def _observe(self, n: str, move: float) -> np.ndarray:
        m = self.model
        g = self.groups[n]
        o = np.zeros(N_OBS, np.float32)
        inv = sum(a.inventory for a in self.makers) / max(len(self.makers), 1)
        o[0] = math.tanh(inv / self.inventory_scale)
        ts = self.traders[n]
        o[1] = max(-1.0, min(1.0, sum(a.inventory for a in ts) / len(ts) / g.max_position))
        o[2] = max(0.0, 1.0 - self.cycles / self.horizon)
        o[3] = math.tanh(move / self.vol_scale)
        future = m.fundamental.value(m.now + g.horizon)
        o[4] = math.tanh((future - self._mid) / self.push[n])
        o[5] = math.tanh(self._dpnl / (10 * self.reward_scale))
        return o

    def _info(self, n: str) -> dict:
        ts = self.traders[n]
        d, k = self._last[n]
        return {"direction": d, "intensity": k, "makers_pnl": float(self._pnl0),
                "position": int(sum(a.inventory for a in ts))}

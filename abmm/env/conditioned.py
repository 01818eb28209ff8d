"""Weight-conditioned rewards: one policy for a whole family of objectives (multi-objective RL).

``WeightConditioned(env, objectives)`` wraps a market-making environment (``market_v0`` or
``model_based_v0``, built with ``vector_reward=True``) so that its reward is a weighted sum of
the named reward components (``abmm.env.rewards.COMPONENTS``: spread capture, inventory PnL,
inventory cost, adverse selection, order cost, dampened PnL, absolute inventory) with weights
that change from episode to episode, and every observation carries the weights it is rewarded
with (Abels et al. 2019, "Dynamic weights in multi-objective deep RL"). A policy trained on it
is conditioned on its preferences: at evaluation the same network plays any weight vector of
the trained ranges, which traces its Pareto front (``abmm pareto``).

``objectives`` maps a component to a weight range ``[lo, hi]`` (or a number: a fixed weight).
At each reset every agent draws each ranged weight uniformly from its range; the reward is
``sum_k w_k c_k`` over the components given (the others weigh 0), and the observation is the
base observation followed by each *ranged* weight mapped to ``[-1, 1]`` (``2 (w - lo) / (hi -
lo) - 1``), in the order given. ``set_weights({component: w})`` fixes the weights of every
agent for the following episodes (evaluation); ``set_weights(None)`` draws again. The draws
come from the env's own stream, seeded by ``reset(seed=...)`` -- a run stays reproducible.

The wrapper keeps the base env's agents, actions, infos (with ``"weights"`` added: the agent's
weight vector) and ``policy_config`` (with ``"objectives"`` added).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from abmm.env.rewards import COMPONENTS

__all__ = ["WeightConditioned", "parse_objectives"]


def parse_objectives(objectives) -> dict[str, tuple[float, float]]:
    """``{component: (lo, hi)}`` from the ``objectives`` mapping (a number is a fixed weight);
    ``ValueError`` naming the component and what was expected."""
    if not isinstance(objectives, dict) or not objectives:
        raise ValueError(f"objectives must be a non-empty mapping {{component: [lo, hi] or "
                         f"weight}} over {', '.join(COMPONENTS)}; got {objectives!r}")
    out = {}
    for k, v in objectives.items():
        if k not in COMPONENTS:
            raise ValueError(f"objectives: unknown component {k!r}; expected some of "
                             f"{', '.join(COMPONENTS)}")
        if isinstance(v, bool):
            raise ValueError(f"objectives.{k}: {v!r}; expected a number or [lo, hi]")
        if isinstance(v, (int, float)):
            lo = hi = float(v)
        elif isinstance(v, (list, tuple)) and len(v) == 2 and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            lo, hi = float(v[0]), float(v[1])
        else:
            raise ValueError(f"objectives.{k}: {v!r}; expected a number or [lo, hi]")
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise ValueError(f"objectives.{k}: [{lo:g}, {hi:g}]; expected finite lo <= hi")
        out[k] = (lo, hi)
    if all(lo == hi for lo, hi in out.values()):
        raise ValueError("objectives: no weight has a range (give at least one [lo, hi] with "
                         "lo < hi), so there is nothing to condition on")
    return out


class WeightConditioned(ParallelEnv):
    """See the module docstring."""

    def __init__(self, env, objectives):
        if not getattr(env, "vector_reward", False):
            raise ValueError("WeightConditioned needs an env built with vector_reward=True")
        self.env = env
        self.objectives = parse_objectives(objectives)
        self._idx = np.array([COMPONENTS.index(k) for k in self.objectives])
        self._lo = np.array([lo for lo, _ in self.objectives.values()])
        self._hi = np.array([hi for _, hi in self.objectives.values()])
        self._ranged = self._hi > self._lo
        self.n_weights = int(self._ranged.sum())
        self.metadata = dict(getattr(env, "metadata", {}))
        self.metadata["name"] = f"{self.metadata.get('name', 'env')}_conditioned"
        self.possible_agents = list(env.possible_agents)
        base = env.observation_space(self.possible_agents[0])
        lo = np.concatenate([base.low, -np.ones(self.n_weights, np.float32)])
        hi = np.concatenate([base.high, np.ones(self.n_weights, np.float32)])
        self._space = spaces.Box(lo.astype(np.float32), hi.astype(np.float32), dtype=np.float32)
        self._fixed: np.ndarray | None = None
        self._w: dict[str, np.ndarray] = {}
        self._rng = np.random.default_rng(0)

    # ------------------------------------------------------------------ spaces, passthrough
    @functools.cache  # noqa: B019
    def observation_space(self, agent):
        """The base observation space with one ``[-1, 1]`` entry per ranged weight."""
        return self._space

    def action_space(self, agent):
        """The base env's action space."""
        return self.env.action_space(agent)

    @property
    def agents(self):
        """The base env's live agents."""
        return self.env.agents

    def __getattr__(self, name):  # scenario, actions, market, ... of the base env
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    def policy_config(self) -> dict:
        """The base env's, with the objectives' ranges."""
        cfg = dict(self.env.policy_config()) if hasattr(self.env, "policy_config") else {}
        cfg["objectives"] = {k: list(v) for k, v in self.objectives.items()}
        return cfg

    # ------------------------------------------------------------------ weights
    def set_weights(self, weights: dict | None) -> None:
        """Fix every agent's weights from the next reset on (``None``: draw them again).
        Components not given keep a fixed weight's value, or their range's middle."""
        if weights is None:
            self._fixed = None
            return
        unknown = set(weights) - set(self.objectives)
        if unknown:
            raise ValueError(f"set_weights: {sorted(unknown)} not among the objectives "
                             f"{list(self.objectives)}")
        w = (self._lo + self._hi) / 2
        for i, k in enumerate(self.objectives):
            if k in weights:
                w[i] = float(weights[k])
        self._fixed = w

    def encode(self, w: np.ndarray) -> np.ndarray:
        """The observation entries of the weight vector ``w`` (ranged weights to [-1, 1])."""
        r = self._ranged
        return (2 * (w[r] - self._lo[r]) / (self._hi[r] - self._lo[r]) - 1).astype(np.float32)

    def weights_of(self, agent: str) -> dict[str, float]:
        """The agent's current weights by component."""
        return dict(zip(self.objectives, map(float, self._w[agent]), strict=True))

    def _obs(self, obs: dict) -> dict:
        return {a: np.concatenate([o, self.encode(self._w[a])]) for a, o in obs.items()}

    # ------------------------------------------------------------------ episodes
    def reset(self, seed=None, options=None):
        """Reset the base env and draw (or fix) every agent's weights."""
        if seed is not None:
            self._rng = np.random.default_rng([int(seed), 0xC0DE])
        obs, infos = self.env.reset(seed=seed, options=options)
        for a in self.possible_agents:
            self._w[a] = self._fixed.copy() if self._fixed is not None else \
                self._lo + (self._hi - self._lo) * self._rng.random(len(self._lo))
        for a, info in infos.items():
            info["weights"] = self.weights_of(a)
        return self._obs(obs), infos

    def step(self, actions):
        """Step the base env; each agent's reward is its weights times its reward vector."""
        obs, _, term, trunc, infos = self.env.step(actions)
        rewards = {}
        for a, info in infos.items():
            vec = np.asarray(info["reward_vector"], np.float64)
            rewards[a] = float(vec[self._idx] @ self._w[a])
            info["weights"] = self.weights_of(a)
        return self._obs(obs), rewards, term, trunc, infos

    def render(self):
        """The base env's rendering."""
        return self.env.render()

    def close(self):
        """Close the base env."""
        return self.env.close()

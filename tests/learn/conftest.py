"""Tiny PettingZoo problems with known answers, for the learners."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo import ParallelEnv


class Bandit(ParallelEnv):
    """One step per episode: action ``i`` pays ``means[i]`` plus N(0, noise) noise; the
    observation is constant (``obs_dim`` zeros plus a 1)."""

    metadata = {"name": "bandit"}

    def __init__(self, means=(0.0, 1.0, 0.3), noise=0.1, n_agents=1, obs_dim=3):
        self.means = np.asarray(means)
        self.noise = noise
        self.possible_agents = [f"a_{i}" for i in range(n_agents)]
        self.obs_dim = obs_dim
        self.rng = np.random.default_rng(0)

    @functools.cache  # noqa: B019
    def observation_space(self, agent):
        return spaces.Box(-1, 1, (self.obs_dim,), np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        return spaces.Discrete(len(self.means))

    def _obs(self):
        o = np.zeros(self.obs_dim, np.float32)
        o[-1] = 1
        return o

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        return {a: self._obs() for a in self.agents}, {a: {"inventory": 0} for a in self.agents}

    def step(self, actions):
        r = {a: float(self.means[int(actions[a])] + self.noise * self.rng.standard_normal())
             for a in self.agents}
        obs = {a: self._obs() for a in self.agents}
        done = dict.fromkeys(self.agents, True)
        infos = {a: {"inventory": 0} for a in self.agents}
        self.agents = []
        return obs, r, done, dict.fromkeys(done, False), infos


class Target(Bandit):
    """One step, a continuous action ``a`` in [-1, 1]^1 paying ``-(a - target)^2``."""

    def __init__(self, target=0.5):
        super().__init__()
        self.target = target

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        return spaces.Box(-1, 1, (1,), np.float32)

    def step(self, actions):
        a = float(np.asarray(actions["a_0"]).ravel()[0])
        obs, r, d, t, i = super().step({"a_0": 0})
        r["a_0"] = -(a - self.target) ** 2
        return obs, r, d, t, i


class Chain(Bandit):
    """A 4-state chain: state s (one-hot observation), action 1 moves right (reward 0),
    action 0 stays (reward 0.02); reaching the end pays 1 and ends; 10 steps at most.
    Optimal: always right (1 at the third step, against at most 0.2 for staying)."""

    def __init__(self, n=4):
        super().__init__(means=(0, 0), obs_dim=n)
        self.n = n

    def reset(self, seed=None, options=None):
        self.s = 0
        self.t = 0
        return super().reset(seed)

    def _obs(self):
        o = np.zeros(self.obs_dim, np.float32)
        o[min(getattr(self, "s", 0), self.n - 1)] = 1
        return o

    def step(self, actions):
        a = int(actions["a_0"])
        self.t += 1
        r = 0.02 if a == 0 else 0.0
        self.s += a
        end = self.s >= self.n - 1
        if end:
            r = 1.0
        trunc = not end and self.t >= 10
        obs = {"a_0": self._obs()}
        if end or trunc:
            self.agents = []
        return obs, {"a_0": r}, {"a_0": end}, {"a_0": trunc}, {"a_0": {"inventory": 0}}


@pytest.fixture
def bandit():
    return Bandit


@pytest.fixture
def target():
    return Target


@pytest.fixture
def chain():
    return Chain

"""Generalized advantage estimation (GAE) over rollouts, and a replay buffer (DQN)."""

from __future__ import annotations

import numpy as np


def gae(rewards, values, dones, last_value, gamma: float = 0.99, lam: float = 0.95):
    """Generalized advantage estimation (Schulman et al. 2016) over one trajectory segment.

    ``delta_t = r_t + gamma V(s_{t+1}) (1 - done_t) - V(s_t)``,
    ``A_t = delta_t + gamma lam (1 - done_t) A_{t+1}``; ``done_t`` marks that the episode ended
    after step ``t`` (no bootstrap across it), ``last_value`` is ``V`` of the state after the
    segment. Returns ``(advantages, returns = advantages + values)`` as float32 arrays; works on
    ``(T,)`` or ``(T, n_envs)`` inputs."""
    r = np.asarray(rewards, np.float64)
    v = np.asarray(values, np.float64)
    d = np.asarray(dones, np.float64)
    adv = np.zeros_like(r)
    nxt_v = np.asarray(last_value, np.float64)
    last = np.zeros_like(nxt_v)
    for t in range(len(r) - 1, -1, -1):
        nonterm = 1.0 - d[t]
        delta = r[t] + gamma * nxt_v * nonterm - v[t]
        last = delta + gamma * lam * nonterm * last
        adv[t] = last
        nxt_v = v[t]
    return adv.astype(np.float32), (adv + v).astype(np.float32)


class Replay:
    """Uniform experience replay of ``(obs, action, reward, next_obs, done)``.

    With ``window > 1`` (a sequence encoder) ``obs`` is a ``(window, obs_dim)`` window and
    ``next_obs`` the next observation only: ``sample`` gives the next window as ``obs``
    shifted by one with ``next_obs`` last (what the history holds after it), so a window is
    stored once."""

    def __init__(self, capacity: int, obs_dim: int, seed: int = 0, window: int = 1):
        self.window = int(window)
        shape = (obs_dim,) if self.window == 1 else (self.window, obs_dim)
        self.obs = np.zeros((capacity, *shape), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.dones = np.zeros(capacity, np.float32)
        self.capacity, self.size, self.pos = capacity, 0, 0
        self.rng = np.random.default_rng(seed)

    def add(self, obs, action, reward, next_obs, done) -> None:
        """Store one transition (overwriting the oldest when full)."""
        i = self.pos
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_obs[i], self.dones[i] = next_obs, done
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, n: int):
        """``n`` transitions drawn uniformly with replacement."""
        idx = self.rng.integers(0, self.size, n)
        obs = self.obs[idx]
        if self.window == 1:
            nxt = self.next_obs[idx]
        else:
            nxt = np.concatenate([obs[:, 1:], self.next_obs[idx][:, None]], axis=1)
        return obs, self.actions[idx], self.rewards[idx], nxt, self.dones[idx]

    def state_dict(self) -> dict:
        """The buffer and its random state as plain data."""
        return {k: getattr(self, k) for k in ("obs", "next_obs", "actions", "rewards", "dones",
                                              "size", "pos")} | {
            "rng": self.rng.bit_generator.state}

    def load_state_dict(self, d: dict) -> None:
        """Restore ``state_dict()``."""
        for k in ("obs", "next_obs", "actions", "rewards", "dones"):
            getattr(self, k)[...] = d[k]
        self.size, self.pos = int(d["size"]), int(d["pos"])
        self.rng.bit_generator.state = d["rng"]

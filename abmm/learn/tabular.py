"""Tabular Q-learning over a discretized state -- the classic formulation of RL market making
(e.g. Spooner et al. 2018's baseline; Chan & Shelton 2001): the state is the bin of a few
observation features, the action one of the discrete quote pairs, and

    Q(s, a) <- Q(s, a) + alpha (r + gamma max_a' Q(s', a') (1 - done) - Q(s, a))

with epsilon-greedy exploration decaying linearly. The default bins read features 0
(inventory), 7 (volatility) and 8 (trade flow) of the market observations: ``bins = {0: [...],
7: [...], 8: [...]}`` gives each feature's bin edges (``numpy.digitize``).
"""

from __future__ import annotations

import numpy as np

from abmm.policy.tabular import tabular_state

DEFAULT_BINS = {0: [-0.6, -0.2, 0.2, 0.6], 7: [0.2, 0.5], 8: [-0.3, 0.3]}


class TabularQ:
    """Tabular Q-learning over binned observation features."""
    algo = "tabular"

    def __init__(self, obs_dim: int, action_space, bins: dict | None = None,
                 alpha: float = 0.1, gamma: float = 0.99, eps_start: float = 1.0,
                 eps_end: float = 0.05, eps_decay_steps: int = 20_000, seed: int = 0, **_):
        if not hasattr(action_space, "n"):
            raise ValueError("tabular Q-learning needs a Discrete action space")
        bins = DEFAULT_BINS if bins is None else bins
        self.bins = {int(k): np.asarray(sorted(v), np.float64) for k, v in bins.items()}
        for k in self.bins:
            if not 0 <= k < obs_dim:
                raise ValueError(f"bins for feature {k}, but observations have {obs_dim}")
        self.features = sorted(self.bins)
        self.sizes = [len(self.bins[k]) + 1 for k in self.features]
        self.n_states = int(np.prod(self.sizes))
        self.n_actions = int(action_space.n)
        self.Q = np.zeros((self.n_states, self.n_actions))
        self.hp = dict(alpha=alpha, gamma=gamma, eps_start=eps_start, eps_end=eps_end,
                       eps_decay_steps=eps_decay_steps)
        self.rng = np.random.default_rng(seed)
        self.steps = 0
        self._pending: dict = {}
        self._td: list = []

    def state(self, obs: np.ndarray) -> np.ndarray:
        """The state index of each observation (``abmm.policy.tabular_state``)."""
        return tabular_state(obs, self.features, self.bins)

    @property
    def epsilon(self) -> float:
        """The exploration rate now (linear decay)."""
        hp = self.hp
        f = min(1.0, self.steps / max(hp["eps_decay_steps"], 1))
        return hp["eps_start"] + f * (hp["eps_end"] - hp["eps_start"])

    def act(self, obs, explore: bool = True, keys=None):
        """Epsilon-greedy actions (greedy without exploration) and what ``record`` needs."""
        s = self.state(obs)
        q = self.Q[s]
        if not explore:  # the first best action, as abmm.policy.TabularPolicy does
            return q.argmax(axis=1), None
        best = q.max(axis=1, keepdims=True)
        # while exploring, ties are broken at random (an untrained table tries every action)
        greedy = np.array([self.rng.choice(np.flatnonzero(row == b))
                           for row, b in zip(q, best[:, 0], strict=True)])
        rand = self.rng.random(len(s)) < self.epsilon
        a = np.where(rand, self.rng.integers(0, self.n_actions, len(s)), greedy)
        return a, (s, a)

    def _td_update(self, s, a, r, s2, done):
        hp = self.hp
        target = r + (0.0 if done else hp["gamma"] * self.Q[s2].max())
        err = target - self.Q[s, a]
        self.Q[s, a] += hp["alpha"] * err
        self._td.append(abs(err))

    def record(self, key, aux, reward: float, i: int) -> None:
        """Record the reward of row ``i`` of the last ``act``; update the previous step's Q."""
        s, a = aux
        prev = self._pending.pop(key, None)
        if prev is not None:
            self._td_update(prev[0], prev[1], prev[2], s[i], False)
        self._pending[key] = (int(s[i]), int(a[i]), float(reward))
        self.steps += 1

    def finish_episode(self, key, last_obs, terminated: bool) -> None:
        """Close stream ``key``'s last transition at the episode's end."""
        prev = self._pending.pop(key, None)
        if prev is None:
            return
        if last_obs is None or terminated:
            self._td_update(prev[0], prev[1], prev[2], prev[0], True)
        else:
            self._td_update(prev[0], prev[1], prev[2], int(self.state(last_obs)[0]), False)

    def update(self) -> dict:
        """Statistics since the last call (tabular Q learns online)."""
        td, self._td = self._td, []
        return {"td_abs": float(np.mean(td)) if td else float("nan"), "epsilon": self.epsilon,
                "visited_states": int((self.Q != 0).any(axis=1).sum())}

    def state_dict(self) -> dict:
        """Everything needed to resume exactly."""
        return {"Q": self.Q.copy(), "rng": self.rng.bit_generator.state, "steps": self.steps,
                "bins": {k: v.tolist() for k, v in self.bins.items()}, "hp": dict(self.hp)}

    def load_state_dict(self, d: dict) -> None:
        """Restore ``state_dict()``."""
        Q = np.asarray(d["Q"])
        if Q.shape != self.Q.shape:
            raise ValueError(f"Q table shape {Q.shape} does not match {self.Q.shape}")
        self.Q = Q.copy()
        self.rng.bit_generator.state = d["rng"]
        self.steps = int(d["steps"])

    def policy_state(self) -> dict:
        """A snapshot for acting: the Q table and the bins."""
        return {"algo": self.algo, "Q": self.Q.copy(),
                "bins": {k: v.tolist() for k, v in self.bins.items()}}

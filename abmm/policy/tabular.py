"""A tabular Q policy: the state is the bin of a few observation features, the action the
greedy one of the Q table's row (the first on ties) -- what ``abmm.learn.tabular`` learns."""

from __future__ import annotations

import numpy as np

from abmm.policy.base import Policy

__all__ = ["TabularPolicy", "tabular_state"]


def tabular_state(obs: np.ndarray, features: list[int], bins: dict) -> np.ndarray:
    """The state index of each row of ``obs``: the mixed-radix number of the features' bins
    (``numpy.digitize`` against each feature's edges, in ``features`` order)."""
    obs = np.atleast_2d(np.asarray(obs, np.float64))
    idx = np.zeros(len(obs), np.int64)
    for k in features:
        edges = bins[k]
        idx = idx * (len(edges) + 1) + np.digitize(obs[:, k], edges)
    return idx


class TabularPolicy(Policy):
    """``Q[state(obs)].argmax()`` over a table of ``prod(len(edges) + 1)`` states."""

    def __init__(self, Q, bins: dict, algo: str = "tabular", policy_config: dict | None = None,
                 obs_dim: int | None = None):
        self.Q = np.asarray(Q, np.float64)
        self.bins = {int(k): np.asarray(v, np.float64) for k, v in bins.items()}
        self.features = sorted(self.bins)
        n_states = int(np.prod([len(self.bins[k]) + 1 for k in self.features]))
        if self.Q.ndim != 2 or self.Q.shape[0] != n_states:
            raise ValueError(f"Q table of shape {self.Q.shape}: the bins give {n_states} states")
        self.algo, self.obs_dim = algo, obs_dim
        self.action = {"discrete": int(self.Q.shape[1])}
        self.policy_config = dict(policy_config or {})

    def __call__(self, obs) -> np.ndarray:
        """Deterministic actions for a batch of observations."""
        x = np.atleast_2d(np.asarray(obs, np.float32))
        if x.shape[-1] <= self.features[-1]:
            raise ValueError(f"observations have {x.shape[-1]} features; this tabular policy "
                             f"reads feature {self.features[-1]}")
        return self.Q[tabular_state(x, self.features, self.bins)].argmax(axis=1)

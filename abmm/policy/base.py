"""The policy interface: ``Policy`` maps a batch of observations to deterministic actions, and
carries what acting elsewhere needs to know (observation size, action space, the environment's
``policy_config``). ``ObsNorm`` is the frozen observation normalizer policies apply first."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

__all__ = ["Policy", "ObsNorm"]


class ObsNorm:
    """``normalize(x) = clip((x - mean) / sqrt(var + eps), -clip, clip)`` as float32 (the
    frozen form of ``abmm.learn.normalize.RunningNorm``; same arithmetic, float64 inside)."""

    def __init__(self, mean, var, clip: float = 10.0, eps: float = 1e-8):
        self.mean = np.asarray(mean, np.float64)
        self.var = np.asarray(var, np.float64)
        self.clip = float(clip)
        self.eps = float(eps)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        """The normalized, clipped float32 copy of ``x``."""
        return normalize(x, self.mean, self.var, self.clip, self.eps)


def normalize(x, mean: np.ndarray, var: np.ndarray, clip: float, eps: float) -> np.ndarray:
    """``clip((x - mean) / sqrt(var + eps), -clip, clip)`` computed in float64, as float32."""
    out = (np.asarray(x, np.float64) - mean) / np.sqrt(var + eps)
    return np.clip(out, -clip, clip).astype(np.float32)


class Policy(ABC):
    """A frozen policy: ``policy(obs_batch) -> actions`` (deterministic: no exploration).

    ``obs_batch`` is ``(n, obs_dim)`` (a single observation is taken as a batch of one);
    the result has one action per row: ints for a discrete space, ``(n, d)`` floats for a box.
    Attributes: ``algo`` (the learner that made it: ``ppo``, ``dqn``, ``tabular``),
    ``obs_dim`` (``None`` when any size with the features it reads will do), ``action`` (the
    action space as data: ``{"discrete": n}`` or ``{"box": d, "low": [...], "high": [...]}``),
    ``policy_config`` (the environment conventions it was trained with; ``{}`` if unknown).
    """

    algo: str = ""
    obs_dim: int | None = None
    action: dict = {}
    policy_config: dict = {}

    def _batch(self, obs) -> np.ndarray:
        x = np.atleast_2d(np.asarray(obs, np.float32))
        if self.obs_dim is not None and x.shape[-1] != self.obs_dim:
            raise ValueError(f"observations have {x.shape[-1]} features; this {self.algo} "
                             f"policy takes {self.obs_dim}")
        return x

    @abstractmethod
    def __call__(self, obs) -> np.ndarray:
        """Deterministic actions for a batch of observations."""

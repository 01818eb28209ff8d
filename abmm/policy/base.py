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
    # np.clip's result, without its Python-level argument handling (a batch at every decision)
    np.maximum(out, -clip, out=out)
    np.minimum(out, clip, out=out)
    return out.astype(np.float32)


class Policy(ABC):
    """A frozen policy: ``policy(obs_batch) -> actions`` (deterministic: no exploration).

    ``obs_batch`` is ``(n, obs_dim)`` (a single observation is taken as a batch of one);
    the result has one action per row: ints for a discrete space, ``(n, d)`` floats for a box.
    Attributes: ``algo`` (the learner that made it: ``ppo``, ``dqn``, ``tabular``),
    ``obs_dim`` (``None`` when any size with the features it reads will do), ``action`` (the
    action space as data: ``{"discrete": n}`` or ``{"box": d, "low": [...], "high": [...]}``),
    ``policy_config`` (the environment conventions it was trained with; ``{}`` if unknown),
    ``window`` (how many of the latest observations it reads: 1, or ``W`` for a sequence
    encoder, ``abmm.policy.sequence``).

    A policy with ``window > 1`` keeps the history itself: each call with ``(n, obs_dim)``
    observations appends row ``i`` to stream ``i``'s window (zero-padded at first) and acts on
    the windows, so one policy object follows one fixed set of agents through one episode.
    Give each agent its own copy with ``fork()`` and call ``reset()`` when a new episode
    starts. A call with ``(n, window, obs_dim)`` windows (oldest first) is stateless. Both are
    no-ops for a window of 1.
    """

    algo: str = ""
    obs_dim: int | None = None
    action: dict = {}
    policy_config: dict = {}
    window: int = 1
    _history = None

    def reset(self) -> None:
        """Forget the observation history (a new episode)."""
        self._history = None

    def fork(self) -> Policy:
        """A copy sharing the weights with its own, empty history (``self`` for a window of
        1: nothing to keep apart)."""
        if self.window == 1:
            return self
        import copy

        twin = copy.copy(self)
        twin._history = None
        return twin

    def _input(self, obs) -> np.ndarray:
        """``(n, obs_dim)`` for a window of 1, else ``(n, window, obs_dim)`` windows (pushed to
        the history, or given whole)."""
        if self.window == 1:
            return self._batch(obs)
        x = np.asarray(obs, np.float32)
        if x.ndim == 3:
            if x.shape[1:] != (self.window, self.obs_dim):
                raise ValueError(f"windows of shape {x.shape[1:]}; this {self.algo} policy "
                                 f"takes ({self.window}, {self.obs_dim})")
            return x
        x = self._batch(x)
        if self._history is None:
            from abmm.policy.sequence import Windows

            self._history = Windows(self.window, x.shape[1])
        return self._history.push(x)

    def _batch(self, obs) -> np.ndarray:
        x = np.atleast_2d(np.asarray(obs, np.float32))
        if self.obs_dim is not None and x.shape[-1] != self.obs_dim:
            raise ValueError(f"observations have {x.shape[-1]} features; this {self.algo} "
                             f"policy takes {self.obs_dim}")
        return x

    @abstractmethod
    def __call__(self, obs) -> np.ndarray:
        """Deterministic actions for a batch of observations."""

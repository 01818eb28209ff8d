"""Running mean and variance of observations (Welford / Chan et al. parallel update)."""

from __future__ import annotations

import numpy as np

from abmm.policy.base import normalize


class RunningNorm:
    """``normalize(x) = clip((x - mean) / sqrt(var + eps), -clip, clip)`` with the mean and
    variance of every batch passed to ``update`` (Chan, Golub & LeVeque's parallel formula)."""

    def __init__(self, shape: tuple[int, ...], clip: float = 10.0, eps: float = 1e-8):
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = 0.0
        self.clip = float(clip)
        self.eps = float(eps)

    def update(self, x: np.ndarray) -> None:
        """Fold a batch of observations into the statistics."""
        x = np.asarray(x, np.float64).reshape(-1, *self.mean.shape)
        n = x.shape[0]
        if n == 0:
            return
        self.merge(n, x.mean(axis=0), x.var(axis=0))

    def merge(self, n: float, bm, bv) -> None:
        """Fold in the statistics of ``n`` more observations with mean ``bm`` and (population)
        variance ``bv`` (another normalizer's ``delta_since``)."""
        if n <= 0:
            return
        tot = self.count + n
        delta = bm - self.mean
        self.mean = self.mean + delta * n / tot
        m2 = self.var * self.count + bv * n + delta ** 2 * self.count * n / tot
        self.var = m2 / tot
        self.count = tot

    def delta_since(self, before: dict) -> tuple[float, np.ndarray, np.ndarray]:
        """``(n, mean, var)`` of the observations folded in since the ``state_dict()``
        ``before`` (Chan's formula inverted), to ``merge`` into another copy of ``before``."""
        c0 = float(before["count"])
        m0 = np.asarray(before["mean"], np.float64)
        v0 = np.asarray(before["var"], np.float64)
        n = self.count - c0
        if n <= 0:
            return 0.0, np.zeros_like(self.mean), np.zeros_like(self.var)
        c1 = self.count
        bm = (c1 * self.mean - c0 * m0) / n
        bv = (c1 * self.var - c0 * v0 - (bm - m0) ** 2 * c0 * n / c1) / n
        return n, bm, np.maximum(bv, 0.0)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        """``x`` normalized with the statistics so far (``abmm.policy.base.normalize``)."""
        return normalize(x, self.mean, self.var, self.clip, self.eps)

    def state_dict(self) -> dict:
        """The statistics as plain data."""
        return {"mean": self.mean.tolist(), "var": self.var.tolist(), "count": self.count,
                "clip": self.clip, "eps": self.eps}

    def load_state_dict(self, d: dict) -> None:
        """Restore ``state_dict()``'s statistics."""
        mean = np.asarray(d["mean"], np.float64)
        if mean.shape != self.mean.shape:
            raise ValueError(f"normalizer shape {mean.shape} does not match {self.mean.shape}")
        self.mean, self.var = mean, np.asarray(d["var"], np.float64)
        self.count, self.clip, self.eps = float(d["count"]), float(d["clip"]), float(d["eps"])

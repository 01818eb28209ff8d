"""The market's activity: short-term over long-term volatility of the mid.

Traders with ``attention`` wake more often when it is above 1 (the market moves more than usual)
and less when below. Both volatilities are bias-corrected EWMAs of squared mid changes per
second (half-lives ``SHORT_NS`` and ``LONG_NS``), updated once per ``MarketModel.step()``.
"""

from __future__ import annotations

__all__ = ["Activity"]


class Activity:
    """Streaming ratio ``sqrt(short EWMA / long EWMA)`` of squared mid moves per second."""

    #: half-lives (ns) of the short- and long-term volatility
    SHORT_NS = 120_000_000_000
    LONG_NS = 7_200_000_000_000

    def __init__(self):
        self._prev: tuple = (None, 0)  # (mid, time) at the last update
        self._var = [0.0, 0.0]  # short- and long-term EWMA of squared mid moves per second
        self._decay = [1.0, 1.0]  # weight not yet gathered by each EWMA (bias correction)
        self.value = 1.0

    def update(self, now: int, mid: float | None) -> None:
        """Observe the mid at ``now`` (``None``, a one-sided book, is skipped)."""
        if mid is None:
            return
        prev, t_prev = self._prev
        self._prev = (mid, now)
        if prev is None or now <= t_prev:
            return
        dt = now - t_prev
        r2 = (mid - prev) ** 2 * (1e9 / dt)
        var, decay = self._var, self._decay
        for i, hl in ((0, self.SHORT_NS), (1, self.LONG_NS)):
            w = 1 - 0.5 ** (dt / hl)
            var[i] += w * (r2 - var[i])
            decay[i] *= 1 - w
        # bias-corrected (as Adam's moments): an EWMA started at 0 divided by the weight it
        # has gathered, so the ratio is about 1 from the first minutes, not inflated until the
        # long EWMA has filled up
        short, long = var[0] / (1 - decay[0]), var[1] / (1 - decay[1])
        self.value = 1.0 if long <= 0 else (short / long) ** 0.5

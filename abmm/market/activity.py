"""The market's activity: short-term over long-term volatility of the mid.

Traders with ``attention`` wake more often when it is above 1 (the market moves more than usual)
and less when below. Both volatilities are bias-corrected EWMAs of squared mid changes per
second (half-lives ``SHORT_NS`` and ``LONG_NS``; :class:`abmm.signals.MidVolatility`), updated
once per ``MarketModel.step()``.
"""

from __future__ import annotations

from abmm.signals.volatility import MidVolatility

__all__ = ["Activity"]


class Activity:
    """Streaming ratio ``sqrt(short EWMA / long EWMA)`` of squared mid moves per second."""

    #: half-lives (ns) of the short- and long-term volatility
    SHORT_NS = 120_000_000_000
    LONG_NS = 7_200_000_000_000

    def __init__(self):
        # bias-corrected (as Adam's moments): an EWMA started at 0 divided by the weight it has
        # gathered, so the ratio is about 1 from the first minutes, not inflated until the long
        # EWMA has filled up
        self._short = MidVolatility(self.SHORT_NS, halflife_unit="ns", bias_correct=True)
        self._long = MidVolatility(self.LONG_NS, halflife_unit="ns", bias_correct=True)
        self.value = 1.0

    def update(self, now: int, mid: float | None) -> None:
        """Observe the mid at ``now`` (``None``, a one-sided book, is skipped)."""
        if mid is None:
            return
        self._short.update(mid, now)
        self._long.update(mid, now)
        long = self._long.variance
        self.value = 1.0 if long <= 0 else (self._short.variance / long) ** 0.5

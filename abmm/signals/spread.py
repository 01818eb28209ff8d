"""The bid-ask spread and its rolling z-score.

``spread = ask - bid`` (ticks) where both sides are present, else NaN.

The z-score uses a **fixed window of the last ``window`` valid observations** (a count window,
not a time window, and not an EWMA), the current one included, with the population standard
deviation (ddof = 0)::

    n   = number of valid observations in the window (<= window)
    S1  = sum x_i,  S2 = sum x_i^2          over the window
    z   = (x - S1/n) / sqrt(S2/n - (S1/n)^2)   computed as  (n x - S1) / sqrt(n S2 - S1^2)

NaN observations (an empty side) are skipped: they do not enter the window and their z-score is
NaN. The z-score is NaN while ``n < min_periods`` (default: the full window), and 0.0 when every
value in the window is the same (``n S2 - S1^2 <= 1e-12 n S2``: the current value is the mean).
Both versions keep ``S1``/``S2`` as running sums updated by ``+ (x_new - x_old)`` (the streaming
class) or the cumulative sum of those increments (the vectorized function), so they give the
same numbers -- exactly for integer-valued data such as spreads in ticks.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

__all__ = ["spread", "rolling_zscore", "spread_zscore", "Spread", "RollingZScore", "SpreadZScore"]

NAN = float("nan")
#: relative size of ``n S2 - S1^2`` below which the window is taken as constant
ZERO_VAR = 1e-12


def spread(bid, ask):
    """``ask - bid`` (float) where both sides are present (price > 0), else NaN."""
    bid = np.asarray(bid, np.float64)
    ask = np.asarray(ask, np.float64)
    out = np.where((bid > 0) & (ask > 0), ask - bid, np.nan)
    return out[()] if out.ndim == 0 else out


def _check(window, min_periods):
    window = int(window)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    min_periods = window if min_periods is None else int(min_periods)
    if not 1 <= min_periods <= window:
        raise ValueError(f"min_periods must be in [1, window], got {min_periods}")
    return window, min_periods


def _z(x, n, s1, s2):
    var_n2 = n * s2 - s1 * s1
    if var_n2 <= ZERO_VAR * n * s2:
        return 0.0
    return (n * x - s1) / math.sqrt(var_n2)


def rolling_zscore(x, window: int, min_periods: int | None = None) -> np.ndarray:
    """Rolling z-score of ``x`` over the last ``window`` valid (non-NaN) values; see the module
    docstring for the exact definition."""
    window, min_periods = _check(window, min_periods)
    x = np.asarray(x, np.float64)
    out = np.full(len(x), np.nan)
    valid = ~np.isnan(x)
    xv = x[valid]
    m = len(xv)
    if not m:
        return out
    old = np.zeros(m)
    if m > window:
        old[window:] = xv[: m - window]
    s1 = np.cumsum(xv - old)
    s2 = np.cumsum(xv * xv - old * old)
    n = np.minimum(np.arange(1, m + 1), window).astype(np.float64)
    var_n2 = n * s2 - s1 * s1
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (n * xv - s1) / np.sqrt(var_n2)
    z = np.where(var_n2 <= ZERO_VAR * n * s2, 0.0, z)
    z[n < min_periods] = np.nan
    out[valid] = z
    return out


def spread_zscore(bid, ask, window: int, min_periods: int | None = None) -> np.ndarray:
    """``rolling_zscore(spread(bid, ask), window, min_periods)``."""
    return rolling_zscore(np.atleast_1d(spread(bid, ask)), window, min_periods)


class Spread:
    """Streaming ``spread``: ``update(bid, ask)`` (0 or ``None`` = empty side) or
    ``update_book(book)``."""

    def __init__(self):
        self._value = NAN

    def update(self, bid, ask) -> float:
        """Spread ``ask - bid`` (ticks) of this quote, NaN if a side is empty (0 or None)."""
        b = 0.0 if bid is None else float(bid)
        a = 0.0 if ask is None else float(ask)
        self._value = a - b if b > 0 and a > 0 else NAN
        return self._value

    def update_book(self, book) -> float:
        """``update`` with the best bid and ask of an ``OrderBook``."""
        bid, _, ask, _ = book.top()
        return self.update(bid, ask)

    @property
    def value(self) -> float:
        """The spread (ticks) of the last update (NaN before any)."""
        return self._value

    def reset(self) -> None:
        """Forget the last spread (``value`` back to NaN)."""
        self._value = NAN


class RollingZScore:
    """Streaming ``rolling_zscore``: ``update(x)`` returns the z-score of ``x`` (NaN input:
    skipped, returns NaN). O(1) per update, O(window) memory."""

    def __init__(self, window: int, min_periods: int | None = None):
        self.window, self.min_periods = _check(window, min_periods)
        self.reset()

    def reset(self) -> None:
        """Empty the window and set ``value`` back to NaN."""
        self._buf: deque = deque()
        self._s1 = 0.0
        self._s2 = 0.0
        self._value = NAN

    def update(self, x) -> float:
        """Add ``x`` to the window; returns its z-score (NaN for NaN ``x`` or too few values)."""
        x = float(x)
        if math.isnan(x):
            self._value = NAN
            return NAN
        old = 0.0
        if len(self._buf) == self.window:
            old = self._buf.popleft()
        self._buf.append(x)
        self._s1 += x - old
        self._s2 += x * x - old * old
        n = float(len(self._buf))
        self._value = NAN if n < self.min_periods else _z(x, n, self._s1, self._s2)
        return self._value

    @property
    def value(self) -> float:
        """The z-score of the last update."""
        return self._value


class SpreadZScore(RollingZScore):
    """Streaming ``spread_zscore``: ``update(bid, ask)`` or ``update_book(book)``."""

    def update(self, bid, ask) -> float:  # type: ignore[override]
        """Add this quote's spread (ticks) to the window; returns its z-score (NaN if one-sided)."""
        b = 0.0 if bid is None else float(bid)
        a = 0.0 if ask is None else float(ask)
        return super().update(a - b if b > 0 and a > 0 else NAN)

    def update_book(self, book) -> float:
        """``update`` with the best bid and ask of an ``OrderBook``."""
        bid, _, ask, _ = book.top()
        return self.update(bid, ask)

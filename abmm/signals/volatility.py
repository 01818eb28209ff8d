"""Volatility: realized volatility of a price series (whole series and per time bucket), the
Garman-Klass estimator from OHLC bars -- each streaming and vectorized -- and ``MidVolatility``,
the streaming EWMA of squared mid changes per second that agents, the market and the policy
features share.

Prices may be ticks or price units (the estimators use log prices, so the unit cancels). Only
valid prices (finite and > 0) count: NaN (e.g. a mid with an empty side) and non-positive
prices are skipped by both versions.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from abmm.engine import PURE_PYTHON
from abmm.signals.buckets import Buckets, BucketStream, assign

__all__ = [
    "log_returns",
    "realized_volatility",
    "realized_volatility_buckets",
    "RealizedVolatility",
    "BucketedRealizedVolatility",
    "garman_klass_variance",
    "garman_klass",
    "ohlc_bars",
    "garman_klass_bars",
    "OHLC",
    "OHLCBars",
    "GarmanKlass",
    "MidVolatility",
]

NAN = float("nan")
#: 2 ln 2 - 1, the Garman-Klass weight of the open-to-close term
GK_C = 2 * math.log(2) - 1


def _valid(price):
    p = np.asarray(price, np.float64)
    return p, np.isfinite(p) & (p > 0)


def _ok(p: float) -> bool:
    return math.isfinite(p) and p > 0


def log_returns(price) -> np.ndarray:
    """``ln(p_i / p_{i-1})`` between consecutive valid prices (length: valid prices - 1)."""
    p, ok = _valid(price)
    p = p[ok]
    return np.log(p[1:] / p[:-1])


def realized_volatility(price) -> float:
    """Realized volatility ``sqrt(sum_i r_i^2)`` of the log returns ``r_i = ln(p_i / p_{i-1})``
    between consecutive valid prices (not annualized; for a per-period figure divide the
    variance by the number of periods). 0.0 when there is no return (fewer than two valid
    prices: no observed price change)."""
    r = log_returns(price)
    return float(math.sqrt(np.cumsum(r * r)[-1])) if len(r) else 0.0


def realized_volatility_buckets(ts, price, bucket_ns: int, origin: int = 0, start=None,
                                end=None) -> Buckets:
    """Realized volatility per time bucket: ``sqrt(sum r_i^2)`` over the returns whose later
    price falls in the bucket (a return across a bucket boundary belongs to the later bucket;
    returns are taken along the whole series, so a bucket's first return starts from the last
    price before it). 0.0 for a bucket without a return."""
    p, ok = _valid(price)
    ts = np.asarray(ts, np.int64)[ok]
    p = p[ok]
    r2 = np.zeros(len(p))
    r = np.log(p[1:] / p[:-1])
    r2[1:] = r * r
    starts, idx, keep = assign(ts, bucket_ns, origin, start, end)
    acc = np.zeros(len(starts))
    np.add.at(acc, idx, r2[keep])
    return Buckets(starts, np.sqrt(acc))


class RealizedVolatility:
    """Streaming ``realized_volatility``: ``update(price)`` adds the squared log return from the
    previous valid price; ``value = sqrt(sum r^2)`` since the start or the last ``reset()``
    (0.0 without a return). Invalid prices are skipped."""

    def __init__(self):
        self._prev = None
        self._sum = 0.0

    def reset(self, keep_price: bool = True) -> None:
        """Restart the sum (``keep_price=False`` also forgets the previous price)."""
        self._sum = 0.0
        if not keep_price:
            self._prev = None

    def update(self, price) -> float:
        """Add a price (skipped if invalid); returns ``value``."""
        p = float(price)
        if _ok(p):
            if self._prev is not None:
                r = math.log(p / self._prev)
                self._sum += r * r
            self._prev = p
        return self.value

    @property
    def value(self) -> float:
        """``sqrt(sum r^2)`` of the log returns so far."""
        return math.sqrt(self._sum)


class BucketedRealizedVolatility(BucketStream):
    """Streaming ``realized_volatility_buckets``: ``update(ts, price)`` returns the closed
    ``(start, rv)`` pairs; ``flush()`` closes the open bucket."""

    def __init__(self, bucket_ns: int, origin: int = 0, start=None, end=None):
        super().__init__(bucket_ns, origin, start, end)
        self._prev = None

    def _new(self):
        return [0.0]

    def _finish(self, acc):
        return math.sqrt(acc[0])

    def update(self, ts, price) -> list:
        """Add a price at ``ts`` (skipped if invalid); returns the buckets it closed."""
        p = float(price)
        if not _ok(p):
            return []
        r2 = 0.0
        if self._prev is not None:
            r = math.log(p / self._prev)
            r2 = r * r
        self._prev = p
        closed, keep = self._bucket(ts)
        if keep:
            self._acc[0] += r2
        return closed


# ------------------------------------------------------------------------------ Garman-Klass
def garman_klass_variance(open_, high, low, close):
    """Garman & Klass (1980) variance of one bar (per bar, not annualized)::

        sigma^2 = 0.5 * ln(H / L)^2 - (2 ln 2 - 1) * ln(C / O)^2

    Scalars or arrays; NaN in, NaN out. Never negative for a consistent bar (L <= O, C <= H)."""
    o, h, lo, c = (np.asarray(x, np.float64) for x in (open_, high, low, close))
    with np.errstate(divide="ignore", invalid="ignore"):
        hl = np.log(h / lo)
        co = np.log(c / o)
        v = 0.5 * hl * hl - GK_C * co * co
    return v[()] if v.ndim == 0 else v


def garman_klass(open_, high, low, close):
    """Garman-Klass volatility of each bar: ``sqrt(garman_klass_variance(...))``. Over several
    bars the estimate is ``sqrt(mean of the bars' variances)``."""
    v = np.sqrt(garman_klass_variance(open_, high, low, close))
    return v[()] if np.ndim(v) == 0 else v


class OHLC(NamedTuple):
    """Bars: ``start`` (ns) and ``open``, ``high``, ``low``, ``close`` (NaN for an empty bar)."""

    start: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


def ohlc_bars(ts, price, bar_ns: int, origin: int = 0, start=None, end=None) -> OHLC:
    """OHLC time bars of a price series (first, highest, lowest and last valid price of each
    bar ``[origin + b*bar_ns, origin + (b+1)*bar_ns)``); contiguous, empty bars NaN."""
    p, ok = _valid(price)
    ts = np.asarray(ts, np.int64)[ok]
    p = p[ok]
    starts, idx, keep = assign(ts, bar_ns, origin, start, end)
    p = p[keep]
    out = [np.full(len(starts), np.nan) for _ in range(4)]
    if len(p):
        first = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        last = np.r_[first[1:] - 1, len(p) - 1]
        at = idx[first]
        out[0][at] = p[first]
        out[1][at] = np.maximum.reduceat(p, first)
        out[2][at] = np.minimum.reduceat(p, first)
        out[3][at] = p[last]
    return OHLC(starts, *out)


def garman_klass_bars(ts, price, bar_ns: int, origin: int = 0, start=None,
                      end=None) -> Buckets:
    """Garman-Klass volatility of each OHLC time bar of a price series (NaN for an empty bar;
    0.0 for a bar with a single price)."""
    b = ohlc_bars(ts, price, bar_ns, origin, start, end)
    return Buckets(b.start, np.atleast_1d(garman_klass(b.open, b.high, b.low, b.close)))


class OHLCBars(BucketStream):
    """Streaming ``ohlc_bars``: ``update(ts, price)`` returns the closed bars as ``(start, (open,
    high, low, close))`` pairs; ``flush()`` closes the open bar; ``value`` is the open bar's
    OHLC so far."""

    def _new(self):
        return [NAN, NAN, NAN, NAN]

    def _finish(self, acc):
        return tuple(acc)

    def update(self, ts, price) -> list:
        """Add a price at ``ts`` (skipped if invalid); returns the bars it closed."""
        p = float(price)
        if not _ok(p):
            return []
        closed, keep = self._bucket(ts)
        if keep:
            a = self._acc
            if math.isnan(a[0]):
                a[:] = [p, p, p, p]
            else:
                a[1] = max(a[1], p)
                a[2] = min(a[2], p)
                a[3] = p
        return closed


class GarmanKlass(OHLCBars):
    """Streaming ``garman_klass_bars``: closed bars come back as ``(start, sigma)`` pairs."""

    def _finish(self, acc):
        o, h, lo, c = acc
        if math.isnan(o):
            return NAN
        hl = math.log(h / lo)
        co = math.log(c / o)
        return math.sqrt(0.5 * hl * hl - GK_C * co * co)


# ------------------------------------------------------------------------------ EWMA of the mid
class MidVolatility:
    """Streaming EWMA of squared mid changes per second (ticks^2 / s): one estimator for every
    "how much is the mid moving" rule in abmm.

    ``update(mid, t_ns)`` takes the mid of a two-sided book (``None`` or NaN for a one-sided
    book: skipped entirely, the previous mid is kept) and the time in ns; it returns ``value``.
    The first valid mid only sets the reference. Each later one gives ``r2 = (mid - prev)^2``
    per second of ``dt`` (the measured ``t_ns - t_prev``, or ``interval_ns`` when given; a
    ``dt <= 0`` only moves the reference) and ``var += w (r2 - var)`` with

    * ``halflife_unit="obs"``: ``w = 1 - 0.5 ** (1 / halflife)`` per observation;
    * ``halflife_unit="ns"``: ``w = 1 - 0.5 ** (dt / halflife)`` (time-aware decay).

    Options: ``start="zero"`` starts ``var`` at 0, ``start="first"`` sets it to the first
    ``r2``; ``cap`` limits each ``r2`` (after the first) to ``cap * var + cap_floor``;
    ``bias_correct`` divides ``var`` by the weight gathered so far, ``1 - prod(1 - w)``, as Adam
    does its moments (only meaningful with ``start="zero"``). ``variance`` is the (corrected)
    estimate, 0.0 before any; ``value`` its square root.

    The three rules of abmm, bit for bit:

    * market activity (``MarketModel.activity``; short and long half-lives, one instance each):
      ``MidVolatility(hl_ns, halflife_unit="ns", bias_correct=True)``, updated each ``step()``
      with ``(model.mid(), model.now)``;
    * the market maker's sigma (``agents.market_maker``; half-life ``vol_halflife`` wakes):
      ``MidVolatility(vol_halflife, start="first", cap=25.0)``, updated each wake with the
      two-sided mid (else ``None``) and ``now``;
    * the quoting observation's ``volatility`` feature (``abmm.policy.features``; half-life
      ``vol_halflife`` decisions): ``MidVolatility(vol_halflife, interval_ns=decision_ns)``,
      updated each decision with the two-sided mid (else ``None``).

    For exactness the per-second conversion is ``r2 * (1e9 / dt)`` with ``halflife_unit="ns"``
    and ``r2 / (dt / 1e9)`` otherwise (each as its rule always computed it).
    """

    __slots__ = ("halflife", "by_time", "interval_ns", "first", "cap", "cap_floor",
                 "bias_correct", "alpha", "var", "decay", "n", "prev", "t_prev")

    def __init__(self, halflife: float, *, halflife_unit: str = "obs",
                 interval_ns: int | None = None, start: str = "zero", cap: float | None = None,
                 cap_floor: float = 1.0, bias_correct: bool = False):
        if not halflife > 0:
            raise ValueError(f"halflife must be > 0, got {halflife!r}")
        if halflife_unit not in ("obs", "ns"):
            raise ValueError(f"halflife_unit must be 'obs' or 'ns', not {halflife_unit!r}")
        if start not in ("zero", "first"):
            raise ValueError(f"start must be 'zero' or 'first', not {start!r}")
        if interval_ns is not None and not interval_ns > 0:
            raise ValueError(f"interval_ns must be > 0, got {interval_ns!r}")
        if cap is not None and not cap > 0:
            raise ValueError(f"cap must be > 0, got {cap!r}")
        self.halflife = halflife
        self.by_time = halflife_unit == "ns"
        self.interval_ns = interval_ns
        self.first = start == "first"
        self.cap = cap
        self.cap_floor = cap_floor
        self.bias_correct = bool(bias_correct)
        self.alpha = 1 - 0.5 ** (1 / halflife)
        self.reset()

    def reset(self) -> None:
        """Forget everything (no reference mid, no estimate)."""
        self.var = 0.0  # the raw EWMA
        self.decay = 1.0  # weight not yet gathered (bias correction)
        self.n = 0  # squared changes seen
        self.prev: float | None = None
        self.t_prev = 0

    def update(self, mid, t_ns: int = 0) -> float:
        """Add the mid at ``t_ns`` (``None``/NaN: a one-sided book, skipped); returns
        ``value``."""
        if mid is None or mid != mid:
            return self.value
        prev, t_prev = self.prev, self.t_prev
        self.prev, self.t_prev = mid, t_ns
        if prev is None:
            return self.value
        dt = self.interval_ns if self.interval_ns is not None else t_ns - t_prev
        if dt <= 0:
            return self.value
        if self.by_time:
            r2 = (mid - prev) ** 2 * (1e9 / dt)
            w = 1 - 0.5 ** (dt / self.halflife)
        else:
            r2 = (mid - prev) ** 2 / (dt / 1e9)
            w = self.alpha
        if self.n == 0 and self.first:
            self.var = r2
            self.decay = 0.0
        else:
            if self.cap is not None:
                r2 = min(r2, self.cap * self.var + self.cap_floor)
            self.var += w * (r2 - self.var)
            self.decay *= 1 - w
        self.n += 1
        return self.value

    @property
    def variance(self) -> float:
        """The estimate (ticks^2 per second); bias-corrected when asked; 0.0 before any."""
        if self.bias_correct:
            return self.var / (1 - self.decay) if self.decay < 1 else 0.0
        return self.var

    @property
    def value(self) -> float:
        """``sqrt(variance)``: ticks per sqrt(second)."""
        v = self.variance
        return math.sqrt(v) if v > 0 else 0.0


# the C version (cython_ext/_cvol.pyx): the same estimates bit for bit, faster; the Python one
# stays reachable as the reference (tests/signals/test_cvol.py)
PyMidVolatility = MidVolatility
if not PURE_PYTHON:
    try:
        from abmm.signals._cvol import MidVolatility  # type: ignore[no-redef,assignment] # noqa: F811
    except ImportError:  # not built: the Python one (the engine's import already warned)
        pass

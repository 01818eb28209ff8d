"""VPIN, the volume-synchronized probability of informed trading, with bulk volume
classification (BVC): Easley, Lopez de Prado & O'Hara (2012), "Flow toxicity and liquidity in a
high-frequency world", Review of Financial Studies 25(5), 1457-1493.

The variant implemented (the paper's: classification per *time bar*, then volume buckets):

1. **Time bars.** Trades are grouped into time bars ``[origin + b*bar_ns, origin +
   (b+1)*bar_ns)`` (the paper uses one-minute bars, the default). Bar ``tau`` has volume
   ``V_tau`` (lots traded) and price change ``dP_tau = close_tau - close_{tau-1}``: the last
   trade price of the bar minus that of the previous bar with trades (for the first bar: minus
   its first trade price). Bars without trades are skipped; trades with ``qty <= 0`` are
   ignored.
2. **Standardization.** ``sigma`` is the standard deviation of the bar price changes. The paper
   takes it over the sample; to stay causal (and identical in the streaming and vectorized
   versions) either pass a fixed ``sigma`` (e.g. estimated on an earlier session), or leave
   ``sigma=None`` for the expanding population standard deviation (ddof = 0) of ``dP_1 ..
   dP_tau`` -- the bars so far, the current one included.
3. **Bulk volume classification.** ``V^B_tau = V_tau * Phi(dP_tau / sigma)`` (``Phi`` the
   standard normal CDF), ``V^S_tau = V_tau - V^B_tau``. With ``sigma = 0``, ``Phi(+-inf)``: the
   buy fraction is 1 for a rise, 0 for a fall, 1/2 for no change.
4. **Volume buckets.** The bars, in time order, fill buckets of exactly ``V`` lots; a bar that
   straddles a bucket boundary is split, each part keeping the bar's buy fraction (a big bar can
   fill several buckets). A bucket's time is the end of the bar that completes it. The last,
   incomplete bucket is not reported.
5. **VPIN** after bucket ``j`` (``n`` = ``n_buckets``, the paper's 50)::

       VPIN_j = sum_{i=j-n+1..j} |V^S_i - V^B_i| / (n V)

   NaN until ``n`` buckets are complete.

A bar's classification is only known when it ends, so the streaming ``VPIN`` completes buckets
when a trade of a later bar arrives (or at ``flush()``, which ends the open bar); the vectorized
``vpin`` treats the last bar as ended, i.e. equals the stream after ``flush()``.
"""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

import numpy as np

from abmm.signals.buckets import bucket_index

__all__ = ["bvc_bars", "vpin", "VPIN", "BVCBars", "VPINBucket", "VPINResult", "DEFAULT_BAR_NS"]

NAN = float("nan")
#: one minute, the paper's time bar
DEFAULT_BAR_NS = 60_000_000_000
_SQRT2 = math.sqrt(2.0)


def _phi(dp, sigma: float) -> float:
    """Buy fraction ``Phi(dp / sigma)``; ``Phi(+-inf)`` (1, 0, or 1/2 for 0) when sigma is 0."""
    if sigma > 0:
        return 0.5 * math.erfc(-(float(dp) / sigma) / _SQRT2)
    return 1.0 if dp > 0 else 0.0 if dp < 0 else 0.5


def _check(bucket_volume, n_buckets, bar_ns, sigma):
    bucket_volume, n_buckets, bar_ns = int(bucket_volume), int(n_buckets), int(bar_ns)
    if bucket_volume <= 0:
        raise ValueError(f"bucket_volume must be a positive number of lots, got {bucket_volume}")
    if n_buckets < 1:
        raise ValueError(f"n_buckets must be >= 1, got {n_buckets}")
    if bar_ns <= 0:
        raise ValueError(f"bar_ns must be positive, got {bar_ns}")
    if sigma is not None:
        sigma = float(sigma)
        if not sigma >= 0:
            raise ValueError(f"sigma must be >= 0 (or None), got {sigma}")
    return bucket_volume, n_buckets, bar_ns, sigma


def _expanding_sigma(n, s1, s2) -> float:
    """Population std from count, sum and sum of squares: ``sqrt(n s2 - s1^2) / n``."""
    var_n2 = n * s2 - s1 * s1
    return math.sqrt(var_n2) / n if var_n2 > 0 else 0.0


class BVCBars(NamedTuple):
    """The time bars of ``bvc_bars``: ``end`` (ns), ``volume`` (lots), ``close``, ``dprice``,
    ``sigma`` (the one used for the bar) and ``buy_fraction`` = Phi(dprice / sigma)."""

    end: np.ndarray
    volume: np.ndarray
    close: np.ndarray
    dprice: np.ndarray
    sigma: np.ndarray
    buy_fraction: np.ndarray


def bvc_bars(ts, price, qty, bar_ns: int = DEFAULT_BAR_NS, origin: int = 0,
             sigma: float | None = None) -> BVCBars:
    """Steps 1-3 of the module docstring: the non-empty time bars of a trade sequence with their
    volume, price change, sigma and BVC buy fraction."""
    _, _, bar_ns, sigma = _check(1, 1, bar_ns, sigma)
    ts = np.asarray(ts, np.int64)
    price = np.asarray(price)
    if price.dtype.kind not in "iuf":
        price = price.astype(np.float64)
    qty = np.asarray(qty, np.int64)
    keep = qty > 0
    ts, price, qty = ts[keep], price[keep], qty[keep]
    if not len(ts):
        e = np.zeros(0)
        return BVCBars(np.zeros(0, np.int64), np.zeros(0, np.int64), e, e, e, e)
    b = bucket_index(ts, bar_ns, origin)
    if np.any(np.diff(b) < 0):
        raise ValueError("timestamps must not decrease")
    first = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    last = np.r_[first[1:] - 1, len(ts) - 1]
    vol = np.add.reduceat(qty, first)
    close = price[last]
    dp = close - np.r_[price[:1], close[:-1]]
    if sigma is None:
        n = np.arange(1, len(dp) + 1)
        s1 = np.cumsum(dp)
        s2 = np.cumsum(dp * dp)
        var_n2 = (n * s2 - s1 * s1).astype(np.float64)
        sig = np.where(var_n2 > 0, np.sqrt(np.maximum(var_n2, 0.0)) / n, 0.0)
    else:
        sig = np.full(len(dp), sigma)
    frac = np.array([_phi(d, s) for d, s in zip(dp.tolist(), sig.tolist(), strict=True)])
    end = origin + (b[first] + 1) * np.int64(bar_ns)
    return BVCBars(end, vol, close.astype(np.float64), dp.astype(np.float64), sig, frac)


class VPINResult(NamedTuple):
    """Completed volume buckets: ``ts`` (end of the bar completing each), ``buy``/``sell``
    volume (``V^B``, ``V^S``, lots, fractional) and ``vpin`` after each bucket (NaN for the first
    ``n_buckets - 1``)."""

    ts: np.ndarray
    buy: np.ndarray
    sell: np.ndarray
    vpin: np.ndarray


class VPINBucket(NamedTuple):
    """One completed bucket of the streaming ``VPIN``."""

    ts: int
    buy: float
    sell: float
    vpin: float


def vpin(ts, price, qty, bucket_volume: int, n_buckets: int = 50,
         bar_ns: int = DEFAULT_BAR_NS, origin: int = 0,
         sigma: float | None = None) -> VPINResult:
    """VPIN with bulk volume classification over time bars (see the module docstring) from the
    trades ``ts, price, qty`` (in time order)."""
    V, n, bar_ns, sigma = _check(bucket_volume, n_buckets, bar_ns, sigma)
    bars = bvc_bars(ts, price, qty, bar_ns, origin, sigma)
    cum = np.cumsum(bars.volume)
    total = int(cum[-1]) if len(cum) else 0
    nfull = total // V
    if nfull == 0:
        e = np.zeros(0)
        return VPINResult(np.zeros(0, np.int64), e, e, e)
    bounds = V * np.arange(1, nfull + 1, dtype=np.int64)
    pts = np.unique(np.concatenate([cum, bounds]))  # piece ends: bar ends and bucket ends
    lo = np.r_[0, pts[:-1]]
    bucket = lo // V
    inb = bucket < nfull
    bar = np.searchsorted(cum, lo, side="right")  # the bar each piece belongs to
    buy = np.zeros(nfull)
    np.add.at(buy, bucket[inb], (pts - lo)[inb] * bars.buy_fraction[bar[inb]])
    sell = V - buy
    imb = np.abs(sell - buy)
    out = np.full(nfull, np.nan)
    m = nfull - n + 1
    if m > 0:
        s = np.zeros(m)
        for i in range(n):  # left-to-right, as the stream's sum()
            s = s + imb[i:i + m]
        out[n - 1:] = s / (n * V)
    done = bars.end[np.searchsorted(cum, bounds, side="left")]
    return VPINResult(done, buy, sell, out)


class VPIN:
    """Streaming VPIN (see the module docstring): ``update(ts, price, qty)`` per trade returns
    the buckets it completed (``VPINBucket`` list, usually empty: buckets complete when a bar
    ends, i.e. at the first trade of a later bar); ``flush()`` ends the open bar; ``value`` is
    the VPIN after the last completed bucket (NaN before ``n_buckets``). O(1) per trade
    (O(n_buckets) per completed bucket)."""

    def __init__(self, bucket_volume: int, n_buckets: int = 50, bar_ns: int = DEFAULT_BAR_NS,
                 origin: int = 0, sigma: float | None = None):
        self.bucket_volume, self.n_buckets, self.bar_ns, self.sigma = _check(
            bucket_volume, n_buckets, bar_ns, sigma)
        self.origin = int(origin)
        self._bar = None  # index of the open bar
        self._last_bar = None  # index of the last ended bar
        self._bar_vol = 0
        self._close = None
        self._prev_close = None
        self._n = 0  # bars closed so far, and the sums of their price changes for sigma
        self._s1 = 0
        self._s2 = 0
        self._filled = 0  # lots in the open volume bucket and their buy volume
        self._buy = 0.0
        self._imb: deque = deque(maxlen=self.n_buckets)
        self._value = NAN

    @property
    def value(self) -> float:
        """VPIN after the last completed bucket (NaN before ``n_buckets`` buckets)."""
        return self._value

    def update(self, ts, price, qty) -> list:
        """Add a trade (price in ticks, ``qty`` lots, ``ts`` ns); returns the ``VPINBucket``s it
        completed (a bar's buckets complete when a later bar starts)."""
        qty = int(qty)
        if qty <= 0:
            return []
        price = price.item() if hasattr(price, "item") else price
        b = (int(ts) - self.origin) // self.bar_ns
        out: list = []
        if self._bar is not None and b != self._bar:
            if b < self._bar:
                raise ValueError(f"ts = {int(ts)}: timestamps must not decrease")
            out = self._end_bar()
        elif self._bar is None and self._last_bar is not None and b <= self._last_bar:
            raise ValueError(f"ts = {int(ts)} falls in bar {b}, which has already ended "
                             f"(bar {self._last_bar}, by flush() or a later trade)")
        if self._prev_close is None:
            self._prev_close = price
        self._bar = b
        self._bar_vol += qty
        self._close = price
        return out

    def flush(self) -> list:
        """End the open bar (e.g. at the session close) and return the buckets it completes."""
        return self._end_bar() if self._bar is not None else []

    def _end_bar(self) -> list:
        dp = self._close - self._prev_close
        self._n += 1
        self._s1 += dp
        self._s2 += dp * dp
        sig = _expanding_sigma(self._n, self._s1, self._s2) if self.sigma is None else self.sigma
        f = _phi(dp, sig)
        end = self.origin + (self._bar + 1) * self.bar_ns
        V = self.bucket_volume
        n = self.n_buckets
        out = []
        v = self._bar_vol
        while v > 0:
            take = min(v, V - self._filled)
            self._buy += take * f
            self._filled += take
            v -= take
            if self._filled == V:
                buy = self._buy
                sell = V - buy
                self._imb.append(abs(sell - buy))
                self._value = sum(self._imb) / (n * V) if len(self._imb) == n else NAN
                out.append(VPINBucket(end, buy, sell, self._value))
                self._filled = 0
                self._buy = 0.0
        self._prev_close = self._close
        self._last_bar = self._bar
        self._bar = None
        self._bar_vol = 0
        return out

"""Order-flow signals: order-flow imbalance (OFI), cumulative delta, trade arrival rate and
average trade size -- each streaming (O(1) per event) and vectorized, with per-bucket versions.

Inputs come from the run log (``abmm.signals.from_run``): top-of-book rows ``ts, bid, bid_qty,
ask, ask_qty`` (price 0 = empty side) and trades ``ts, price, qty, side`` (one ``FILL`` row per
maker match, ``side`` = the taker's side, 0 = buyer-initiated). Timestamps must not decrease.
Per-bucket versions use ``abmm.signals.buckets`` (``[origin + b*bucket_ns, origin +
(b+1)*bucket_ns)``, contiguous, empty buckets included).
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

import numpy as np

from abmm.engine.types import Side
from abmm.signals.buckets import Buckets, BucketStream, assign

__all__ = [
    "ofi_events",
    "ofi",
    "ofi_buckets",
    "OFI",
    "BucketedOFI",
    "signed_volume",
    "cumulative_delta",
    "delta_buckets",
    "CumulativeDelta",
    "BucketedDelta",
    "trade_rate",
    "average_trade_size",
    "trade_buckets",
    "TradeRate",
    "AverageTradeSize",
    "BucketedTrades",
    "TradeBucket",
    "TradeBucketStats",
]

NAN = float("nan")
BUY = int(Side.BUY)
#: an empty ask side counts as an ask at +infinity (an empty bid is price 0, below every price)
_ASK_INF = np.iinfo(np.int64).max


def _bucket_sum(ts, values, bucket_ns, origin, start, end) -> Buckets:
    starts, idx, keep = assign(ts, bucket_ns, origin, start, end)
    values = np.asarray(values)
    out = np.zeros(len(starts), values.dtype if values.dtype.kind in "iu" else np.float64)
    np.add.at(out, idx, values[keep])  # sequential, in order: same rounding as the stream
    return Buckets(starts, out)


# --------------------------------------------------------------------------------------- OFI
def _ticks(name: str, x) -> np.ndarray:
    """``x`` as an int64 array of integer ticks/lots; a NaN or fractional value is an error
    (prices here are integer ticks: convert price units with the tick size first)."""
    a = np.asarray(x)
    if a.dtype.kind in "iub":
        return a.astype(np.int64)
    if a.dtype.kind != "f":
        raise TypeError(f"{name} must be numeric (integer ticks or lots), got dtype {a.dtype}")
    bad = ~np.isfinite(a) | (a != np.round(a))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name}[{i}] = {float(a[i])!r}: expected integer ticks or lots (divide "
                         "prices by the tick size first; an empty side is 0)")
    return a.astype(np.int64)


def _top_arrays(bid, bid_qty, ask, ask_qty):
    bid, bid_qty = _ticks("bid", bid), _ticks("bid_qty", bid_qty)
    ask, ask_qty = _ticks("ask", ask), _ticks("ask_qty", ask_qty)
    n = len(bid)
    for name, v in (("bid_qty", bid_qty), ("ask", ask), ("ask_qty", ask_qty)):
        if len(v) != n:
            raise ValueError(f"{name} has {len(v)} values but bid has {n}: the four top-of-book "
                             "columns need the same length")
    bq = np.where(bid > 0, bid_qty, 0)
    aq = np.where(ask > 0, ask_qty, 0)
    return bid, bq, np.where(ask > 0, ask, _ASK_INF), aq


def _tick(name: str, v) -> int:
    try:
        i = int(v)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} = {v!r}: expected integer ticks or lots") from None
    if i != v:
        raise ValueError(f"{name} = {v!r}: expected integer ticks or lots")
    return i


def ofi_events(bid, bid_qty, ask, ask_qty) -> np.ndarray:
    """Per-update order-flow contributions ``e_n`` of Cont, Kukanov & Stoikov (2014), "The price
    impact of order book events", J. Financial Econometrics 12(1), eq. (2)::

        e_n = 1{P^B_n >= P^B_{n-1}} q^B_n - 1{P^B_n <= P^B_{n-1}} q^B_{n-1}
            - 1{P^A_n <= P^A_{n-1}} q^A_n + 1{P^A_n >= P^A_{n-1}} q^A_{n-1}

    from consecutive best bid/ask prices ``P`` and sizes ``q`` (e.g. the rows of ``top/``). So a
    higher bid adds its whole queue, a lower bid removes the old queue, an unchanged bid adds
    the change of its size (the ask side mirrors it with the opposite sign). An empty bid is
    price 0 with size 0 and an empty ask counts as price +infinity with size 0, so emptying a
    side removes its old queue and refilling it adds the new one. ``e[0] = 0``: the first row is
    the reference state. int64 array, same length as the inputs."""
    pb, qb, pa, qa = _top_arrays(bid, bid_qty, ask, ask_qty)
    e = np.zeros(len(pb), np.int64)
    if len(pb) > 1:
        b1, b0, a1, a0 = pb[1:], pb[:-1], pa[1:], pa[:-1]
        e[1:] = ((b1 >= b0) * qb[1:] - (b1 <= b0) * qb[:-1]
                 - (a1 <= a0) * qa[1:] + (a1 >= a0) * qa[:-1])
    return e


def ofi(bid, bid_qty, ask, ask_qty) -> int:
    """OFI over the whole sequence: ``sum_n e_n`` (``ofi_events``); the cumulative OFI after
    each row is ``np.cumsum(ofi_events(...))``."""
    return int(ofi_events(bid, bid_qty, ask, ask_qty).sum())


def ofi_buckets(ts, bid, bid_qty, ask, ask_qty, bucket_ns: int, origin: int = 0, start=None,
                end=None) -> Buckets:
    """OFI per time bucket: ``sum e_n`` over the rows whose ``ts`` falls in each bucket (the
    ``e_n`` of a bucket's first row is relative to the book before it, in the previous
    bucket)."""
    return _bucket_sum(ts, ofi_events(bid, bid_qty, ask, ask_qty), bucket_ns, origin, start, end)


class OFI:
    """Streaming order-flow imbalance (see ``ofi_events``): ``update(bid, bid_qty, ask,
    ask_qty)`` with each new top of book (a ``top/`` row or ``*book.top()``; an empty side is
    price 0 or ``None``) returns ``e_n``; ``value`` is the OFI since the start or the last
    ``reset()`` (``sum e_n``). The first update only records the reference state (e = 0)."""

    def __init__(self):
        self._prev = None
        self._value = 0
        self.last = 0

    def reset(self, keep_book: bool = True) -> None:
        """Start a new interval (OFI back to 0); ``keep_book=False`` also forgets the book."""
        self._value = 0
        self.last = 0
        if not keep_book:
            self._prev = None

    def update(self, bid, bid_qty, ask, ask_qty) -> int:
        """Feed the next top of book (ticks, lots; empty side 0 or None); returns its ``e_n``."""
        pb = _tick("bid", bid) if bid else 0
        pa = _tick("ask", ask) if ask else _ASK_INF
        qb = _tick("bid_qty", bid_qty) if pb > 0 else 0
        qa = _tick("ask_qty", ask_qty) if ask else 0
        e = 0
        if self._prev is not None:
            b0, qb0, a0, qa0 = self._prev
            if pb >= b0:
                e += qb
            if pb <= b0:
                e -= qb0
            if pa <= a0:
                e -= qa
            if pa >= a0:
                e += qa0
        self._prev = (pb, qb, pa, qa)
        self.last = e
        self._value += e
        return e

    def update_book(self, book) -> int:
        """``update(*book.top())``: feed an ``OrderBook``'s top of book; returns ``e_n``."""
        return self.update(*book.top())

    @property
    def value(self) -> int:
        """OFI (lots) since the start or the last ``reset()``."""
        return self._value


class _Sum(BucketStream):
    def _new(self):
        return [0]

    def _finish(self, acc):
        return acc[0]


class BucketedOFI(_Sum):
    """Streaming ``ofi_buckets``: ``update(ts, bid, bid_qty, ask, ask_qty)`` returns the buckets
    it closed, as ``(start, ofi)`` pairs; ``flush()`` closes the open one; ``value`` is the open
    bucket's OFI so far."""

    def __init__(self, bucket_ns: int, origin: int = 0, start=None, end=None):
        super().__init__(bucket_ns, origin, start, end)
        self._ofi = OFI()

    def update(self, ts, bid, bid_qty, ask, ask_qty) -> list:
        """Feed a top-of-book row at ``ts`` (ns); returns the closed ``(start, ofi)`` pairs."""
        e = self._ofi.update(bid, bid_qty, ask, ask_qty)
        closed, keep = self._bucket(ts)
        if keep:
            self._acc[0] += e
        return closed


# ----------------------------------------------------------------------------- cumulative delta
def signed_volume(qty, side) -> np.ndarray:
    """``+qty`` for buyer-initiated trades (taker side 0), ``-qty`` for seller-initiated."""
    qty = np.asarray(qty, np.int64)
    return np.where(np.asarray(side) == BUY, qty, -qty)


def cumulative_delta(qty, side) -> np.ndarray:
    """Cumulative delta after each trade: ``cumsum(signed_volume(qty, side))`` (int64)."""
    return np.cumsum(signed_volume(qty, side))


def delta_buckets(ts, qty, side, bucket_ns: int, origin: int = 0, start=None,
                  end=None) -> Buckets:
    """Signed traded volume (buy minus sell lots) per time bucket."""
    return _bucket_sum(ts, signed_volume(qty, side), bucket_ns, origin, start, end)


class CumulativeDelta:
    """Streaming ``cumulative_delta``: ``update(qty, side)`` per trade; ``value`` is the signed
    volume since the start or the last ``reset()``."""

    def __init__(self):
        self._value = 0

    def reset(self) -> None:
        """Set the cumulative delta back to 0."""
        self._value = 0

    def update(self, qty, side) -> int:
        """Add a trade of ``qty`` lots (taker ``side``, 0 = buy); returns the new delta."""
        self._value += int(qty) if int(side) == BUY else -int(qty)
        return self._value

    @property
    def value(self) -> int:
        """Signed volume (lots) since the start or the last ``reset()``."""
        return self._value


class BucketedDelta(_Sum):
    """Streaming ``delta_buckets``: ``update(ts, qty, side)`` returns the closed ``(start,
    delta)`` pairs; ``flush()`` closes the open bucket."""

    def update(self, ts, qty, side) -> list:
        """Add a trade at ``ts`` (ns); returns the closed ``(start, delta)`` pairs."""
        closed, keep = self._bucket(ts)
        if keep:
            self._acc[0] += int(qty) if int(side) == BUY else -int(qty)
        return closed


# ------------------------------------------------------------------------------ trade statistics
def _window(window_ns) -> tuple[int, float]:
    window_ns = int(window_ns)
    if window_ns <= 0:
        raise ValueError(f"window must be a positive number of ns, got {window_ns}")
    return window_ns, window_ns / 1e9


def _window_counts(ts, window_ns):
    ts = np.asarray(ts, np.int64)
    if len(ts) and np.any(np.diff(ts) < 0):
        raise ValueError("timestamps must not decrease")
    left = np.searchsorted(ts, ts - window_ns, side="right")
    count = np.arange(1, len(ts) + 1) - left
    return left, count


def trade_rate(ts, window_ns: int) -> np.ndarray:
    """Trade arrival rate (trades per second) at each trade: the number of trades in the window
    ``(t - window_ns, t]`` up to and including this one, divided by the window in seconds."""
    window_ns, secs = _window(window_ns)
    _, count = _window_counts(ts, window_ns)
    return count / secs


def average_trade_size(ts, qty, window_ns: int) -> np.ndarray:
    """Average trade size (lots) at each trade over the same window as ``trade_rate``:
    ``sum qty / count`` of the trades in ``(t - window_ns, t]`` up to and including this one."""
    window_ns, _ = _window(window_ns)
    left, count = _window_counts(ts, window_ns)
    c = np.concatenate([[0], np.cumsum(np.asarray(qty, np.int64))])
    vol = c[1:] - c[left]
    return vol / count


class TradeBucketStats(NamedTuple):
    """Per-bucket trade statistics: bucket ``start`` (ns), trade ``count``, ``volume`` (lots),
    ``rate`` (trades per second) and ``avg_size`` (lots per trade; NaN for an empty bucket)."""

    start: np.ndarray
    count: np.ndarray
    volume: np.ndarray
    rate: np.ndarray
    avg_size: np.ndarray


class TradeBucket(NamedTuple):
    """One closed bucket of ``BucketedTrades``."""

    count: int
    volume: int
    rate: float
    avg_size: float


def trade_buckets(ts, qty, bucket_ns: int, origin: int = 0, start=None,
                  end=None) -> TradeBucketStats:
    """Trade count, volume, arrival rate (``count / bucket seconds``) and average size
    (``volume / count``) per time bucket."""
    starts, idx, keep = assign(ts, bucket_ns, origin, start, end)
    count = np.zeros(len(starts), np.int64)
    vol = np.zeros(len(starts), np.int64)
    np.add.at(count, idx, 1)
    np.add.at(vol, idx, np.asarray(qty, np.int64)[keep])
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = np.where(count > 0, vol / count, np.nan)
    return TradeBucketStats(starts, count, vol, count / (int(bucket_ns) / 1e9), avg)


class TradeRate:
    """Streaming ``trade_rate``: ``update(ts)`` per trade returns the trades per second over the
    window ``(ts - window_ns, ts]``. Amortized O(1) (each trade enters and leaves the window
    once)."""

    def __init__(self, window_ns: int):
        self.window_ns, self._secs = _window(window_ns)
        self._ts: deque = deque()
        self._value = NAN

    def _slide(self, ts: int) -> None:
        if self._ts and ts < self._ts[-1]:
            raise ValueError("timestamps must not decrease")
        cut = ts - self.window_ns
        while self._ts and self._ts[0] <= cut:
            self._pop()

    def _pop(self) -> None:
        self._ts.popleft()

    def update(self, ts) -> float:
        """Add a trade at ``ts`` (ns); returns trades per second in ``(ts - window_ns, ts]``."""
        ts = int(ts)
        self._slide(ts)
        self._ts.append(ts)
        self._value = len(self._ts) / self._secs
        return self._value

    @property
    def value(self) -> float:
        """The rate at the last trade (NaN before any)."""
        return self._value


class AverageTradeSize(TradeRate):
    """Streaming ``average_trade_size``: ``update(ts, qty)`` per trade returns the average size
    of the trades in ``(ts - window_ns, ts]``."""

    def __init__(self, window_ns: int):
        super().__init__(window_ns)
        self._q: deque = deque()
        self._vol = 0

    def _pop(self) -> None:
        self._ts.popleft()
        self._vol -= self._q.popleft()

    def update(self, ts, qty) -> float:  # type: ignore[override]
        """Add a trade of ``qty`` lots at ``ts`` (ns); returns the window's mean size (lots)."""
        ts = int(ts)
        self._slide(ts)
        self._ts.append(ts)
        self._q.append(int(qty))
        self._vol += int(qty)
        self._value = self._vol / len(self._ts)
        return self._value


class BucketedTrades(BucketStream):
    """Streaming ``trade_buckets``: ``update(ts, qty)`` per trade returns the closed buckets as
    ``(start, TradeBucket)`` pairs; ``flush()`` closes the open one."""

    def _new(self):
        return [0, 0]

    def _finish(self, acc):
        n, v = acc
        return TradeBucket(n, v, n / (self.bucket_ns / 1e9), v / n if n else NAN)

    def update(self, ts, qty) -> list:
        """Add a trade of ``qty`` lots at ``ts`` (ns); returns the closed ``(start, TradeBucket)``
        pairs."""
        closed, keep = self._bucket(ts)
        if keep:
            self._acc[0] += 1
            self._acc[1] += int(qty)
        return closed

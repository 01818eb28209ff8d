"""Signals of one book snapshot: imbalance, depth ratio, queue pressure, mid, microprice and a
depth-weighted mid.

Inputs are what ``OrderBook.top()`` / ``OrderBook.depth(side, k)`` return or what ``top/`` holds:
prices in integer ticks, sizes in lots, levels best first. An empty side has price 0 (``top/``)
or ``None`` (``OrderBook.top()``) and size 0. Depth arrays of several snapshots are stacked as
2-D arrays ``(n_snapshots, n_levels)``, missing levels padded with price 0 and size 0
(``snapshot(book, k)`` gives one padded row).

Each signal has a vectorized function (scalars, 1-D arrays of top-of-book columns, or 2-D depth
arrays) and a streaming class with ``update(...)`` (returns the new value), ``update_book(book)``
and a ``value`` property; both compute the same floating-point operations, so they agree
exactly.

Undefined values are NaN: imbalance and queue pressure when both sides are empty, depth ratio
when the ask depth is 0, mid/microprice/weighted mid when a side is empty. One empty side gives
imbalance/queue pressure of +1 (no asks) or -1 (no bids), as the formula says.
"""

from __future__ import annotations

import numpy as np

from abmm.engine.types import Side

__all__ = [
    "imbalance",
    "depth_ratio",
    "queue_pressure",
    "mid_price",
    "microprice",
    "weighted_mid",
    "snapshot",
    "Imbalance",
    "DepthRatio",
    "QueuePressure",
    "MidPrice",
    "Microprice",
    "WeightedMid",
]

NAN = float("nan")


def _out(x):
    x = np.asarray(x)
    return x[()] if x.ndim == 0 else x


def _div(num, den):
    num = np.asarray(num, np.float64)
    den = np.asarray(den, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(np.where(den != 0, num / den, np.nan))


def _depth(qtys, k):
    a = np.asarray(qtys, np.float64)
    if a.ndim == 0:
        raise ValueError("depth quantities must be a 1-D (one snapshot) or 2-D array")
    if k is not None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        a = a[..., :k]
    return a.sum(axis=-1)


def _k(k):
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return k


def _psum(x, k) -> int:
    """Python sum of the first k entries (all when k is None), as an exact int or float."""
    x = x if k is None else x[:k]
    return sum(int(v) if isinstance(v, (int, np.integer)) else float(v) for v in x)


# ---------------------------------------------------------------------------------- vectorized
def imbalance(bid_qtys, ask_qtys, k: int | None = None):
    """Bid-ask depth imbalance over the top ``k`` levels (all when ``None``)::

        I_k = (sum_{i<=k} q^B_i - sum_{i<=k} q^A_i) / (sum_{i<=k} q^B_i + sum_{i<=k} q^A_i)

    in [-1, 1] (e.g. Cartea, Jaimungal & Penalva 2015, ch. 4; Cont, Kukanov & Stoikov 2014 use
    the level-1 version). ``bid_qtys``/``ask_qtys``: one snapshot (1-D, best first, as
    ``OrderBook.depth(side, k)[1]``) or stacked snapshots (2-D, one row each, missing levels 0).
    NaN when both sides are empty."""
    b = _depth(bid_qtys, _k(k))
    a = _depth(ask_qtys, k)
    return _div(b - a, b + a)


def depth_ratio(bid_qtys, ask_qtys, k: int | None = None):
    """Depth ratio over the top ``k`` levels: ``sum q^B_i / sum q^A_i`` (i <= k); NaN when the
    ask depth is 0. Same inputs as ``imbalance``."""
    b = _depth(bid_qtys, _k(k))
    a = _depth(ask_qtys, k)
    return _div(b, a)


def queue_pressure(bid_qty, ask_qty):
    """Queue pressure at the touch: ``(q^B_1 - q^A_1) / (q^B_1 + q^A_1)`` (the level-1
    imbalance, from ``top/``'s ``bid_qty``/``ask_qty``); NaN when both are 0."""
    b = np.asarray(bid_qty, np.float64)
    a = np.asarray(ask_qty, np.float64)
    return _div(b - a, b + a)


def _both(bid, ask):
    bid = np.asarray(bid, np.float64)
    ask = np.asarray(ask, np.float64)
    return bid, ask, (bid > 0) & (ask > 0)


def mid_price(bid, ask):
    """``(bid + ask) / 2`` where both sides are present (price > 0), else NaN."""
    bid, ask, ok = _both(bid, ask)
    return _out(np.where(ok, (bid + ask) / 2, np.nan))


def microprice(bid, bid_qty, ask, ask_qty):
    """Stoikov (2018) size-weighted mid-price, the simple (zeroth-order) microprice::

        I = q^B / (q^B + q^A),   micro = P^A * I + P^B * (1 - I)

    (= ``(P^A q^B + P^B q^A) / (q^B + q^A)``: the price leans toward the side with the thinner
    queue). Stoikov calls this the weighted mid-price; his full microprice adds a correction
    ``g(I, S)`` estimated from data, which is not done here. NaN when a side is empty."""
    bid, ask, ok = _both(bid, ask)
    bq = np.asarray(bid_qty, np.float64)
    aq = np.asarray(ask_qty, np.float64)
    tot = bq + aq
    ok = ok & (tot > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        i = bq / tot
        micro = ask * i + bid * (1 - i)
    return _out(np.where(ok, micro, np.nan))


def weighted_mid(bid_prices, bid_qtys, ask_prices, ask_qtys, k: int | None = None):
    """Depth-weighted mid over the top ``k`` levels, the multi-level microprice::

        VWAP^B_k = sum p^B_i q^B_i / sum q^B_i,   VWAP^A_k likewise  (i <= k)
        I_k = Q^B_k / (Q^B_k + Q^A_k)   with Q_k = sum q_i
        wmid_k = VWAP^A_k * I_k + VWAP^B_k * (1 - I_k)

    With ``k = 1`` this is exactly ``microprice``. Inputs: price and size arrays of one snapshot
    (1-D) or stacked snapshots (2-D, padded with 0). NaN when a side has no depth."""
    k = _k(k)
    bp = np.asarray(bid_prices, np.float64)
    ap = np.asarray(ask_prices, np.float64)
    bq = np.asarray(bid_qtys, np.float64)
    aq = np.asarray(ask_qtys, np.float64)
    if k is not None:
        bp, bq, ap, aq = bp[..., :k], bq[..., :k], ap[..., :k], aq[..., :k]
    qb = bq.sum(axis=-1)
    qa = aq.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        vb = (bp * bq).sum(axis=-1) / qb
        va = (ap * aq).sum(axis=-1) / qa
        i = qb / (qb + qa)
        w = va * i + vb * (1 - i)
    return _out(np.where((qb > 0) & (qa > 0), w, np.nan))


def snapshot(book, k: int):
    """``(bid_prices, bid_qtys, ask_prices, ask_qtys)`` of an ``OrderBook``'s top ``k`` levels,
    four int64 arrays of length ``k`` padded with 0 (stack them for the 2-D inputs)."""
    out = []
    for side in (Side.BUY, Side.SELL):
        p, q, _ = book.depth(int(side), k)
        pp = np.zeros(k, np.int64)
        qq = np.zeros(k, np.int64)
        pp[: len(p)] = p
        qq[: len(q)] = q
        out += [pp, qq]
    return tuple(out)


# ----------------------------------------------------------------------------------- streaming
def _px(p) -> float:
    return 0.0 if p is None else float(p)


class _Snapshot:
    """Base: ``update`` sets ``value``; ``reset()`` forgets it."""

    def __init__(self):
        self._value = NAN

    @property
    def value(self) -> float:
        return self._value

    def reset(self) -> None:
        self._value = NAN


class Imbalance(_Snapshot):
    """Streaming ``imbalance`` over the top ``k`` levels: ``update(bid_qtys, ask_qtys)`` with one
    snapshot's sizes (best first), or ``update_book(book)``. O(k)."""

    def __init__(self, k: int | None = None):
        super().__init__()
        self.k = _k(k)

    def update(self, bid_qtys, ask_qtys) -> float:
        """Imbalance of one snapshot's bid and ask sizes (lots, best first) over the top ``k``."""
        b = _psum(bid_qtys, self.k)
        a = _psum(ask_qtys, self.k)
        self._value = (float(b) - float(a)) / (float(b) + float(a)) if b + a != 0 else NAN
        return self._value

    def update_book(self, book) -> float:
        """``update`` with the sizes of an ``OrderBook``'s top ``k`` levels."""
        n = self.k
        return self.update(book.depth(0, n)[1], book.depth(1, n)[1])


class DepthRatio(Imbalance):
    """Streaming ``depth_ratio`` over the top ``k`` levels (same ``update`` as ``Imbalance``)."""

    def update(self, bid_qtys, ask_qtys) -> float:
        """Bid over ask depth (lots) of one snapshot over the top ``k``; NaN with no ask depth."""
        b = _psum(bid_qtys, self.k)
        a = _psum(ask_qtys, self.k)
        self._value = float(b) / float(a) if a != 0 else NAN
        return self._value


class _Top(_Snapshot):
    """Base of the top-of-book signals: ``update(bid, bid_qty, ask, ask_qty)`` (a ``top/`` row or
    ``*book.top()``; an empty side is price 0 or ``None``) and ``update_book(book)``."""

    def update_book(self, book) -> float:
        return self.update(*book.top())


class QueuePressure(_Top):
    """Streaming ``queue_pressure``."""

    def update(self, bid, bid_qty, ask, ask_qty) -> float:
        """Queue pressure of one top of book (only the sizes are used; NaN if both are 0)."""
        b, a = float(bid_qty), float(ask_qty)
        self._value = (b - a) / (b + a) if b + a != 0 else NAN
        return self._value


class MidPrice(_Top):
    """Streaming ``mid_price``."""

    def update(self, bid, bid_qty, ask, ask_qty) -> float:
        """Mid of one top of book (ticks; NaN if a side is empty)."""
        b, a = _px(bid), _px(ask)
        self._value = (b + a) / 2 if b > 0 and a > 0 else NAN
        return self._value


class Microprice(_Top):
    """Streaming ``microprice``."""

    def update(self, bid, bid_qty, ask, ask_qty) -> float:
        """Microprice of one top of book (ticks; NaN if a side is empty)."""
        b, a = _px(bid), _px(ask)
        bq, aq = float(bid_qty), float(ask_qty)
        tot = bq + aq
        if b > 0 and a > 0 and tot > 0:
            i = bq / tot
            self._value = a * i + b * (1 - i)
        else:
            self._value = NAN
        return self._value


class WeightedMid(_Snapshot):
    """Streaming ``weighted_mid`` over the top ``k`` levels: ``update(bid_prices, bid_qtys,
    ask_prices, ask_qtys)`` (one snapshot, best first) or ``update_book(book)``. O(k)."""

    def __init__(self, k: int | None = None):
        super().__init__()
        self.k = _k(k)

    def update(self, bid_prices, bid_qtys, ask_prices, ask_qtys) -> float:
        """Weighted mid (ticks) of one snapshot's price and size arrays over the top ``k``."""
        n = self.k
        sl = slice(None) if n is None else slice(0, n)
        bp, bq = np.asarray(bid_prices, np.float64)[sl], np.asarray(bid_qtys, np.float64)[sl]
        ap, aq = np.asarray(ask_prices, np.float64)[sl], np.asarray(ask_qtys, np.float64)[sl]
        qb = _fsum(bq)
        qa = _fsum(aq)
        if qb > 0 and qa > 0:
            vb = _fsum(bp * bq) / qb
            va = _fsum(ap * aq) / qa
            i = qb / (qb + qa)
            self._value = va * i + vb * (1 - i)
        else:
            self._value = NAN
        return self._value

    def update_book(self, book) -> float:
        """``update`` with the top ``k`` levels of an ``OrderBook``."""
        bp, bq, _ = book.depth(0, self.k)
        ap, aq, _ = book.depth(1, self.k)
        return self.update(bp, bq, ap, aq)


def _fsum(x: np.ndarray) -> float:
    """Sum as numpy's ``sum`` over the last axis does it (identical rounding)."""
    return float(x.sum()) if len(x) else 0.0


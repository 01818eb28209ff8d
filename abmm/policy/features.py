"""The observation a quoting policy sees: ``FEATURES`` (16 values in [-1, 1]), the market part
(``MarketFeatures``, once per decision) and the agent part (``agent_features``).

Shared by the RL environment (``abmm.env.market_v0``) and by agents driven by a saved policy
(``abmm.agents.policy``), so a policy sees the same numbers in training and in ``abmm run``.
The layout, feature by feature, is documented in ``abmm.env.observations``. Both read a
``MarketModel`` duck-typed (its top of book, book, volumes and clock); nothing here imports the
market.
"""

from __future__ import annotations

import math

import numpy as np

from abmm.errors import AbmmError
from abmm.signals import OFI, VPIN, MidVolatility

__all__ = ["FEATURES", "N_FEATURES", "N_MARKET", "OWN_HEAD", "MARKET", "OWN_TAIL",
           "MarketFeatures", "agent_features", "agent_feature_values", "book_features"]

FEATURES = ("inventory", "time_left", "spread", "imbalance_5", "microprice_offset", "ofi",
            "vpin", "volatility", "trade_flow", "trade_intensity", "bid_offset", "ask_offset",
            "bid_queue", "ask_queue", "has_bid", "has_ask")
N_FEATURES = len(FEATURES)
N_MARKET = 8  # features 2..9 are the market's, shared by every agent
#: where each part sits in an observation (the one statement of the layout; an env filling
#: many agents' rows at once and ``agent_features`` filling one both use it): the first two
#: of ``agent_feature_values`` at ``OWN_HEAD``, the market's ``N_MARKET`` at ``MARKET``, the
#: agent's other six at ``OWN_TAIL``; book levels, when an env adds them, follow ``N_FEATURES``
OWN_HEAD = slice(0, 2)
MARKET = slice(2, 2 + N_MARKET)
OWN_TAIL = slice(2 + N_MARKET, N_FEATURES)


def _clip(x: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return lo if x < lo else hi if x > hi else x


class MarketFeatures:
    """The public market features (2..9 of ``FEATURES``), updated once per decision by
    ``update()``; ``mid`` and ``sigma`` are the last decision's mid and volatility (ticks)."""

    def __init__(self, model, interval_ns: int, vol_halflife: float = 30.0,
                 vol_scale: float = 1.0, volume_scale: float = 10.0,
                 vpin_bucket: int = 500, vpin_buckets: int = 50):
        self.model = model
        self.interval_s = interval_ns / 1e9
        self.alpha = 1 - 0.5 ** (1 / vol_halflife)
        self.vol_scale = vol_scale
        self.volume_scale = volume_scale
        self.ofi = OFI()
        self.vpin = VPIN(vpin_bucket, vpin_buckets, bar_ns=interval_ns, origin=model.now)
        # EWMA of squared mid changes per second (ticks^2 / s), one interval per decision
        self.vol = MidVolatility(vol_halflife, interval_ns=interval_ns)
        self.flow = 0.0
        self.vol_ewma = 0.0
        self.prev_volume = model.volume
        self.prev_signed = model.signed_volume
        self.prev_t = model.now
        self.values = [0.0] * N_MARKET
        self.mid: float = model.mark_price()
        self.sigma = 0.0
        top = model.top
        self.ofi.update(top[0] or 0, top[1], top[2] or 0, top[3])

    @property
    def var(self) -> float:
        """The volatility EWMA (ticks^2 per second)."""
        return self.vol.variance

    def update(self) -> list[float]:
        """Read the market now; returns the 8 market features (a list reused between calls)."""
        m = self.model
        now = m.now
        bid, bq, ask, aq = m.top
        two = bid is not None and ask is not None
        mid = (bid + ask) / 2 if two else m.mark_price()
        self.mid = mid
        # OFI over the top-of-book changes of the interval
        ofi = self.ofi
        ofi.reset()
        for b, bqj, a, aqj in m.history.since(self.prev_t):
            ofi.update(b or 0, bqj, a or 0, aqj)
        # realized volatility: EWMA of squared mid changes per second, two-sided books only
        self.sigma = self.vol.update(mid if two else None, now)
        dv = m.volume - self.prev_volume
        ds = m.signed_volume - self.prev_signed
        self.prev_volume, self.prev_signed, self.prev_t = m.volume, m.signed_volume, now
        a = self.alpha
        self.flow += a * (ds - self.flow)
        self.vol_ewma += a * (dv - self.vol_ewma)
        if dv > 0:
            self.vpin.update(now - 1, m.last_price, dv)  # one bar per interval
        vp = self.vpin.value
        # top-5 imbalance and microprice
        book = m.book
        bsum = book.depth_qty(0, 5) if bid is not None else 0
        asum = book.depth_qty(1, 5) if ask is not None else 0
        imb = (bsum - asum) / (bsum + asum) if bsum + asum else 0.0
        if two:
            spread = ask - bid
            micro = ask * bq / (bq + aq) + bid * aq / (bq + aq) if bq + aq else mid
            micro_off = 2 * (micro - mid) / spread
            depth = bq + aq
        else:
            spread, micro_off, depth = 20, 0.0, bq + aq
        v = self.values
        v[0] = min(spread, 20) / 20
        v[1] = _clip(imb)
        v[2] = _clip(micro_off)
        v[3] = math.tanh(ofi.value / depth) if depth else 0.0
        v[4] = 0.0 if vp != vp else _clip(vp, 0.0, 1.0)
        v[5] = math.tanh(self.sigma / self.vol_scale)
        v[6] = _clip(self.flow / self.vol_ewma) if self.vol_ewma > 1e-12 else 0.0
        v[7] = math.tanh(self.vol_ewma / self.interval_s / self.volume_scale)
        return v


def agent_feature_values(agent, model, mid: float, time_left: float, max_inventory: int,
                         max_offset: float) -> list:
    """Features 0, 1 and 10..15 of ``agent`` as a list of 8 Python floats, in that order (its
    inventory, the time left, and its best resting quotes: offset from ``mid``, queue
    position, presence, bid before ask) -- what :func:`agent_features` writes."""
    vals = [_clip(agent.inventory / max_inventory), _clip(time_left, 0.0, 1.0),
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    bb = ba = None  # best (price, order id, open qty) per side
    for oid, o in agent.open_orders.items():
        price = o[1]
        if o[0] == 0:
            if bb is None or price > bb[0]:
                bb = (price, oid, o[2])
        elif ba is None or price < ba[0]:
            ba = (price, oid, o[2])
    book = model.book
    for j, b in ((0, bb), (1, ba)):
        if b is None:
            continue
        price, oid, qty = b
        off = (mid - price) if j == 0 else (price - mid)
        vals[2 + j] = _clip(off / max_offset)
        try:
            ahead = book.queue_position(oid)
        except AbmmError:  # finished at this very time (its account update is in): no queue
            ahead = 0
        vals[4 + j] = ahead / (ahead + qty) if ahead + qty else 0.0
        vals[6 + j] = 1.0
    return vals


def agent_features(agent, model, mid: float, time_left: float, max_inventory: int,
                   max_offset: float, out: np.ndarray) -> None:
    """Fill features 0, 1 and 10..15 of ``out`` for ``agent`` (its inventory, the time left,
    and its best resting quotes: offset from ``mid``, queue position, presence)."""
    v = agent_feature_values(agent, model, mid, time_left, max_inventory, max_offset)
    out[OWN_HEAD] = v[0:2]
    out[OWN_TAIL] = v[2:8]


def book_features(book, mid: float, levels: int, max_offset: float, scale: float,
                  out: np.ndarray, start: int = N_FEATURES) -> None:
    """Fill ``out[start:start + 4 levels]`` with the top ``levels`` price levels of each side
    (bids first, best first): for level ``i``, ``|price_i - mid| / max_offset`` (clipped to 1;
    1 for a level the book does not have) and ``tanh(displayed lots_i / scale)`` (0 for a
    missing level) -- the raw book a sequence encoder reads over time."""
    j = start
    for side in (0, 1):
        prices, qtys = book.depth(side, levels)[:2]
        n = len(prices)
        for i in range(levels):
            if i < n:
                out[j] = min(abs(float(prices[i]) - mid) / max_offset, 1.0)
                out[j + 1] = math.tanh(float(qtys[i]) / scale)
            else:
                out[j] = 1.0
                out[j + 1] = 0.0
            j += 2

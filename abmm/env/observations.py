"""Observations of the market-making environment: what a learning agent sees at a decision.

One vector of ``N_FEATURES`` float32 values per agent, each normalized and clipped to [-1, 1]
(the observation space is ``Box(-1, 1, (N_FEATURES,), float32)``). Market features are public
data, computed once per decision from the book and the trades of the last decision interval;
agent features come from the agent's own account and resting quotes. Prices are in ticks.

====  ====================  ==============================================================
 i    name                  definition
====  ====================  ==============================================================
 0    inventory             ``q / max_inventory``
 1    time_left             ``(end - now) / (end - start)`` of the episode, in [0, 1]
 2    spread                ``min(ask - bid, 20) / 20`` (1 when a side is empty)
 3    imbalance_5           ``(sum q^B - sum q^A) / (sum q^B + sum q^A)`` over the top 5
                            levels (``abmm.signals.imbalance``)
 4    microprice_offset     ``2 (microprice - mid) / spread``, microprice ``= ask I + bid
                            (1 - I)``, ``I = q^B_1 / (q^B_1 + q^A_1)`` (Stoikov 2018)
 5    ofi                   ``tanh(OFI / depth)``: the order-flow imbalance of Cont, Kukanov
                            & Stoikov (2014) summed over the interval's top-of-book changes
                            (``abmm.signals.OFI``), over the touch depth ``q^B_1 + q^A_1``
 6    vpin                  VPIN (Easley, Lopez de Prado & O'Hara 2012; ``abmm.signals.VPIN``)
                            with one bar per decision interval; 0 until it is defined
 7    volatility            ``tanh(sigma / vol_scale)``, sigma the EWMA (half-life
                            ``vol_halflife`` decisions) realized volatility of the mid, ticks
                            per sqrt(second)
 8    trade_flow            EWMA of taker buy minus sell volume over EWMA of volume
 9    trade_intensity       ``tanh(EWMA volume per second / volume_scale)``
 10   bid_offset            ``(mid - own best bid) / max_offset``, 0 without a bid
 11   ask_offset            ``(own best ask - mid) / max_offset``, 0 without an ask
 12   bid_queue             lots ahead of the own best bid over (ahead + own size), 0 without
 13   ask_queue             the same for the own best ask
 14   has_bid               1 if the agent has a resting bid, else 0
 15   has_ask               1 if the agent has a resting ask, else 0
====  ====================  ==============================================================
"""

from __future__ import annotations

import math

import numpy as np

from abmm.errors import AbmmError
from abmm.signals import OFI, VPIN

FEATURES = ("inventory", "time_left", "spread", "imbalance_5", "microprice_offset", "ofi",
            "vpin", "volatility", "trade_flow", "trade_intensity", "bid_offset", "ask_offset",
            "bid_queue", "ask_queue", "has_bid", "has_ask")
N_FEATURES = len(FEATURES)
N_MARKET = 8  # features 2..9 are the market's, shared by every agent


def _clip(x: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return lo if x < lo else hi if x > hi else x


class MarketFeatures:
    """The public market features (2..9 above), updated once per decision by ``update()``."""

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
        self.var = 0.0  # EWMA of squared mid changes per second (ticks^2 / s)
        self.flow = 0.0
        self.vol_ewma = 0.0
        self.prev_mid: float | None = None
        self.prev_volume = model.volume
        self.prev_signed = model.signed_volume
        self.prev_t = model.now
        self.values = [0.0] * N_MARKET
        self.mid: float = model.mark_price()
        self.sigma = 0.0
        top = model._top
        self.ofi.update(top[0] or 0, top[1], top[2] or 0, top[3])

    def update(self) -> list[float]:
        m = self.model
        now = m.now
        bid, bq, ask, aq = m._top
        two = bid is not None and ask is not None
        mid = (bid + ask) / 2 if two else m.mark_price()
        self.mid = mid
        # OFI over the top-of-book changes of the interval
        ofi = self.ofi
        ofi.reset()
        times, tops = m._top_t, m._top_v
        i = len(times)
        while i > 0 and times[i - 1] > self.prev_t:
            i -= 1
        for j in range(i, len(times)):
            b, bqj, a, aqj = tops[j]
            ofi.update(b or 0, bqj, a or 0, aqj)
        # realized volatility: EWMA of squared mid changes per second
        if self.prev_mid is not None and two:
            r2 = (mid - self.prev_mid) ** 2 / self.interval_s
            self.var += self.alpha * (r2 - self.var)
        if two:
            self.prev_mid = mid
        self.sigma = math.sqrt(self.var)
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
        bsum = int(book.depth(0, 5)[1].sum()) if bid is not None else 0
        asum = int(book.depth(1, 5)[1].sum()) if ask is not None else 0
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


def agent_features(agent, model, mid: float, time_left: float, max_inventory: int,
                   max_offset: float, out: np.ndarray) -> None:
    """Fill features 0, 1 and 10..15 of ``out`` for ``agent``."""
    out[0] = _clip(agent.inventory / max_inventory)
    out[1] = _clip(time_left, 0.0, 1.0)
    best = {0: None, 1: None}  # side -> (price, order id, open qty)
    for oid, o in agent.open_orders.items():
        side, price = o[0], o[1]
        cur = best[side]
        if cur is None or (price > cur[0] if side == 0 else price < cur[0]):
            best[side] = (price, oid, o[2])
    book = model.book
    for side, (off_i, q_i, has_i) in ((0, (10, 12, 14)), (1, (11, 13, 15))):
        b = best[side]
        if b is None:
            out[off_i] = out[q_i] = out[has_i] = 0.0
            continue
        price, oid, qty = b
        off = (mid - price) if side == 0 else (price - mid)
        out[off_i] = _clip(off / max_offset)
        try:
            ahead = book.queue_position(oid)
        except AbmmError:  # finished at this very time (its account update is in): no queue
            ahead = 0
        out[q_i] = ahead / (ahead + qty) if ahead + qty else 0.0
        out[has_i] = 1.0

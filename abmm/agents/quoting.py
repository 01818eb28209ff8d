"""What a quoting agent sees and does: the observation vector and the quote actions shared by
the RL environment (``abmm.env.market_v0``) and by agents driven by a saved policy
(``abmm.agents.policy``), so a policy sees the same numbers in training and in ``abmm run``.

The observation layout is documented in ``abmm.env.observations``, the actions in
``abmm.env.actions``.
"""

from __future__ import annotations

import math

import numpy as np

from abmm.engine.types import OrderType
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


DEFAULT_OFFSETS = (1, 2, 3, 5, 8)


class InvalidActionError(AbmmError, ValueError):
    """An action outside the agent's action space (wrong type, shape, NaN, out of bounds), or
    an action for an agent that is done or unknown."""


def check_action_dict(actions, live: list, possible: list) -> None:
    """An env ``step``'s ``actions``: a dict whose keys are live agents, else
    ``InvalidActionError`` saying which key and why."""
    if not isinstance(actions, dict):
        raise InvalidActionError(f"actions must be a dict {{agent: action}}, got "
                                 f"{type(actions).__name__}")
    alive = set(live)
    for name in actions:
        if name not in alive:
            why = "is done" if name in possible else "is not an agent of this env"
            raise InvalidActionError(f"action for {name!r}, which {why}; live agents: {live}")


class QuoteActions:
    """Decodes actions into target quotes ``[(side, price, size), ...]``."""

    def __init__(self, mode: str, quote_size: int, max_size: int, max_offset: float,
                 offsets=DEFAULT_OFFSETS):
        if mode not in ("discrete", "continuous"):
            raise ValueError(f"action_mode must be 'discrete' or 'continuous', not {mode!r}")
        offsets = tuple(float(o) for o in offsets)
        if not offsets or any(not o > 0 for o in offsets):
            raise ValueError(f"offsets must be positive tick distances, got {offsets}")
        if quote_size < 1 or max_size < 1:
            raise ValueError(f"quote_size and max_size must be >= 1 lot, got {quote_size}, "
                             f"{max_size}")
        if not max_offset > 0.5:
            raise ValueError(f"max_offset must be > 0.5 ticks, got {max_offset}")
        self.mode = mode
        self.quote_size = int(quote_size)
        self.max_size = int(max_size)
        self.max_offset = float(max_offset)
        self.offsets = offsets
        n = len(offsets)
        self.no_quote = n * n
        from gymnasium import spaces  # here, not at import: abmm run need not load gymnasium

        self.space = (spaces.Discrete(n * n + 1) if mode == "discrete"
                      else spaces.Box(-1.0, 1.0, (4,), np.float32))

    def discrete_index(self, bid_offset: float, ask_offset: float) -> int:
        """The discrete action whose offsets are nearest to the given ones (ticks)."""
        o = np.asarray(self.offsets)
        return int(np.argmin(np.abs(o - bid_offset)) * len(o) + np.argmin(np.abs(o - ask_offset)))

    def continuous_action(self, bid_offset: float, ask_offset: float, bid_size: float,
                          ask_size: float) -> np.ndarray:
        """The continuous action for offsets (ticks) and sizes (lots), clipped to the space."""
        lo, hi = 0.5, self.max_offset

        def inv(x, a, b):
            return float(np.clip(2 * (x - a) / (b - a) - 1, -1, 1))

        return np.array([inv(bid_offset, lo, hi), inv(ask_offset, lo, hi),
                         inv(bid_size, 0, self.max_size), inv(ask_size, 0, self.max_size)],
                        np.float32)

    def decode(self, name: str, action) -> tuple[float, int, float, int]:
        """``(bid offset, bid size, ask offset, ask size)``; a size of 0 means no quote."""
        if self.mode == "discrete":
            if isinstance(action, np.ndarray) and action.shape == () or \
                    isinstance(action, np.integer):
                action = action.item()
            if isinstance(action, bool) or not isinstance(action, int):
                raise InvalidActionError(
                    f"{name}: action {action!r} ({type(action).__name__}): expected an int in "
                    f"[0, {self.space.n})")
            if not 0 <= action < self.space.n:
                raise InvalidActionError(
                    f"{name}: action {action} is out of bounds: expected an int in "
                    f"[0, {self.space.n}) ({self.no_quote} = don't quote)")
            if action == self.no_quote:
                return 0.0, 0, 0.0, 0
            n = len(self.offsets)
            return self.offsets[action // n], self.quote_size, self.offsets[action % n], \
                self.quote_size
        try:
            a = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidActionError(f"{name}: action {action!r}: expected 4 floats in "
                                     "[-1, 1]") from None
        if a.shape != (4,):
            raise InvalidActionError(f"{name}: action has shape {a.shape}: expected (4,) = "
                                     "[bid offset, ask offset, bid size, ask size] in [-1, 1]")
        if not np.isfinite(a).all():
            raise InvalidActionError(f"{name}: action {a.tolist()} has NaN or infinite values")
        if (np.abs(a) > 1 + 1e-6).any():
            raise InvalidActionError(f"{name}: action {a.tolist()} is out of bounds: expected "
                                     "every value in [-1, 1]")
        a = np.clip(a, -1, 1)
        lo, hi = 0.5, self.max_offset
        off_b = lo + (a[0] + 1) / 2 * (hi - lo)
        off_a = lo + (a[1] + 1) / 2 * (hi - lo)
        size_b = int(round((a[2] + 1) / 2 * self.max_size))
        size_a = int(round((a[3] + 1) / 2 * self.max_size))
        return float(off_b), size_b, float(off_a), size_a


def target_quotes(mid: float, bid_offset: float, bid_size: int, ask_offset: float,
                  ask_size: int, inventory: int, max_inventory: int) -> list:
    """``[(side, price, size), ...]`` of the wanted quotes around ``mid`` (ticks)."""
    out = []
    if bid_size > 0 and inventory < max_inventory:
        price = min(math.floor(mid - bid_offset), math.ceil(mid) - 1)
        if price >= 1:
            out.append((0, price, bid_size))
    if ask_size > 0 and inventory > -max_inventory:
        out.append((1, max(math.ceil(mid + ask_offset), math.floor(mid) + 1), ask_size))
    return out


def requote(agent, targets: list) -> int:
    """Cancel the agent's resting orders that are not wanted and send the missing quotes;
    returns the number of orders and cancels sent (the order-management count)."""
    want = {(s, p): q for s, p, q in targets}
    have = set()
    sent = 0
    for oid, o in list(agent.open_orders.items()):
        key = (o[0], o[1])
        w = want.get(key)
        if w is not None and o[2] <= w and key not in have:
            have.add(key)
        else:
            agent.cancel(oid)
            sent += 1
    for (side, price), qty in want.items():
        if (side, price) not in have:
            agent.limit(side, price, qty, order_type=OrderType.POST_ONLY)
            sent += 1
    return sent

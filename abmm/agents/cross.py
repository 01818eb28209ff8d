"""Cross-symbol agents: an index (or basis) arbitrageur, a market maker that hedges, and basket
traders (correlated liquidity demand across symbols).

Both trade several symbols through legs (:mod:`abmm.agents.legs`) and see every symbol's market
as of ``now - latency``. Prices are compared in price units (ticks x ``tick_size``), positions
in base units (lots x ``lot_size``), so symbols with different ticks and lots mix correctly.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from abmm.agents.base import BUY, SELL
from abmm.agents.legs import MultiSymbolAgent
from abmm.agents.metaorder import MetaorderAgent
from abmm.engine.types import OrderType
from abmm.schema import SECOND, Duration, GroupBase, WakeCfg

__all__ = ["ArbitrageGroup", "ArbitrageAgent", "BasketGroup", "BasketAgent", "HedgingMMGroup",
           "HedgingMarketMaker", "RollingBeta"]


def _price(venue, ticks: float) -> float:
    return ticks * venue.tick_size


# ------------------------------------------------------------------------------ arbitrage
class ArbitrageGroup(GroupBase):
    """Trades a basket whose value should stay near ``fair``: an index future against its
    constituents, one perpetual against another. ``legs`` gives the signed lots of each symbol
    in one basket (``{IDX: 2, A: -1, B: -1}``: long 2 lots of the future, short one of each
    constituent); the basket's value is the sum of lots x lot size x price. At each wake it
    prices the basket at the touch: if selling it (bids of the long legs, asks of the short
    ones) fetches more than ``fair`` + band, it sells ``step_baskets`` baskets; if buying it
    costs less than ``fair`` - band, it buys; every leg as an immediate-or-cancel order at the
    touch (``cross_ticks`` through it). The band is ``band_bps`` of the basket's gross value.
    Once the mid-priced basis is back within ``exit_bps`` of ``fair`` it unwinds a step at a
    time. At most ``max_baskets`` baskets either way. ``fair`` is a number (price units; 0 for
    an index future on its exact basket) or ``ewma``: the mid basis's exponential average over
    ``fair_halflife`` (a basis with a drifting level). Legs that filled unevenly are squared to
    the basket position first; a leg whose last order has not reached the exchange yet (a
    latency longer than the wake interval) waits for it, so no leg is sent twice."""

    kind: Literal["arbitrage"] = "arbitrage"
    wake: WakeCfg = WakeCfg(kind="fixed", interval=SECOND)
    legs: dict[str, int] = Field(min_length=2)
    fair: float | Literal["ewma"] = 0.0
    fair_halflife: Duration = 3_600 * SECOND
    band_bps: float = Field(5.0, ge=0)
    exit_bps: float = Field(0.0, ge=0)
    max_baskets: PositiveInt = 10
    step_baskets: PositiveInt = 1
    cross_ticks: int = Field(0, ge=0)

    @field_validator("legs")
    @classmethod
    def _legs(cls, v):
        zero = [k for k, q in v.items() if q == 0]
        if zero:
            raise ValueError(f"legs: {zero[0]} has 0 lots (give each leg a signed number of "
                             "lots per basket)")
        return v

    @model_validator(mode="after")
    def _check(self):
        if self.symbol is not None:
            raise ValueError("an arbitrage group names its symbols in 'legs', not 'symbol'")
        if self.exit_bps > self.band_bps:
            raise ValueError(f"exit_bps ({self.exit_bps}) must be <= band_bps "
                             f"({self.band_bps})")
        return self


class ArbitrageAgent(MultiSymbolAgent):
    """See :class:`ArbitrageGroup`."""

    kind = "arbitrage"

    def setup(self) -> None:
        """Make the legs; no position, no fair estimate yet."""
        p = self.params
        self.setup_legs(list(p.legs))
        self.lots = dict(p.legs)
        self.baskets = 0
        self.fair_est: float | None = None if p.fair == "ewma" else float(p.fair)
        self.t_fair: int | None = None
        self.n_entries = 0
        self.basis_seen: float | None = None

    def on_wake(self) -> None:
        """Price the basket at the touch; enter, unwind or square legs (class docstring)."""
        p = self.params
        quotes = {s: leg.quote() for s, leg in self.legs.items()}
        if any(q[0] is None or q[2] is None for q in quotes.values()):
            return
        sell_value = buy_value = mid_value = gross = 0.0
        for s, leg in self.legs.items():
            bid, _, ask, _ = quotes[s]
            v, n = leg.venue, self.lots[s]
            unit = n * v.lot_size
            best_sell, best_buy = (bid, ask) if n > 0 else (ask, bid)
            sell_value += unit * _price(v, best_sell)
            buy_value += unit * _price(v, best_buy)
            mid_value += unit * _price(v, (bid + ask) / 2)
            gross += abs(unit) * _price(v, (bid + ask) / 2)
        self.basis_seen = mid_value
        if p.fair == "ewma":
            now = self.now
            if self.fair_est is None:
                self.fair_est = mid_value
            else:
                w = 1.0 - 0.5 ** ((now - self.t_fair) / p.fair_halflife)
                self.fair_est += w * (mid_value - self.fair_est)
            self.t_fair = now
        fair = self.fair_est
        band = gross * p.band_bps * 1e-4
        target = self.baskets
        if sell_value > fair + band and self.baskets > -p.max_baskets:
            target = max(self.baskets - p.step_baskets, -p.max_baskets)
        elif buy_value < fair - band and self.baskets < p.max_baskets:
            target = min(self.baskets + p.step_baskets, p.max_baskets)
        elif abs(mid_value - fair) <= gross * p.exit_bps * 1e-4 and self.baskets:
            target = self.baskets - int(math.copysign(min(p.step_baskets, abs(self.baskets)),
                                                      self.baskets))
        if target != self.baskets:
            self.n_entries += abs(target) > abs(self.baskets)
            self.baskets = target
        self._square(quotes)

    def _square(self, quotes: dict) -> None:
        """Send each leg the IOC order that brings its inventory to ``baskets x lots``."""
        cross = self.params.cross_ticks
        for s, leg in self.legs.items():
            if leg.open_orders or leg.in_flight():  # an order still working: wait for it
                continue
            diff = self.baskets * self.lots[s] - leg.inventory
            if diff > 0:
                leg.limit(BUY, quotes[s][2] + cross, diff, order_type=OrderType.IOC)
            elif diff < 0:
                leg.limit(SELL, quotes[s][0] - cross, -diff, order_type=OrderType.IOC)


# ------------------------------------------------------------------------------ baskets
class BasketGroup(GroupBase):
    """Uninformed traders who trade several symbols at once: index funds, ETF creations and
    redemptions, portfolio rebalancing. Their demand is correlated across symbols, which makes
    prices co-move beyond what the fundamentals share -- trading-based comovement (Barberis,
    Shleifer & Wurgler 2005: stocks added to the S&P 500 start co-moving with it) and cross-impact
    (Benzaquen, Mastromatteo, Eisler & Bouchaud 2017: order flow on one stock moves others; a
    large part of the correlation of returns is the correlation of order flows).

    At each wake a trader buys or sells (a fair coin) ``units`` baskets with a market order on
    every leg at once: ``legs`` gives the signed lots per unit on each symbol (``{A: 1, B: 1}``;
    a negative number trades the other side). ``units`` is uniform in ``[min_units,
    max_units]``, or with ``size_alpha`` power-law, ``P(units >= x) = (min_units / x) **
    size_alpha`` capped at ``max_units``, as the noise crowd's sizes. ``attention`` follows the
    primary symbol's activity (over ``attention_horizons`` if given, within
    ``attention_clip``), as a metaorder trader's.

    With ``max_children`` above 1 each trader works basket *metaorders*, as ``kind:
    metaorder`` does on one symbol: a parent of ``L`` child baskets, ``P(L >= x) =
    (min_children / x) ** children_alpha`` capped at ``max_children``, all on one side (a coin
    flip per parent), one child basket per wake, a one-wake pause between parents. Split
    portfolio flow has the long-memory signs of the one-symbol metaorders, so the crowd's
    liquidity treats it alike (docs/multi_asset.md)."""

    kind: Literal["basket"] = "basket"
    wake: WakeCfg = WakeCfg(kind="poisson", interval=10 * SECOND)
    legs: dict[str, int] = Field(min_length=1)
    min_units: PositiveInt = 1
    max_units: PositiveInt = 10
    size_alpha: float | None = Field(None, gt=0, le=10)
    min_children: PositiveInt = 1
    max_children: PositiveInt = 1
    children_alpha: float = Field(1.5, gt=1, le=5)
    #: as ``metaorder``'s: the wake rate follows the primary symbol's volatility over
    #: ``attention_horizons`` (trader ``i`` watches ``attention_horizons[i % len]``) against
    #: ``activity_reference``, raised to ``attention`` and kept within ``[1/attention_clip,
    #: attention_clip]``; without horizons, the market's own activity
    attention_clip: float = Field(5.0, ge=1, le=5)
    attention_horizons: list[Duration] | None = Field(None, min_length=1)
    activity_reference: Duration = 86_400 * SECOND

    _legs = field_validator("legs")(ArbitrageGroup._legs.__func__)

    @model_validator(mode="after")
    def _check(self):
        if self.symbol is not None:
            raise ValueError("a basket group names its symbols in 'legs', not 'symbol'")
        if self.max_units < self.min_units:
            raise ValueError(f"max_units ({self.max_units}) must be >= min_units "
                             f"({self.min_units})")
        if self.max_children < self.min_children:
            raise ValueError(f"max_children ({self.max_children}) must be >= min_children "
                             f"({self.min_children})")
        return self


class BasketAgent(MultiSymbolAgent):
    """See :class:`BasketGroup`."""

    kind = "basket"

    def setup(self) -> None:
        """Make the legs."""
        self.setup_legs(list(self.params.legs))
        self._lots = [(leg, self.params.legs[s]) for s, leg in self.legs.items()]
        self.left = 0  # child baskets left in the current parent (max_children > 1)
        self.side = BUY
        self.parents = 0
        self.watch_horizons()

    # the primary symbol's activity paces the wakes, as a metaorder trader's
    watch_horizons = MetaorderAgent.watch_horizons
    activity = MetaorderAgent.activity
    next_wake = MetaorderAgent.next_wake

    def on_wake(self) -> None:
        """Buy or sell a random number of baskets, every leg with a market order (with
        parents: the next child basket, or a new parent when idle)."""
        p = self.params
        if p.max_children > 1:
            if self.left <= 0:
                u, w = self.prng.random(2).tolist()
                self.left = min(p.max_children, int(
                    p.min_children * (1.0 - w) ** (-1.0 / p.children_alpha)))
                self.side = BUY if u < 0.5 else SELL
                self.parents += 1
                return
            self.left -= 1
            side = self.side
            v = self.prng.random() if p.max_units > p.min_units else 0.0
        else:
            u, v = self.prng.random(2).tolist()
            side = BUY if u < 0.5 else SELL
        if p.size_alpha is None:
            units = p.min_units + int(v * (p.max_units - p.min_units + 1))
        else:
            units = min(p.max_units, int(p.min_units * (1.0 - v) ** (-1.0 / p.size_alpha)))
        for leg, lots in self._lots:
            leg.market_order(side if lots > 0 else 1 - side, units * abs(lots))


# ------------------------------------------------------------------------------ hedging MM
class RollingBeta:
    """Hedge ratios from co-movement: the regression slope of each quoted symbol's returns on
    the hedge instrument's, over the last ``window`` returns sampled every ``interval`` ns
    (running sums: O(1) per sample). ``beta(i)`` is None until ``min_samples`` returns."""

    def __init__(self, n: int, window: int, interval: int, min_samples: int):
        self.n, self.window, self.interval, self.min_samples = n, window, interval, min_samples
        self.t_last: int | None = None
        self.last: list | None = None  # the previous sample's mids (quoted..., hedge)
        self.rets: deque = deque()
        self.sx = self.sxx = 0.0
        self.sy = [0.0] * n
        self.sxy = [0.0] * n

    def update(self, now: int, mids: list, hedge_mid: float) -> None:
        """Sample the mids when ``interval`` has passed since the last sample."""
        if self.t_last is not None and now - self.t_last < self.interval:
            return
        cur = [*mids, hedge_mid]
        if self.last is not None:
            x = math.log(hedge_mid / self.last[-1])
            ys = [math.log(m / m0) for m, m0 in zip(mids, self.last, strict=False)]
            self._add(x, ys, +1)
            self.rets.append((x, ys))
            if len(self.rets) > self.window:
                self._add(*self.rets.popleft(), -1)
        self.last, self.t_last = cur, now

    def _add(self, x: float, ys: list, sign: int) -> None:
        self.sx += sign * x
        self.sxx += sign * x * x
        for i, y in enumerate(ys):
            self.sy[i] += sign * y
            self.sxy[i] += sign * x * y

    def beta(self, i: int) -> float | None:
        """Symbol ``i``'s hedge ratio (returns on returns), or None while warming up."""
        m = len(self.rets)
        if m < self.min_samples:
            return None
        var = self.sxx / m - (self.sx / m) ** 2
        if var <= 0:
            return None
        return (self.sxy[i] / m - self.sx / m * self.sy[i] / m) / var


class HedgingMMGroup(GroupBase):
    """A market maker on the symbols in ``quote`` that hedges with ``hedge_with``.

    On each quoted symbol it holds a post-only ladder around the mid shifted against its
    inventory: centre mid - ``skew_ticks`` x q, ``half_spread_ticks`` either side, ``levels``
    prices ``level_spacing_ticks`` apart, ``size`` lots each; no bid at q >= ``max_inventory``,
    no offer at q <= -``max_inventory``. Hedge ratios are estimated online (:class:`RollingBeta`:
    the slope of each quoted symbol's log returns on the hedge's, sampled every
    ``beta_interval`` over the last ``beta_window``) unless fixed in ``beta``; the hedge target
    is q_hedge = -sum_i beta_i q_i, in value (each q_i at its mid and lot size, converted to
    lots of the hedge). ``hedge``:

    * ``take``: when the hedge leg is ``hedge_threshold`` lots or more from its target it
      trades the difference with an immediate-or-cancel order at the touch (once the last
      one has reached the exchange);
    * ``skew``: it also quotes the hedge symbol (``hedge_size`` lots a side, its centre shifted
      by ``hedge_skew_ticks`` per lot of distance from the target), so passive fills bring it
      to the target;
    * ``none``: no hedge (the unhedged baseline; ``hedge_with`` is still watched, so its
      betas are reported).
    """

    kind: Literal["hedging_mm"] = "hedging_mm"
    wake: WakeCfg = WakeCfg(kind="fixed", interval=SECOND)
    quote: list[str] = Field(min_length=1)
    hedge_with: str
    hedge: Literal["take", "skew", "none"] = "take"
    half_spread_ticks: float = Field(2.0, ge=0.5)
    skew_ticks: float = Field(0.1, ge=0)
    levels: PositiveInt = 1
    level_spacing_ticks: PositiveInt = 1
    size: PositiveInt = 5
    max_inventory: PositiveInt = 100
    beta: dict[str, float] | None = None
    beta_interval: Duration = 10 * SECOND
    beta_window: int = Field(360, ge=10)
    beta_min_samples: int = Field(30, ge=5)
    hedge_threshold: PositiveInt = 1
    hedge_size: PositiveInt = 5
    hedge_skew_ticks: float = Field(0.5, ge=0)

    @model_validator(mode="after")
    def _check(self):
        if self.symbol is not None:
            raise ValueError("a hedging_mm group names its symbols in 'quote' and "
                             "'hedge_with', not 'symbol'")
        if self.hedge_with in self.quote:
            raise ValueError(f"hedge_with ({self.hedge_with}) must not be one of the quoted "
                             f"symbols ({', '.join(self.quote)})")
        if len(set(self.quote)) != len(self.quote):
            raise ValueError("quote lists a symbol twice")
        missing = [s for s in self.quote if self.beta is not None and s not in self.beta]
        if missing:
            raise ValueError(f"beta: no hedge ratio for {', '.join(missing)} (give one per "
                             "quoted symbol, or leave beta out to estimate them)")
        return self

    @property
    def legs(self) -> list[str]:
        """Every symbol it trades (checked against ``market.symbols``)."""
        return [*self.quote, self.hedge_with]


class HedgingMarketMaker(MultiSymbolAgent):
    """See :class:`HedgingMMGroup`."""

    kind = "hedging_mm"

    def setup(self) -> None:
        """Make the legs and the beta estimator."""
        p = self.params
        self.setup_legs(p.legs)
        self.quoted = [self.legs[s] for s in p.quote]
        self.hedge_leg = self.legs[p.hedge_with]
        self.betas = RollingBeta(len(p.quote), p.beta_window, p.beta_interval,
                                 p.beta_min_samples)
        self.hedge_target = 0.0

    def current_betas(self) -> list[float | None]:
        """The hedge ratio of each quoted symbol (fixed, or estimated; None while warming)."""
        p = self.params
        if p.beta is not None:
            return [p.beta[s] for s in p.quote]
        return [self.betas.beta(i) for i in range(len(p.quote))]

    def on_wake(self) -> None:
        """Re-quote every quoted symbol, update the betas, hedge (class docstring)."""
        p = self.params
        mids = [leg.mid() for leg in self.quoted]
        hmid = self.hedge_leg.mid()
        if hmid is None or hmid <= 0 or any(m is None or m <= 0 for m in mids):
            return
        self.betas.update(self.now, mids, hmid)
        for leg, mid in zip(self.quoted, mids, strict=True):
            self.quote_ladder(leg, mid - p.skew_ticks * leg.inventory, p.half_spread_ticks,
                              p.size, p.max_inventory)
        self.hedge_target = self.target_lots(mids, hmid)
        if p.hedge == "take":
            self._take()
        elif p.hedge == "skew":
            gap = self.hedge_leg.inventory - self.hedge_target
            self.quote_ladder(self.hedge_leg, hmid - p.hedge_skew_ticks * gap,
                              p.half_spread_ticks, p.hedge_size, None)

    def target_lots(self, mids: list, hmid: float) -> float:
        """The hedge target q_hedge = -sum beta_i q_i, in value (each quoted position at its
        mid in ``mids`` and its lot size), in lots of the hedge at ``hmid``; a beta still
        warming up counts as 0."""
        value = 0.0
        for leg, mid, b in zip(self.quoted, mids, self.current_betas(), strict=True):
            if b is not None:
                value -= b * leg.inventory * _price(leg.venue, mid) * leg.venue.lot_size
        hv = self.hedge_leg.venue
        return value / (_price(hv, hmid) * hv.lot_size)

    def net_exposure(self) -> float:
        """The position's value left after the hedge, price units: the quoted legs' exposure
        weighted by their betas (1 while unknown) plus the hedge leg's."""
        out = self.hedge_leg.exposure()
        for leg, b in zip(self.quoted, self.current_betas(), strict=True):
            out += (1.0 if b is None else b) * leg.exposure()
        return out

    def trade_hedge(self, lots: int, top: tuple) -> None:
        """Buy (``lots`` > 0) or sell on the hedge leg with an immediate-or-cancel order at the
        touch of ``top`` (``(bid, bid_qty, ask, ask_qty)``)."""
        bid, _, ask, _ = top
        if lots > 0 and ask is not None:
            self.hedge_leg.limit(BUY, ask, lots, order_type=OrderType.IOC)
        elif lots < 0 and bid is not None:
            self.hedge_leg.limit(SELL, bid, -lots, order_type=OrderType.IOC)

    def quote_ladder(self, leg, centre: float, half: float, size: int, cap: int | None) -> None:
        """Hold a post-only ladder on ``leg`` around ``centre`` (ticks), ``half`` ticks either
        side (at least one tick apart), ``size`` lots a level; no bid at inventory >= ``cap``,
        no offer at <= -``cap`` (None: no cap)."""
        p = self.params
        bid = math.floor(centre - half)
        ask = math.ceil(centre + half)
        if ask <= bid:
            ask = bid + 1
        q = leg.inventory
        leg.requote_ladder(None if cap is not None and q >= cap else bid,
                           None if cap is not None and q <= -cap else ask,
                           p.levels, p.level_spacing_ticks, size)

    def _take(self) -> None:
        leg = self.hedge_leg
        diff = round(self.hedge_target - leg.inventory)
        if abs(diff) < self.params.hedge_threshold or leg.open_orders or leg.in_flight():
            return
        self.trade_hedge(diff, leg.quote())

    def summary(self) -> list[dict]:
        """One row per leg; the quoted legs' rows carry their last hedge ratio (``beta``)."""
        rows = super().summary()
        betas = dict(zip(self.params.quote, self.current_betas(), strict=True))
        for r in rows:
            r["beta"] = betas.get(r["symbol"])
        return rows

"""Market makers: fixed spread, Avellaneda-Stoikov and GLFT quotes, with ladders and limits."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, PositiveInt

from abmm.agents.base import BUY, SELL, TraderAgent
from abmm.engine.types import OrderType
from abmm.policy.closed_form import as_quotes, glft_coefficients, glft_quotes
from abmm.schema import SECOND, Duration, GroupBase, WakeCfg
from abmm.signals.volatility import MidVolatility


class MarketMakerGroup(GroupBase):
    """A market maker re-quotes at each wake (fixed interval). Its quote centre and half-spread:

    * ``fixed``: mid ± ``half_spread_ticks``;
    * ``avellaneda_stoikov`` (Avellaneda & Stoikov 2008): reservation price
      r = s − q·γ·σ²·τ and total spread γ·σ²·τ + (2/γ)·ln(1 + γ/k), with τ = ``horizon``
      (a rolling horizon, in seconds);
    * ``glft`` (Guéant, Lehalle & Fernandez-Tapia 2013, closed-form approximation):
      half-spread c1 + σ·c2/2 and skew σ·c2 per unit of inventory, with
      c1 = ln(1 + γ/k)/γ and c2 = sqrt(γ/(2·A·k) · (1 + γ/k)^(k/γ + 1)).

    The formulas live in ``abmm.policy.closed_form``.

    Here s is the mid (ticks), q the inventory in units of ``size``, σ the mid's volatility
    (ticks per √s; ``sigma_ticks`` or, if unset, an EWMA estimate from the mid it observes), k
    the decay of fill intensity with distance (per tick) and A its level (per second).
    It quotes ``levels`` prices per side, ``level_spacing_ticks`` apart, ``size`` lots each, as
    post-only orders (quotes never take); a quote already at a wanted price is left alone, so it
    keeps its queue position. It stops bidding at ``inventory >= max_inventory`` and offering at
    ``<= -max_inventory``."""

    kind: Literal["market_maker"] = "market_maker"
    wake: WakeCfg = WakeCfg(kind="fixed", interval=SECOND)
    strategy: Literal["fixed", "avellaneda_stoikov", "glft"] = "fixed"
    half_spread_ticks: float = Field(2.0, ge=0.5)
    levels: PositiveInt = 1
    level_spacing_ticks: PositiveInt = 1
    size: PositiveInt = 10
    max_inventory: PositiveInt = 500
    gamma: float = Field(0.1, gt=0)
    k: float = Field(1.5, gt=0)
    A: float = Field(1.0, gt=0)
    sigma_ticks: float | None = Field(None, gt=0)
    horizon: Duration = 60 * SECOND
    vol_halflife: PositiveInt = 50  #: EWMA half-life of the σ estimate, in wakes
    max_offset_ticks: float = Field(50.0, gt=0)  #: cap on |quote - mid| (guards a bad σ)


class MarketMakerAgent(TraderAgent):
    """A rule-based market maker quoting by its group's strategy (see ``MarketMakerGroup``)."""

    kind = "market_maker"

    def setup(self) -> None:
        """Initial volatility estimate and the strategy's constants."""
        p = self.params
        self._tau = p.horizon / SECOND
        self._glft = glft_coefficients(p.gamma, p.k, p.A) if p.strategy == "glft" else None
        # sigma: fixed by ``sigma_ticks``, else an EWMA of squared mid changes per second from
        # two-sided books only (a mid that falls back to the last trade is not a price move),
        # each observation capped at 25x the current variance so one gap cannot blow the quotes
        # out (abmm.signals.MidVolatility's market-maker rule)
        self._sigma_fixed = None if p.sigma_ticks is None else math.sqrt(p.sigma_ticks ** 2)
        self.vol = MidVolatility(p.vol_halflife, start="first", cap=25.0)

    def sigma(self) -> float:
        """The mid's volatility in ticks per square root of a second (0 before an estimate)."""
        return self.vol.value if self._sigma_fixed is None else self._sigma_fixed

    def _update_vol(self, mid: float, two_sided: bool = True) -> None:
        """Feed the volatility estimate the mid seen at this wake (one-sided books skipped)."""
        if self._sigma_fixed is None:
            self.vol.update(mid if two_sided else None, self.now)

    def quotes(self, mid: float) -> tuple[float, float]:
        """(bid, ask) prices, in fractional ticks, before rounding and laddering."""
        p = self.params
        q = self.inventory / p.size
        if p.strategy == "fixed":
            return mid - p.half_spread_ticks, mid + p.half_spread_ticks
        sigma = self.sigma()
        if p.strategy == "avellaneda_stoikov":
            return as_quotes(mid, q, p.gamma, sigma, p.k, self._tau)
        c1, c2 = self._glft
        return glft_quotes(mid, q, sigma, c1, c2)

    def on_wake(self) -> None:
        """Re-estimate the volatility and re-quote (keeping quotes already at a wanted price)."""
        p = self.params
        (bb, _, ba, _), last = self.model.view_at(self.now - self.latency.draw())
        two_sided = bb is not None and ba is not None
        mid = (bb + ba) / 2 if two_sided else last
        self._update_vol(mid, two_sided)
        b, a = self.quotes(mid)
        cap = p.max_offset_ticks
        b, a = max(b, mid - cap), min(a, mid + cap)
        bid = min(math.floor(b), math.ceil(mid) - 1)
        ask = max(math.ceil(a), math.floor(mid) + 1)
        want = set()
        if self.inventory < p.max_inventory:
            want.update((BUY, bid - j * p.level_spacing_ticks) for j in range(p.levels))
        if self.inventory > -p.max_inventory:
            want.update((SELL, ask + j * p.level_spacing_ticks) for j in range(p.levels))
        have = set()
        for oid, o in list(self.open_orders.items()):
            key = (o[0], o[1])
            if key in want and key not in have:
                have.add(key)
            else:
                self.cancel(oid)
        for side, price in sorted(want - have):
            if price >= 1:
                self.limit(side, price, p.size, order_type=OrderType.POST_ONLY)

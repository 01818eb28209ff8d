"""Informed traders: see the fundamental ``horizon`` ahead and take liquidity on mispricing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from abmm.agents.base import BUY, SELL, TraderAgent
from abmm.engine.types import OrderType
from abmm.schema import Duration, GroupBase, WakeCfg


class InformedGroup(GroupBase):
    """At each wake an informed trader reads the fundamental at ``now + horizon``; if it exceeds
    the best ask by more than ``threshold_ticks`` it buys ``qty`` (an IOC limit at the ask, or a
    market order with ``order: market``), symmetrically for sells. Position capped."""

    kind: Literal["informed"] = "informed"
    wake: WakeCfg = WakeCfg(kind="poisson", interval=60_000_000_000)
    horizon: Duration = 300_000_000_000
    threshold_ticks: float = Field(3.0, ge=0)
    qty: PositiveInt = 10
    max_position: PositiveInt = 200
    order: Literal["ioc", "market"] = "ioc"


class InformedAgent(TraderAgent):
    """Takes liquidity when the fundamental ``horizon`` ahead is away from the touch.

    ``bias_ticks`` (added to the future fundamental it acts on) and ``qty_scale`` (its order
    size multiplier) are 0 and 1 by its own rule; the ecology's adversary role
    (``abmm.env.adversary_env``) steers them."""

    kind = "informed"

    def setup(self) -> None:
        """Its own rule: no bias, full size."""
        self.bias_ticks = 0.0
        self.qty_scale = 1.0

    def on_wake(self) -> None:
        """Buy at the ask (or sell at the bid) when the future fundamental beats it by more
        than ``threshold_ticks``, within ``max_position``."""
        p = self.params
        future = self.venue.fundamental.value(self.now + p.horizon)
        if self.bias_ticks:
            future += self.bias_ticks
        size = p.qty if self.qty_scale == 1.0 else int(round(p.qty * self.qty_scale))
        bid, _, ask, _ = self.quote()
        if ask is not None and future - ask > p.threshold_ticks:
            qty = min(size, p.max_position - self.inventory)
            self._take(BUY, ask, qty)
        elif bid is not None and bid - future > p.threshold_ticks:
            qty = min(size, p.max_position + self.inventory)
            self._take(SELL, bid, qty)

    def _take(self, side: int, price: int, qty: int) -> None:
        if qty <= 0:
            return
        if self.params.order == "market":
            self.market_order(side, qty)
        else:
            self.limit(side, price, qty, order_type=OrderType.IOC)

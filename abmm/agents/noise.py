"""Noise (zero-intelligence) traders: random side, size and price around the mid."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from abmm.agents.base import BUY, SELL, TraderAgent
from abmm.agents.groups import Duration, GroupBase, WakeCfg


class NoiseGroup(GroupBase):
    """Zero-intelligence traders (Gode & Sunder 1993, constrained to a band around the mid).

    At each wake: cancel own orders older than ``order_ttl``; then with probability ``p_market``
    send a market order, else a limit order priced ``k`` ticks behind the mid on its side, ``k``
    uniform in ``[-cross_ticks, offset_ticks]`` (negative ``k`` crosses the mid)."""

    kind: Literal["noise"] = "noise"
    wake: WakeCfg = WakeCfg(kind="poisson", interval=300_000_000_000)
    p_market: float = Field(0.1, ge=0, le=1)
    offset_ticks: PositiveInt = 20
    cross_ticks: int = Field(2, ge=0)
    min_qty: PositiveInt = 1
    max_qty: PositiveInt = 10
    order_ttl: Duration = 600_000_000_000

    @model_validator(mode="after")
    def _check(self):
        if self.max_qty < self.min_qty:
            raise ValueError(f"max_qty ({self.max_qty}) must be >= min_qty ({self.min_qty})")
        return self


class NoiseAgent(TraderAgent):
    kind = "noise"

    def on_wake(self) -> None:
        p = self.params
        now = self.now
        for oid, o in list(self.open_orders.items()):
            if now - o[3] >= p.order_ttl:
                self.cancel(oid)
        rng = self.prng
        u = rng.random(4)
        side = BUY if u[0] < 0.5 else SELL
        qty = p.min_qty + int(u[1] * (p.max_qty - p.min_qty + 1))
        if u[2] < p.p_market:
            self.market_order(side, qty)
            return
        mid = self.mid()
        k = -p.cross_ticks + int(u[3] * (p.offset_ticks + p.cross_ticks + 1))
        price = int(mid) - k if side == BUY else int(-(-mid // 1)) + k
        self.limit(side, price, qty)

"""Noise (zero-intelligence) traders: random side, size and price around the mid."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from abmm.agents.base import BUY, SELL, TraderAgent
from abmm.schema import Duration, GroupBase, WakeCfg


class NoiseGroup(GroupBase):
    """Zero-intelligence traders (Gode & Sunder 1993, constrained to a band around the mid).

    At each wake: cancel own orders older than ``order_ttl``; then with probability ``p_market``
    send a market order, else a limit order priced ``k`` ticks behind the mid on its side, ``k``
    uniform in ``[-cross_ticks, offset_ticks]`` (negative ``k`` crosses the mid).

    Sizes are uniform in ``[min_qty, max_qty]``, or, with ``size_alpha``, power-law distributed
    as the sizes of real orders are (Gopikrishnan et al. 2000; Gabaix et al. 2003):
    ``P(qty >= x) = (min_qty / x) ** size_alpha``, capped at ``max_qty``.

    With ``offset_feedback`` the placement band widens when the market is moving: ``k`` is
    scaled by ``activity() ** offset_feedback`` (clipped to [0.2, 5]; ``activity()`` is the
    short- over long-term volatility of the mid), so liquidity near the touch thins out in
    turbulent times, as in real books."""

    kind: Literal["noise"] = "noise"
    wake: WakeCfg = WakeCfg(kind="poisson", interval=300_000_000_000)
    p_market: float = Field(0.1, ge=0, le=1)
    offset_ticks: PositiveInt = 20
    cross_ticks: int = Field(2, ge=0)
    min_qty: PositiveInt = 1
    max_qty: PositiveInt = 10
    order_ttl: Duration = 600_000_000_000
    size_alpha: float | None = Field(None, gt=0, le=10)
    offset_feedback: float = Field(0.0, ge=0, le=5)

    @model_validator(mode="after")
    def _check(self):
        if self.max_qty < self.min_qty:
            raise ValueError(f"max_qty ({self.max_qty}) must be >= min_qty ({self.min_qty})")
        return self


class NoiseAgent(TraderAgent):
    """Zero-intelligence trader (see ``NoiseGroup``)."""

    kind = "noise"

    def on_wake(self) -> None:
        """Cancel orders older than ``order_ttl``, then send one random market or limit order."""
        p = self.params
        now = self.now
        for oid, o in list(self.open_orders.items()):
            if now - o[3] >= p.order_ttl:
                self.cancel(oid)
        rng = self.prng
        u = rng.random(4).tolist()  # Python floats: cheaper to index and compare
        side = BUY if u[0] < 0.5 else SELL
        if p.size_alpha is None:
            qty = p.min_qty + int(u[1] * (p.max_qty - p.min_qty + 1))
        else:  # inverse CDF of the Pareto law; 1 - u is in (0, 1]
            qty = min(p.max_qty, int(p.min_qty * (1.0 - u[1]) ** (-1.0 / p.size_alpha)))
        if u[2] < p.p_market:
            self.market_order(side, qty)
            return
        mid = self.mid()
        k = -p.cross_ticks + int(u[3] * (p.offset_ticks + p.cross_ticks + 1))
        if p.offset_feedback and k > 0:
            k = max(1, round(k * min(5.0, max(0.2, self.model.activity() ** p.offset_feedback))))
        price = int(mid) - k if side == BUY else int(-(-mid // 1)) + k
        self.limit(side, price, qty)

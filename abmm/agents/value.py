"""Value traders (fundamentalists): trade toward a noisy private estimate of the fundamental."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from abmm.agents.base import BUY, SELL, TraderAgent
from abmm.schema import GroupBase, WakeCfg


class ValueGroup(GroupBase):
    """At each wake a value trader observes the fundamental with Gaussian noise (``obs_noise``,
    price units), smooths its estimate (weight ``smoothing`` on the new observation), cancels its
    working order, and if the estimate is more than ``edge_ticks`` away from the mid trades
    toward it: with probability ``aggression`` it takes the touch, else it joins the best price
    on its side (improving it by a tick when the spread allows). Position capped at
    ``max_position``.

    With ``qty_per_tick`` > 0 the demand is elastic, as the fundamentalists of heterogeneous-
    agent models (Chiarella 1992; Farmer & Joshi 2002): the order grows by ``qty_per_tick`` lots
    for each tick the mispricing exceeds ``edge_ticks``, so a price pushed far from value meets
    more and more liquidity (0: the size is ``min_qty``..``max_qty`` whatever the gap)."""

    kind: Literal["value"] = "value"
    wake: WakeCfg = WakeCfg(kind="poisson", interval=180_000_000_000)
    obs_noise: float = Field(0.5, ge=0)
    smoothing: float = Field(0.3, gt=0, le=1)
    edge_ticks: float = Field(2.0, ge=0)
    aggression: float = Field(0.3, ge=0, le=1)
    min_qty: PositiveInt = 1
    max_qty: PositiveInt = 20
    max_position: PositiveInt = 200
    qty_per_tick: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _check(self):
        if self.max_qty < self.min_qty:
            raise ValueError(f"max_qty ({self.max_qty}) must be >= min_qty ({self.min_qty})")
        return self


class ValueAgent(TraderAgent):
    """Fundamentalist trading toward a smoothed noisy estimate of the fundamental."""

    kind = "value"

    def setup(self) -> None:
        """Start with no estimate of the fundamental."""
        self.estimate: float | None = None

    def on_wake(self) -> None:
        """Update the estimate, cancel the working order, and trade toward the estimate if it is
        more than ``edge_ticks`` from the mid (see ``ValueGroup``)."""
        p = self.params
        self.cancel_all()
        model = self.venue
        noise_ticks = p.obs_noise / model.tick_size
        obs = model.fundamental.value(self.now) + noise_ticks * self.prng.standard_normal()
        self.estimate = obs if self.estimate is None else (
            self.estimate + p.smoothing * (obs - self.estimate))
        bid, _, ask, _ = self.quote()
        mid = self.mid()
        gap = self.estimate - mid
        qty = int(self.prng.integers(p.min_qty, p.max_qty + 1))
        if p.qty_per_tick and abs(gap) > p.edge_ticks:  # elastic: up to the position cap
            room = p.max_position - self.inventory if gap > 0 else p.max_position + self.inventory
            qty = max(0, min(qty + int(p.qty_per_tick * (abs(gap) - p.edge_ticks)), room))
        take = self.prng.random() < p.aggression
        if gap > p.edge_ticks and self.inventory + qty <= p.max_position:
            if take and ask is not None:
                self.limit(BUY, ask, qty)
            else:
                ref = bid if bid is not None else int(mid)
                improve = ask is not None and ask - ref > 1
                self.limit(BUY, min(ref + improve, int(self.estimate)), qty)
        elif -gap > p.edge_ticks and self.inventory - qty >= -p.max_position:
            if take and bid is not None:
                self.limit(SELL, bid, qty)
            else:
                ref = ask if ask is not None else int(mid) + 1
                improve = bid is not None and ref - bid > 1
                self.limit(SELL, max(ref - improve, int(self.estimate) + 1), qty)

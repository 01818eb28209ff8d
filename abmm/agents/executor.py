"""Institutional executors: work a parent order with TWAP, VWAP, POV or Almgren-Chriss."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, PositiveInt

from abmm.agents.base import BUY, SELL, TraderAgent
from abmm.engine.types import OrderType
from abmm.schema import Duration, GroupBase, WakeCfg

#: Default intraday volume profile (U-shaped: heavy open and close), in equal time buckets.
U_SHAPE = [0.14, 0.10, 0.08, 0.07, 0.065, 0.06, 0.06, 0.065, 0.07, 0.08, 0.10, 0.12]


class ExecutorGroup(GroupBase):
    """An executor must buy or sell ``quantity`` lots between ``start`` and ``start + duration``.

    At each wake (every ``wake.interval``, the slice) it compares what it has done with its
    schedule and sends a child order for the shortfall:

    * ``twap``: linear in time;
    * ``vwap``: follows ``volume_profile`` (relative volume per equal time bucket; default a U);
    * ``pov``: ``participation`` times the market volume traded since its last wake;
    * ``almgren_chriss``: the optimal trajectory x(τ)/X = sinh(κ(1-τ))/sinh(κ) with urgency κ
      (``urgency`` = κT; 0 gives TWAP, larger front-loads).

    Child orders are market orders, limit orders at the best price on the executor's side
    (``child: limit``; an unfilled one is cancelled at the next slice), or marketable limit
    orders with a price protection (``child: ioc``: immediate-or-cancel at the opposite touch,
    as seen, plus ``limit_ticks`` ticks through it; what does not fill at once expires and the
    schedule's shortfall is sent at the next slice, so a thin book slows the executor down as
    it slows a real one). At the end of the
    schedule (at the latest one slice before the close) whatever is left is sent as a market
    order, retried every slice until the parent is complete or the session closes."""

    kind: Literal["executor"] = "executor"
    wake: WakeCfg = WakeCfg(kind="fixed", interval=30_000_000_000)
    side: Literal["buy", "sell"] = "sell"
    quantity: PositiveInt = 10_000
    start: Duration = 37_800_000_000_000  # 10:30
    duration: Duration = 3_600_000_000_000  # 60 min
    algo: Literal["twap", "vwap", "pov", "almgren_chriss"] = "twap"
    child: Literal["market", "limit", "ioc"] = "market"
    limit_ticks: int = Field(0, ge=0)
    participation: float = Field(0.1, gt=0, le=1)
    urgency: float = Field(2.0, ge=0)
    volume_profile: list[float] = Field(default_factory=lambda: list(U_SHAPE), min_length=1)


def send_child(agent, side: int, qty: int, child: str, limit_ticks: int = 0) -> None:
    """Send one child order of ``qty`` lots by ``child`` (``ExecutorGroup``): ``market``, a
    ``limit`` at the own side's best price, or an ``ioc`` at the opposite best price
    ``limit_ticks`` through it (both as seen now; a market order when that side is empty)."""
    if child == "market":
        agent.market_order(side, qty)
        return
    bid, _, ask, _ = agent.quote()
    if child == "limit":
        price = bid if side == BUY else ask
    else:
        price = ask if side == BUY else bid
        if price is not None:
            price = price + limit_ticks if side == BUY else price - limit_ticks
    if price is None:
        agent.market_order(side, qty)
    elif child == "limit":
        agent.limit(side, price, qty)
    else:
        agent.limit(side, price, qty, order_type=OrderType.IOC)


class ExecutorAgent(TraderAgent):
    """Works one parent order by an ``ExecutorGroup`` schedule (TWAP, VWAP, POV or AC)."""

    kind = "executor"

    def setup(self) -> None:
        """Read the parent order and build the cumulative volume profile."""
        p = self.params
        self.sign = 1 if p.side == "buy" else -1
        self.side = BUY if p.side == "buy" else SELL
        self.begin = p.start
        # the final sweep must reach the book before the close
        self.finish_at = max(p.start, min(p.start + p.duration, self.venue.end - self.wake.interval))
        self.arrival_price: float | None = None
        self.executed = 0
        self.vwap_num = 0.0  # sum price*qty of own fills
        self.last_volume = 0
        self.done = False
        w = [max(x, 0.0) for x in p.volume_profile]
        total = sum(w) or 1.0
        self.cum_profile = [0.0]
        for x in w:
            self.cum_profile.append(self.cum_profile[-1] + x / total)

    def first_wake(self, start: int, end: int) -> int | None:
        """Wake first at the schedule's ``start`` (or the session start if later)."""
        return max(self.begin, start)

    def next_wake(self, now: int) -> int | None:
        """Every slice until ``finish_at``, then every slice while the final sweep is retried;
        None once the parent is complete."""
        if self.done:
            return None
        if now < self.finish_at:
            return min(now + self.wake.interval, self.finish_at)
        return now + self.wake.interval  # retrying the final sweep (the market stops at the close)

    def on_fill(self, order_id: int, side: int, price: int, qty: int, maker: bool) -> None:
        """Accumulate ``price * qty`` of own fills for the average execution price."""
        self.vwap_num += price * qty

    def schedule(self, t: int) -> float:
        """Fraction of the parent that should be done by time ``t``."""
        p = self.params
        tau = min(max((t - self.begin) / max(p.duration, 1), 0.0), 1.0)
        if p.algo == "vwap":
            n = len(self.cum_profile) - 1
            i = min(int(tau * n), n - 1)
            return self.cum_profile[i] + (self.cum_profile[i + 1] - self.cum_profile[i]) * (tau * n - i)
        if p.algo == "almgren_chriss" and p.urgency > 1e-9:
            k = p.urgency
            return 1.0 - math.sinh(k * (1 - tau)) / math.sinh(k)
        return tau

    def on_wake(self) -> None:
        """Cancel the working child, then send the shortfall against the schedule (or, at the
        end, everything left as a market order)."""
        p = self.params
        now = self.now
        if self.arrival_price is None:
            self.arrival_price = self.mid()
            self.last_volume = self.venue.volume
        self.executed = abs(self.inventory)
        remaining = p.quantity - self.executed
        self.cancel_all()
        if remaining <= 0:
            self.done = True
            return
        if now >= self.finish_at:
            self.market_order(self.side, remaining)  # complete the parent (retried if short)
            return
        if p.algo == "pov":
            market = self.venue.volume - self.last_volume
            want = int(p.participation * market)
        else:
            want = math.ceil(self.schedule(now) * p.quantity) - self.executed
        self.last_volume = self.venue.volume
        qty = max(0, min(want, remaining))
        if not qty:
            return
        send_child(self, self.side, qty, p.child, p.limit_ticks)

    def summary(self) -> dict:
        """The base summary plus parent size, completion, average and arrival prices (ticks) and
        the implementation shortfall per lot vs the arrival mid (ticks, positive = cost)."""
        out = super().summary()
        p = self.params
        done = abs(self.inventory)
        avg = self.vwap_num / done if done else None
        arrival = self.arrival_price
        out.update({
            "parent_qty": p.quantity, "executed": done, "completion": done / p.quantity,
            "avg_price_ticks": avg, "arrival_price_ticks": arrival,
            # implementation shortfall per lot vs the arrival mid (positive = cost)
            "shortfall_ticks": None if avg is None or arrival is None
            else (avg - arrival) * self.sign,
        })
        return out

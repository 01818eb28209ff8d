"""Exogenous shocks declared in a scenario, each firing at its time.

* ``flash_crash``: a large sell (or buy) market order, optionally split into ``slices`` over
  ``over``;
* ``liquidity_withdrawal``: market makers pull their quotes and stay silent for ``duration``;
* ``news_jump``: the fundamental jumps by ``size`` (price units) at ``at`` (drawn into the path
  up front, so informed traders can see it coming within their horizon);
* ``fat_finger``: one huge limit order ``price_offset`` (a fraction: -0.05 = 5 % below the mid)
  from the mid, cancelled after ``duration`` if it still rests.

In a multi-symbol market every shock takes ``symbol`` (default: the primary, the first of
``market.symbols``): a flash crash or fat finger trades that symbol's book, a news jump moves that
symbol's fundamental (a constituent's jump moves every index made of it; an index itself cannot
jump), and a liquidity withdrawal silences only the groups' agents that trade that symbol (a
multi-symbol agent cancels its orders on that symbol and goes silent as a whole).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from abmm.engine.types import OrderType, SelfTrade
from abmm.market import kernel as K
from abmm.schema import Duration, Strict


class _OnSymbol(Strict):
    """What every shock has: the symbol it hits."""

    #: the symbol the shock hits (a multi-symbol market; default: the primary symbol)
    symbol: str | None = None


class FlashCrash(_OnSymbol):
    """A large market order of ``qty`` lots at ``at``, split into ``slices`` over ``over``."""

    kind: Literal["flash_crash"] = "flash_crash"
    at: Duration
    qty: PositiveInt = 5_000
    side: Literal["sell", "buy"] = "sell"
    slices: PositiveInt = 1
    over: Duration = 0

    def fire(self, model, shooter, i: int = 0) -> None:
        """Send slice ``i`` of the order and schedule the next slice."""
        n = self.slices
        q = self.qty // n + (i < self.qty % n)
        shooter.market_order(0 if self.side == "buy" else 1, q, stp=SelfTrade.NONE)
        if i + 1 < n:
            model.queue.push(model.now + max(self.over // max(n - 1, 1), 1), K.SHOCK,
                             _Bound(self, shooter, i + 1))


class LiquidityWithdrawal(_OnSymbol):
    """The given groups (default: every market maker, hedging ones included) cancel their quotes
    and stay silent for ``duration``; with ``symbol``, only their agents that trade it."""

    kind: Literal["liquidity_withdrawal"] = "liquidity_withdrawal"
    at: Duration
    duration: Duration
    groups: list[str] | None = None  #: default: every market-maker group

    def fire(self, model, shooter, i: int = 0) -> None:
        """Cancel the groups' orders and suspend their agents until ``now + duration``."""
        names = self.groups or [g for g, m in model.groups.items()
                                if m[0].kind in ("market_maker", "hedging_mm")]
        for name in names:
            for agent in model.groups.get(name, []):
                if self.symbol is None:
                    agent.cancel_all()
                else:
                    legs = getattr(agent, "legs", None)
                    if legs is not None:  # a multi-symbol agent: its orders on that symbol
                        if self.symbol not in legs:
                            continue
                        legs[self.symbol].cancel_all()
                    elif agent.venue.symbol == self.symbol:
                        agent.cancel_all()
                    else:
                        continue
                agent.suspended_until = model.now + self.duration


class NewsJump(_OnSymbol):
    """A permanent jump of the fundamental by ``size`` price units at ``at``."""

    kind: Literal["news_jump"] = "news_jump"
    at: Duration
    size: float  #: price units

    def fire(self, model, shooter, i: int = 0) -> None:
        """Nothing to do at the time: the jump is in the fundamental path already."""


class FatFinger(_OnSymbol):
    """One huge limit order at ``price_offset`` from the mark, cancelled after ``duration``."""

    kind: Literal["fat_finger"] = "fat_finger"
    at: Duration
    side: Literal["buy", "sell"] = "sell"
    qty: PositiveInt = 50_000
    price_offset: float = Field(-0.05, gt=-1, lt=1)
    duration: Duration = 60_000_000_000

    def fire(self, model, shooter, i: int = 0) -> None:
        """Place the order (``i == 0``) and schedule its cancel; cancel it (``i == 1``)."""
        if i == 0:
            price = max(1, round(model.mark_price() * (1 + self.price_offset)))
            shooter.limit(0 if self.side == "buy" else 1, price, self.qty,
                          order_type=OrderType.LIMIT, stp=SelfTrade.NONE)
            model.queue.push(model.now + self.duration, K.SHOCK, _Bound(self, shooter, 1))
        else:
            shooter.cancel_all()


Shock = Annotated[FlashCrash | LiquidityWithdrawal | NewsJump | FatFinger,
                  Field(discriminator="kind")]


def bind_shock(shock, shooter) -> _Bound:
    """A shock bound to the agent that sends its orders, ready for ``MarketModel.add_shock``."""
    return _Bound(shock, shooter)


class _Bound:
    """A shock bound to the agent that sends its orders (the queue's SHOCK payload)."""

    __slots__ = ("shock", "shooter", "i", "at")

    def __init__(self, shock, shooter, i: int = 0):
        self.shock, self.shooter, self.i, self.at = shock, shooter, i, shock.at

    def fire(self, model) -> None:
        self.shock.fire(model, self.shooter, self.i)

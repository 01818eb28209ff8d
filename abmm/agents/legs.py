"""Agents that trade several symbols at once: one :class:`Leg` per symbol.

A multi-symbol agent (:class:`MultiSymbolAgent`) is one Mesa agent -- one wake schedule, one
latency, one random stream -- holding a :class:`Leg` per symbol. A leg is an account on one
venue (its own cash in that symbol's tick·lots, inventory, open orders, counters) with the order
methods every agent has (``limit``, ``market_order``, ``cancel``, ``requote_ladder``, ``quote``,
``mid``). Each leg has its own account id (from ``LEG_ID_BASE`` up): it owns the leg's orders in
the book and the event log, and is its row in ``agents.parquet`` (``name`` ``group/i@SYMBOL``,
``symbol`` the leg's). The agent's PnL is the sum of its legs' in price units
(:meth:`MultiSymbolAgent.pnl_value`); ``summary.json`` sums a group's legs the same way.
"""

from __future__ import annotations

from abmm.agents.base import OrderMethods, TraderAgent

__all__ = ["Leg", "MultiSymbolAgent"]


class Leg(OrderMethods):
    """One symbol's account of a multi-symbol agent (see the module docstring)."""

    kind = "leg"

    def __init__(self, parent: MultiSymbolAgent, venue):
        self.parent = parent
        self.model = parent.model
        self.venue = venue
        self.symbol = venue.symbol
        self.name = f"{parent.name}@{venue.symbol}"
        self.latency = parent.latency
        self.wants_fills = type(parent).on_leg_fill is not MultiSymbolAgent.on_leg_fill
        self.cash = 0  # tick·lots of this symbol
        self.inventory = 0  # lots
        self.fees = 0
        self.open_orders: dict[int, list] = {}
        self.n_orders = 0
        self.n_cancels = 0
        self.n_fills = 0
        self.traded = 0
        self.fill_log: list | None = None
        #: the arrival time (ns) of the last request this leg sent (-1: none yet)
        self.last_arrival = -1
        self.unique_id = parent.model.add_leg(self)

    def limit(self, *args, **kw) -> int | None:
        """``OrderMethods.limit``, remembering when the order reaches the exchange."""
        return self._sent(OrderMethods.limit(self, *args, **kw))

    def market_order(self, *args, **kw) -> int | None:
        """``OrderMethods.market_order``, remembering when the order reaches the exchange."""
        return self._sent(OrderMethods.market_order(self, *args, **kw))

    def cancel(self, order_id: int) -> int:
        """``OrderMethods.cancel``, remembering when the cancel reaches the exchange."""
        return self._sent(OrderMethods.cancel(self, order_id))

    def _sent(self, t: int | None) -> int | None:
        if t is not None and t > self.last_arrival:
            self.last_arrival = t
        return t

    def in_flight(self) -> bool:
        """True while a request this leg sent has not reached the exchange yet (an immediate
        order in flight never shows in ``open_orders``: it does not rest)."""
        return self.model.now <= self.last_arrival

    @property
    def suspended_until(self) -> int:
        """The parent's (a shock silences the whole agent)."""
        return self.parent.suspended_until

    def on_fill(self, order_id: int, side: int, price: int, qty: int, maker: bool) -> None:
        """A fill notice: handed to the parent with this leg."""
        self.parent.on_leg_fill(self, order_id, side, price, qty, maker)

    def mark_price(self) -> float:
        """This symbol's mark price (ticks)."""
        return self.venue.mark_price()

    def value(self) -> float:
        """This leg's mark-to-market PnL in price units."""
        v = self.venue
        return (self.cash + self.inventory * v.mark_price() - self.fees) * v.tick_size * v.lot_size

    def exposure(self) -> float:
        """This leg's position's market value in price units (inventory x mark)."""
        v = self.venue
        return self.inventory * v.mark_price() * v.tick_size * v.lot_size

    def summary(self) -> dict:
        """This leg's row of ``agents.parquet``."""
        p = self.parent
        return {
            "agent_id": self.unique_id, "name": self.name, "group": p.group, "kind": p.kind,
            "symbol": self.symbol, "cash": self.cash, "inventory": self.inventory,
            "pnl_ticks": self.cash + self.inventory * self.venue.mark_price() - self.fees,
            "orders": self.n_orders, "cancels": self.n_cancels, "fills": self.n_fills,
            "traded": self.traded, "open_orders": len(self.open_orders),
        }


class MultiSymbolAgent(TraderAgent):
    """Base of the agents that trade several symbols: ``setup_legs(symbols)`` makes the legs
    (in ``self.legs``, by symbol); subclasses trade through them in ``on_wake`` and may
    override ``on_leg_fill``."""

    kind = "multi"

    def setup_legs(self, symbols: list[str]) -> None:
        """One leg per symbol, in this order (``self.legs``: symbol -> ``Leg``)."""
        self.legs: dict[str, Leg] = {s: Leg(self, self.model.venue_of(s)) for s in symbols}

    def on_leg_fill(self, leg: Leg, order_id: int, side: int, price: int, qty: int,
                    maker: bool) -> None:
        """A fill notice of one of the legs (after the latency)."""

    # counters summed over the legs (the agent itself never trades)
    def _sum(self, key: str) -> int:
        return sum(getattr(leg, key) for leg in getattr(self, "legs", {}).values())

    n_orders = property(lambda self: self._sum("n_orders"), lambda self, v: None)
    n_cancels = property(lambda self: self._sum("n_cancels"), lambda self, v: None)
    n_fills = property(lambda self: self._sum("n_fills"), lambda self, v: None)
    traded = property(lambda self: self._sum("traded"), lambda self, v: None)

    def cancel_all(self) -> None:
        """Cancel every open order of every leg."""
        for leg in self.legs.values():
            leg.cancel_all()

    def pnl_value(self) -> float:
        """Mark-to-market PnL in price units, summed over the legs."""
        return sum(leg.value() for leg in self.legs.values())

    def summary(self) -> list[dict]:
        """One ``agents.parquet`` row per leg."""
        return [leg.summary() for leg in self.legs.values()]

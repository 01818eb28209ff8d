"""``Venue``: one symbol's market inside a :class:`~abmm.market.model.MarketModel` -- its order
book, top of book and its latency-delayed history, last trade, volume counters, activity and
fundamental path.

A one-symbol market has one venue (``model.venue``, also ``model.venues[0]``); a multi-symbol
market (``market.symbols`` in a scenario) has one per symbol, all on the model's one clock and
event queue, logging into its one event log (the ``symbol`` column tells them apart).

An agent trades on its venue (``agent.market``): it reads market data from it -- the same names
as the model's (``mid()``, ``top_at()``, ``view_at()``, ``volume``, ``signed_volume``,
``activity()``, ``fundamental``, ``tick_size``, ``now``, ...) -- and its orders go to its book.
A multi-symbol agent holds one :class:`~abmm.agents.legs.Leg` per symbol (an account and the
order methods on that symbol's venue).
"""

from __future__ import annotations

from abmm.market.activity import Activity
from abmm.market.marketdata import TopHistory

__all__ = ["Venue"]


class Venue:
    """One symbol of a market: book, top of book, history, counters, fundamental (ticks, lots,
    ns; ``tick_size``/``lot_size`` convert to price and base units)."""

    def __init__(self, model, index: int, symbol: str, tick_size: float, lot_size: float,
                 reference_price_ticks: int, fundamental, book):
        self.model = model
        self.index = index
        self.symbol = symbol
        self.tick = 1
        self.tick_size = tick_size
        self.lot_size = lot_size
        self.reference_price = reference_price_ticks
        self.fundamental = fundamental
        self.book = book
        self.queue = model.queue
        self.owners = model._owners  # account id -> the agent or leg that owns the orders
        self.start, self.end = model.start, model.end
        self.warmup_end = model.warmup_end
        self.step_ns = model.step_ns
        self.last_price: float = float(reference_price_ticks)
        self._top = (None, 0, None, 0)
        self.history = TopHistory(model.start, self._top, self.last_price, model.TOP_HISTORY_NS)
        self.top_at = self.history.top_at  # bound once: agents call these at every wake
        self.view_at = self.history.view_at
        self.volume = 0
        self.signed_volume = 0  # taker buys minus taker sells, lots
        self.n_trades = 0
        self.trade_prices = None  # a bounded deque of the last trade prices (keep_trades)
        self._mark_before = 0.0
        self._watching = False
        self._activity = Activity()
        self.warmup_price: float | None = None

    def __repr__(self) -> str:
        """``Venue('SYM')``."""
        return f"Venue({self.symbol!r})"

    # the model's clock, for agents and trackers that read ``market.now``
    @property
    def now(self) -> int:
        """The market's current time (ns)."""
        return self.model.now

    @property
    def top(self) -> tuple:
        """The current top of book ``(bid, bid_qty, ask, ask_qty)``."""
        return self._top

    def mid(self) -> float | None:
        """The current mid (ticks), or None with a one-sided book."""
        bid, _, ask, _ = self._top
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2

    def spread(self) -> int | None:
        """The current spread (ticks), or None with a one-sided book."""
        bid, _, ask, _ = self._top
        return None if bid is None or ask is None else ask - bid

    def mark_price(self) -> float:
        """The price that values inventory: the mid, else the last trade."""
        m = self.mid()
        return self.last_price if m is None else m

    def to_price(self, ticks: float) -> float:
        """Ticks to price units."""
        return round(ticks * self.tick_size, 12)

    def activity(self) -> float:
        """Short-term over long-term volatility of this symbol's mid (1 = usual)."""
        return self._activity.value

    def send(self, agent, request: tuple) -> None:
        """An agent's (or leg's) request leaves now; it reaches ``agent.venue``'s book after
        the agent's latency."""
        self.model.send(agent, request)

    def watch_fills(self, agent) -> list:
        """Record the agent's fills from now on (``MarketModel.watch_fills``)."""
        return self.model.watch_fills(agent)

    def keep_trades(self, n: int):
        """Keep the last ``n`` trade prices (ticks) from now on in ``trade_prices``."""
        from collections import deque

        if self.trade_prices is None or self.trade_prices.maxlen != n:
            self.trade_prices = deque(self.trade_prices or (), maxlen=n)
        return self.trade_prices

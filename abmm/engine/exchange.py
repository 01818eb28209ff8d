"""An exchange: several symbols, one order book each.

The book knows integers only; the exchange adds symbol names, the price/size units of each symbol
(``SymbolSpec``), and per-owner self-trade prevention defaults. Order ids are per symbol
(as on most venues, a cancel names the symbol and the order id).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from abmm.engine import _validate as V
from abmm.engine.types import SelfTrade
from abmm.errors import InvalidTypeError, InvalidValueError, OffTickError, UnknownSymbolError

__all__ = ["Exchange", "SymbolSpec"]


@dataclass(frozen=True)
class SymbolSpec:
    """Units of one symbol: a tick is ``tick_size`` price units, a lot ``lot_size`` base units."""

    tick_size: float = 1.0
    lot_size: float = 1.0

    def __post_init__(self):
        for name in ("tick_size", "lot_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InvalidTypeError(name, v, "a positive number")
            if not (math.isfinite(v) and v > 0):
                raise InvalidValueError(name, v, "a positive finite number")


def _units(value, unit: float, field: str) -> int:
    """``value`` (price or size in natural units) as a whole number of ``unit``s, or raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidTypeError(field, value, "a number")
    if not math.isfinite(value):
        raise InvalidValueError(field, value, "a finite number")
    n = round(value / unit)
    if abs(n * unit - value) > 1e-9 * max(1.0, abs(value)):
        raise OffTickError(field, value, f"a multiple of {unit}")
    return V.as_int(int(n), field)


class Exchange:
    """Routes orders to one ``OrderBook`` per symbol.

    Parameters
    ----------
    symbols : mapping of name -> SymbolSpec, or an iterable of names (default units)
    engine : "auto" (compiled if built), "compiled" or "python"
    level_events : passed to every book
    """

    def __init__(self, symbols: Mapping[str, SymbolSpec] | Iterable[str], engine: str = "auto",
                 level_events: bool = True):
        from abmm.engine import CompiledOrderBook, OrderBook, PyOrderBook

        if engine == "auto":
            cls = OrderBook
        elif engine == "compiled":
            if CompiledOrderBook is None:
                from abmm.engine import _import_error

                raise RuntimeError(f"the compiled engine is not available: {_import_error}")
            cls = CompiledOrderBook
        elif engine == "python":
            cls = PyOrderBook
        else:
            raise InvalidValueError("engine", engine, '"auto", "compiled" or "python"')
        if isinstance(symbols, str):
            raise InvalidTypeError("symbols", symbols, "a mapping or a list of symbol names")
        specs = dict(symbols) if isinstance(symbols, Mapping) else {s: SymbolSpec() for s in symbols}
        if not specs:
            raise InvalidValueError("symbols", symbols, "at least one symbol")
        for name, spec in specs.items():
            if not isinstance(name, str) or not name:
                raise InvalidTypeError("symbol", name, "a non-empty string")
            if not isinstance(spec, SymbolSpec):
                raise InvalidTypeError(f"symbols.{name}", spec, "a SymbolSpec")
        self.specs: dict[str, SymbolSpec] = specs
        self.engine = cls.engine
        self._books = {name: cls(level_events=level_events) for name in specs}
        self._stp: dict[int, int] = {}

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbol names, in the order given."""
        return tuple(self._books)

    def book(self, symbol: str):
        """The order book of ``symbol``."""
        try:
            return self._books[symbol]
        except (KeyError, TypeError):
            raise UnknownSymbolError(symbol, tuple(self._books)) from None

    # --------------------------------------------------------------- orders
    def set_self_trade_prevention(self, owner: int, mode: SelfTrade | int) -> None:
        """Default self-trade prevention for every order of ``owner`` (unless one says ``stp``)."""
        owner = V.as_int(owner, "owner")
        mode = V.as_int(mode, "stp")
        if not 0 <= mode <= 3:
            raise InvalidValueError("stp", mode, V.EXPECT_STP)
        self._stp[owner] = mode

    def submit(self, symbol, side, price, qty, owner=0, ts=None, order_type=0, display=0, stp=None):
        """Submit a new order to ``symbol``'s book; returns its id (see ``OrderBook.submit``)."""
        book = self.book(symbol)
        if stp is None:
            stp = self._stp.get(owner, 0) if type(owner) is int else 0
        return book.submit(side, price, qty, owner, ts, order_type, display, stp)

    def cancel(self, symbol, order_id, qty=0, ts=None):
        """Cancel (``qty=0``) or reduce an order of ``symbol``; returns the lots cancelled."""
        return self.book(symbol).cancel(order_id, qty, ts)

    def modify(self, symbol, order_id, price, qty, ts=None):
        """Change an order's price (ticks) and/or quantity (lots); returns its open quantity."""
        return self.book(symbol).modify(order_id, price, qty, ts)

    def process(self, symbol, msgs):
        """Process a ``MSG_DTYPE`` array on ``symbol``'s book; returns all their events."""
        return self.book(symbol).process(msgs)

    def last_events(self, symbol):
        """The events of ``symbol``'s last call, as an ``EVENT_DTYPE`` array."""
        return self.book(symbol).last_events()

    # --------------------------------------------------------------- market data
    def best_bid(self, symbol):
        """Highest bid price (ticks) of ``symbol``, or None."""
        return self.book(symbol).best_bid()

    def best_ask(self, symbol):
        """Lowest ask price (ticks) of ``symbol``, or None."""
        return self.book(symbol).best_ask()

    def depth(self, symbol, side, n=None):
        """Top ``n`` levels of one side of ``symbol`` (all if None): ``(prices, qtys, counts)``."""
        return self.book(symbol).depth(side, n)

    # --------------------------------------------------------------- units
    def to_ticks(self, symbol, price) -> int:
        """A price in natural units as ticks; raises ``OffTickError`` if not on the grid."""
        return _units(price, self.book_spec(symbol).tick_size, "price")

    def to_lots(self, symbol, size) -> int:
        """A size in base units as lots; raises ``OffTickError`` if not a whole lot."""
        return _units(size, self.book_spec(symbol).lot_size, "qty")

    def to_price(self, symbol, ticks: int) -> float:
        """A price in ticks as natural price units."""
        return ticks * self.book_spec(symbol).tick_size

    def book_spec(self, symbol) -> SymbolSpec:
        """The ``SymbolSpec`` of ``symbol`` (raises ``UnknownSymbolError`` if unknown)."""
        self.book(symbol)
        return self.specs[symbol]

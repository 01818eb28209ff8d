"""``MarketSpec``: what the market itself needs to know, in ticks, lots and nanoseconds.

The scenario layer (:mod:`abmm.scenario.builder`) converts a scenario's ``market`` and
``logging`` sections into one; the model never reads the scenario schema.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MarketSpec", "SymbolSpec"]


@dataclass(frozen=True)
class SymbolSpec:
    """One symbol of a multi-symbol market (ticks, lots: ``tick_size``/``lot_size`` convert)."""

    symbol: str
    tick_size: float = 0.01
    lot_size: float = 1.0
    reference_price_ticks: int = 10_000


@dataclass(frozen=True)
class MarketSpec:
    """The market's fixed parameters (integer ticks, lots and ns; ``tick_size`` and
    ``lot_size`` convert to price and base units)."""

    name: str = "scenario"  #: the scenario's name (reported in summaries)
    symbol: str = "ABM"
    tick_size: float = 0.01
    lot_size: float = 1.0
    reference_price_ticks: int = 10_000  #: the price before any trade
    start_ns: int = 0
    end_ns: int = 86_400_000_000_000
    warmup_ns: int = 0  #: PnL is reported from ``start_ns + warmup_ns`` on
    step_ns: int = 1_000_000_000  #: decision interval of ``MarketModel.step()``
    chunk_rows: int = 250_000  #: event-log rows per Parquet part
    top_of_book: bool = True  #: log every top-of-book change in ``top/``
    #: the trading sessions ``((open, close), ...)``; empty: one session ``start_ns``-``end_ns``.
    #: Between two sessions the market is closed: nothing happens, every pending event (wake-ups,
    #: orders and notices in flight) moves to the next open by the length of the night.
    sessions: tuple = ()
    #: the calendar date (ISO, UTC) of the first session: ``ts`` counts ns from its midnight
    date: str = "2024-01-02"
    #: the symbols of a multi-symbol market (``SymbolSpec``), the first one the primary (whose
    #: values ``symbol``, ``tick_size``, ``lot_size``, ``reference_price_ticks`` repeat);
    #: empty: one symbol, from those four fields
    symbols: tuple = ()

    @property
    def symbol_specs(self) -> tuple:
        """Every symbol's ``SymbolSpec`` (one for a one-symbol market)."""
        return self.symbols or (SymbolSpec(self.symbol, self.tick_size, self.lot_size,
                                           self.reference_price_ticks),)

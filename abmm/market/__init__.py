"""The simulation: ``MarketModel`` (``model``), its event queue, accounts, market data,
activity, fundamental, shocks, event-log writer and results (see docs/architecture.md)."""

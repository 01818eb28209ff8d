"""Technical indicators over a price history: exponential and simple moving averages and the
relative strength index -- the rules of the momentum chartists (``abmm.agents.momentum``) and
the observations of learning chartists (``abmm.policy.chartist``, ``abmm.env.trading_v0``)."""

from __future__ import annotations

__all__ = ["ema", "sma", "rsi"]


def ema(prev: float | None, x: float, n: int) -> float:
    """One step of an ``n``-sample exponential moving average (``alpha = 2 / (n + 1)``);
    ``prev=None`` starts it at ``x``."""
    a = 2.0 / (n + 1)
    return x if prev is None else prev + a * (x - prev)


def sma(values: list, n: int) -> float:
    """The mean of the last ``n`` values."""
    return sum(values[-n:]) / n


def rsi(values: list, window: int) -> float:
    """The relative strength index (0-100) over the last ``window`` changes of ``values``
    (at least ``window + 1`` values); 100 when there was no loss."""
    values = values[-(window + 1):]
    gains = sum(max(b - a, 0) for a, b in zip(values, values[1:], strict=False))
    losses = sum(max(a - b, 0) for a, b in zip(values, values[1:], strict=False))
    return 100.0 if losses == 0 else 100 - 100 / (1 + gains / losses)

"""Momentum chartists: moving-average crossover, MACD or RSI signals on the observed mid."""

from __future__ import annotations

from collections import deque
from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from abmm.agents.base import BUY, SELL, TraderAgent
from abmm.schema import GroupBase, WakeCfg
from abmm.signals.indicators import ema, rsi, sma  # noqa: F401 - re-exported here


class MomentumGroup(GroupBase):
    """A chartist samples the mid at each wake (fixed interval) and computes a signal:

    * ``ma_crossover``: long when the ``short_window`` mean is above the ``long_window`` mean;
    * ``macd``: long when MACD (EMA ``short_window`` - EMA ``long_window``) is above its
      ``signal_window`` EMA;
    * ``rsi``: RSI over ``rsi_window`` samples, read as momentum: long above ``rsi_high``
      (strength), short below ``rsi_low``.

    It trades toward ``signal * max_position`` with market orders of at most ``qty``. A stop-loss
    flattens the position when the mark moves ``stop_loss_ticks`` per lot against its average
    entry, then it sits out ``cooldown`` wakes.

    In a multi-symbol market ``signal_symbol`` makes it a cross-symbol chartist: the signal is
    computed on that symbol's mid (as seen after the latency) while it trades its own -- the
    constituents on the index future's trend, one perpetual on another's (lead-lag)."""

    kind: Literal["momentum"] = "momentum"
    wake: WakeCfg = WakeCfg(kind="fixed", interval=60_000_000_000)
    signal: Literal["ma_crossover", "macd", "rsi"] = "ma_crossover"
    short_window: PositiveInt = 5
    long_window: PositiveInt = 20
    signal_window: PositiveInt = 9
    rsi_window: PositiveInt = 14
    rsi_low: float = Field(30.0, ge=0, le=100)
    rsi_high: float = Field(70.0, ge=0, le=100)
    qty: PositiveInt = 10
    max_position: PositiveInt = 100
    stop_loss_ticks: float = Field(50.0, gt=0)
    cooldown: int = Field(5, ge=0)
    #: the symbol whose mid drives the signal (default: the traded symbol)
    signal_symbol: str | None = None

    @model_validator(mode="after")
    def _check(self):
        if self.short_window >= self.long_window:
            raise ValueError(f"short_window ({self.short_window}) must be < long_window "
                             f"({self.long_window})")
        if self.rsi_low >= self.rsi_high:
            raise ValueError("rsi_low must be < rsi_high")
        return self


class MomentumAgent(TraderAgent):
    """Chartist trading toward its momentum signal with market orders (see ``MomentumGroup``)."""

    kind = "momentum"

    def setup(self) -> None:
        """Set up the mid history, the EMAs, the average entry price and the cooldown."""
        p = self.params
        self.mids: deque = deque(maxlen=max(p.long_window, p.rsi_window + 1))
        self.ema_s = self.ema_l = self.ema_sig = None
        self.entry = 0.0  # average entry price of the position (ticks)
        self.sit_out = 0
        self.signal_venue = self.venue if p.signal_symbol is None else \
            self.model.venue_of(p.signal_symbol)

    def signal(self) -> int:
        """+1 long, -1 short, 0 no view (not enough history)."""
        p = self.params
        mids = self.mids
        if p.signal == "ma_crossover":
            if len(mids) < p.long_window:
                return 0
            values = list(mids)
            short = sma(values, p.short_window)
            long = sma(values, p.long_window)
            return (short > long) - (short < long)
        if p.signal == "macd":
            if self.ema_sig is None or len(mids) < p.long_window:
                return 0
            macd = self.ema_s - self.ema_l
            return (macd > self.ema_sig) - (macd < self.ema_sig)
        if len(mids) < p.rsi_window + 1:
            return 0
        r = rsi(list(mids), p.rsi_window)
        return 1 if r > p.rsi_high else (-1 if r < p.rsi_low else 0)

    def on_wake(self) -> None:
        """Sample the mid, update the EMAs, apply the stop-loss, then trade up to ``qty`` lots
        toward ``signal() * max_position``."""
        p = self.params
        mid = self.mid()
        seen = mid if self.signal_venue is self.venue else self._signal_mid()
        self.mids.append(seen)
        self.ema_s = ema(self.ema_s, seen, p.short_window)
        self.ema_l = ema(self.ema_l, seen, p.long_window)
        self.ema_sig = ema(self.ema_sig, self.ema_s - self.ema_l, p.signal_window)
        inv = self.inventory
        if inv and (mid - self.entry) * (1 if inv > 0 else -1) < -p.stop_loss_ticks:
            self._trade(-inv, mid)  # stop-loss: flatten
            self.sit_out = p.cooldown
            return
        if self.sit_out:
            self.sit_out -= 1
            return
        target = self.signal() * p.max_position
        delta = max(-p.qty, min(p.qty, target - inv))
        if delta:
            self._trade(delta, mid)

    def _signal_mid(self) -> float:
        """``signal_symbol``'s mid as seen now (as of ``now - latency``)."""
        (bid, _, ask, _), last = self.signal_venue.view_at(self.now - self.latency.draw())
        return (bid + ask) / 2 if bid is not None and ask is not None else last

    def _trade(self, delta: int, mid: float) -> None:
        inv = self.inventory
        new = inv + delta
        if new == 0:
            self.entry = 0.0
        elif inv == 0 or (inv > 0) != (new > 0):
            self.entry = mid
        elif abs(new) > abs(inv):
            self.entry = (self.entry * abs(inv) + mid * abs(delta)) / abs(new)
        self.market_order(BUY if delta > 0 else SELL, abs(delta))

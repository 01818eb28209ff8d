"""The chartist's view of a market: ``abmm.env.trading_v0``'s observation and action
conventions, torch-free, shared by the environment and by ``kind: policy`` agents that play a
trading policy in a scenario (``abmm.agents.policy``).

``ChartistView(cfg)`` takes a trading policy's ``policy_config`` (``TradingEnv.policy_config``:
the decision interval, ``horizons`` in decisions, the indicator ``windows``, ``vol_halflife``,
``vol_scale``, ``trend_scale``, the action grid and the stop conventions). Sample the mid once
per decision (``sample``), then ``observe`` builds the 12 observations and ``decode`` turns an
action into a target position and a stop distance (``stop_ticks``)."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from abmm.policy.actions import InvalidActionError, check_discrete
from abmm.signals import MidVolatility
from abmm.signals.indicators import ema, rsi, sma

__all__ = ["ChartistView", "OBSERVATIONS", "N_OBS", "POSITIONS", "STOPS", "N_ACTIONS",
           "decode_action"]

#: The observation, in order (``abmm.env.trading_v0`` has the formulas).
OBSERVATIONS = ("return_1", "return_2", "return_3", "return_4", "ma_gap", "macd",
                "macd_signal", "rsi", "volatility", "position", "unrealized_pnl", "time_left")
N_OBS = len(OBSERVATIONS)
#: Target positions of the discrete grid, in units of ``max_position``.
POSITIONS = (-1.0, -0.5, 0.0, 0.5, 1.0)
#: Stop-loss distances of the discrete grid, in sigmas (``None``: no stop).
STOPS = (None, 1.0, 2.0)
N_ACTIONS = len(POSITIONS) * len(STOPS)


def _clip(x: float) -> float:
    return -1.0 if x < -1.0 else 1.0 if x > 1.0 else x


def decode_action(agent: str, action, mode: str, max_position: int,
                  max_stop_sigma: float) -> tuple[int, float | None]:
    """``(target position in lots, stop distance in sigmas or None)`` of one action, else
    ``InvalidActionError`` naming the agent, the action and what was expected."""
    if mode == "discrete":
        a = check_discrete(agent, action, N_ACTIONS)
        frac, stop = POSITIONS[a // len(STOPS)], STOPS[a % len(STOPS)]
    else:
        try:
            x = np.asarray(action, np.float64)
        except (TypeError, ValueError):
            x = None
        if x is None or x.shape != (2,) or not np.all(np.isfinite(x)) \
                or np.any(np.abs(x) > 1.0 + 1e-6):
            raise InvalidActionError(f"{agent}: action {action!r}: expected 2 finite "
                                     "numbers in [-1, 1] (target position, stop)")
        frac = float(np.clip(x[0], -1.0, 1.0))
        stop = float(x[1]) * max_stop_sigma if x[1] > 0 else None
    return int(round(frac * max_position)), stop


class ChartistView:
    """The mid history, indicators and volatility one chartist observation needs (see the
    module docstring)."""

    def __init__(self, cfg: dict):
        self.decision_ns = int(cfg["decision_ns"])
        self.horizons = [int(h) for h in cfg["horizons"]]
        w = cfg["windows"]
        self.short, self.long = int(w["short"]), int(w["long"])
        self.signal, self.rsi_window = int(w["signal"]), int(w["rsi"])
        self.vol_scale = float(cfg["vol_scale"])
        self.trend_scale = float(cfg["trend_scale"])
        self.max_position = int(cfg["max_position"])
        self.stop_horizon_s = float(cfg["stop_horizon_s"])
        self.min_stop_ticks = float(cfg["min_stop_ticks"])
        self.mids: deque = deque(maxlen=max(max(self.horizons), self.long,
                                            self.rsi_window + 1) + 1)
        self.ema_s = self.ema_l = self.ema_sig = None
        self.vol = MidVolatility(float(cfg["vol_halflife"]), interval_ns=self.decision_ns)

    def sample(self, now: int, top: tuple, mark: float) -> None:
        """One decision's mid into the history, the EMAs and the volatility (``top``: the
        book's ``(bid, bid_qty, ask, ask_qty)``; ``mark`` stands in for a one-sided book)."""
        bid, _, ask, _ = top
        two = bid is not None and ask is not None
        mid = (bid + ask) / 2 if two else mark
        if self.mids and self.mids[-1][0] == now:
            return
        self.mids.append((now, mid))
        self.ema_s = ema(self.ema_s, mid, self.short)
        self.ema_l = ema(self.ema_l, mid, self.long)
        self.ema_sig = ema(self.ema_sig, self.ema_s - self.ema_l, self.signal)
        self.vol.update(mid if two else None, now)

    @property
    def sigma(self) -> float:
        """The volatility of the mid (EWMA, ticks per sqrt(second))."""
        return self.vol.value

    @property
    def variance(self) -> float:
        """``sigma`` squared."""
        return self.vol.variance

    def stop_ticks(self, k: float) -> float:
        """The stop distance of ``k`` sigmas, in ticks per lot against the entry price:
        ``k max(sigma sqrt(stop_horizon), min_stop_ticks)``."""
        return k * max(self.sigma * math.sqrt(self.stop_horizon_s), self.min_stop_ticks)

    def observe(self, q: int, entry: float, mark: float, left: float) -> np.ndarray:
        """The 12 observations (``OBSERVATIONS``) for position ``q`` (lots) entered at
        ``entry`` (ticks), the mark, and ``left`` the fraction of the episode left."""
        o = np.zeros(N_OBS, np.float32)
        mids = [x[1] for x in self.mids]
        last = mids[-1]
        dt = self.decision_ns / 1e9
        vs, ts = self.vol_scale, self.trend_scale
        for i, k in enumerate(self.horizons):
            j = max(0, len(mids) - 1 - k)
            h = (len(mids) - 1 - j) * dt
            o[i] = math.tanh((last - mids[j]) / (vs * math.sqrt(h))) if h > 0 else 0.0
        if len(mids) >= self.long:
            o[4] = math.tanh((sma(mids, self.short) - sma(mids, self.long)) / ts)
            macd = self.ema_s - self.ema_l
            o[5] = math.tanh(macd / ts)
            o[6] = math.tanh(self.ema_sig / ts)
        if len(mids) >= self.rsi_window + 1:
            o[7] = (rsi(mids, self.rsi_window) - 50.0) / 50.0
        o[8] = math.tanh(self.sigma / vs)
        o[9] = _clip(q / self.max_position)
        o[10] = math.tanh(q * (mark - entry) / (self.max_position * ts)) if q else 0.0
        o[11] = min(1.0, max(0.0, left))
        return o

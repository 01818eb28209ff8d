"""The executor's view of a market: ``abmm.env.execution_v0``'s observation and action
conventions, torch-free, shared by the environment and by ``kind: policy`` agents that play an
execution policy in a scenario (``abmm.agents.policy``).

One ``ExecutionTape`` per market keeps what every executor's observation reads from the tape:
the last 101 trade prices and an exponentially weighted signed and total volume per decision
interval (``track`` once per decision, after the interval). ``observe`` builds the 8
observations (``OBSERVATIONS``) of one executor; ``check_action`` validates an action (an int
in ``[0, N_ACTIONS)``) and ``send_child`` sends the child order it stands for:

* 0: wait (only cancel the working child);
* 1-3: a market order of ``SIZES`` (0.5, 1, 2) times the adaptive TWAP slice (``base_lot``:
  what is left over the decisions left);
* 4-12: a limit order of those sizes at ``LEVELS``: joining the own touch, improving it by a
  tick (when the spread allows), or crossing to the opposite touch.

After the end of the schedule (``final``) whatever is left goes at market.
"""

from __future__ import annotations

import math

import numpy as np

from abmm.engine.types import Side
from abmm.policy.actions import check_discrete

__all__ = ["N_OBS", "OBSERVATIONS", "SIZES", "LEVELS", "N_ACTIONS", "ExecutionTape",
           "base_lot", "observe", "check_action", "send_child"]

#: The observation, in order (``abmm.env.execution_v0`` has the formulas).
OBSERVATIONS = ("remaining", "time_left", "imbalance", "spread", "volatility", "working",
                "drift", "flow")
N_OBS = len(OBSERVATIONS)
#: Child-order sizes, in multiples of the adaptive TWAP slice.
SIZES = (0.5, 1.0, 2.0)
#: Limit prices: the own touch, one tick better, the opposite touch.
LEVELS = ("join", "improve", "cross")
#: Wait, market orders, limit orders.
N_ACTIONS = 1 + len(SIZES) + len(SIZES) * len(LEVELS)

BUY, SELL = int(Side.BUY), int(Side.SELL)


class ExecutionTape:
    """The market's last 101 trade prices and its signed and total volume per decision
    interval, exponentially weighted (weight 0.2 a decision), from the moment it is made."""

    def __init__(self, m):
        self.trades = m.keep_trades(101)
        self.flow = [0.0, 0.0]
        self._prev_vol, self._prev_signed = m.volume, m.signed_volume

    def track(self, m) -> None:
        """One decision interval's volume into the averages (call once per decision)."""
        dv, ds = m.volume - self._prev_vol, m.signed_volume - self._prev_signed
        self._prev_vol, self._prev_signed = m.volume, m.signed_volume
        f = self.flow
        f[0] += 0.2 * (ds - f[0])
        f[1] += 0.2 * (dv - f[1])


def base_lot(quantity: int, inventory: int, t_end: int, now: int, decision_ns: int) -> float:
    """The adaptive TWAP slice: what is left over the decisions left (at least 1 lot)."""
    left = quantity - abs(inventory)
    steps = max(1, -(-(t_end - now) // decision_ns))
    return max(1.0, left / steps)


def observe(m, a, tape: ExecutionTape, quantity: int, side: int, arrival: float, t_end: int,
            duration_ns: int, vol_scale: float) -> np.ndarray:
    """The 8 observations of executor agent ``a`` working ``quantity`` lots (``side`` +1 buy,
    -1 sell) from the ``arrival`` mark (ticks) until ``t_end`` (a schedule of
    ``duration_ns``)."""
    o = np.zeros(N_OBS, np.float32)
    o[0] = max(0.0, 1 - abs(a.inventory) / quantity)
    o[1] = max(0.0, min(1.0, (t_end - m.now) / duration_ns))
    bid, _, ask, _ = m.top
    book = m.book
    bs = book.depth_qty(0, 5) if bid is not None else 0
    as_ = book.depth_qty(1, 5) if ask is not None else 0
    o[2] = side * (bs - as_) / (bs + as_) if bs + as_ else 0.0
    o[3] = min(ask - bid, 20) / 20 if bid is not None and ask is not None else 1.0
    tr = np.asarray(tape.trades, np.float64)
    o[4] = math.tanh(float(np.std(np.diff(tr))) / vol_scale) if len(tr) > 2 else 0.0
    o[5] = 1.0 if a.open_orders else 0.0
    o[6] = math.tanh(side * (m.mark_price() - arrival) / 10.0)
    f = tape.flow
    o[7] = max(-1.0, min(1.0, f[0] / f[1])) if f[1] > 1e-9 else 0.0
    return o


def check_action(agent: str, act) -> int:
    """The action as an int, else ``InvalidActionError`` naming the agent and what was
    expected."""
    return check_discrete(agent, act, N_ACTIONS)


def send_child(m, a, act: int, final: bool, quantity: int, buy: bool, base: float) -> None:
    """Cancel ``a``'s working child and send the one action ``act`` stands for (``final``:
    everything left at market); ``base`` is the slice (``base_lot``)."""
    a.cancel_all()
    left = quantity - abs(a.inventory)
    if left <= 0:
        return
    side = BUY if buy else SELL
    if final:
        a.market_order(side, left)
        return
    if act == 0:
        return
    if act <= len(SIZES):
        a.market_order(side, min(left, max(1, round(SIZES[act - 1] * base))))
        return
    k = act - 1 - len(SIZES)
    size = min(left, max(1, round(SIZES[k // len(LEVELS)] * base)))
    level = LEVELS[k % len(LEVELS)]
    bid, _, ask, _ = m.top
    own, other = (bid, ask) if side == BUY else (ask, bid)
    if other is None:
        a.market_order(side, size)
        return
    if own is None:
        own = other - 1 if side == BUY else other + 1
    sgn = 1 if side == BUY else -1
    if level == "join":
        price = own
    elif level == "improve":
        price = own + sgn if (other - own) * sgn > 1 else own
    else:
        price = other
    a.limit(side, price, size)

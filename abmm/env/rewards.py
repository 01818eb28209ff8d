"""Rewards of the market-making environment: named components and their weighted sum.

Per decision interval, for one agent with inventory ``q`` (lots) and mark ``m`` (the mid, else
the last trade; ticks), from its fills ``(signed qty x_j, price p_j, mark just before the fill
m_j)`` of the interval (all in tick·lots, divided by ``reward_scale`` -- by default the quote
size -- so that one tick earned on one quote is about 1):

``spread_capture``
    ``sum_j x_j (m_j - p_j)``: the edge of every fill against the mark when it happened; a
    round trip at the quotes earns exactly the quoted spread.
``inventory_pnl``
    ``dPnL - spread_capture`` where ``PnL = cash + q m``: what holding inventory earned as the
    mark moved (``q_{t-1} (m_t - m_{t-1})`` when no fill happens).
``inventory_cost``
    ``-gamma q^2 sigma^2 dt`` (``gamma = inventory_gamma`` per tick·lot, ``sigma^2`` the EWMA
    variance of the mid in ticks^2 per second, ``dt`` the interval in seconds): the
    Avellaneda-Stoikov running penalty on inventory risk.
``adverse_selection``
    ``sum_{maker fills j} min(0, x_j (m_t - m_j))``: what the mark's move since a passive fill
    took back by the end of the interval (only losses; 0 when the price moved in the fill's
    favour).
``order_cost``
    ``-(orders + cancels sent)``: order-management cost per message (weight it small).
``dampened_pnl``
    ``spread_capture + inventory_pnl - damping * max(0, inventory_pnl)``: the asymmetrically
    dampened PnL of Spooner, Fearnley, Savani & Koukorinis (2018), "Market making via
    reinforcement learning" (AAMAS), which removes the reward for speculative inventory gains
    but keeps the losses.
``inventory_abs``
    ``-|q| dt``: a running penalty on the absolute position (lots·seconds), linear where
    ``inventory_cost`` is quadratic: a direct handle on the mean absolute position, which it
    charges the same for the first lot as for the tenth.

The reward is ``sum_k w_k component_k`` with ``reward={name: weight}`` (unknown names are an
error); the default is ``DEFAULT_WEIGHTS``. With ``vector_reward=True`` the info of each agent
carries ``"reward_vector"``: the components as a float32 array in ``COMPONENTS`` order.
"""

from __future__ import annotations

import numpy as np

COMPONENTS = ("spread_capture", "inventory_pnl", "inventory_cost", "adverse_selection",
              "order_cost", "dampened_pnl", "inventory_abs")
DEFAULT_WEIGHTS = {"dampened_pnl": 1.0, "inventory_cost": 1.0, "order_cost": 0.01}


def check_weights(weights) -> dict[str, float]:
    """Validated weights: every component, 0 unless given."""
    if weights is None:
        weights = DEFAULT_WEIGHTS
    if not isinstance(weights, dict):
        raise TypeError(f"reward must be a dict {{component: weight}}, got {type(weights).__name__}")
    bad = [k for k in weights if k not in COMPONENTS]
    if bad:
        raise ValueError(f"unknown reward component(s) {bad}; expected some of {list(COMPONENTS)}")
    out = {}
    for k in COMPONENTS:
        w = weights.get(k, 0.0)
        try:
            w = float(w)
        except (TypeError, ValueError):
            raise ValueError(f"reward[{k!r}] = {w!r}: expected a number") from None
        if not np.isfinite(w):
            raise ValueError(f"reward[{k!r}] = {w!r}: expected a finite number")
        out[k] = w
    return out


def components(fills: list, pnl_change: float, q: int, mark: float, sigma2: float, dt_s: float,
               messages: int, inventory_gamma: float, damping: float) -> tuple:
    """The components (a tuple in ``COMPONENTS`` order, tick·lots) of one interval; ``fills``
    as kept by ``MarketModel.watch_fills``: ``(ts, signed qty, price, mark before, maker?)``."""
    spread = 0.0
    adverse = 0.0
    for _, x, p, m0, maker in fills:
        spread += x * (m0 - p)
        if maker:
            move = x * (mark - m0)
            if move < 0:
                adverse += move
    inv_pnl = pnl_change - spread
    return (spread, inv_pnl, -inventory_gamma * q * q * sigma2 * dt_s, adverse,
            -float(messages), spread + inv_pnl - damping * max(0.0, inv_pnl),
            -abs(q) * dt_s)

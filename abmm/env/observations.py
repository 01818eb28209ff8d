"""Observations of the market-making environment: what a learning agent sees at a decision.

One vector of ``N_FEATURES`` float32 values per agent, each normalized and clipped to [-1, 1]
(the observation space is ``Box(-1, 1, (N_FEATURES,), float32)``). Market features are public
data, computed once per decision from the book and the trades of the last decision interval;
agent features come from the agent's own account and resting quotes. Prices are in ticks.

====  ====================  ==============================================================
 i    name                  definition
====  ====================  ==============================================================
 0    inventory             ``q / max_inventory``
 1    time_left             ``(end - now) / (end - start)`` of the episode, in [0, 1]
 2    spread                ``min(ask - bid, 20) / 20`` (1 when a side is empty)
 3    imbalance_5           ``(sum q^B - sum q^A) / (sum q^B + sum q^A)`` over the top 5
                            levels (``abmm.signals.imbalance``)
 4    microprice_offset     ``2 (microprice - mid) / spread``, microprice ``= ask I + bid
                            (1 - I)``, ``I = q^B_1 / (q^B_1 + q^A_1)`` (Stoikov 2018)
 5    ofi                   ``tanh(OFI / depth)``: the order-flow imbalance of Cont, Kukanov
                            & Stoikov (2014) summed over the interval's top-of-book changes
                            (``abmm.signals.OFI``), over the touch depth ``q^B_1 + q^A_1``
 6    vpin                  VPIN (Easley, Lopez de Prado & O'Hara 2012; ``abmm.signals.VPIN``)
                            with one bar per decision interval; 0 until it is defined
 7    volatility            ``tanh(sigma / vol_scale)``, sigma the EWMA (half-life
                            ``vol_halflife`` decisions) realized volatility of the mid, ticks
                            per sqrt(second)
 8    trade_flow            EWMA of taker buy minus sell volume over EWMA of volume
 9    trade_intensity       ``tanh(EWMA volume per second / volume_scale)``
 10   bid_offset            ``(mid - own best bid) / max_offset``, 0 without a bid
 11   ask_offset            ``(own best ask - mid) / max_offset``, 0 without an ask
 12   bid_queue             lots ahead of the own best bid over (ahead + own size), 0 without
 13   ask_queue             the same for the own best ask
 14   has_bid               1 if the agent has a resting bid, else 0
 15   has_ask               1 if the agent has a resting ask, else 0
====  ====================  ==============================================================

With ``book_levels: L`` (market_v0's argument; default 0) the vector goes on with ``4 L`` raw
book values (``abmm.policy.features.book_features``): for the bid side then the ask side,
for each of the ``L`` best price levels, ``|price - mid| / max_offset`` (1 for a level the book
does not have) and ``tanh(lots / book_scale)`` (0 for a missing level) -- what a sequence
encoder (``encoder: {type: gru|conv1d, window: W}``) reads over the last ``W`` decisions.

The features are computed by ``abmm.policy.features`` (torch- and gymnasium-free, shared with
agents driven by a saved policy); this module is their documentation and adds the space.
"""


from __future__ import annotations

import numpy as np

from abmm.policy.features import (
    FEATURES,
    N_FEATURES,
    N_MARKET,
    MarketFeatures,
    agent_features,
    book_features,
)

__all__ = ["FEATURES", "N_FEATURES", "N_MARKET", "MarketFeatures", "agent_features",
           "book_features", "observation_space"]


def observation_space(n: int = N_FEATURES):
    """The gymnasium space of ``n`` features: ``Box(-1, 1, (n,), float32)``."""
    from gymnasium import spaces

    return spaces.Box(-1.0, 1.0, (n,), np.float32)

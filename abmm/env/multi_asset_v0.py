"""abmm multi-asset, version 0: learning market makers quote several symbols and hedge.

``parallel_env(**kwargs)`` gives the PettingZoo ``ParallelEnv`` (``MultiAssetEnv``);
``env(**kwargs)`` the AEC version (PettingZoo's ``parallel_to_aec`` wrapper, with its
order-enforcing wrapper); ``raw_env(**kwargs)`` the AEC version without it. ``market_v0``'s
spaces are unchanged: this is its multi-symbol sibling.

Agents
    The scenario's ``hedging_mm`` agents marked ``learnable: true`` (named ``"group_index"``),
    in a multi-symbol market (``market.symbols``). Each quotes the symbols of its group's
    ``quote`` and hedges with ``hedge_with``; its own schedule is switched off and the
    environment decides its quotes and hedges. Every other agent -- the crowd on every symbol,
    arbitrageurs, rule-based hedgers -- keeps acting between decisions. Every learnable group
    must quote the same number of symbols.

Episodes
    ``reset(seed=)`` builds the market and runs the warm-up; one step is ``decision_interval``
    (default: the group's wake interval, 1 s); the episode ends at the close or after
    ``max_cycles`` decisions (a truncation). Same seed, same actions: the same episode.

Observations (``Box(-1, 1, (n_obs,), float32)``, ``n_obs = 5 (n_quote + 1) + n_quote + 2``)
    For each leg -- the quoted symbols in order, then the hedge: the spread
    ``min(s / 20 ticks, 1)``; the mid's log return over the last decision,
    ``tanh(bps / 10)``, and over the last ten, ``tanh(bps / 30)``; the top-of-book imbalance
    ``(q^B - q^A) / (q^B + q^A)``; the leg's inventory over ``max_inventory`` (clipped). Then
    each quoted symbol's hedge ratio (the agent's rolling beta of its returns on the hedge's;
    0 while it warms up; clipped to [-1, 1]); the hedge leg's distance from its target
    ``q_hedge = -sum beta_i q_i`` (in value, converted to hedge lots) over ``max_inventory``;
    the fraction of the episode left.

Actions (``MultiDiscrete([20] * n_quote + [3])``)
    For each quoted symbol ``k = 5 h + s``: a post-only ladder (the group's ``levels``,
    ``size``, ``max_inventory``) around mid + ``SHIFTS[s]`` ticks (-2 ... 2) with half-spread
    ``HALF_SPREADS[h]`` ticks (1, 2, 3, 5); quotes already at a wanted price keep their queue
    place. Then the hedge: 0 none, 1 trade half of the distance to the target, 2 all of it
    (an immediate-or-cancel order at the touch). ``action_mode="discrete"`` flattens the
    space to ``Discrete(20 ** n_quote * 3)`` (index = the actions' mixed-radix number, the
    hedge action last: ``numpy.unravel_index``), for learners that take ``Discrete`` actions
    (``abmm train`` with ``env: multi_asset``).

Reward
    ``(delta PnL - inventory_gamma x E^2) / reward_scale``: the change of the agent's
    mark-to-market PnL over all its legs (price units) minus a quadratic penalty on its net
    exposure E (the quoted legs' position values weighted by their betas -- 1 while unknown --
    plus the hedge leg's, price units).

Infos
    ``pnl`` (price units, since the episode started after the warm-up), ``inventory`` (lots of the first quoted
    symbol), ``inventories`` (lots per symbol),
    ``net_exposure``, ``time_ns``.

Arguments
    ``scenario`` (path, dict or ``Scenario``; default the package's ``multi_asset.yaml``: an
    index future IDX = (A + B) / 2, its constituents, a crowd on each, an index arbitrageur,
    one learnable hedger quoting A), ``overrides``, ``decision_interval``, ``max_cycles``,
    ``inventory_gamma`` (default 1e-4 per price unit squared), ``reward_scale`` (default 1),
    ``render_mode`` (``"ansi"``), ``log_dir`` (event logs of the episodes), ``action_mode``
    (``"multi_discrete"``, default, or ``"discrete"``).

Version history
    v0 (abmm 0.1): first version.
"""

from __future__ import annotations

from pettingzoo.utils import parallel_to_aec, wrappers

from abmm.env.multi_asset_env import (
    DEFAULT_SCENARIO,
    HALF_SPREADS,
    HEDGE_FRACTIONS,
    N_QUOTE,
    SHIFTS,
    MultiAssetEnv,
    n_observations,
)

__all__ = ["parallel_env", "env", "raw_env", "MultiAssetEnv", "DEFAULT_SCENARIO",
           "HALF_SPREADS", "SHIFTS", "N_QUOTE", "HEDGE_FRACTIONS", "n_observations"]


def parallel_env(**kwargs) -> MultiAssetEnv:
    """The parallel environment (see the module docstring for the arguments)."""
    return MultiAssetEnv(**kwargs)


def raw_env(**kwargs):
    """The AEC version without wrappers."""
    return parallel_to_aec(MultiAssetEnv(**kwargs))


def env(**kwargs):
    """The AEC version, with PettingZoo's order-enforcing wrapper."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))

"""abmm trading, version 0: learning directional traders (chartists) in the agent-based market.

``parallel_env(**kwargs)`` gives the PettingZoo ``ParallelEnv``; ``env(**kwargs)`` the AEC
version (PettingZoo's ``parallel_to_aec`` wrapper, with its order-enforcing wrapper).

Agents
    The scenario's momentum chartists marked ``learnable: true`` (``kind: momentum``), named
    ``"group_index"`` (``"trader_0"`` for the Mesa agent ``"trader/0"``; ``env.learner(name)``
    returns it). Their own rule is switched off; every other agent keeps acting on the market's
    event clock, and every order travels with its sender's latency. A learnable group of any
    other kind is an error here (and ``market_v0`` refuses learnable chartists). From the
    group the environment takes ``max_position`` (the position limit), the indicator windows
    ``short_window``, ``long_window``, ``signal_window``, ``rsi_window`` (in decisions) and the
    wake interval (the default decision interval); the default scenario
    (``abmm/env/trading.yaml``) has two learnable chartists, 10-second decisions and 180
    decisions per episode.

Episodes
    ``reset(seed=)`` builds a new market from the scenario with that seed (without one: the
    scenario's seed, then the next integers) and runs it through the warm-up, sampling the mid
    once per decision interval (the indicators' history). One ``step()`` advances
    ``decision_interval``. The episode ends at the session close (``terminations``) or after
    ``max_cycles`` decisions (``truncations``); then ``agents`` is empty. Same scenario, seed and
    actions give the same observations, rewards and event log (``log_dir=`` writes one per
    episode).

Observations
    ``Box(-1, 1, (12,), float32)``, from the mid ``m`` (ticks) sampled at each decision:

    ====  ==============  ============================================================
     i    name            definition
    ====  ==============  ============================================================
     0-3  return_1..4     ``tanh((m_t - m_{t-h}) / (vol_scale sqrt(h)))`` for the
                          ``horizons`` (default 1, 5, 15, 60 min; ``h`` in seconds, the
                          history available when shorter)
     4    ma_gap          ``tanh((SMA_short - SMA_long) / trend_scale)``
     5    macd            ``tanh((EMA_short - EMA_long) / trend_scale)``
     6    macd_signal     ``tanh(EMA_signal(MACD) / trend_scale)``
     7    rsi             ``(RSI_rsi_window - 50) / 50``
     8    volatility      ``tanh(sigma / vol_scale)``, sigma the EWMA (half-life
                          ``vol_halflife`` decisions) volatility of the mid, ticks per
                          sqrt(second)
     9    position        ``q / max_position``
     10   unrealized_pnl  ``tanh(q (mark - entry) / (max_position trend_scale))``, entry the
                          average entry price of the position (from its fills)
     11   time_left       ``(end - now) / (end - start)`` of the episode
    ====  ==============  ============================================================

    4-7 are 0 until the history is long enough. The formulas of 4-7 are the rule-based
    chartists' (``abmm.agents.momentum``: ``sma``, ``ema``, ``rsi``).

Actions (``action_mode``)
    ``"discrete"`` (default): ``Discrete(15)``, action ``a`` = target position
    ``POSITIONS[a // 3] * max_position`` lots, ``POSITIONS = (-1, -0.5, 0, 0.5, 1)``, with stop
    ``STOPS[a % 3]``, ``STOPS = (none, 1 sigma, 2 sigma)`` (``env.action_index(target, stop)``
    gives the index). ``"continuous"``: ``Box(-1, 1, (2,), float32)``: ``[target, stop]``, the
    target position ``round(target * max_position)`` lots and a stop of ``stop *
    max_stop_sigma`` sigmas when ``stop > 0``, none when ``stop <= 0``.

    Each decision the environment sends one market order for ``target - position`` (it fills
    at the book's prices, spread and impact included; what the book cannot fill is
    cancelled). A stop of ``k`` sigmas is ``k max(sigma sqrt(stop_horizon), min_stop_ticks)``
    ticks per lot against the average entry price; it is checked after every market step
    (``market.step``) of the interval, and when the mark has moved that far against the
    position, a market order flattens it (the position then stays flat until the next
    decision). A bad action (wrong type or shape, NaN, out of range) or an action for an agent
    that is done raises ``InvalidActionError`` naming the agent, the action and what was
    expected. A live agent left out of a step's action dict keeps its position and its stop.

Reward
    ``(dPnL - risk_aversion q^2 sigma^2 dt) / reward_scale`` per decision: ``PnL = cash + q
    mark`` in tick·lots (so spread, impact and fees paid by the fills are in it), ``q`` the
    position at the end of the interval (lots), ``sigma^2`` the EWMA variance of the mid (ticks^2
    per second), ``dt`` the interval (seconds); ``reward_scale`` defaults to ``max_position``
    (one tick on a full position is 1).

Infos
    ``position`` (lots), ``pnl_ticks`` (mark-to-market since the start of the session,
    tick·lots), ``entry_price`` (ticks, 0 when flat), ``trades`` and ``traded`` (fills and
    lots so far), ``stops_hit`` (so far), ``time_ns``; after a step also ``stop_hit`` (a stop
    fired in the interval), ``step_trades``, ``step_traded``.

Arguments
    ``scenario`` (path, dict or ``Scenario``; default ``abmm/env/trading.yaml``),
    ``overrides``, ``decision_interval`` (a multiple of ``market.step``; default the learnable
    group's wake interval), ``max_cycles``, ``action_mode``, ``max_position`` (default the
    groups' smallest), ``horizons`` (4 durations), ``risk_aversion`` (0.01), ``reward_scale``,
    ``vol_halflife`` (30 decisions), ``vol_scale`` (1 tick per sqrt(second)), ``trend_scale``
    (10 ticks), ``stop_horizon`` (``"5min"``), ``min_stop_ticks`` (2), ``max_stop_sigma`` (3),
    ``render_mode`` (``"human"`` logs a text line at INFO, ``"ansi"`` returns it),
    ``log_dir``.

Baselines
    ``abmm.env.baselines``: ``ma`` (long/short on the MA crossover, feature 4), ``macd``
    (MACD above/below its signal), ``rsi`` (momentum reading: long above 70, short below 30),
    ``flat`` (never trades) and ``random``; ``abmm.env.vector.vec_env("trading_v0", ...)``
    vectorizes it.

Version history
    v0 (abmm 0.1): first version.
"""

from __future__ import annotations

from pettingzoo.utils import parallel_to_aec, wrappers

from abmm.env.trading_env import (
    DEFAULT_SCENARIO,
    N_ACTIONS,
    N_OBS,
    OBSERVATIONS,
    POSITIONS,
    STOPS,
    TradingEnv,
)

__all__ = ["parallel_env", "env", "raw_env", "TradingEnv", "DEFAULT_SCENARIO", "N_OBS",
           "N_ACTIONS", "OBSERVATIONS", "POSITIONS", "STOPS"]


def parallel_env(**kwargs) -> TradingEnv:
    """The parallel environment (see the module docstring for the arguments)."""
    return TradingEnv(**kwargs)


def raw_env(**kwargs):
    """The AEC version without wrappers."""
    return parallel_to_aec(TradingEnv(**kwargs))


def env(**kwargs):
    """The AEC version, with PettingZoo's order-enforcing wrapper."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))

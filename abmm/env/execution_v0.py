"""abmm execution, version 0: a learning executor works a parent order in the agent-based market.

``parallel_env(**kwargs)`` gives the PettingZoo ``ParallelEnv`` (``ExecutionEnv``);
``env(**kwargs)`` the AEC version (PettingZoo's ``parallel_to_aec`` wrapper, with its
order-enforcing wrapper); ``raw_env(**kwargs)`` the AEC version without it.

Agents
    The scenario's ``executor`` agents marked ``learnable: true`` (named ``"group_index"``).
    Each has a parent order (``side``, ``quantity``, ``start``, ``duration`` of its group); its
    own schedule is switched off and the environment decides its child orders. Every other
    agent keeps acting between decisions.

Episodes
    ``reset(seed=)`` builds the market and runs it to the executors' ``start``; the arrival
    price is the mid then. One step is ``decision_interval`` (default: the group's wake
    interval, 30 s). At ``start + duration`` whatever is left is sent as a market order (as the
    rule-based executor's final sweep does) and the episode terminates once it is done (or
    the session closes).

Observations (``Box(-1, 1, (8,), float32)``)
    remaining / quantity; time left / duration; top-5 imbalance ``(q^B - q^A) / (q^B + q^A)``
    times the side (+1 buyer, -1 seller: positive when the book leans the executor's way);
    spread ``min(s, 20) / 20``; volatility over the last 100 trades (``tanh(std of their
    price changes in ticks / vol_scale)``); whether a child order rests; the mid's move since
    arrival, signed by the side (``tanh(side (mid - arrival) / 10 ticks)``); the EWMA trade
    flow (taker buy minus sell volume over volume).

Actions (``Discrete(13)``), ``base`` = what is left / decisions left (the adaptive TWAP
slice, at least one lot):
    0 wait (cancel a resting child); 1-3 market order of 0.5, 1, 2 base; 4-12 limit order of
    0.5, 1, 2 base at the own touch (join), one tick better (improve) or the opposite touch
    (cross, marketable). A new child replaces a resting one. Sizes are capped by what is left.

Reward
    Minus the implementation-shortfall cost of the step's fills in basis points of the parent:
    ``-sum side (p - arrival) q / (arrival Q) * 1e4``; at the end, what could not be executed
    before the close is charged its opportunity cost ``side (mark - arrival) left``. The
    episode's return is minus the implementation shortfall of the whole parent (Perold 1988),
    in bps.

Infos
    ``executed``, ``remaining``, ``inventory``, ``shortfall_bps`` (the cost so far over
    ``arrival Q``: at the end, the implementation shortfall of the parent).

Arguments
    ``scenario`` (path, dict or ``Scenario`` with learnable executors sharing one ``start``;
    default the shipped ``execution_rl`` scenario, ``scenarios/execution_rl.yaml``),
    ``overrides`` (``["key.path=value", ...]``), ``decision_interval`` (duration, a multiple
    of ``market.step``; default the executors' wake interval), ``max_cycles`` (default the
    schedule's decisions + 60), ``render_mode`` (``"human"`` logs a text line at INFO,
    ``"ansi"`` returns it), ``vol_scale`` (ticks, for the volatility feature).

Version history
    v0 (abmm 0.1): first version.
"""

from __future__ import annotations

from pettingzoo.utils import parallel_to_aec, wrappers

from abmm.env.execution_env import (
    DEFAULT_SCENARIO,
    LEVELS,
    N_ACTIONS,
    N_OBS,
    SIZES,
    ExecutionEnv,
)

__all__ = ["parallel_env", "env", "raw_env", "ExecutionEnv", "DEFAULT_SCENARIO", "N_OBS",
           "N_ACTIONS", "SIZES", "LEVELS"]


def parallel_env(**kwargs) -> ExecutionEnv:
    """The parallel environment (see the module docstring for the arguments)."""
    return ExecutionEnv(**kwargs)


def raw_env(**kwargs):
    """The AEC version without wrappers."""
    return parallel_to_aec(ExecutionEnv(**kwargs))


def env(**kwargs):
    """The AEC version, with PettingZoo's order-enforcing wrapper."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))

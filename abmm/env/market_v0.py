"""abmm market, version 0: learning market makers in an agent-based limit order book market.

``parallel_env(**kwargs)`` gives the PettingZoo ``ParallelEnv``; ``env(**kwargs)`` the AEC
version (PettingZoo's ``parallel_to_aec`` wrapper, with its order-enforcing wrappers).

Agents
    The scenario's agents marked ``learnable: true``, named ``"group_index"`` (e.g.
    ``"learner_0"`` for the Mesa agent ``"learner/0"``; ``env.learner(name)`` returns it). Their
    own strategy is switched off; each decision, the environment quotes for them. Every other agent of the scenario (noise, value, informed, momentum, executors,
    classical market makers) keeps acting on the market's event clock between decisions, and
    every order travels with its sender's latency. Only quoting kinds may be learnable here
    (``market_maker``, ``policy``): a scenario with another learnable kind is refused with a
    ``ValueError`` naming the group (learnable chartists are ``abmm.env.trading_v0``'s,
    learnable executors ``abmm.env.execution_v0``'s); the default scenario has two learning
    market makers.

Episodes
    ``reset(seed=)`` builds a new market from the scenario with that seed (without one: the
    scenario's seed, then the next integers) and runs it through the warm-up. One ``step()``
    advances ``decision_interval`` (default the scenario's ``market.step``, 1 s). The episode
    ends at the session close (``terminations`` True) or after ``max_cycles`` decisions
    (``truncations`` True); then ``agents`` is empty. Same scenario, seed and actions give the
    same observations, rewards and event log (``log_dir=`` writes one per episode).

Observations
    ``Box(-1, 1, (16,), float32)``, the same layout for every agent (``abmm.env.observations``
    has the formulas): inventory, time left, spread, top-5 imbalance, microprice offset, OFI,
    VPIN, realized volatility, trade flow, trade intensity, own bid/ask offsets from the mid,
    own queue positions, and whether the agent has a bid / an ask resting. With
    ``book_levels=L`` it is ``Box(-1, 1, (16 + 4 L,), float32)``: the raw top ``L`` price
    levels of each side follow (distance from the mid over ``max_offset``, ``tanh(lots /
    book_scale)``), for a sequence encoder to read over time.

Actions (``action_mode``)
    ``"discrete"``: ``Discrete(26)`` -- 25 (bid offset, ask offset) pairs from offsets (1, 2, 3,
    5, 8) ticks around the mid, ``quote_size`` lots each, plus 25 = don't quote.
    ``"continuous"``: ``Box(-1, 1, (4,))`` -- bid/ask offsets in [0.5, ``max_offset``] ticks and
    sizes in [0, ``max_size``] lots. Quotes are post-only; unchanged quotes keep their queue
    position (``abmm.env.actions``). A bad action (wrong type or shape, NaN, out of bounds) or
    an action for an agent that is done raises ``InvalidActionError``. A live agent left out
    of a step's action dict is not re-quoted: its resting quotes stay as they are (send the
    don't-quote action, or sizes 0, to pull them).

Rewards (``reward=``, ``vector_reward=``)
    A weighted sum of spread capture, inventory PnL, inventory cost ``-gamma q^2 sigma^2 dt``,
    adverse selection, order-management cost, the dampened PnL of Spooner et al. (2018) and
    an absolute-inventory penalty ``-|q| dt``, each in tick·lots over ``reward_scale`` (default the quote size). Default weights
    ``{"dampened_pnl": 1, "inventory_cost": 1, "order_cost": 0.01}``. With
    ``vector_reward=True`` each agent's info holds ``"reward_vector"`` (``abmm.env.rewards``
    defines every component).

Infos
    ``inventory`` (lots), ``pnl_ticks`` (mark-to-market, tick·lots), ``time_ns``; after a
    step also ``traded`` (lots filled in the interval), ``realized_spread`` (tick·lots: every
    passive fill's ``x (m_end - p)``, marked at the end of the interval), ``quoting``
    (whether a bid and an ask rest) and ``quoted_spread`` (own ask - own bid in ticks, 0
    when not two-sided); ``reward_vector`` with ``vector_reward=True``.

Arguments
    ``scenario`` (path, dict or ``Scenario``; default ``abmm/env/market_making.yaml``),
    ``overrides`` (``["key.path=value", ...]``), ``decision_interval`` (duration, e.g. ``"1s"``),
    ``max_cycles``, ``action_mode``, ``reward``, ``vector_reward``, ``render_mode`` (``"human"``
    logs a text line at INFO, ``"ansi"`` returns it, ``"rgb_array"`` a depth chart),
    ``quote_size``, ``max_size``, ``max_inventory``, ``offsets``, ``max_offset``,
    ``inventory_gamma``, ``damping``, ``reward_scale``, ``vol_halflife``, ``vpin_bucket``,
    ``book_levels`` (0-50, default 0), ``book_scale`` (lots, default 20), ``log_dir``.

Vectorized training
    ``abmm.env.vector`` builds N independent copies, each playing its own markets from its own
    reproducible seed stream (plain copies would all replay the scenario's seed in lockstep),
    for Stable-Baselines3 or Gymnasium's vector API (each learner of each copy is one sub-env;
    infos come back as a list). It works as a plain script, worker processes included::

        from abmm.env import vector
        vec = vector.vec_env("market_v0", 4, num_cpus=2, seed=1, max_cycles=600,
                             base_class="gymnasium")   # or "stable_baselines3"
        obs, infos = vec.reset(seed=1)

    SuperSuit's own ``concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(parallel_env()), 4,
    num_cpus=2)`` also runs as a plain script (abmm keeps ``import mesa`` from making
    ``spawn`` the start method; a script that imports mesa itself first needs an ``if
    __name__ == "__main__":`` guard), but its copies share one seed sequence.

Version history
    v0 (abmm 0.1): first version.
"""

from __future__ import annotations

from pettingzoo.utils import parallel_to_aec, wrappers

from abmm.env.market_env import DEFAULT_SCENARIO, MarketEnv

__all__ = ["parallel_env", "env", "raw_env", "MarketEnv", "DEFAULT_SCENARIO"]


def parallel_env(**kwargs) -> MarketEnv:
    """The parallel environment (see the module docstring for the arguments)."""
    return MarketEnv(**kwargs)


def raw_env(**kwargs):
    """The AEC version without wrappers."""
    return parallel_to_aec(MarketEnv(**kwargs))


def env(**kwargs):
    """The AEC version, with PettingZoo's order-enforcing wrapper."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))

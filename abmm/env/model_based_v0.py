"""abmm model-based market, version 0: market makers in the Avellaneda-Stoikov (2008) model.

``parallel_env(**kwargs)`` gives the PettingZoo ``ParallelEnv`` (``ModelBasedEnv``);
``env(**kwargs)`` the AEC version (PettingZoo's ``parallel_to_aec`` wrapper, with its
order-enforcing wrapper); ``raw_env(**kwargs)`` the AEC version without it.

The market (``abmm.env.model_based_sim.ASMarket``): the mid ``s`` moves on its own (it does not
react to the market makers); a market maker quoting a bid ``delta_b`` below and an ask
``delta_a`` above the mid is filled ``order_size`` by market orders arriving with intensity
``A exp(-k delta)``, the best quote on each side first. Avellaneda, M. & Stoikov, S. (2008),
"High-frequency trading in a limit order book", Quantitative Finance 8(3), 217-224.

Agents
    ``"mm_0" .. "mm_{n_paths * n_agents - 1}"``: ``n_agents`` market makers compete in each of
    ``n_paths`` independent trajectories (agent ``j`` is market maker ``j % n_agents`` of path
    ``j // n_agents``), so many paths train one shared policy fast (``sharing: shared``).

Episodes
    ``reset(seed=)`` starts every trajectory at ``s0`` (without a seed: the constructor's
    ``seed``, then the next integers). One ``step()`` is the model's ``dt``; the episode is
    the paper's ``T / dt`` steps (``terminations`` True at ``T``) or ``max_cycles`` steps
    (``truncations`` True); then ``agents`` is empty. Same seed, same paths whatever the agents
    do (the draws are fixed per step).

Observations
    ``Box(-1, 1, (16,), float32)`` in the layout of ``abmm.env.market_v0``: inventory over
    ``max_inventory``, time left; ``spread`` is the best quoted spread of the path over ``20
    tick``, ``volatility`` ``tanh(sigma sqrt(dt) / tick)``, ``trade_intensity`` ``tanh`` of
    the path's fills in the last step, then the own bid/ask offsets over ``max_offset`` ticks
    and whether a bid / an ask is quoted. The features the model has no counterpart for
    (imbalance, microprice, OFI, VPIN, trade flow, queue positions) are 0.

Actions (``action_mode``)
    As in ``market_v0``: ``"discrete"``: ``Discrete(len(offsets)^2 + 1)`` -- (bid, ask)
    offset pairs from ``offsets`` in units of ``tick``, plus don't-quote; ``"continuous"``:
    ``Box(-1, 1, (4,))`` -- offsets in ``[0.5, max_offset]`` ticks and sizes, a size of 0
    meaning no quote (any positive size quotes ``order_size``). No bid at ``q >=
    max_inventory``, no ask at ``q <= -max_inventory``. A bad action, or one for an agent that
    is done, raises ``InvalidActionError``.

Rewards (``reward=``, ``vector_reward=``)
    The named components of ``abmm.env.rewards`` over ``reward_scale``: spread capture
    ``delta`` per fill, inventory PnL ``q ds``, inventory cost ``-inventory_gamma q^2 sigma^2
    dt`` (plus ``-terminal_penalty q_T^2`` at the last step), adverse selection ``min(0, x
    ds)`` of the step's fills, order cost 0, dampened PnL, absolute inventory ``-|q| dt``.
    Default weights ``{"spread_capture": 1, "inventory_pnl": 1}`` (the PnL). With
    ``inventory_gamma = phi / sigma^2`` and ``terminal_penalty = alpha``, spread capture +
    inventory PnL + inventory cost is the objective of Cartea, Jaimungal & Penalva (2015, ch.
    10), ``X_T + q_T S_T - alpha q_T^2 - phi int q^2 dt``, whose optimum is
    ``abmm.policy.closed_form.cartea_jaimungal_value``.

Infos
    ``inventory``, ``wealth`` (``cash + q s``), ``mid``, ``t``; ``reward_vector`` with
    ``vector_reward=True``.

Arguments
    ``n_agents``, ``n_paths``, ``max_cycles``, ``action_mode``, ``reward``, ``vector_reward``,
    ``render_mode`` (``"human"`` logs a text line at INFO, ``"ansi"`` returns it,
    ``"rgb_array"`` an inventory chart), ``tick`` (the price unit of the offsets, 0.1),
    ``offsets``, ``max_offset``, ``max_inventory``, ``inventory_gamma``, ``terminal_penalty``,
    ``damping``, ``reward_scale``, ``seed``; the market's ``s0``, ``T``, ``sigma``, ``dt``,
    ``A``, ``k`` (default the paper's, ``abmm.env.model_based_sim.AS2008``), ``mid``
    (``"binomial"``, ``"brownian"``, ``"ou"``), ``kappa``, ``fill`` (``"paper"``,
    ``"poisson"``), ``order_size``.

Version history
    v0 (abmm 0.1): first version, first published as ``abmm.env.model_based`` (that path
    still works, with a ``DeprecationWarning``, for one release).
"""

from __future__ import annotations

from pettingzoo.utils import parallel_to_aec, wrappers

from abmm.env.model_based_env import ModelBasedEnv

__all__ = ["parallel_env", "env", "raw_env", "ModelBasedEnv"]


def parallel_env(**kwargs) -> ModelBasedEnv:
    """The parallel environment (see the module docstring for the arguments)."""
    return ModelBasedEnv(**kwargs)


def raw_env(**kwargs):
    """The AEC version without wrappers."""
    return parallel_to_aec(ModelBasedEnv(**kwargs))


def env(**kwargs):
    """The AEC version, with PettingZoo's order-enforcing wrapper."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))

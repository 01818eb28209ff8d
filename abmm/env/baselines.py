"""Baseline policies for both market-making environments: fixed spread, Avellaneda-Stoikov,
GLFT and random -- so any learner can be compared with them on the same episodes.

A policy reads an agent's observation (and the environment's scales: ``max_inventory``,
``max_offset``, the volatility scale, the tick) and returns an action of that environment's
action space: the nearest grid action in ``discrete`` mode, the exact quotes in ``continuous``
mode. Usage::

    env = market_v0.parallel_env()
    policy = baselines.make("as", env, gamma=0.1)
    obs, _ = env.reset(seed=1)
    while env.agents:
        obs, rewards, *_ = env.step({a: policy(obs[a], a) for a in env.agents})

Quotes are offsets from the mid in ticks (``market_v0``) or in ``tick`` units of the
model-based market, with the inventory ``q`` in units of the quote size:

* ``fixed``: ``half_spread`` on both sides;
* ``as`` (Avellaneda & Stoikov 2008): reservation price ``r = s - q gamma sigma^2 tau`` and
  spread ``gamma sigma^2 tau + (2 / gamma) ln(1 + gamma / k)``, ``tau`` the time left (capped
  at ``horizon`` seconds in the agent-based market, where the session is long);
* ``glft`` (Gueant, Lehalle & Fernandez-Tapia 2013): ``delta_b = c1 + (2q + 1)/2 sigma c2``,
  ``delta_a = c1 - (2q - 1)/2 sigma c2`` with ``c1 = ln(1 + gamma/k) / gamma``, ``c2 =
  sqrt(gamma / (2 k A) (1 + gamma / k)^(1 + k / gamma))``;
* ``random``: a uniform sample of the action space (seeded).

``sigma`` is read from the observation (feature 7) unless given. The formulas are
``abmm.policy.closed_form``'s.

Directional baselines for ``abmm.env.trading_v0`` (``make(name, env)`` with a trading env;
the rule-based chartists' signals, ``abmm.agents.momentum``, read from the observation and
mapped to a full target position ``+-max_position``, or flat without a view, with ``stop``
sigmas of stop-loss -- default none -- as the nearest discrete action or the exact continuous
one):

* ``ma``: long when the short moving average is above the long one (feature 4 > 0), short
  below;
* ``macd``: long when MACD is above its signal line (feature 5 > feature 6), short below;
* ``rsi``: RSI read as momentum: long above ``high`` (70), short below ``low`` (30), else flat;
* ``flat``: always the target 0 (never trades after the first decision);
* ``random``: a uniform sample of the action space (seeded).
"""

from __future__ import annotations

import copy
import math

import numpy as np

from abmm.env.model_based_env import ModelBasedEnv
from abmm.env.trading_env import TradingEnv
from abmm.policy.closed_form import as_offsets, glft_offsets

__all__ = ["make", "Fixed", "AvellanedaStoikov", "GLFT", "Random", "NAMES", "TRADING_NAMES",
           "Chartist", "MACrossover", "MACD", "RSI", "Flat", "RandomTrade"]


class _Policy:
    """A baseline policy of one environment: ``policy(obs, agent)`` returns an action."""

    name = "baseline"

    def __init__(self, env):
        self.env = env
        self.actions = env.actions
        self.model_based = isinstance(env, ModelBasedEnv)

    # the environment's units ------------------------------------------------------------
    def inventory(self, obs) -> float:
        """Inventory in quote sizes."""
        q = float(obs[0]) * self.env.max_inventory
        return q if self.model_based else q / self.actions.quote_size

    def sigma(self, obs) -> float:
        """Volatility per sqrt(second) (agent-based, ticks) or per sqrt(unit time)
        (model-based, price units), from feature 7."""
        x = min(float(obs[7]), 0.999999)
        if self.model_based:
            return self.env.market.sigma
        return math.atanh(max(x, 0.0)) * self.env.features.vol_scale

    def tau(self, obs) -> float:
        """Time left (the model's unit, or seconds), from feature 1."""
        left = float(obs[1])
        if self.model_based:
            return left * self.env.market.T
        total = (self.env._t_end - self.env._t0) / 1e9
        return left * total

    def to_action(self, delta_b: float, delta_a: float):
        """Offsets (ticks, or tick units of the model-based market) to an action."""
        if self.model_based:
            delta_b, delta_a = delta_b / self.env.tick, delta_a / self.env.tick
        lo, hi = 0.5, self.actions.max_offset
        delta_b = min(max(delta_b, lo), hi)
        delta_a = min(max(delta_a, lo), hi)
        if self.actions.mode == "discrete":
            return self.actions.discrete_index(delta_b, delta_a)
        size = self.actions.quote_size
        return self.actions.continuous_action(delta_b, delta_a, size, size)

    def __call__(self, obs, agent=None):
        """The action for one observation."""
        raise NotImplementedError


class Fixed(_Policy):
    """Quotes ``half_spread`` away from the mid on both sides."""

    name = "fixed"

    def __init__(self, env, half_spread: float | None = None):
        """A fixed spread for ``env`` (default 0.75 model-based, 2 ticks agent-based)."""
        super().__init__(env)
        self.half = half_spread if half_spread is not None else (
            0.75 if isinstance(env, ModelBasedEnv) else 2.0)

    def __call__(self, obs, agent=None):
        """Quote ``half_spread`` on both sides."""
        return self.to_action(self.half, self.half)


class AvellanedaStoikov(_Policy):
    """Avellaneda-Stoikov inventory-strategy quotes."""

    name = "as"

    def __init__(self, env, gamma: float = 0.1, k: float | None = None,
                 sigma: float | None = None, horizon: float = 60.0):
        """Avellaneda-Stoikov for ``env``; ``k`` defaults to the model's (0.5 agent-based)."""
        super().__init__(env)
        self.gamma = float(gamma)
        self.k = k if k is not None else (env.market.k if self.model_based else 0.5)
        self.sigma_fixed = sigma
        self.horizon = float(horizon)

    def __call__(self, obs, agent=None):
        """The nearest action to the Avellaneda-Stoikov offsets."""
        g, k = self.gamma, self.k
        s = self.sigma_fixed if self.sigma_fixed is not None else self.sigma(obs)
        tau = self.tau(obs) if self.model_based else min(self.tau(obs), self.horizon)
        return self.to_action(*as_offsets(self.inventory(obs), g, s, k, tau))


class GLFT(_Policy):
    """Gueant-Lehalle-Fernandez-Tapia closed-form quotes."""

    name = "glft"

    def __init__(self, env, gamma: float = 0.1, k: float | None = None, A: float | None = None,
                 sigma: float | None = None):
        """GLFT for ``env``; ``k`` and ``A`` default to the model's (0.5 agent-based)."""
        super().__init__(env)
        self.gamma = float(gamma)
        self.k = k if k is not None else (env.market.k if self.model_based else 0.5)
        self.A = A if A is not None else (env.market.A if self.model_based else 0.5)
        self.sigma_fixed = sigma

    def __call__(self, obs, agent=None):
        """The nearest action to the GLFT offsets."""
        g, k, A = self.gamma, self.k, self.A
        s = self.sigma_fixed if self.sigma_fixed is not None else self.sigma(obs)
        return self.to_action(*glft_offsets(self.inventory(obs), g, s, k, A))


class Random(_Policy):
    """A uniform sample of the action space (seeded)."""

    name = "random"

    def __init__(self, env, seed: int = 0):
        """Uniform actions of ``env``'s space, seeded with ``seed``."""
        super().__init__(env)
        self.space = copy.deepcopy(env.actions.space)  # its own random stream
        self.space.seed(seed)

    def __call__(self, obs, agent=None):
        """A random action."""
        return self.space.sample()


NAMES = {"fixed": Fixed, "as": AvellanedaStoikov, "glft": GLFT, "random": Random}


# ------------------------------------------------------------------------------ trading_v0
class Chartist:
    """A directional baseline of ``trading_v0``: ``signal(obs)`` in {-1, 0, 1} to a target."""

    name = "chartist"

    def __init__(self, env, stop: float | None = None):
        """For the trading env ``env``, with a stop of ``stop`` sigmas (``None``: none)."""
        self.env = env
        self.stop = stop

    def signal(self, obs) -> int:
        """+1 long, -1 short, 0 flat."""
        raise NotImplementedError

    def __call__(self, obs, agent=None):
        """The action of the target ``signal(obs) * max_position``."""
        x = float(self.signal(obs))
        if self.env.action_mode == "discrete":
            return self.env.action_index(x, self.stop)
        s = -1.0 if self.stop is None else min(self.stop / self.env.max_stop_sigma, 1.0)
        return np.array([x, s], np.float32)


class MACrossover(Chartist):
    """Long when the short moving average is above the long one, short below."""

    name = "ma"

    def signal(self, obs) -> int:
        """The sign of the MA gap (feature 4)."""
        g = float(obs[4])
        return (g > 0) - (g < 0)


class MACD(Chartist):
    """Long when MACD is above its signal line, short below."""

    name = "macd"

    def signal(self, obs) -> int:
        """The sign of MACD minus its signal (features 5, 6, compared before the tanh)."""
        d = math.atanh(min(max(float(obs[5]), -0.999999), 0.999999)) - \
            math.atanh(min(max(float(obs[6]), -0.999999), 0.999999))
        return (d > 0) - (d < 0)


class RSI(Chartist):
    """RSI read as momentum: long above ``high``, short below ``low``."""

    name = "rsi"

    def __init__(self, env, stop: float | None = None, low: float = 30.0, high: float = 70.0):
        """Thresholds ``low`` < ``high`` on the 0-100 RSI scale."""
        super().__init__(env, stop)
        self.low, self.high = float(low), float(high)

    def signal(self, obs) -> int:
        """+1 above ``high``, -1 below ``low``, else 0 (feature 7 is ``(RSI - 50) / 50``)."""
        r = 50.0 + 50.0 * float(obs[7])
        return 1 if r > self.high else (-1 if r < self.low else 0)


class Flat(Chartist):
    """Never holds a position."""

    name = "flat"

    def signal(self, obs) -> int:
        """Always 0."""
        return 0


class RandomTrade(Chartist):
    """A uniform sample of the trading action space (seeded)."""

    name = "random"

    def __init__(self, env, seed: int = 0):
        """Uniform actions of ``env``'s space, seeded with ``seed``."""
        super().__init__(env)
        self.space = copy.deepcopy(env.action_space(env.possible_agents[0]))
        self.space.seed(seed)

    def __call__(self, obs, agent=None):
        """A random action."""
        return self.space.sample()


TRADING_NAMES = {"ma": MACrossover, "macd": MACD, "rsi": RSI, "flat": Flat,
                 "random": RandomTrade}


def make(name: str, env, **params):
    """A baseline policy by name for ``env``: ``fixed``, ``as``, ``glft``, ``random`` for the
    market-making envs, ``ma``, ``macd``, ``rsi``, ``flat``, ``random`` for ``trading_v0``."""
    names = TRADING_NAMES if isinstance(env, TradingEnv) else NAMES
    try:
        cls = names[name]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r} for {type(env).__name__}; expected one of "
                         f"{sorted(names)}") from None
    return cls(env, **params)


def run_episode(env, policies: dict, seed: int | None = None) -> dict:
    """Play one episode with ``policies`` ({agent: policy}, or one policy for all); returns
    ``{agent: {"reward": total, "pnl": last info pnl, "inventory": last inventory}}``."""
    obs, infos = env.reset(seed=seed)
    total = dict.fromkeys(env.possible_agents, 0.0)
    last = dict(infos)
    while env.agents:
        acts = {a: (policies[a] if isinstance(policies, dict) else policies)(obs[a], a)
                for a in env.agents}
        obs, rewards, _, _, infos = env.step(acts)
        for a, r in rewards.items():
            total[a] += r
        last.update(infos)
    key = "wealth" if isinstance(env, ModelBasedEnv) else "pnl_ticks"
    inv = "position" if isinstance(env, TradingEnv) else "inventory"
    return {a: {"reward": total[a], "pnl": float(last[a][key]),
                "inventory": float(last[a][inv])} for a in env.possible_agents}


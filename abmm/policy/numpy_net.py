"""Numpy inference of the learners' networks: the actor-critic MLP (PPO) and the Q-network
(DQN), in float32, and the policies acting through them.

At these sizes (a 64x64 MLP, one to a few rows) numpy beats torch's per-call overhead several
times, so training acts through ``NumpyActorCritic`` too (``abmm.learn.nets`` builds it from
the torch network's weights). A layer is ``(w, b)`` with ``w`` of shape ``(in, out)``:
``x @ w + b``, an activation between layers (``tanh`` unless the file says otherwise: ``relu``,
``elu``, ``sigmoid`` or ``identity``, for imported Stable-Baselines3 and TorchScript networks),
none after the last. Weights are kept in Fortran
order (the transpose of torch's ``(out, in)`` layout), whatever their source, so a policy gives
the same bits whether built from a torch network or read from a file (BLAS rounds a matrix
product differently for the two layouts).
"""

from __future__ import annotations

import numpy as np

from abmm.policy.base import ObsNorm, Policy

__all__ = ["ACTIVATIONS", "as_layers", "mlp_forward", "NumpyActorCritic", "ActorCriticPolicy",
           "QNetPolicy", "MLPPolicy"]

_LOG_SQRT_2PI = 0.5 * float(np.log(2 * np.pi))


def as_layers(layers) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(w, b), ...]`` as float32, ``w`` in Fortran order (see the module docstring)."""
    return [(np.asfortranarray(np.asarray(w, np.float32)), np.asarray(b, np.float32))
            for w, b in layers]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


#: The hidden-layer activations a policy file may name (``activation``; default ``tanh``).
ACTIVATIONS = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0),
               "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
               "sigmoid": _sigmoid, "identity": lambda x: x}


def activation(name: str):
    """The numpy function of an activation's name (``ValueError`` naming the known ones)."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r} (expected one of "
                         f"{', '.join(ACTIVATIONS)})") from None


def mlp_forward(layers: list, x: np.ndarray, act: str = "tanh") -> np.ndarray:
    """The MLP's output for ``x``: ``act`` hidden layers (default ``tanh``), a linear last
    one."""
    f = activation(act)
    last = len(layers) - 1
    for i, (w, b) in enumerate(layers):
        x = x @ w + b
        if i < last:
            x = f(x)
    return x


class NumpyActorCritic:
    """A float32 numpy actor-critic: a categorical head for ``{"discrete": n}`` actions or a
    diagonal Gaussian (state-independent ``log_std``) for ``{"box": d, "low", "high"}``.

    ``actor`` and ``critic`` are lists of ``(w, b)`` layers (``critic`` may be empty when only
    acting is needed). ``act`` is the deterministic action, ``sample`` draws from a numpy
    ``Generator``. With an ``encoder`` the inputs are ``(n, window, obs_dim)`` windows, encoded
    once and read by both heads."""

    def __init__(self, actor: list, critic: list, action: dict, log_std=None,
                 act: str = "tanh", encoder=None):
        activation(act)
        self.act_fn = act
        #: a sequence encoder (``abmm.policy.sequence``) shared by both heads, or ``None``
        self.encoder = encoder
        self.window = 1 if encoder is None else encoder.window
        self.discrete = "discrete" in action
        self.actor = as_layers(actor)
        self.critic = as_layers(critic)
        if not self.discrete:
            self.log_std = np.asarray(log_std, np.float64)
            self.std = np.exp(self.log_std)
            self.low = np.asarray(action["low"], np.float32)
            self.high = np.asarray(action["high"], np.float32)

    def features(self, x: np.ndarray) -> np.ndarray:
        """What the heads read: ``x`` itself, or its windows encoded."""
        return x if self.encoder is None else self.encoder(x)

    def value(self, x: np.ndarray) -> np.ndarray:
        """The critic's value of each row of ``x``."""
        return mlp_forward(self.critic, self.features(x), self.act_fn)[:, 0]

    def sample(self, x: np.ndarray, rng: np.random.Generator):
        """``(raw action, log prob, value)`` for a batch of normalized observations."""
        x = self.features(x)
        out = mlp_forward(self.actor, x, self.act_fn).astype(np.float64)
        n = len(x)
        if self.discrete:
            z = out - out.max(axis=1, keepdims=True)
            e = np.exp(z)
            tot = e.sum(axis=1)
            u = rng.random(n) * tot
            a = np.minimum((np.cumsum(e, axis=1) < u[:, None]).sum(axis=1), out.shape[1] - 1)
            logp = z[np.arange(n), a] - np.log(tot)
        else:
            a = out + self.std * rng.standard_normal(out.shape)
            logp = (-0.5 * ((a - out) / self.std) ** 2 - self.log_std - _LOG_SQRT_2PI).sum(1)
            a = a.astype(np.float32)
        v = mlp_forward(self.critic, x, self.act_fn)[:, 0]
        return a, logp.astype(np.float32), v.astype(np.float32)

    def act(self, x: np.ndarray) -> np.ndarray:
        """The deterministic action: the most likely one, or the mean clipped to the box."""
        out = mlp_forward(self.actor, self.features(x), self.act_fn)
        if self.discrete:
            return out.argmax(axis=1)
        return np.minimum(np.maximum(out, self.low), self.high)

    def to_env(self, a: np.ndarray) -> np.ndarray:
        """A sampled action as the environment takes it (clipped to the box)."""
        return a if self.discrete else np.minimum(np.maximum(a, self.low), self.high)


class ActorCriticPolicy(Policy):
    """A PPO policy: normalize the observations, then the actor-critic's deterministic
    action."""

    def __init__(self, net: NumpyActorCritic, obs_dim: int, action: dict,
                 norm: ObsNorm | None = None, algo: str = "ppo",
                 policy_config: dict | None = None):
        self.net, self.norm = net, norm
        self.obs_dim, self.action, self.algo = int(obs_dim), action, algo
        self.policy_config = dict(policy_config or {})
        self.window = net.window

    def __call__(self, obs) -> np.ndarray:
        """Deterministic actions for a batch of observations (or windows: see ``Policy``)."""
        x = self._input(obs)
        if self.norm is not None:
            x = self.norm.normalize(x)
        return self.net.act(x)


class QNetPolicy(Policy):
    """A DQN policy: normalize the observations, then the action of the largest Q-value (the
    first one on ties)."""

    def __init__(self, layers: list, obs_dim: int, n_actions: int,
                 norm: ObsNorm | None = None, algo: str = "dqn",
                 policy_config: dict | None = None, act: str = "tanh", encoder=None):
        activation(act)
        self.layers, self.act_fn = as_layers(layers), act
        self.norm = norm
        self.obs_dim, self.action, self.algo = int(obs_dim), {"discrete": int(n_actions)}, algo
        self.policy_config = dict(policy_config or {})
        #: a sequence encoder (``abmm.policy.sequence``) before the Q head, or ``None``
        self.encoder = encoder
        self.window = 1 if encoder is None else encoder.window

    def q_values(self, obs) -> np.ndarray:
        """The Q-values ``(n, n_actions)`` of a batch of observations (or windows: see
        ``Policy``)."""
        x = self._input(obs)
        if self.norm is not None:
            x = self.norm.normalize(x)
        if self.encoder is not None:
            x = self.encoder(x)
        return mlp_forward(self.layers, x, self.act_fn)

    def __call__(self, obs) -> np.ndarray:
        """Deterministic actions for a batch of observations."""
        return self.q_values(obs).argmax(axis=1)


class MLPPolicy(Policy):
    """A deterministic MLP policy (an imported TorchScript network): normalize, run the MLP,
    then the largest output's index for ``{"discrete": n}`` actions, or the output clipped to
    the box for ``{"box": d, "low", "high"}``."""

    def __init__(self, layers: list, obs_dim: int, action: dict, norm: ObsNorm | None = None,
                 algo: str = "mlp", policy_config: dict | None = None, act: str = "tanh"):
        activation(act)
        self.layers, self.act_fn, self.norm = as_layers(layers), act, norm
        self.obs_dim, self.action, self.algo = int(obs_dim), action, algo
        self.policy_config = dict(policy_config or {})
        if "box" in action:
            self.low = np.asarray(action["low"], np.float32)
            self.high = np.asarray(action["high"], np.float32)

    def __call__(self, obs) -> np.ndarray:
        """Deterministic actions for a batch of observations."""
        x = self._batch(obs)
        if self.norm is not None:
            x = self.norm.normalize(x)
        out = mlp_forward(self.layers, x, self.act_fn)
        if "discrete" in self.action:
            return out.argmax(axis=1)
        return np.minimum(np.maximum(out, self.low), self.high)

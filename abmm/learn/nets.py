"""Policy and value networks (torch): an actor-critic for PPO and a Q-network for DQN.

``ActorCritic`` has a categorical head for ``Discrete(n)`` actions or a diagonal Gaussian head
(state-independent log-std) for ``Box`` actions; ``act(obs)`` returns its deterministic action
for the environment. Acting during training goes through ``NumpyActorCritic``, a numpy copy.
Networks are described by a small ``spec`` dict (``kind``, ``obs_dim``, ``n_actions`` or
``act_dim``, ``hidden``) so a checkpoint can rebuild them without pickled code.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Normal


def mlp(sizes: list[int], out_gain: float = 1.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        last = i == len(sizes) - 2
        nn.init.orthogonal_(lin.weight, out_gain if last else float(np.sqrt(2)))
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if not last:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def space_spec(space) -> dict:
    """``{"discrete": n}`` or ``{"box": dim, "low": [...], "high": [...]}`` of a gymnasium
    space (the only two kinds the learners handle)."""
    if hasattr(space, "n"):
        return {"discrete": int(space.n)}
    if getattr(space, "shape", None) and len(space.shape) == 1:
        return {"box": int(space.shape[0]), "low": np.asarray(space.low).tolist(),
                "high": np.asarray(space.high).tolist()}
    raise ValueError(f"unsupported action space {space}: expected Discrete(n) or a 1-D Box")


class ActorCritic(nn.Module):
    def __init__(self, obs_dim: int, action: dict, hidden: tuple[int, ...] = (64, 64),
                 init_log_std: float = -0.5):
        super().__init__()
        self.spec = {"kind": "actor_critic", "obs_dim": int(obs_dim), "action": action,
                     "hidden": list(hidden), "init_log_std": init_log_std}
        h = list(hidden)
        self.critic = mlp([obs_dim, *h, 1], 1.0)
        self.discrete = "discrete" in action
        if self.discrete:
            self.actor = mlp([obs_dim, *h, action["discrete"]], 0.01)
        else:
            d = action["box"]
            self.actor = mlp([obs_dim, *h, d], 0.01)
            self.log_std = nn.Parameter(torch.full((d,), float(init_log_std)))
            self.register_buffer("low", torch.tensor(action["low"], dtype=torch.float32))
            self.register_buffer("high", torch.tensor(action["high"], dtype=torch.float32))

    def dist(self, obs: torch.Tensor):
        out = self.actor(obs)
        if self.discrete:
            return Categorical(logits=out)
        return Normal(out, self.log_std.exp().expand_as(out))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def log_prob(self, dist, action: torch.Tensor) -> torch.Tensor:
        return dist.log_prob(action) if self.discrete else dist.log_prob(action).sum(-1)

    def entropy(self, dist) -> torch.Tensor:
        return dist.entropy() if self.discrete else dist.entropy().sum(-1)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> np.ndarray:
        """The deterministic action (the most likely one, or the mean clipped to the box).
        Exploration samples come from ``NumpyActorCritic.sample``."""
        d = self.dist(obs)
        if self.discrete:
            return d.probs.argmax(-1).cpu().numpy()
        return torch.max(torch.min(d.mean, self.high), self.low).cpu().numpy()


def _layers(seq: nn.Sequential) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(m.weight.detach().cpu().numpy().T.astype(np.float32),
             m.bias.detach().cpu().numpy().astype(np.float32))
            for m in seq if isinstance(m, nn.Linear)]


def _forward(layers: list, x: np.ndarray) -> np.ndarray:
    last = len(layers) - 1
    for i, (w, b) in enumerate(layers):
        x = x @ w + b
        if i < last:
            x = np.tanh(x)
    return x


_LOG_SQRT_2PI = 0.5 * float(np.log(2 * np.pi))


class NumpyActorCritic:
    """A float32 numpy copy of an ``ActorCritic``'s forward pass, for acting a few agents at a
    time: at these sizes (a 64x64 MLP, one to a few rows) torch's per-call overhead costs
    several times the arithmetic. Built from the network's current weights; rebuild it after
    the weights change. ``sample`` draws from a numpy ``Generator``."""

    def __init__(self, net: ActorCritic):
        self.discrete = net.discrete
        self.actor = _layers(net.actor)
        self.critic = _layers(net.critic)
        if not self.discrete:
            self.log_std = net.log_std.detach().cpu().numpy().astype(np.float64)
            self.std = np.exp(self.log_std)
            self.low = net.low.cpu().numpy()
            self.high = net.high.cpu().numpy()

    def value(self, x: np.ndarray) -> np.ndarray:
        return _forward(self.critic, x)[:, 0]

    def sample(self, x: np.ndarray, rng: np.random.Generator):
        """``(raw action, log prob, value)`` for a batch of normalized observations."""
        out = _forward(self.actor, x).astype(np.float64)
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
        return a, logp.astype(np.float32), self.value(x).astype(np.float32)

    def act(self, x: np.ndarray) -> np.ndarray:
        """The deterministic action: the most likely one, or the mean clipped to the box."""
        out = _forward(self.actor, x)
        if self.discrete:
            return out.argmax(axis=1)
        return np.minimum(np.maximum(out, self.low), self.high)

    def to_env(self, a: np.ndarray) -> np.ndarray:
        return a if self.discrete else np.minimum(np.maximum(a, self.low), self.high)


class QNet(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (64, 64)):
        super().__init__()
        self.spec = {"kind": "qnet", "obs_dim": int(obs_dim), "action": {"discrete": n_actions},
                     "hidden": list(hidden)}
        self.q = mlp([obs_dim, *hidden, n_actions], 1.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.q(obs)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = True, generator=None) -> np.ndarray:
        return self.q(obs).argmax(-1).cpu().numpy()


def build(spec: dict) -> nn.Module:
    """Rebuild a network from its ``spec`` (as stored in a checkpoint)."""
    kind = spec.get("kind")
    if kind == "actor_critic":
        return ActorCritic(spec["obs_dim"], spec["action"], tuple(spec["hidden"]),
                           spec.get("init_log_std", -0.5))
    if kind == "qnet":
        return QNet(spec["obs_dim"], spec["action"]["discrete"], tuple(spec["hidden"]))
    raise ValueError(f"unknown network kind {kind!r} (expected 'actor_critic' or 'qnet')")

"""Policy and value networks (torch): an actor-critic for PPO and a Q-network for DQN.

``ActorCritic`` has a categorical head for ``Discrete(n)`` actions or a diagonal Gaussian head
(state-independent log-std) for ``Box`` actions; ``act(obs)`` returns its deterministic action
for the environment. Acting during training goes through a numpy copy
(``numpy_actor_critic(net)``: an ``abmm.policy.NumpyActorCritic``), as acting with a saved
policy does.
Networks are described by a small ``spec`` dict (``kind``, ``obs_dim``, ``n_actions`` or
``act_dim``, ``hidden``) so a checkpoint can rebuild them without pickled code.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Normal

from abmm.policy.numpy_net import NumpyActorCritic


def mlp(sizes: list[int], out_gain: float = 1.0) -> nn.Sequential:
    """A tanh MLP with orthogonal initial weights (``out_gain`` on the last layer)."""
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
    """Actor (categorical or diagonal Gaussian) and critic MLPs for PPO."""

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
        """The action distribution at ``obs``."""
        out = self.actor(obs)
        if self.discrete:
            return Categorical(logits=out)
        return Normal(out, self.log_std.exp().expand_as(out))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """The critic's value at ``obs``."""
        return self.critic(obs).squeeze(-1)

    def log_prob(self, dist, action: torch.Tensor) -> torch.Tensor:
        """Log-probability of ``action`` (summed over a box's dimensions)."""
        return dist.log_prob(action) if self.discrete else dist.log_prob(action).sum(-1)

    def entropy(self, dist) -> torch.Tensor:
        """Entropy of ``dist`` (summed over a box's dimensions)."""
        return dist.entropy() if self.discrete else dist.entropy().sum(-1)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> np.ndarray:
        """The deterministic action (the most likely one, or the mean clipped to the box).
        Exploration samples come from ``abmm.policy.NumpyActorCritic.sample``."""
        d = self.dist(obs)
        if self.discrete:
            return d.probs.argmax(-1).cpu().numpy()
        return torch.max(torch.min(d.mean, self.high), self.low).cpu().numpy()


def numpy_layers(seq: nn.Sequential) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``(w, b)`` float32 layers of an MLP, ``w`` as ``(in, out)`` (``x @ w + b``)."""
    return [(m.weight.detach().cpu().numpy().T.astype(np.float32),
             m.bias.detach().cpu().numpy().astype(np.float32))
            for m in seq if isinstance(m, nn.Linear)]


def numpy_actor_critic(net: ActorCritic) -> NumpyActorCritic:
    """A numpy copy of ``net``'s current weights (rebuild it after they change)."""
    log_std = net.log_std.detach().cpu().numpy().astype(np.float64) if not net.discrete \
        else None
    return NumpyActorCritic(numpy_layers(net.actor), numpy_layers(net.critic),
                            net.spec["action"], log_std)


class QNet(nn.Module):
    """The Q-network of DQN: an MLP from observations to one value per action."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (64, 64)):
        super().__init__()
        self.spec = {"kind": "qnet", "obs_dim": int(obs_dim), "action": {"discrete": n_actions},
                     "hidden": list(hidden)}
        self.q = mlp([obs_dim, *hidden, n_actions], 1.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values of ``obs``."""
        return self.q(obs)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = True, generator=None) -> np.ndarray:
        """The greedy action (largest Q-value)."""
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

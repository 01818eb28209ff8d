"""Policy and value networks (torch): an actor-critic for PPO and a Q-network for DQN.

``ActorCritic`` has a categorical head for ``Discrete(n)`` actions or a diagonal Gaussian head
(state-independent log-std) for ``Box`` actions; ``act(obs)`` returns its deterministic action
for the environment. Acting during training goes through a numpy copy
(``numpy_actor_critic(net)``: an ``abmm.policy.NumpyActorCritic``), as acting with a saved
policy does.
Networks are described by a small ``spec`` dict (``kind``, ``obs_dim``, ``n_actions`` or
``act_dim``, ``hidden``, and ``encoder`` for a sequence encoder) so a checkpoint can rebuild
them without pickled code.

Sequence encoders (``encoder`` spec, ``abmm.policy.sequence`` documents it and holds their
numpy forward passes): ``Conv1dEncoder`` and ``GRUEncoder`` read ``(n, window, obs_dim)``
windows of observations (oldest first); the actor and critic heads (or the Q head) are MLPs on
their output, one encoder shared by both heads. Without an encoder (the default) a network is
exactly the plain MLP it always was.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Normal

from abmm.policy.numpy_net import NumpyActorCritic
from abmm.policy.sequence import build_encoder, encoder_out_dim


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


class Conv1dEncoder(nn.Module):
    """Valid 1-D convolutions over time (the features as channels), ReLU after each, the
    output flattened time-major: ``(n, W, F) -> (n, W' * C)``. The weights are
    ``torch.nn.Conv1d``'s (``convs``); a test checks the result against ``Conv1d`` itself."""

    def __init__(self, spec: dict, obs_dim: int):
        super().__init__()
        self.spec = spec
        convs, c_in = [], int(obs_dim)
        for c in spec["channels"]:
            conv = nn.Conv1d(c_in, c, spec["kernel"])
            nn.init.orthogonal_(conv.weight, float(np.sqrt(2)))
            nn.init.zeros_(conv.bias)
            convs.append(conv)
            c_in = c
        self.convs = nn.ModuleList(convs)
        self.out_dim = encoder_out_dim(spec, obs_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, W, F)`` windows -> ``(n, W' * C)`` features."""
        # each convolution as one matrix product over the unfolded windows, (n, L, C_in * K)
        # (torch's Conv1d on CPU costs ~35 ms a step on these tiny inputs, this ~0.1 ms);
        # the same arithmetic as abmm.policy.sequence.Conv1dEncoder
        for conv in self.convs:
            u = x.unfold(1, conv.kernel_size[0], 1)  # (n, L, C_in, K)
            x = torch.relu(nn.functional.linear(u.reshape(u.shape[0], u.shape[1], -1),
                                                conv.weight.reshape(conv.out_channels, -1),
                                                conv.bias))
        return x.flatten(1)  # (n, W', C) time-major

    def numpy_arrays(self) -> dict[str, np.ndarray]:
        """The weights keyed as ``abmm.policy.sequence.encoder_arrays`` names them."""
        out = {}
        for i, conv in enumerate(self.convs):
            out[f"conv/{i}/w"] = _f32(conv.weight)
            out[f"conv/{i}/b"] = _f32(conv.bias)
        return out


class GRUEncoder(nn.Module):
    """A GRU over the window from a zero state: ``(n, W, F) -> (n, H)``, the last layer's
    final hidden state."""

    def __init__(self, spec: dict, obs_dim: int):
        super().__init__()
        self.spec = spec
        self.gru = nn.GRU(int(obs_dim), spec["hidden"], num_layers=spec["layers"],
                          batch_first=True)
        self.out_dim = encoder_out_dim(spec, obs_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, W, F)`` windows -> ``(n, H)``: the last layer's final hidden state."""
        return self.gru(x)[1][-1]

    def numpy_arrays(self) -> dict[str, np.ndarray]:
        """The weights keyed as ``abmm.policy.sequence.encoder_arrays`` names them."""
        out = {}
        for i in range(self.spec["layers"]):
            for k, attr in (("w_ih", "weight_ih"), ("w_hh", "weight_hh"), ("b_ih", "bias_ih"),
                            ("b_hh", "bias_hh")):
                out[f"gru/{i}/{k}"] = _f32(getattr(self.gru, f"{attr}_l{i}"))
        return out


def _f32(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def make_encoder(spec: dict | None, obs_dim: int) -> nn.Module | None:
    """The torch encoder of an ``encoder`` spec (``None``: no encoder, the plain MLP)."""
    if spec is None:
        return None
    if spec["type"] == "conv1d":
        return Conv1dEncoder(spec, obs_dim)
    if spec["type"] == "gru":
        return GRUEncoder(spec, obs_dim)
    raise ValueError(f"unknown encoder type {spec['type']!r} (expected conv1d or gru)")


def numpy_encoder(enc: nn.Module | None):
    """The numpy copy (``abmm.policy.sequence``) of a torch encoder, built from the same arrays
    a policy file holds (so both give the same bits)."""
    if enc is None:
        return None
    return build_encoder(enc.spec, _obs_dim(enc), enc.numpy_arrays())


def _obs_dim(enc: nn.Module) -> int:
    return enc.convs[0].in_channels if isinstance(enc, Conv1dEncoder) else enc.gru.input_size


class ActorCritic(nn.Module):
    """Actor (categorical or diagonal Gaussian) and critic MLPs for PPO, optionally after a
    shared sequence encoder (then observations are ``(n, window, obs_dim)`` windows)."""

    def __init__(self, obs_dim: int, action: dict, hidden: tuple[int, ...] = (64, 64),
                 init_log_std: float = -0.5, encoder: dict | None = None):
        super().__init__()
        self.spec = {"kind": "actor_critic", "obs_dim": int(obs_dim), "action": action,
                     "hidden": list(hidden), "init_log_std": init_log_std}
        if encoder is not None:
            self.spec["encoder"] = encoder
        self.encoder = make_encoder(encoder, obs_dim)
        h = list(hidden)
        head_in = int(obs_dim) if self.encoder is None else self.encoder.out_dim
        self.critic = mlp([head_in, *h, 1], 1.0)
        self.discrete = "discrete" in action
        if self.discrete:
            self.actor = mlp([head_in, *h, action["discrete"]], 0.01)
        else:
            d = action["box"]
            self.actor = mlp([head_in, *h, d], 0.01)
            self.log_std = nn.Parameter(torch.full((d,), float(init_log_std)))
            self.register_buffer("low", torch.tensor(action["low"], dtype=torch.float32))
            self.register_buffer("high", torch.tensor(action["high"], dtype=torch.float32))

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """What the heads read: ``obs``, or its windows encoded."""
        return obs if self.encoder is None else self.encoder(obs)

    def dist(self, obs: torch.Tensor):
        """The action distribution at ``obs``."""
        return self.dist_of(self.features(obs))

    def dist_of(self, feats: torch.Tensor):
        """The action distribution of encoded observations (``features``)."""
        out = self.actor(feats)
        if self.discrete:
            return Categorical(logits=out)
        return Normal(out, self.log_std.exp().expand_as(out))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """The critic's value at ``obs``."""
        return self.critic(self.features(obs)).squeeze(-1)

    def value_of(self, feats: torch.Tensor) -> torch.Tensor:
        """The critic's value of encoded observations (``features``)."""
        return self.critic(feats).squeeze(-1)

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
                            net.spec["action"], log_std, encoder=numpy_encoder(net.encoder))


class QNet(nn.Module):
    """The Q-network of DQN: an MLP from observations to one value per action, optionally
    after a sequence encoder (then observations are ``(n, window, obs_dim)`` windows)."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (64, 64),
                 encoder: dict | None = None):
        super().__init__()
        self.spec = {"kind": "qnet", "obs_dim": int(obs_dim), "action": {"discrete": n_actions},
                     "hidden": list(hidden)}
        if encoder is not None:
            self.spec["encoder"] = encoder
        self.encoder = make_encoder(encoder, obs_dim)
        head_in = int(obs_dim) if self.encoder is None else self.encoder.out_dim
        self.q = mlp([head_in, *hidden, n_actions], 1.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values of ``obs``."""
        return self.q(obs if self.encoder is None else self.encoder(obs))

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = True, generator=None) -> np.ndarray:
        """The greedy action (largest Q-value)."""
        return self(obs).argmax(-1).cpu().numpy()


def build(spec: dict) -> nn.Module:
    """Rebuild a network from its ``spec`` (as stored in a checkpoint)."""
    kind = spec.get("kind")
    if kind == "actor_critic":
        return ActorCritic(spec["obs_dim"], spec["action"], tuple(spec["hidden"]),
                           spec.get("init_log_std", -0.5), spec.get("encoder"))
    if kind == "qnet":
        return QNet(spec["obs_dim"], spec["action"]["discrete"], tuple(spec["hidden"]),
                    spec.get("encoder"))
    raise ValueError(f"unknown network kind {kind!r} (expected 'actor_critic' or 'qnet')")

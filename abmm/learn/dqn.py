"""Deep Q-learning (Mnih et al. 2015) with Double-DQN targets (van Hasselt et al. 2016), for
``Discrete`` action spaces: epsilon-greedy exploration decaying linearly, uniform replay, Huber
loss, a target network copied every ``target_every`` gradient steps.

With a sequence ``encoder`` (``abmm.learn.nets``) the Q-network reads each stream's last
``window`` observations (``act(obs, keys=...)`` keeps the windows, as ``abmm.learn.ppo.PPO``
does); the replay stores each transition's raw window and the next observation (the next
window is the window shifted by one), normalized when sampled: ``buffer * (window + 1) *
obs_dim`` float32 values.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from abmm.learn.buffers import Replay
from abmm.learn.nets import QNet
from abmm.learn.normalize import RunningNorm
from abmm.policy.sequence import Windows


class DQN:
    """Double DQN with epsilon-greedy exploration and uniform replay."""
    algo = "dqn"

    def __init__(self, obs_dim: int, action_space, lr: float = 5e-4, gamma: float = 0.99,
                 buffer: int = 100_000, batch: int = 128, learning_starts: int = 1000,
                 train_every: int = 4, target_every: int = 500, eps_start: float = 1.0,
                 eps_end: float = 0.05, eps_decay_steps: int = 20_000, hidden=(64, 64),
                 normalize_obs: bool = True, seed: int = 0, device: str = "cpu",
                 encoder: dict | None = None):
        if not hasattr(action_space, "n"):
            raise ValueError("DQN needs a Discrete action space (use action_mode='discrete')")
        self.n_actions = int(action_space.n)
        self.device = torch.device(device)
        with torch.random.fork_rng(devices=[]):  # initial weights from the seed alone
            torch.manual_seed(seed)
            self.q = QNet(obs_dim, self.n_actions, tuple(hidden), encoder).to(self.device)
        self.window = 1 if encoder is None else int(encoder["window"])
        self.windows = Windows(self.window, obs_dim) if self.window > 1 else None
        self.target = copy.deepcopy(self.q)
        self.opt = torch.optim.Adam(self.q.parameters(), lr=lr)
        self.hp = dict(lr=lr, gamma=gamma, batch=batch, learning_starts=learning_starts,
                       train_every=train_every, target_every=target_every, eps_start=eps_start,
                       eps_end=eps_end, eps_decay_steps=eps_decay_steps)
        self.replay = Replay(buffer, obs_dim, seed, window=self.window)
        self.norm = RunningNorm((obs_dim,)) if normalize_obs else None
        self.rng = np.random.default_rng(seed + 1)
        self.steps = 0
        self.grad_steps = 0
        self._pending: dict = {}
        self._losses: list = []

    @property
    def epsilon(self) -> float:
        """The exploration rate now (linear decay)."""
        hp = self.hp
        f = min(1.0, self.steps / max(hp["eps_decay_steps"], 1))
        return hp["eps_start"] + f * (hp["eps_end"] - hp["eps_start"])

    def _n(self, obs):
        obs = np.asarray(obs, np.float32)
        return obs if self.norm is None else self.norm.normalize(obs)

    def frozen(self):
        """The greedy policy of the current weights, torch-free (``abmm.policy.QNetPolicy``)."""
        from abmm.learn.export import frozen_policy

        return frozen_policy(self.policy_state())

    def clear_windows(self) -> None:
        """Forget every stream's observation window (a new episode)."""
        if self.windows is not None:
            self.windows.clear()

    def act(self, obs: np.ndarray, explore: bool = True, keys=None):
        """Epsilon-greedy actions while exploring (and what ``record`` needs); without
        exploration the greedy ones, computed as a saved policy computes them. ``keys`` names
        the stream (agent) of each row, for a sequence encoder's windows (default row ``i`` is
        stream ``i``)."""
        obs = np.asarray(obs, np.float32)
        if self.norm is not None and explore:
            self.norm.update(obs)
        if self.windows is not None:
            obs = self.windows.push(obs, keys)  # raw windows
        if not explore:
            return self.frozen()(obs), None
        with torch.no_grad():
            greedy = self.q(torch.as_tensor(self._n(obs), device=self.device)).argmax(-1)
        a = greedy.cpu().numpy()
        rand = self.rng.random(len(a)) < self.epsilon
        a = np.where(rand, self.rng.integers(0, self.n_actions, len(a)), a)
        return a, (obs, a)

    def record(self, key, aux, reward: float, i: int) -> None:
        """Record the reward of row ``i`` of the last ``act`` for stream ``key``; learn every
        ``train_every`` steps."""
        obs, a = aux
        prev = self._pending.pop(key, None)
        if prev is not None:  # the previous step's next observation is this one
            self.replay.add(prev[0], prev[1], prev[2],
                            obs[i] if self.windows is None else obs[i][-1], 0.0)
        self._pending[key] = (obs[i], a[i], reward)
        self.steps += 1
        if self.steps % self.hp["train_every"] == 0:
            self._learn()

    def finish_episode(self, key, last_obs, terminated: bool) -> None:
        """Close stream ``key``'s last transition at the episode's end."""
        prev = self._pending.pop(key, None)
        if self.windows is not None:
            self.windows.drop(key)
        if prev is not None:
            last = prev[0] if self.windows is None else prev[0][-1]
            nxt = last if last_obs is None else np.asarray(last_obs, np.float32)
            self.replay.add(prev[0], prev[1], prev[2], nxt, 1.0 if terminated else 0.0)

    def _learn(self) -> None:
        hp = self.hp
        if self.replay.size < max(hp["learning_starts"], hp["batch"]):
            return
        o, a, r, o2, d = self.replay.sample(hp["batch"])
        dev = self.device
        o, o2 = torch.as_tensor(self._n(o), device=dev), torch.as_tensor(self._n(o2), device=dev)
        a = torch.as_tensor(a, device=dev)
        r, d = torch.as_tensor(r, device=dev), torch.as_tensor(d, device=dev)
        with torch.no_grad():
            best = self.q(o2).argmax(-1, keepdim=True)
            target = r + hp["gamma"] * (1 - d) * self.target(o2).gather(1, best).squeeze(1)
        q = self.q(o).gather(1, a[:, None]).squeeze(1)
        loss = F.smooth_l1_loss(q, target)
        self.opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.q.parameters(), 10.0)
        self.opt.step()
        self.grad_steps += 1
        self._losses.append(float(loss.detach()))
        if self.grad_steps % hp["target_every"] == 0:
            self.target.load_state_dict(self.q.state_dict())

    def update(self) -> dict:
        """Statistics since the last call (DQN learns online)."""
        losses, self._losses = self._losses, []
        return {"td_loss": float(np.mean(losses)) if losses else float("nan"),
                "epsilon": self.epsilon, "replay": self.replay.size,
                "grad_steps": self.grad_steps}

    def state_dict(self) -> dict:
        """Everything needed to resume exactly."""
        return {"q": self.q.state_dict(), "target": self.target.state_dict(),
                "opt": self.opt.state_dict(), "replay": self.replay.state_dict(),
                "norm": None if self.norm is None else self.norm.state_dict(),
                "rng": self.rng.bit_generator.state, "steps": self.steps,
                "grad_steps": self.grad_steps, "hp": dict(self.hp)}

    def load_state_dict(self, d: dict) -> None:
        """Restore ``state_dict()``."""
        self.q.load_state_dict(d["q"])
        self.target.load_state_dict(d["target"])
        self.opt.load_state_dict(d["opt"])
        self.replay.load_state_dict(d["replay"])
        if self.norm is not None and d.get("norm") is not None:
            self.norm.load_state_dict(d["norm"])
        self.rng.bit_generator.state = d["rng"]
        self.steps, self.grad_steps = int(d["steps"]), int(d["grad_steps"])

    def policy_state(self) -> dict:
        """A snapshot for acting: network spec, weights, normalizer."""
        return {"algo": self.algo, "spec": self.q.spec,
                "weights": {k: v.detach().cpu().clone() for k, v in self.q.state_dict().items()},
                "norm": None if self.norm is None else self.norm.state_dict()}

"""Proximal policy optimization (Schulman et al. 2017), clipped surrogate, with GAE.

The loss pieces are plain functions of tensors (tested on fixed values)::

    ratio      = exp(logp_new - logp_old)
    policy     = -mean(min(ratio A, clip(ratio, 1 - eps, 1 + eps) A))
    value      = 0.5 mean((V - R)^2)      (or clipped around the old values)
    total      = policy + vf_coef value - ent_coef entropy

``PPO`` keeps one actor-critic, its Adam optimizer and an observation normalizer; it is fed
whole episodes (``record`` per step for each of its agent streams, ``finish_episode``), then
``update`` runs ``epochs`` passes of minibatch gradient steps over everything collected.

With a sequence ``encoder`` (``abmm.learn.nets``; ``{"type": "gru", "window": W, ...}``) the
network reads each stream's last ``W`` observations: ``act(obs, keys=...)`` appends each row to
its stream's window (``abmm.policy.sequence.Windows``, zero-padded at an episode's start,
dropped at ``finish_episode``), the normalizer is updated with the new observations and applied
to every row of the windows, and the rollout stores the normalized windows.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from abmm.learn.buffers import gae
from abmm.learn.nets import ActorCritic, numpy_actor_critic, space_spec
from abmm.learn.normalize import RunningNorm
from abmm.policy.numpy_net import NumpyActorCritic
from abmm.policy.sequence import Windows


def policy_loss(logp_new: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor,
                clip: float) -> torch.Tensor:
    """PPO's clipped surrogate loss."""
    ratio = torch.exp(logp_new - logp_old)
    return -torch.min(ratio * adv, torch.clamp(ratio, 1 - clip, 1 + clip) * adv).mean()


def value_loss(v_new: torch.Tensor, returns: torch.Tensor, v_old: torch.Tensor | None = None,
               clip: float | None = None) -> torch.Tensor:
    """The value loss, optionally clipped around the old values."""
    if clip is None or v_old is None:
        return 0.5 * ((v_new - returns) ** 2).mean()
    v_clip = v_old + torch.clamp(v_new - v_old, -clip, clip)
    return 0.5 * torch.max((v_new - returns) ** 2, (v_clip - returns) ** 2).mean()


def approx_kl(logp_new: torch.Tensor, logp_old: torch.Tensor) -> torch.Tensor:
    """The low-variance KL estimate ``mean((r - 1) - log r)`` (Schulman 2020)."""
    log_ratio = logp_new - logp_old
    return ((log_ratio.exp() - 1) - log_ratio).mean()


class PPO:
    """Proximal policy optimization (clipped) with GAE and observation normalization."""
    algo = "ppo"

    def __init__(self, obs_dim: int, action_space, lr: float = 3e-4, gamma: float = 0.99,
                 lam: float = 0.95, clip: float = 0.2, epochs: int = 4, minibatch: int = 256,
                 vf_coef: float = 0.5, ent_coef: float = 0.0, max_grad_norm: float = 0.5,
                 hidden=(64, 64), init_log_std: float = -0.5, normalize_obs: bool = True,
                 normalize_reward: bool = True, seed: int = 0, device: str = "cpu",
                 encoder: dict | None = None):
        self.device = torch.device(device)
        with torch.random.fork_rng(devices=[]):  # initial weights from the seed alone
            torch.manual_seed(seed)
            self.net = ActorCritic(obs_dim, space_spec(action_space), tuple(hidden),
                                   init_log_std, encoder).to(self.device)
        self.window = 1 if encoder is None else int(encoder["window"])
        self.windows = Windows(self.window, obs_dim) if self.window > 1 else None
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr, eps=1e-5)
        self.hp = dict(lr=lr, gamma=gamma, lam=lam, clip=clip, epochs=epochs,
                       minibatch=minibatch, vf_coef=vf_coef, ent_coef=ent_coef,
                       max_grad_norm=max_grad_norm)
        self.norm = RunningNorm((obs_dim,)) if normalize_obs else None
        # rewards are divided by the running std of the discounted return (as SB3's
        # VecNormalize does), so the value loss stays O(1) whatever the reward's scale
        self.ret_norm = RunningNorm((), clip=1e9) if normalize_reward else None
        self._ret: dict = {}
        # exploration draws (acting runs on a numpy copy of the network, ``NumpyActorCritic``)
        self.act_rng = np.random.default_rng([seed, 1])
        self.np_rng = np.random.default_rng(seed)  # minibatch order
        self._fast: NumpyActorCritic | None = None
        self._streams: dict = {}
        self._done: list = []

    # -------------------------------------------------------------------------- acting
    def _prep(self, obs: np.ndarray, update_norm: bool, keys=None) -> np.ndarray:
        obs = np.asarray(obs, np.float32)
        if self.norm is not None and update_norm:
            self.norm.update(obs)
        if self.windows is not None and obs.ndim == 2:
            obs = self.windows.push(obs, keys)
        if self.norm is not None:
            obs = self.norm.normalize(obs)
        return obs

    def clear_windows(self) -> None:
        """Forget every stream's observation window (a new episode)."""
        if self.windows is not None:
            self.windows.clear()

    @property
    def fast(self) -> NumpyActorCritic:
        """The numpy copy of the current network that acting uses."""
        if self._fast is None:
            self._fast = numpy_actor_critic(self.net)
        return self._fast

    def act(self, obs: np.ndarray, explore: bool = True, keys=None):
        """Actions for a batch of observations, and what ``record`` needs; ``keys`` names the
        stream (agent) of each row, for a sequence encoder's windows (default row ``i`` is
        stream ``i``)."""
        x = self._prep(obs, update_norm=explore, keys=keys)
        if not explore:
            return self.fast.act(x), None
        a, logp, v = self.fast.sample(x, self.act_rng)
        return self.fast.to_env(a), (x, a, logp, v)

    def value_of(self, obs: np.ndarray) -> np.ndarray:
        """The critic's value of a batch of observations (``(n, window, obs_dim)`` windows
        with a sequence encoder)."""
        return self.fast.value(self._prep(obs, update_norm=False))

    def record(self, key, aux, reward: float, i: int) -> None:
        """One step of stream ``key`` (an agent): ``aux`` from ``act`` for row ``i``."""
        x, a, logp, v = aux
        if self.ret_norm is not None:
            g = self._ret.get(key, 0.0) * self.hp["gamma"] + reward
            self._ret[key] = g
            self.ret_norm.update(np.array([g]))
            reward = reward / math.sqrt(float(self.ret_norm.var) + 1e-8)
        s = self._streams.setdefault(key, {"obs": [], "act": [], "logp": [], "val": [],
                                           "rew": []})
        s["obs"].append(x[i])
        s["act"].append(a[i])
        s["logp"].append(logp[i])
        s["val"].append(v[i])
        s["rew"].append(reward)

    def finish_episode(self, key, last_obs: np.ndarray | None, terminated: bool) -> None:
        """Close stream ``key``'s episode: GAE with no bootstrap when terminated, else
        bootstrapped with ``V(last_obs)``."""
        s = self._streams.pop(key, None)
        self._ret.pop(key, None)
        if self.windows is not None:
            if not terminated and last_obs is not None:
                last_obs = self.windows.peek(key, last_obs)
            self.windows.drop(key)
        if not s or not s["rew"]:
            return
        last_v = 0.0 if terminated or last_obs is None else float(
            self.value_of(last_obs[None])[0])
        dones = np.zeros(len(s["rew"]))
        adv, ret = gae(s["rew"], s["val"], dones, last_v, self.hp["gamma"], self.hp["lam"])
        self._done.append({"obs": np.asarray(s["obs"], np.float32),
                           "act": np.asarray(s["act"]), "logp": np.asarray(s["logp"], np.float32),
                           "val": np.asarray(s["val"], np.float32), "adv": adv, "ret": ret})

    # -------------------------------------------------------------------------- learning
    def update(self) -> dict:
        """Learn from the finished episodes; returns the loss statistics."""
        if not self._done:
            return {}
        b = {k: np.concatenate([d[k] for d in self._done]) for k in self._done[0]}
        self._done = []
        dev = self.device
        obs = torch.as_tensor(b["obs"], device=dev)
        act = torch.as_tensor(b["act"], device=dev)
        logp_old = torch.as_tensor(b["logp"], device=dev)
        adv = torch.as_tensor(b["adv"], device=dev)
        ret = torch.as_tensor(b["ret"], device=dev)
        n = len(obs)
        hp = self.hp
        mb = min(hp["minibatch"], n)
        stats = {"pg_loss": 0.0, "v_loss": 0.0, "entropy": 0.0, "approx_kl": 0.0, "batches": 0}
        for _ in range(hp["epochs"]):
            perm = torch.as_tensor(self.np_rng.permutation(n), device=dev)
            for start in range(0, n, mb):
                idx = perm[start:start + mb]
                feats = self.net.features(obs[idx])  # the encoder once for both heads
                d = self.net.dist_of(feats)
                logp = self.net.log_prob(d, act[idx])
                a_mb = adv[idx]
                if len(idx) > 1:
                    a_mb = (a_mb - a_mb.mean()) / (a_mb.std() + 1e-8)
                pg = policy_loss(logp, logp_old[idx], a_mb, hp["clip"])
                vl = value_loss(self.net.value_of(feats), ret[idx])
                ent = self.net.entropy(d).mean()
                loss = pg + hp["vf_coef"] * vl - hp["ent_coef"] * ent
                self.opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), hp["max_grad_norm"])
                self.opt.step()
                with torch.no_grad():
                    stats["pg_loss"] += float(pg)
                    stats["v_loss"] += float(vl)
                    stats["entropy"] += float(ent)
                    stats["approx_kl"] += float(approx_kl(logp, logp_old[idx]))
                    stats["batches"] += 1
        self._fast = None  # the weights changed
        k = max(stats.pop("batches"), 1)
        out = {key: v / k for key, v in stats.items()}
        out["samples"] = n
        out["explained_var"] = float(1 - np.var(b["ret"] - b["val"]) / (np.var(b["ret"]) + 1e-12))
        return out

    # -------------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Everything needed to resume exactly."""
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict(),
                "norm": None if self.norm is None else self.norm.state_dict(),
                "ret_norm": None if self.ret_norm is None else self.ret_norm.state_dict(),
                "act_rng": self.act_rng.bit_generator.state, "np_rng": self.np_rng.bit_generator.state,
                "hp": dict(self.hp)}

    def load_state_dict(self, d: dict) -> None:
        """Restore ``state_dict()``."""
        self.net.load_state_dict(d["net"])
        self.opt.load_state_dict(d["opt"])
        if self.norm is not None and d.get("norm") is not None:
            self.norm.load_state_dict(d["norm"])
        if self.ret_norm is not None and d.get("ret_norm") is not None:
            self.ret_norm.load_state_dict(d["ret_norm"])
        self._fast = None
        if "act_rng" in d:  # (checkpoints before numpy acting drew exploration with torch)
            self.act_rng.bit_generator.state = d["act_rng"]
        self.np_rng.bit_generator.state = d["np_rng"]

    # -------------------------------------------------------------------------- rollouts
    def acting_state(self) -> dict:
        """What a rollout worker needs to act and record as this learner does now: the
        weights and both normalizers (``load_acting_state``)."""
        return {"net": {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()},
                "norm": None if self.norm is None else self.norm.state_dict(),
                "ret_norm": None if self.ret_norm is None else self.ret_norm.state_dict()}

    def load_acting_state(self, st: dict, act_seed) -> None:
        """Become a rollout copy of ``acting_state()``'s learner, exploring with the stream
        ``act_seed``; nothing recorded yet."""
        self.net.load_state_dict(st["net"])
        self._fast = None
        if self.norm is not None:
            self.norm.load_state_dict(st["norm"])
        if self.ret_norm is not None:
            self.ret_norm.load_state_dict(st["ret_norm"])
        self.act_rng = np.random.default_rng(act_seed)
        self._streams, self._ret, self._done = {}, {}, []

    def take_rollout(self, before: dict) -> dict:
        """The finished episodes recorded since ``load_acting_state(before)`` and what the
        normalizers learned from them, for ``merge_rollout`` in the learner."""
        out = {"done": self._done,
               "norm": None if self.norm is None else self.norm.delta_since(before["norm"]),
               "ret_norm": None if self.ret_norm is None
               else self.ret_norm.delta_since(before["ret_norm"])}
        self._done = []
        return out

    def merge_rollout(self, r: dict) -> None:
        """Add a worker's ``take_rollout()`` (episodes for the next ``update``, normalizer
        statistics)."""
        self._done.extend(r["done"])
        if self.norm is not None and r["norm"] is not None:
            self.norm.merge(*r["norm"])
        if self.ret_norm is not None and r["ret_norm"] is not None:
            self.ret_norm.merge(*r["ret_norm"])

    def policy_state(self) -> dict:
        """What acting needs (network spec and weights, normalizer): a snapshot."""
        return {"algo": self.algo, "spec": self.net.spec,
                "weights": {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()},
                "norm": None if self.norm is None else self.norm.state_dict()}

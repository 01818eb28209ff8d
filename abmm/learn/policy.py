"""Acting with a saved policy: ``FrozenPolicy`` (one learner's snapshot) and policy files.

A *policy file* (``abmm train`` writes ``policy.pt``; ``policies/mm_coevolved.pt`` ships one)
is a checkpoint (``abmm.learn.checkpoint``) of kind ``"policy"`` holding ``policies``
(``{learner name: snapshot}``), the environment it was trained in (``env``: kind and
arguments) and the config hash. A snapshot is what ``PPO/DQN/TabularQ.policy_state()`` returns:
the algorithm, the network spec and weights (or the Q table) and the observation normalizer.
Acting is deterministic: the mean (Gaussian) or the most likely action (categorical, Q).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from abmm.learn import checkpoint as ckpt
from abmm.learn.nets import NumpyActorCritic, build
from abmm.learn.normalize import RunningNorm


class FrozenPolicy:
    """A snapshot that acts: ``policy(obs_batch) -> actions`` (no learning, no exploration)."""

    def __init__(self, state: dict):
        self.algo = state["algo"]
        self.norm = None
        if self.algo == "tabular":
            from abmm.learn.tabular import TabularQ

            Q = np.asarray(state["Q"])
            self._tab = TabularQ.__new__(TabularQ)
            self._tab.bins = {int(k): np.asarray(v, np.float64) for k, v in state["bins"].items()}
            self._tab.features = sorted(self._tab.bins)
            self._tab.sizes = [len(self._tab.bins[k]) + 1 for k in self._tab.features]
            self.Q = Q
            return
        self.net = build(state["spec"])
        weights = {k: torch.as_tensor(v) for k, v in state["weights"].items()}
        self.net.load_state_dict(weights)
        self.net.eval()
        if state.get("norm") is not None:
            n = state["norm"]
            self.norm = RunningNorm((len(n["mean"]),))
            self.norm.load_state_dict(n)
        self.obs_dim = state["spec"]["obs_dim"]
        self.fast = NumpyActorCritic(self.net) if state["spec"]["kind"] == "actor_critic" \
            else None

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        obs = np.atleast_2d(np.asarray(obs, np.float32))
        if self.algo == "tabular":
            return self.Q[self._tab.state(obs)].argmax(axis=1)
        if self.norm is not None:
            obs = self.norm.normalize(obs)
        if self.fast is not None:
            return self.fast.act(obs)
        with torch.no_grad():
            return self.net.act(torch.as_tensor(obs), deterministic=True)


def policy_payload(policies: dict, env: dict, config_hash: str, meta: dict | None = None) -> dict:
    return {"kind": "policy", "policies": policies, "env": env, "config_hash": config_hash,
            "meta": meta or {}}


def load_policy_file(path) -> dict:
    """A policy file's payload; a training checkpoint also works (its latest policies)."""
    p = ckpt.load(path)
    if p.get("kind") == "training":
        return policy_payload({k: v["policy"] for k, v in p["learners"].items()},
                              p["env"], p["config_hash"], {"update": p["update"]})
    if p.get("kind") != "policy":
        raise ckpt.CheckpointError(f"{path}: a checkpoint of kind {p.get('kind')!r}, not a "
                                   "policy")
    return p


def load_policies(path) -> tuple[dict[str, FrozenPolicy], dict]:
    """``({learner name: FrozenPolicy}, payload)`` of a policy file or training checkpoint."""
    payload = load_policy_file(Path(path))
    return {k: FrozenPolicy(v) for k, v in payload["policies"].items()}, payload

"""Acting with a saved policy: ``FrozenPolicy`` (one learner's snapshot) and policy files.

A *torch policy file* (``abmm train`` writes ``policy.pt``) is a checkpoint
(``abmm.learn.checkpoint``) of kind ``"policy"`` holding ``policies`` (``{learner name:
snapshot}``), the environment it was trained in (``env``: kind, arguments, ``policy_config``)
and the config hash. A snapshot is what ``PPO/DQN/TabularQ.policy_state()`` returns: the
algorithm, the network spec and weights (or the Q table) and the observation normalizer.
The torch-free ``.npz`` policy file (``abmm.policy.file``; ``abmm export``) holds the same.

Torch is imported only to read torch files: a ``.npz`` policy is loaded and evaluated in an
install without torch. Acting is torch-free and deterministic either way: snapshots are turned into
``abmm.policy`` policies (numpy inference), the mean (Gaussian) or the most likely action
(categorical, Q).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from abmm.policy.base import Policy
from abmm.policy.file import load_policy
from abmm.resources import policy_path

__all__ = ["FrozenPolicy", "policy_payload", "load_policy_file", "load_policies"]


class FrozenPolicy:
    """A snapshot that acts: ``policy(obs_batch) -> actions`` (no learning, no exploration),
    through ``abmm.policy``'s numpy inference (``policy``)."""

    def __init__(self, state: dict, policy_config: dict | None = None):
        from abmm.learn.export import frozen_policy  # torch: only for torch snapshots

        self.algo = state["algo"]
        self.policy: Policy = frozen_policy(state, policy_config)
        self.obs_dim = self.policy.obs_dim

    @property
    def window(self) -> int:
        """How many of the latest observations the policy reads (``Policy.window``)."""
        return self.policy.window

    def reset(self) -> None:
        """Forget the observation history (``Policy.reset``)."""
        self.policy.reset()

    def fork(self) -> FrozenPolicy:
        """A copy with its own observation history (``Policy.fork``)."""
        if self.window == 1:
            return self
        import copy

        twin = copy.copy(self)
        twin.policy = self.policy.fork()
        return twin

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic actions for a batch of observations."""
        return self.policy(obs)


def policy_payload(policies: dict, env: dict, config_hash: str, meta: dict | None = None) -> dict:
    """The payload of a torch policy file."""
    return {"kind": "policy", "policies": policies, "env": env, "config_hash": config_hash,
            "meta": meta or {}}


def _is_npz(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"PK"


def load_policy_file(path) -> dict:
    """A torch policy file's payload; a training checkpoint also works (its latest policies).
    A ``.npz`` policy file gives its config (``env``, ``learners``, ``config_hash``, ...)."""
    path = policy_path(path)
    if path.is_file() and _is_npz(path):
        from abmm.policy.file import read_policy_file

        return read_policy_file(path)[0]
    try:
        from abmm.learn import checkpoint as ckpt  # torch: only for torch files
    except ImportError as exc:
        from abmm.errors import AbmmError

        raise AbmmError(f"{path}: a torch policy file needs torch ({exc}); install abmm's 'rl' "
                        "extra (pip install -c constraints.txt 'abmm[rl]') or use its .npz "
                        "export (abmm export)") from None
    p = ckpt.load(path)
    if p.get("kind") == "training":
        return policy_payload({k: v["policy"] for k, v in p["learners"].items()},
                              p["env"], p["config_hash"], {"update": p["update"]})
    if p.get("kind") != "policy":
        raise ckpt.CheckpointError(f"{path}: a checkpoint of kind {p.get('kind')!r}, not a "
                                   "policy")
    return p


def load_policies(path) -> tuple[dict[str, Policy], dict]:
    """``({learner name: policy}, payload)`` of a ``.npz`` policy file, a torch policy file or
    a training checkpoint (a path or a shipped policy's name); the policies act torch-free."""
    path = policy_path(path)
    if path.is_file() and _is_npz(path):
        return load_policy(path)
    payload = load_policy_file(path)
    pc = (payload.get("env") or {}).get("policy_config")
    return {k: FrozenPolicy(v, pc) for k, v in payload["policies"].items()}, payload

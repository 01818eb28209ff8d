"""Export learners to the torch-free policy file (``abmm.policy.file``): ``abmm export
CHECKPOINT OUT.npz [--learner NAME]``, and ``abmm train`` writes ``policy.npz`` itself.

``snapshot_to_arrays`` turns one learner's snapshot (``PPO/DQN/TabularQ.policy_state()``, as a
checkpoint stores it) into a learner config and numpy arrays; every learner kind ``abmm train``
produces is exportable: PPO (actor-critic), DQN (Q-network) and tabular Q.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

import abmm
from abmm.learn.nets import build, numpy_layers
from abmm.policy.file import (
    PolicyFileError,
    build_policy,
    learner_arrays,
    read_policy_file,
    save_policy,
)

__all__ = ["snapshot_to_arrays", "frozen_policy", "export_policy", "export_payload"]


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def snapshot_to_arrays(name: str, state: dict) -> tuple[dict, dict[str, np.ndarray]]:
    """``(learner config, arrays)`` of one learner's snapshot, keyed as ``abmm.policy.file``
    lays them out under ``name``."""
    algo = state["algo"]
    if algo == "tabular":
        bins = {int(k): np.asarray(_np(v), np.float64) for k, v in state["bins"].items()}
        cfg = {"algo": algo, "kind": "tabular", "obs_dim": None, "features": sorted(bins)}
        arrays = {f"{name}/Q": np.asarray(_np(state["Q"]), np.float64)}
        arrays.update({f"{name}/bins/{k}": v for k, v in bins.items()})
        return cfg, arrays
    spec = state["spec"]
    net = build(spec)
    net.load_state_dict({k: torch.as_tensor(v) for k, v in state["weights"].items()})
    norm = state.get("norm")
    cfg = {"algo": algo, "kind": spec["kind"], "obs_dim": int(spec["obs_dim"]),
           "action": spec["action"], "hidden": [int(h) for h in spec["hidden"]],
           "norm": None if norm is None else {"clip": float(norm["clip"]),
                                              "eps": float(norm["eps"]),
                                              "count": float(norm["count"])}}
    arrays: dict[str, np.ndarray] = {}
    if spec.get("encoder") is not None:
        cfg["encoder"] = spec["encoder"]
        arrays.update({f"{name}/encoder/{k}": v for k, v in net.encoder.numpy_arrays().items()})
    heads = {"actor": net.actor, "critic": net.critic} if spec["kind"] == "actor_critic" \
        else {"q": net.q}
    for head, seq in heads.items():
        for i, (w, b) in enumerate(numpy_layers(seq)):
            arrays[f"{name}/{head}/{i}/w"] = w
            arrays[f"{name}/{head}/{i}/b"] = b
    if spec["kind"] == "actor_critic" and not net.discrete:
        arrays[f"{name}/log_std"] = _np(net.log_std).astype(np.float32)
    if norm is not None:
        arrays[f"{name}/norm/mean"] = np.asarray(_np(norm["mean"]), np.float64)
        arrays[f"{name}/norm/var"] = np.asarray(_np(norm["var"]), np.float64)
    return cfg, arrays


def frozen_policy(state: dict, policy_config: dict | None = None, name: str = "learner"):
    """The torch-free ``abmm.policy.Policy`` of a snapshot (what league opponents and
    evaluation act with)."""
    cfg, arrays = snapshot_to_arrays(name, state)
    return build_policy(name, cfg, arrays, policy_config, f"snapshot of {name}")


def export_payload(payload: dict, out, learners: list[str] | None = None,
                   provenance: dict | None = None) -> Path:
    """Write the policies of a policy payload (``abmm.learn.policy.load_policy_file``) to the
    ``.npz`` file ``out``; ``learners`` keeps only those."""
    pols = payload["policies"]
    names = list(pols) if not learners else learners
    unknown = [n for n in names if n not in pols]
    if unknown:
        raise PolicyFileError(f"no learner {unknown} in the checkpoint; it has {sorted(pols)}")
    env = payload.get("env") or {}
    prov = {"exported_by": f"abmm {abmm.__version__}", **(provenance or {})}
    return save_policy(out, {n: snapshot_to_arrays(n, pols[n]) for n in names},
                       {"kind": env.get("kind"), "args": env.get("args", {}),
                        "policy_config": env.get("policy_config", {})},
                       str(payload.get("config_hash", "")), payload.get("meta") or {}, prov)


def export_policy(src, out, learners: list[str] | None = None) -> Path:
    """Export a policy file or training checkpoint ``src`` (``.pt``) to ``out`` (``.npz``);
    ``src`` may also be a ``.npz`` policy file (to keep only some ``learners``)."""
    from abmm.learn.policy import _is_npz, load_policy_file

    src = Path(src)
    if src.is_file() and _is_npz(src):
        config, arrays = read_policy_file(src)
        names = learners or list(config["learners"])
        unknown = [n for n in names if n not in config["learners"]]
        if unknown:
            raise PolicyFileError(f"no learner {unknown} in {src}; it has "
                                  f"{sorted(config['learners'])}")
        data = {n: (config["learners"][n],
                    {k: arrays[k] for k in learner_arrays(n, config["learners"][n])
                     if k in arrays}) for n in names}
        return save_policy(out, data, config["env"], config.get("config_hash", ""),
                           config.get("meta"), config.get("provenance"))
    payload = load_policy_file(src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    return export_payload(payload, out, learners,
                          {"source": src.name, "source_sha256": digest})

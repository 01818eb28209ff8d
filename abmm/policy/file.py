"""The torch-free policy file: a ``.npz`` of weight arrays plus a JSON config, loaded with
``numpy.load(allow_pickle=False)`` -- no torch, no pickled code.

``abmm export`` (``abmm.learn.export``) writes one from a training checkpoint or ``policy.pt``;
``abmm train`` writes ``policy.npz`` beside ``policy.pt``. Layout:

``config``
    a 0-d unicode array holding JSON: ``format`` (``"abmm.policy"``), ``version`` (1, or 2
    or 3 when a learner uses a version-2 or version-3 field below: older abmm then refuses
    the file instead of misreading it),
    ``kind`` (``"policy"``), ``learners`` (``{name: learner config}``), ``env`` (``kind``:
    ``market``, ``execution``, ``model_based`` or ``trading``; ``args``: the environment arguments;
    ``policy_config``: the conventions a policy needs to act elsewhere, for ``market``
    ``decision_ns``, ``action_mode``, ``quote_size``, ``max_size``, ``max_inventory``,
    ``offsets``, ``max_offset``, ``vol_halflife``, ``vpin_bucket``), ``config_hash``, ``meta``
    (training name, updates, steps) and ``provenance`` (source file and its SHA-256, exporter).

A learner config has ``algo`` and ``kind``, and per kind (arrays named ``NAME/...``):

``actor_critic`` (PPO)
    ``obs_dim``, ``action`` (``{"discrete": n}`` or ``{"box": d, "low", "high"}``),
    ``hidden`` (layer widths), ``norm`` (``{"clip", "eps"}`` or null). Arrays
    ``NAME/actor/I/w`` ``(in, out)`` float32 and ``NAME/actor/I/b`` for each layer ``I``, the
    same under ``NAME/critic/``, ``NAME/log_std`` ``(d,)`` for a box, and with a normalizer
    ``NAME/norm/mean`` and ``NAME/norm/var`` ``(obs_dim,)`` float64.
``qnet`` (DQN)
    ``obs_dim``, ``action`` (``{"discrete": n}``), ``hidden``, ``norm``; arrays
    ``NAME/q/I/w``, ``NAME/q/I/b`` and the normalizer's.
``mlp`` (version 2: a deterministic network, e.g. an imported TorchScript file)
    ``obs_dim``, ``action``, ``hidden``, ``norm``; arrays ``NAME/pi/I/w``, ``NAME/pi/I/b``
    and the normalizer's. It acts with the largest output (discrete) or the output clipped to
    the box.
``tabular`` (tabular Q)
    ``obs_dim`` (may be null), ``features`` (the binned feature indices); arrays ``NAME/Q``
    ``(n_states, n_actions)`` and ``NAME/bins/K`` (the edges of feature ``K``).

Version-2 fields of ``actor_critic``, ``qnet`` and ``mlp`` learners (both optional):
``activation`` (the hidden layers' activation: ``tanh``, the default and all version 1 has,
``relu``, ``elu``, ``sigmoid``, ``identity``) and, for ``actor_critic``, ``critic_hidden``
(the critic's layer widths when they differ from ``hidden``). Stable-Baselines3 imports
(``abmm.learn.importers``) use them.

Version-3 field of ``actor_critic`` and ``qnet`` learners: ``encoder``, a sequence encoder
(``abmm.policy.sequence``) the policy reads a window of its last observations through,
``{"type": "conv1d", "window": W, "channels": [C, ...], "kernel": K}`` or ``{"type": "gru",
"window": W, "hidden": H, "layers": L}``. ``obs_dim`` stays the size of one observation; the
arrays ``NAME/encoder/conv/I/w`` ``(C_out, C_in, K)`` and ``NAME/encoder/conv/I/b``, or
``NAME/encoder/gru/I/w_ih`` ``(3H, F or H)``, ``NAME/encoder/gru/I/w_hh`` ``(3H, H)``,
``NAME/encoder/gru/I/b_ih`` and ``NAME/encoder/gru/I/b_hh`` ``(3H,)`` (torch's layouts, float32),
and the heads' first layers take the encoder's output (``W' * C`` or ``H`` values) instead of
``obs_dim``. The normalizer stays per observation (``(obs_dim,)``), applied to every row of the
window. Such a policy keeps each agent's window itself (``Policy.fork``, ``Policy.reset``).

Loading checks everything and raises ``PolicyFileError`` naming the file and the problem: a
missing file, not a zip/npz, no ``config`` (a foreign ``.npz``), a torch checkpoint, a newer
version, missing or unexpected arrays, shapes that disagree with the declared sizes, and
non-finite weights.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from abmm.errors import AbmmError
from abmm.policy.base import ObsNorm, Policy
from abmm.policy.numpy_net import ActorCriticPolicy, MLPPolicy, NumpyActorCritic, QNetPolicy
from abmm.policy.sequence import build_encoder, encoder_arrays, encoder_out_dim, encoder_spec
from abmm.policy.tabular import TabularPolicy
from abmm.schema.files import write_atomic

__all__ = ["FORMAT", "VERSION", "PolicyFileError", "save_policy", "load_policy",
           "read_policy_file", "build_policy", "learner_arrays", "format_version"]

FORMAT = "abmm.policy"
VERSION = 3
_TORCH_MAGIC = b"ABMMCKPT"


class PolicyFileError(AbmmError, ValueError):
    """A policy file that cannot be used: missing, not one, damaged, or inconsistent."""


def _layer_shapes(dims: list[int]) -> list[tuple[tuple[int, int], tuple[int]]]:
    return [((dims[i], dims[i + 1]), (dims[i + 1],)) for i in range(len(dims) - 1)]


def learner_arrays(name: str, cfg: dict) -> dict[str, tuple]:
    """The arrays a learner config declares: ``{key: shape}`` (``None`` for a free length)."""
    kind = cfg.get("kind")
    out: dict[str, tuple] = {}
    if kind in ("actor_critic", "qnet", "mlp"):
        obs_dim, action, hidden = int(cfg["obs_dim"]), cfg["action"], list(cfg["hidden"])
        n_out = int(action["discrete"]) if "discrete" in action else int(action["box"])
        heads = {"actor": (n_out, hidden), "critic": (1, list(cfg.get("critic_hidden")
                                                               or hidden))} \
            if kind == "actor_critic" else {"q" if kind == "qnet" else "pi": (n_out, hidden)}
        enc = _encoder(cfg)
        if enc is not None:
            if kind == "mlp":
                raise ValueError("an mlp learner takes no encoder")
            for k, shape in encoder_arrays(enc, obs_dim).items():
                out[f"{name}/encoder/{k}"] = shape
        head_in = encoder_out_dim(enc, obs_dim)
        for head, (n, widths) in heads.items():
            for i, (ws, bs) in enumerate(_layer_shapes([head_in, *widths, n])):
                out[f"{name}/{head}/{i}/w"] = ws
                out[f"{name}/{head}/{i}/b"] = bs
        if kind == "actor_critic" and "box" in action:
            out[f"{name}/log_std"] = (n_out,)
        if cfg.get("norm") is not None:
            out[f"{name}/norm/mean"] = (obs_dim,)
            out[f"{name}/norm/var"] = (obs_dim,)
        return out
    if kind == "tabular":
        feats = [int(k) for k in cfg["features"]]
        out[f"{name}/Q"] = (None, None)
        for k in feats:
            out[f"{name}/bins/{k}"] = (None,)
        return out
    raise KeyError(f"unknown learner kind {kind!r} (expected actor_critic, qnet, mlp or "
                   "tabular)")


def _encoder(cfg: dict) -> dict | None:
    """The complete encoder spec of a learner config (``None``: none); ``ValueError``."""
    return encoder_spec(cfg.get("encoder"))


def format_version(learners: dict) -> int:
    """The format version a file with these learner configs needs: 3 if one has a sequence
    ``encoder``, 2 if one uses a version-2 kind or field (see the module docstring), else
    1."""
    if any(cfg.get("encoder") is not None for cfg in learners.values()):
        return 3
    for cfg in learners.values():
        if cfg.get("kind") == "mlp" or cfg.get("critic_hidden") is not None \
                or cfg.get("activation", "tanh") != "tanh":
            return 2
    return 1


def build_policy(name: str, cfg: dict, arrays: dict, policy_config: dict | None = None,
                 where: str = "policy") -> Policy:
    """The ``Policy`` of learner ``name`` from its config and arrays (checked: keys, shapes,
    finite values); ``PolicyFileError`` naming ``where`` otherwise."""
    try:
        want = learner_arrays(name, cfg)
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyFileError(f"{where}: learner {name!r}: bad config ({exc})") from None
    missing = sorted(set(want) - set(arrays))
    if missing:
        raise PolicyFileError(f"{where}: learner {name!r}: missing arrays {missing}")
    for key, shape in want.items():
        a = arrays[key]
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            raise PolicyFileError(f"{where}: {key}: expected a float array, got "
                                  f"{getattr(a, 'dtype', type(a).__name__)}")
        if len(shape) != a.ndim or any(s is not None and s != d for s, d in
                                       zip(shape, a.shape, strict=True)):
            raise PolicyFileError(f"{where}: {key} has shape {a.shape}; the config declares "
                                  f"{tuple('*' if s is None else s for s in shape)}")
        if not np.isfinite(a).all():
            raise PolicyFileError(f"{where}: {key} has NaN or infinite values")
    kind = cfg["kind"]
    pc = policy_config or {}
    algo = str(cfg.get("algo", kind))
    act = cfg.get("activation", "tanh")
    norm = None
    if kind in ("actor_critic", "qnet", "mlp") and cfg.get("norm") is not None:
        n = cfg["norm"]
        norm = ObsNorm(arrays[f"{name}/norm/mean"], arrays[f"{name}/norm/var"],
                       n.get("clip", 10.0), n.get("eps", 1e-8))

    encoder = None
    if kind in ("actor_critic", "qnet"):
        spec = _encoder(cfg)
        if spec is not None:
            pre = f"{name}/encoder/"
            encoder = build_encoder(spec, int(cfg["obs_dim"]),
                                    {k[len(pre):]: arrays[k] for k in want if k.startswith(pre)})

    def layers(head):
        i, out = 0, []
        while f"{name}/{head}/{i}/w" in want:
            out.append((arrays[f"{name}/{head}/{i}/w"], arrays[f"{name}/{head}/{i}/b"]))
            i += 1
        return out

    try:
        if kind == "actor_critic":
            action = cfg["action"]
            net = NumpyActorCritic(layers("actor"), layers("critic"), action,
                                   arrays.get(f"{name}/log_std"), act, encoder)
            return ActorCriticPolicy(net, cfg["obs_dim"], action, norm, algo, pc)
        if kind == "qnet":
            return QNetPolicy(layers("q"), cfg["obs_dim"], cfg["action"]["discrete"], norm,
                              algo, pc, act, encoder)
        if kind == "mlp":
            return MLPPolicy(layers("pi"), cfg["obs_dim"], cfg["action"], norm, algo, pc, act)
        bins = {int(k): arrays[f"{name}/bins/{k}"] for k in cfg["features"]}
        return TabularPolicy(arrays[f"{name}/Q"], bins, algo, pc, cfg.get("obs_dim"))
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyFileError(f"{where}: learner {name!r}: {exc}") from None


def _check_config(config: dict, where: str) -> None:
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise PolicyFileError(f"{where}: not an abmm policy file (its config has no "
                              f"format {FORMAT!r})")
    v = config.get("version")
    if not isinstance(v, int) or v < 1:
        raise PolicyFileError(f"{where}: bad format version {v!r}")
    if v > VERSION:
        raise PolicyFileError(f"{where}: format version {v} is newer than this abmm reads "
                              f"({VERSION}); upgrade abmm")
    for key in ("learners", "env"):
        if not isinstance(config.get(key), dict):
            raise PolicyFileError(f"{where}: config lacks {key!r} (a mapping)")
    if not config["learners"]:
        raise PolicyFileError(f"{where}: no learners")


def read_policy_file(path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(config, arrays)`` of a policy file, unchecked beyond being one (see the module
    docstring for the errors)."""
    path = Path(path)
    if not path.is_file():
        raise PolicyFileError(f"{path}: no such policy file")
    with open(path, "rb") as f:
        head = f.read(8)
    if head == _TORCH_MAGIC:
        raise PolicyFileError(f"{path}: a torch checkpoint, not a torch-free policy file; "
                              f"export it: abmm export {path} {path.with_suffix('.npz')}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise PolicyFileError(f"{path}: not a readable .npz policy file "
                              f"({type(exc).__name__}: {exc})") from None
    raw = arrays.pop("config", None)
    if raw is None or raw.shape != () or raw.dtype.kind != "U":
        raise PolicyFileError(f"{path}: not an abmm policy file (no JSON 'config' entry; "
                              f"it holds {sorted(arrays)[:5]})")
    try:
        config = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise PolicyFileError(f"{path}: its config is not valid JSON ({exc})") from None
    _check_config(config, str(path))
    return config, arrays


def load_policy(path) -> tuple[dict[str, Policy], dict]:
    """``({learner name: Policy}, config)`` of a policy file (``PolicyFileError`` if it
    cannot be used)."""
    config, arrays = read_policy_file(path)
    pc = config["env"].get("policy_config") or {}
    pols = {name: build_policy(name, cfg, arrays, pc, str(path))
            for name, cfg in config["learners"].items()}
    used = {k for name, cfg in config["learners"].items() for k in learner_arrays(name, cfg)}
    extra = sorted(set(arrays) - used)
    if extra:
        raise PolicyFileError(f"{path}: unexpected arrays {extra[:5]} (not declared by any "
                              "learner)")
    return pols, config


def save_policy(path, learners: dict[str, tuple[dict, dict]], env: dict,
                config_hash: str = "", meta: dict | None = None,
                provenance: dict | None = None) -> Path:
    """Write a policy file: ``learners`` maps a name to ``(learner config, arrays)`` with
    arrays keyed as the module docstring says. Everything is checked (by building the
    policies) before the file is written, atomically; returns the path."""
    path = Path(path)
    config = {"format": FORMAT, "version": format_version({k: v[0] for k, v in learners.items()}),
              "kind": "policy",
              "learners": {k: v[0] for k, v in learners.items()}, "env": env,
              "config_hash": config_hash, "meta": meta or {}, "provenance": provenance or {}}
    _check_config(config, str(path))
    arrays: dict[str, np.ndarray] = {}
    for name, (cfg, arrs) in learners.items():
        build_policy(name, cfg, arrs, env.get("policy_config"), str(path))
        arrays.update({k: np.ascontiguousarray(arrs[k]) for k in learner_arrays(name, cfg)})
    text = json.dumps(config, sort_keys=True, indent=1, default=_json_default)
    buf = io.BytesIO()
    np.savez(buf, config=np.array(text), **arrays)
    return write_atomic(path, buf.getvalue())


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"{type(x).__name__} is not JSON serializable")

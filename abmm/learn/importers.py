"""Outside policies into abmm's torch-free ``.npz`` format (``abmm.policy.file``): Stable-
Baselines3 ``.zip`` models and TorchScript files.

``import_sb3(path, env=None, vec_normalize=None)``
    A PPO, A2C or DQN model with an MLP policy (``MlpPolicy``: flat ``Box`` observations,
    ``Discrete`` or ``Box`` actions, any widths, ``tanh``/``relu``/``elu``/``sigmoid``
    activations). PPO and A2C become an ``actor_critic`` learner (the deterministic action: the
    most likely one, or the Gaussian mean clipped to the box, as SB3's
    ``predict(deterministic=True)``), DQN a ``qnet`` learner. ``vec_normalize`` (the pickle
    ``VecNormalize.save`` writes) becomes the observation normalizer.
``import_torchscript(path, env=None)``
    A TorchScript module that is a chain of ``Linear`` layers with one activation between
    them (``torch.jit.script``/``trace`` of an ``nn.Sequential`` MLP, say): an ``mlp`` learner
    acting with the largest output (discrete env actions) or the output clipped to the box.

Both check the model's observation and action spaces against the environment ``env`` (a parallel
env, default ``abmm.env.market_v0`` on its default scenario; a discrete-action model is matched
with ``action_mode="discrete"``, a box one with ``"continuous"``) and raise ``ImportError_``
naming both shapes when they differ; both verify the converted network against the original on
random observations. They return ``(policies, config)`` like ``abmm.policy.load_policy``; the
config carries the env's ``policy_config``, so ``save_imported(...)`` writes a file that
``kind: policy`` agents and ``abmm evaluate`` take. ``import_external("sb3:PATH" |
"torchscript:PATH", scenario=None)`` dispatches on the prefix (what ``abmm evaluate --policy``
and ``abmm export`` use). torch and stable-baselines3 are imported only here, when called
(``pip install -c constraints.txt 'abmm[sb3]'``).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

import abmm
from abmm.errors import AbmmError
from abmm.policy.base import ObsNorm
from abmm.policy.file import build_policy, save_policy

__all__ = ["PREFIXES", "ImportError_", "import_sb3", "import_torchscript", "import_external",
           "save_imported", "export_external", "space_spec", "is_external"]

#: ``--policy`` prefixes of outside policies.
PREFIXES = ("sb3:", "torchscript:")
_ACTS = {"Tanh": "tanh", "ReLU": "relu", "ELU": "elu", "Sigmoid": "sigmoid",
         "Identity": "identity"}


class ImportError_(AbmmError, ValueError):  # noqa: N801 - not the builtin ImportError
    """An outside policy that cannot be converted: unreadable, unsupported, or made for other
    observation or action spaces than the environment's."""


def is_external(spec) -> bool:
    """Whether a ``--policy`` value names an outside policy (``sb3:`` or ``torchscript:``)."""
    return isinstance(spec, str) and spec.startswith(PREFIXES)


def space_spec(space) -> dict:
    """A gymnasium space as a policy file's action data: ``{"discrete": n}`` or ``{"box": d,
    "low": [...], "high": [...]}`` (``ImportError_`` for other spaces)."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return {"discrete": int(space.n)}
    if isinstance(space, spaces.Box) and len(space.shape) == 1:
        return {"box": int(space.shape[0]), "low": space.low.astype(float).tolist(),
                "high": space.high.astype(float).tolist()}
    raise ImportError_(f"unsupported action space {space} (expected Discrete or a 1-D Box)")


def _describe(obs_shape, action: dict) -> str:
    act = f"Discrete({action['discrete']})" if "discrete" in action \
        else f"Box(shape ({action['box']},))"
    return f"observations of shape {tuple(obs_shape)} and actions {act}"


def _match_env(where: str, obs_shape, action: dict, env=None, scenario=None):
    """The env (given, or market_v0 on ``scenario`` in the matching action mode) whose spaces
    are the model's: ``(env, env args)``; ``ImportError_`` naming both shapes otherwise."""
    if env is not None:
        candidates = [(env, None)]
    else:
        from abmm.env import market_v0

        kw = {} if scenario is None else {"scenario": scenario}
        mode = "discrete" if "discrete" in action else "continuous"
        candidates = [(market_v0.parallel_env(action_mode=mode, **kw), {"action_mode": mode})]
    e, args = candidates[0]
    agent = e.possible_agents[0]
    env_obs = e.observation_space(agent).shape
    try:
        env_act = space_spec(e.action_space(agent))
    except ImportError_ as exc:
        raise ImportError_(f"{where}: the environment's {exc}") from None
    same_act = ("discrete" in action and env_act.get("discrete") == action["discrete"]) or \
        ("box" in action and env_act.get("box") == action["box"])
    if tuple(env_obs) != tuple(obs_shape) or not same_act:
        name = getattr(e, "metadata", {}).get("name", type(e).__name__)
        raise ImportError_(f"{where}: the model takes {_describe(obs_shape, action)}; the "
                           f"environment ({name}) has {_describe(env_obs, env_act)}")
    if args is None:
        args = {}
    return e, args


def _env_config(env, args: dict) -> dict:
    kind = {"abmm_market_v0": "market", "abmm_execution_v0": "execution",
            "abmm_trading_v0": "trading"}.get(
        getattr(env, "metadata", {}).get("name"), "model_based")
    pc = env.policy_config() if hasattr(env, "policy_config") else {}
    return {"kind": kind, "args": dict(args), "policy_config": pc}


def _linear_chain(modules, where: str) -> tuple[list, list[str]]:
    """``([(w, b)], [activation names])`` of a chain of torch ``Linear`` and activation
    modules (``w`` as ``(in, out)``)."""
    layers, acts = [], []
    for m in modules:
        kind = getattr(m, "original_name", None) or type(m).__name__
        if kind == "Linear":
            w = m.weight.detach().cpu().numpy().astype(np.float32)
            b = m.bias.detach().cpu().numpy().astype(np.float32) if m.bias is not None \
                else np.zeros(w.shape[0], np.float32)
            layers.append((w.T.copy(), b))
        elif kind in _ACTS:
            acts.append(_ACTS[kind])
        elif kind in ("Sequential", "Flatten", "FlattenExtractor", "Dropout"):
            continue
        else:
            raise ImportError_(f"{where}: unsupported layer {kind} (abmm converts MLPs: Linear "
                               f"layers with {', '.join(_ACTS)} between them)")
    return layers, acts


def _one_activation(acts: list[str], where: str) -> str:
    kinds = set(acts)
    if len(kinds) > 1:
        raise ImportError_(f"{where}: mixed activations {sorted(kinds)}; abmm's MLPs use one")
    return kinds.pop() if kinds else "tanh"


def _provenance(path: Path, fmt: str) -> dict:
    return {"source": path.name, "source_format": fmt,
            "source_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "exported_by": f"abmm {abmm.__version__}"}


def _sb3_algo(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            data = json.loads(z.read("data"))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ImportError_(f"{path}: not a Stable-Baselines3 model .zip ({exc})") from None
    if "target_update_interval" in data:
        return "dqn"
    return "ppo" if "clip_range" in data else "a2c"


def _vec_normalize(path) -> ObsNorm:
    import pickle

    with open(path, "rb") as f:
        vn = pickle.load(f)  # noqa: S301 - the user's own VecNormalize file
    rms = vn.obs_rms
    return ObsNorm(rms.mean, rms.var, float(vn.clip_obs), float(vn.epsilon))


def import_sb3(path, env=None, vec_normalize=None, scenario=None, check: bool = True):
    """``(policies, config)`` of a Stable-Baselines3 ``.zip`` (see the module docstring)."""
    path = Path(path)
    where = f"sb3:{path}"
    if not path.is_file():
        raise ImportError_(f"{where}: no such file")
    try:
        import stable_baselines3 as sb3
    except ImportError as exc:
        raise ImportError_(f"{where}: needs stable-baselines3 ({exc}); pip install -c "
                           "constraints.txt 'abmm[sb3]'") from None
    algo = _sb3_algo(path)
    cls = {"ppo": sb3.PPO, "a2c": sb3.A2C, "dqn": sb3.DQN}[algo]
    try:
        model = cls.load(path, device="cpu")
    except Exception as exc:  # noqa: BLE001 - SB3 raises many kinds on a bad file
        raise ImportError_(f"{where}: SB3 could not load it ({type(exc).__name__}: "
                           f"{exc})") from None
    pol = model.policy
    obs_space = model.observation_space
    if len(getattr(obs_space, "shape", ()) or ()) != 1 or type(obs_space).__name__ != "Box":
        raise ImportError_(f"{where}: observation space {obs_space}; abmm imports models of "
                           "flat Box observations")
    action = space_spec(model.action_space)
    e, args = _match_env(where, obs_space.shape, action, env, scenario)
    norm = _vec_normalize(vec_normalize) if vec_normalize else None
    obs_dim = int(obs_space.shape[0])
    arrays: dict[str, np.ndarray] = {}
    name = "learner"
    if algo == "dqn":
        if type(pol.q_net.features_extractor).__name__ != "FlattenExtractor":
            raise ImportError_(f"{where}: features extractor "
                               f"{type(pol.q_net.features_extractor).__name__}; abmm imports "
                               "MlpPolicy (FlattenExtractor)")
        layers, acts = _linear_chain(pol.q_net.q_net, where)
        act = _one_activation(acts, where)
        cfg = {"algo": "sb3_dqn", "kind": "qnet", "obs_dim": obs_dim, "action": action,
               "hidden": [int(w.shape[1]) for w, _ in layers[:-1]], "activation": act}
        heads = {"q": layers}
    else:
        if type(pol.features_extractor).__name__ != "FlattenExtractor" or \
                getattr(pol, "squash_output", False) or getattr(pol, "use_sde", False):
            raise ImportError_(f"{where}: abmm imports MlpPolicy without gSDE or squashing "
                               f"(this one has {type(pol.features_extractor).__name__}, "
                               f"use_sde={getattr(pol, 'use_sde', False)})")
        dist = type(pol.action_dist).__name__
        if dist not in ("CategoricalDistribution", "DiagGaussianDistribution"):
            raise ImportError_(f"{where}: action distribution {dist}; abmm imports Categorical "
                               "(Discrete) and diagonal Gaussian (Box) policies")
        actor, a_acts = _linear_chain([*pol.mlp_extractor.policy_net, pol.action_net], where)
        critic, c_acts = _linear_chain([*pol.mlp_extractor.value_net, pol.value_net], where)
        act = _one_activation(a_acts + c_acts, where)
        hidden = [int(w.shape[1]) for w, _ in actor[:-1]]
        critic_hidden = [int(w.shape[1]) for w, _ in critic[:-1]]
        cfg = {"algo": f"sb3_{algo}", "kind": "actor_critic", "obs_dim": obs_dim,
               "action": action, "hidden": hidden, "activation": act}
        if critic_hidden != hidden:
            cfg["critic_hidden"] = critic_hidden
        heads = {"actor": actor, "critic": critic}
        if "box" in action:
            arrays[f"{name}/log_std"] = pol.log_std.detach().cpu().numpy().astype(np.float32)
    for head, layers in heads.items():
        for i, (w, b) in enumerate(layers):
            arrays[f"{name}/{head}/{i}/w"], arrays[f"{name}/{head}/{i}/b"] = w, b
    _add_norm(cfg, arrays, name, norm)
    config = _config(name, cfg, e, args, _provenance(path, f"stable-baselines3 {algo}"))
    policy = build_policy(name, cfg, arrays, config["env"]["policy_config"], where)
    config["_arrays"] = arrays
    if check:
        x = _random_obs(obs_space, 256)

        def reference(batch):
            if norm is not None:
                batch = norm.normalize(batch)
            return model.predict(batch, deterministic=True)[0]
        _verify(where, policy, reference, x, action)
    return {name: policy}, config


def _add_norm(cfg: dict, arrays: dict, name: str, norm: ObsNorm | None) -> None:
    cfg["norm"] = None
    if norm is not None:
        cfg["norm"] = {"clip": norm.clip, "eps": norm.eps}
        arrays[f"{name}/norm/mean"] = norm.mean
        arrays[f"{name}/norm/var"] = norm.var


def _config(name: str, cfg: dict, env, args: dict, provenance: dict) -> dict:
    return {"learners": {name: cfg}, "env": _env_config(env, args), "config_hash": "",
            "meta": {}, "provenance": provenance}


def _random_obs(space, n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    low = np.where(np.isfinite(space.low), space.low, -3.0)
    high = np.where(np.isfinite(space.high), space.high, 3.0)
    return rng.uniform(low, high, (n, *space.shape)).astype(np.float32)


def _verify(where: str, policy, reference, x: np.ndarray, action: dict) -> None:
    got, want = policy(x), np.asarray(reference(x))
    if "discrete" in action:
        ok = np.array_equal(np.asarray(got).reshape(-1), want.reshape(-1).astype(np.int64))
    else:
        ok = np.allclose(got, want.reshape(got.shape), rtol=1e-4, atol=1e-4)
    if not ok:
        raise ImportError_(f"{where}: the converted network does not act like the original on "
                           "random observations (an architecture abmm does not convert)")


def import_torchscript(path, env=None, scenario=None, check: bool = True):
    """``(policies, config)`` of a TorchScript MLP file (see the module docstring)."""
    path = Path(path)
    where = f"torchscript:{path}"
    if not path.is_file():
        raise ImportError_(f"{where}: no such file")
    try:
        import torch
    except ImportError as exc:
        raise ImportError_(f"{where}: needs torch ({exc}); pip install -c constraints.txt "
                           "'abmm[rl]'") from None
    try:
        module = torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, ValueError, ...
        raise ImportError_(f"{where}: not a TorchScript file ({type(exc).__name__}: "
                           f"{' '.join(str(exc).split())[:200]})") from None
    children = [m for _, m in module.named_modules()][1:]
    layers, acts = _linear_chain(children, where)
    if not layers:
        raise ImportError_(f"{where}: no Linear layers found (abmm converts MLPs)")
    obs_dim, n_out = int(layers[0][0].shape[0]), int(layers[-1][0].shape[1])
    if env is None:
        from abmm.env import market_v0

        kw = {} if scenario is None else {"scenario": scenario}
        probe = market_v0.parallel_env(**kw)
        n_disc = probe.action_space(probe.possible_agents[0]).n
        probe.close()
        mode = "discrete" if n_out == n_disc else "continuous"
        cont = market_v0.parallel_env(action_mode="continuous", **kw) if mode == "continuous" \
            else None
        action = space_spec(cont.action_space(cont.possible_agents[0])) if cont is not None \
            else {"discrete": int(n_disc)}
        if cont is not None:
            cont.close()
    else:
        action = space_spec(env.action_space(env.possible_agents[0]))
    out_dim = action.get("discrete", action.get("box"))
    if n_out != out_dim:  # name the model's own output size, not the env's
        action = {"discrete": n_out} if "discrete" in action else {"box": n_out}
    e, args = _match_env(where, (obs_dim,), action, env, scenario)
    act = _one_activation(acts, where)
    x = np.random.default_rng(0).uniform(-1, 1, (256, obs_dim)).astype(np.float32)
    with torch.no_grad():
        out = module(torch.as_tensor(x))
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (256, n_out):
        raise ImportError_(f"{where}: the module returns {type(out).__name__} of shape "
                           f"{tuple(getattr(out, 'shape', ()))}; abmm converts modules mapping "
                           f"(n, {obs_dim}) observations to (n, {n_out}) outputs")
    out = out.numpy()
    from abmm.policy.numpy_net import ACTIVATIONS, mlp_forward

    if not acts:  # activations called in forward(): find the one that reproduces the output
        for cand in ACTIVATIONS:
            if np.allclose(mlp_forward(layers, x, cand), out, rtol=1e-4, atol=1e-5):
                act = cand
                break
    name = "learner"
    cfg = {"algo": "torchscript", "kind": "mlp", "obs_dim": obs_dim, "action": action,
           "hidden": [int(w.shape[1]) for w, _ in layers[:-1]], "activation": act}
    arrays = {}
    for i, (w, b) in enumerate(layers):
        arrays[f"{name}/pi/{i}/w"], arrays[f"{name}/pi/{i}/b"] = w, b
    _add_norm(cfg, arrays, name, None)
    config = _config(name, cfg, e, args, _provenance(path, "torchscript"))
    policy = build_policy(name, cfg, arrays, config["env"]["policy_config"], where)
    config["_arrays"] = arrays
    if check and not np.allclose(mlp_forward(layers, x, act), out, rtol=1e-4, atol=1e-5):
        raise ImportError_(f"{where}: the converted network does not reproduce the module's "
                           "output (it is not a plain MLP abmm converts)")
    return {name: policy}, config


def import_external(spec: str, scenario=None, env=None):
    """``(policies, config)`` of ``"sb3:PATH"`` or ``"torchscript:PATH"``."""
    if spec.startswith("sb3:"):
        return import_sb3(spec[4:], env=env, scenario=scenario)
    if spec.startswith("torchscript:"):
        return import_torchscript(spec[len("torchscript:"):], env=env, scenario=scenario)
    raise ImportError_(f"{spec!r}: expected sb3:PATH or torchscript:PATH")


def save_imported(policies_config: tuple, out) -> Path:
    """Write an import's ``(policies, config)`` as a ``.npz`` policy file."""
    _, config = policies_config
    arrays = config["_arrays"]
    learners = {n: (cfg, {k: v for k, v in arrays.items() if k.startswith(f"{n}/")})
                for n, cfg in config["learners"].items()}
    return save_policy(out, learners, config["env"], config.get("config_hash", ""),
                       config.get("meta"), config.get("provenance"))


def export_external(spec: str, out, scenario=None) -> Path:
    """Convert ``"sb3:PATH"`` or ``"torchscript:PATH"`` to the ``.npz`` policy file ``out``
    (checked against market_v0 on ``scenario``, default its default scenario)."""
    return save_imported(import_external(spec, scenario=scenario), out)

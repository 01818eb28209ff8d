"""Training configs (``abmm train CONFIG``): a YAML file validated by pydantic.

Keys (``scenarios/train/README.md`` documents them with examples):

``name``            the run's name
``env``             ``market`` (``abmm.env.market_v0``), ``model_based``
                    (``abmm.env.model_based_v0``), ``execution`` (``abmm.env.execution_v0``),
                    ``trading`` (``abmm.env.trading_v0``), ``ecology``
                    (``abmm.env.ecology_v0``: every role at once; ``sharing: independent``) or
                    ``multi_asset`` (``abmm.env.multi_asset_v0``; give ``action_mode:
                    discrete`` in ``env_args`` for ``ppo``/``dqn``/``tabular``)
``env_args``        keyword arguments of that environment; a ``scenario`` path is relative to
                    the config file
``algo``            ``ppo``, ``dqn`` or ``tabular``
``algo_args``       hyper-parameters of the algorithm (``abmm.learn.ppo.PPO`` etc.)
``role_args``       ``env: ecology`` only: per-role overrides of ``algo_args``, e.g.
                    ``{executor: {gamma: 1.0, lam: 1.0}}`` (roles ``maker``, ``chartist``,
                    ``executor``)
``encoder``         optional, for ``ppo`` and ``dqn``: what the network reads, ``{type: mlp}``
                    (the default: the latest observation), ``{type: conv1d, window: W,
                    channels: [C, ...], kernel: K}`` or ``{type: gru, window: W, hidden: H,
                    layers: L}`` (the last ``W`` observations; ``abmm.policy.sequence``)
``sharing``         ``independent`` (one learner per env agent: co-evolution) or ``shared``
                    (parameter sharing: one learner for every agent; all agents must then
                    have the same observation and action spaces)
``updates``         number of updates; ``episodes_per_update`` episodes are played per update
``seed``            training seed: episode ``e`` is played on market seed ``10_000_000 + seed *
                    100_000 + e`` (held-out evaluation seeds stay below 10,000,000)
``checkpoint_every`` updates between checkpoints (and always at the end)
``league``          ``snapshot_every`` (updates), ``p_opponent`` (probability that an opponent
                    slot is played by a past snapshot), ``max_snapshots`` per learner
``device``          ``cpu``, ``cuda`` or ``auto`` (CUDA when available)
``eval``            optional: ``scenario`` (default the training environment's scenario)
                    and ``seeds`` (e.g. ``"1000-1019"``) evaluated at
                    the end with the ``baselines`` (default ``[as, glft, fixed]``; for
                    ``env: trading`` ``[ma, rsi, flat]``; for ``env: ecology`` none: the
                    baselines are per role), written to ``eval.json``
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from abmm.errors import AbmmError
from abmm.schema.seeds import MAX_SEEDS, parse_seeds  # noqa: F401 - re-exported (one seed syntax)


class ConfigError(AbmmError, ValueError):
    """A training config that cannot be used; the message lists every problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LeagueCfg(_Strict):
    """Co-evolution league: snapshot cadence, size and opponent probability."""
    snapshot_every: int = Field(5, ge=1)
    p_opponent: float = Field(0.3, ge=0, le=1)
    max_snapshots: int = Field(10, ge=1)


class EvalCfg(_Strict):
    """Held-out evaluation after training: scenario, seeds, baselines."""
    scenario: str | None = None
    seeds: str = "1000-1019"
    baselines: list[str] | None = None  # None: the env's (DEFAULT_BASELINES)


#: ``eval.baselines`` when the config leaves it out, per ``env``.
DEFAULT_BASELINES = {"trading": ["ma", "rsi", "flat"], "ecology": []}
MM_DEFAULT_BASELINES = ["as", "glft", "fixed"]


class TrainConfig(_Strict):
    """A training run (``abmm train CONFIG``): environment, learner, budget."""
    name: str = Field("train", min_length=1)
    env: Literal["market", "model_based", "execution", "trading", "ecology",
                 "multi_asset"] = "market"
    env_args: dict = Field(default_factory=dict)
    algo: Literal["ppo", "dqn", "tabular"] = "ppo"
    algo_args: dict = Field(default_factory=dict)
    role_args: dict[str, dict] = Field(default_factory=dict)
    encoder: Any = None  # checked by encoder_of (one line naming the key)
    sharing: Literal["independent", "shared"] = "independent"
    updates: int = Field(10, ge=1)
    episodes_per_update: int = Field(1, ge=1)
    seed: int = Field(0, ge=0)
    checkpoint_every: int = Field(5, ge=1)
    league: LeagueCfg = LeagueCfg()
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    eval: EvalCfg | None = None

    @model_validator(mode="after")
    def _roles(self):
        if self.role_args:
            if self.env != "ecology":
                raise ValueError(f"role_args is for env: ecology (its roles), not env: "
                                 f"{self.env}; put the hyper-parameters in algo_args")
            bad = sorted(set(self.role_args) - {"maker", "chartist", "executor"})
            if bad:
                raise ValueError(f"role_args: unknown role(s) {bad}; expected some of "
                                 "['chartist', 'executor', 'maker']")
        return self

    @model_validator(mode="after")
    def _default_baselines(self):
        if self.eval is not None and self.eval.baselines is None:
            self.eval.baselines = list(DEFAULT_BASELINES.get(self.env, MM_DEFAULT_BASELINES))
        return self


def encoder_of(cfg: TrainConfig, where: str = "") -> dict | None:
    """The complete sequence-encoder spec of ``cfg.encoder`` (``None``: the plain MLP);
    ``ConfigError`` with one line naming the key, the value and what was expected."""
    from abmm.policy.sequence import encoder_spec

    prefix = f"{where}: " if where else ""
    try:
        spec = encoder_spec(cfg.encoder)
    except ValueError as exc:
        raise ConfigError(f"{prefix}{exc}") from None
    if spec is not None and cfg.algo == "tabular":
        raise ConfigError(f"{prefix}encoder.type: {spec['type']!r} with algo tabular; expected "
                          "no encoder (or type mlp): tabular Q bins the latest observation and "
                          "has no network (use algo ppo or dqn for a sequence encoder)")
    return spec


def load_config(path) -> tuple[TrainConfig, Path]:
    """The validated config and the folder relative paths are taken from (``path``: a file, or
    a shipped config's name such as ``train/mm_coevolve``)."""
    from abmm.resources import training_config_path
    from abmm.schema.files import check_depth, read_config_text

    path = training_config_path(path)
    try:
        data = yaml.safe_load(read_config_text(path, "training config"))
        check_depth(data, str(path))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, got {type(data).__name__}")
    try:
        cfg = TrainConfig(**data)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(x) for x in e['loc']) or '(top level)'}: {e['msg']}"
                 for e in exc.errors()]
        raise ConfigError(f"{path}: {len(lines)} problem(s):\n" + "\n".join(lines)) from None
    encoder_of(cfg, str(path))
    if cfg.eval is not None:
        try:
            parse_seeds(cfg.eval.seeds)
        except ValueError as exc:
            raise ConfigError(f"{path}: eval.seeds: {exc}") from None
    return cfg, path.parent

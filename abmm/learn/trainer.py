"""Training loop: learners over a PettingZoo parallel environment, the co-evolution league,
learning curves and checkpoints (``abmm train``).

One *update* plays ``episodes_per_update`` whole episodes, then updates every learner (PPO
learns from the episodes; DQN and tabular Q learn online as they play and report their
statistics). Episodes are played on market seeds ``10_000_000 + seed * 100_000 + episode``,
so a run is reproducible, a resumed run plays exactly the episodes an uninterrupted one would,
and evaluation seeds below 10,000,000 are never trained on.

Co-evolution: with ``sharing: independent`` every env agent (e.g. the two learning market
makers) has its own learner, all learning at once against each other and the rule-based
market. Every ``league.snapshot_every`` updates each learner's policy is added to its league
(at most ``league.max_snapshots``, the oldest dropped); at each episode every agent slot is,
with probability ``league.p_opponent``, played by a past snapshot of its learner (frozen, not
learning) instead -- so each learner meets current and past versions of its rivals (at least
one slot always learns).
"""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

import numpy as np
import torch

from abmm.learn import checkpoint as ckpt
from abmm.learn.config import ConfigError, TrainConfig
from abmm.learn.policy import FrozenPolicy, policy_payload

log = logging.getLogger(__name__)

ALGOS = {}
#: Training episodes play market seeds from here on, so held-out evaluation seeds (e.g.
#: 1000-1099) never coincide with a training episode.
TRAIN_SEED_BASE = 10_000_000


def _algos():
    if not ALGOS:
        from abmm.learn.dqn import DQN
        from abmm.learn.ppo import PPO
        from abmm.learn.tabular import TabularQ

        ALGOS.update(ppo=PPO, dqn=DQN, tabular=TabularQ)
    return ALGOS


def _env_class(kind: str):
    if kind == "market":
        from abmm.env.market_env import MarketEnv

        return MarketEnv
    if kind == "model_based":
        from abmm.env.model_based_env import ModelBasedEnv

        return ModelBasedEnv
    if kind == "trading":
        from abmm.env.trading_env import TradingEnv

        return TradingEnv
    if kind == "ecology":
        from abmm.env.ecology_env import EcologyEnv

        return EcologyEnv
    if kind == "multi_asset":
        from abmm.env.multi_asset_env import MultiAssetEnv

        return MultiAssetEnv
    from abmm.env.execution_env import ExecutionEnv

    return ExecutionEnv


def _inventory(info: dict):
    """An agent's inventory from its info (trading_v0 calls it ``position``)."""
    return info["inventory"] if "inventory" in info else info["position"]


def check_args(cfg: TrainConfig) -> None:
    """Raise ``ConfigError`` naming every ``env_args`` or ``algo_args`` key that the
    environment or the learner does not take (with the keys it does take), or a bad
    ``encoder``."""
    import inspect

    from abmm.learn.config import ConfigError, encoder_of

    encoder_of(cfg)
    problems = []
    learner_skip = {"obs_dim", "space", "action_space", "seed", "device", "encoder"}
    for section, target, given, skip in (
            ("env_args", _env_class(cfg.env), cfg.env_args, set()),
            ("algo_args", _algos()[cfg.algo], cfg.algo_args, learner_skip),
            *((f"role_args.{r}", _algos()[cfg.algo], a, learner_skip)
              for r, a in cfg.role_args.items())):
        params = inspect.signature(target.__init__).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            continue
        known = sorted(k for k in params if k not in ("self", *skip))
        if section == "env_args" and cfg.env in ("market", "model_based"):
            known = sorted([*known, "objectives"])  # weight-conditioned rewards (make_env)
        unknown = sorted(set(given) - set(known))
        if unknown:
            owner = cfg.env if section == "env_args" else cfg.algo
            problems.append(f"{section}: unknown key(s) {unknown} for {owner}; expected some "
                            f"of {known}")
    if problems:
        raise ConfigError("; ".join(problems))


def resolve_env_args(kind: str, args: dict, base_dir: Path) -> dict:
    """``args`` with a ``scenario`` path made absolute (relative to ``base_dir``)."""
    out = dict(args)
    scen = out.get("scenario")
    if isinstance(scen, str):
        p = Path(scen)
        out["scenario"] = str(p if p.is_absolute() else (base_dir / p).resolve())
    return out


def make_env(kind: str, args: dict):
    """The training environment of ``kind`` with ``args``; an ``objectives`` argument (market
    and model_based) wraps it in ``abmm.env.conditioned.WeightConditioned`` (weight-conditioned
    rewards, for ``abmm pareto``)."""
    if "objectives" in args and kind in ("market", "model_based"):
        from abmm.env.conditioned import WeightConditioned

        base = {k: v for k, v in args.items() if k != "objectives"}
        base["vector_reward"] = True
        return WeightConditioned(make_env(kind, base), args["objectives"])
    if kind == "market":
        from abmm.env import market_v0

        return market_v0.parallel_env(**args)
    if kind == "model_based":
        from abmm.env import model_based_v0

        return model_based_v0.parallel_env(**args)
    if kind == "execution":
        from abmm.env import execution_v0

        return execution_v0.parallel_env(**args)
    if kind == "trading":
        from abmm.env import trading_v0

        return trading_v0.parallel_env(**args)
    if kind == "ecology":
        from abmm.env import ecology_v0

        return ecology_v0.parallel_env(**args)
    if kind == "multi_asset":
        from abmm.env import multi_asset_v0

        return multi_asset_v0.parallel_env(**args)
    raise ValueError(f"unknown env kind {kind!r}")


def env_identity(kind: str, args: dict) -> dict:
    """What identifies an environment for the config hash: its kind and arguments, with the
    scenario as its resolved content (not its path)."""
    ident = dict(args)
    scen = ident.get("scenario")
    if isinstance(scen, str):
        from abmm.scenario import load_scenario

        ident["scenario"] = load_scenario(scen).resolved()
    return {"env": kind, "args": ident}


def device_of(name: str) -> str:
    """The torch device for ``name`` (``auto``: CUDA when available)."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: cuda, but torch sees no CUDA device (use cpu or auto)")
    return name


def build_learners(cfg: TrainConfig, env, encoder, device: str) -> tuple[dict, dict]:
    """The learners of ``cfg`` for ``env`` (one shared, or one per agent) and the map from
    each agent to its learner's key; the same weights wherever they are built."""
    agents = list(env.possible_agents)
    algo = _algos()[cfg.algo]
    kw = dict(cfg.algo_args)
    if cfg.algo != "tabular":
        kw["device"] = device
    if encoder is not None:
        kw["encoder"] = encoder

    def spaces_of(a):
        return int(env.observation_space(a).shape[0]), env.action_space(a)

    if cfg.sharing == "shared":
        obs_dim, space = spaces_of(agents[0])
        other = [a for a in agents[1:] if spaces_of(a) != (obs_dim, space)]
        if other:
            raise ConfigError(f"sharing: shared needs one observation and action space for "
                              f"every agent; {other[0]} has {spaces_of(other[0])}, "
                              f"{agents[0]} has {(obs_dim, space)} (use sharing: independent)")
        return {"shared": algo(obs_dim, space, seed=cfg.seed, **kw)}, dict.fromkeys(agents,
                                                                                   "shared")
    role = getattr(env, "role", None)  # the ecology: role_args override algo_args per role
    learners = {a: algo(*spaces_of(a), seed=cfg.seed * 1000 + i,
                        **(kw | (cfg.role_args.get(role(a), {}) if role else {})))
                for i, a in enumerate(agents)}
    return learners, {a: a for a in agents}


def play_episode(env, learners: dict, assign: dict, frozen: dict, seed: int) -> tuple[dict, int]:
    """Play one episode of ``env`` on market seed ``seed``: every agent acts by its learner
    (``assign``: agent -> learner key), exploring and recording, except the ``frozen`` ones
    (agent -> a frozen league policy). Returns each agent's statistics and the env steps."""
    obs, infos = env.reset(seed=seed)
    for learner in learners.values():  # sequence encoders: empty windows
        if hasattr(learner, "clear_windows"):
            learner.clear_windows()
    acc = {a: {"return": 0.0, "abs_inv": 0.0, "steps": 0, "spread": 0.0, "n_spread": 0,
               "traded": 0.0} for a in env.possible_agents}
    last_info = dict(infos)
    steps = 0
    while env.agents:
        acts, pending = {}, []
        for key, learner in learners.items():
            names = [a for a in env.agents if assign[a] == key and a not in frozen]
            if not names:
                continue
            A, aux = learner.act(np.stack([obs[a] for a in names]), explore=True,
                                 keys=names)
            pending.append((learner, names, aux))
            acts.update(zip(names, list(A), strict=True))
        for a, pol in frozen.items():
            if a in env.agents:
                acts[a] = pol(obs[a])[0]
        nxt, rew, term, trunc, infos = env.step(acts)
        for learner, names, aux in pending:
            for i, a in enumerate(names):
                learner.record(a, aux, float(rew[a]), i)
                if term[a] or trunc[a]:
                    learner.finish_episode(a, nxt.get(a), bool(term[a]))
        for a, r in rew.items():
            s = acc[a]
            info = infos[a]
            s["return"] += r
            s["abs_inv"] += abs(float(_inventory(info)))
            s["steps"] += 1
            if info.get("quoting"):
                s["spread"] += info["quoted_spread"]
                s["n_spread"] += 1
            s["traded"] += info.get("step_traded", info.get("traded", 0))
        last_info.update(infos)
        steps += 1
        obs = nxt
    out = {}
    for a, s in acc.items():
        info = last_info[a]
        pnl = info.get("pnl_ticks", info.get("wealth", info.get(
            "shortfall_bps", info.get("pnl", 0.0))))
        out[a] = {"return": s["return"], "pnl": float(pnl),
                  "map": s["abs_inv"] / max(s["steps"], 1),
                  "final_inventory": float(_inventory(info)), "frozen": a in frozen,
                  "quoted_spread": s["spread"] / s["n_spread"] if s["n_spread"] else np.nan,
                  "quoting_ratio": s["n_spread"] / max(s["steps"], 1),
                  "traded": s["traded"]}
    return out, steps


class Trainer:
    """``Trainer(cfg, base_dir, out_dir).run()``; ``Trainer.resume(...)`` continues a run."""

    def __init__(self, cfg: TrainConfig, base_dir: Path, out_dir: Path, env=None,
                 workers: int = 1, backend: str = "auto", address: str | None = None):
        """``env``: an already built PettingZoo parallel env to train in instead of
        ``cfg.env`` (tests, custom environments); it is identified by its metadata name.
        ``workers`` > 1: each update's episodes are played by that many rollout workers
        (``abmm.parallel``: ``backend`` auto, ray or pool; ``address`` a Ray cluster) while
        the learners update here; ``workers=1`` plays them in this process."""
        self.cfg = cfg
        self.out = Path(out_dir)
        self.base_dir = Path(base_dir)
        if env is None:
            check_args(cfg)
        self.env_args = resolve_env_args(cfg.env, cfg.env_args, Path(base_dir))
        if env is None:
            self.env = make_env(cfg.env, self.env_args)
            ident = env_identity(cfg.env, self.env_args)
        else:
            self.env = env
            ident = {"env": "custom", "name": env.metadata.get("name"), "args": self.env_args}
        from abmm.learn.config import encoder_of

        self.encoder = encoder_of(cfg)  # ConfigError for a bad one (a custom env too)
        hashed = {**ident, "algo": cfg.algo, "algo_args": cfg.algo_args,
                  "sharing": cfg.sharing, "seed": cfg.seed}
        if cfg.role_args:  # (configs without it keep the hash they always had)
            hashed["role_args"] = cfg.role_args
        if self.encoder is not None:  # (the plain MLP keeps the hash it always had)
            hashed["encoder"] = self.encoder
        self.config_hash = ckpt.config_hash(hashed)
        self.learners, self.assign = build_learners(cfg, self.env, self.encoder,
                                                    device_of(cfg.device))
        self.workers = int(workers)
        self._executor = None
        if self.workers < 1:
            raise ConfigError(f"workers {workers!r}: expected an integer >= 1")
        if self.workers > 1 or address is not None:
            if not all(hasattr(lr, "merge_rollout") for lr in self.learners.values()):
                raise ConfigError(f"--workers {self.workers}: parallel rollouts need a learner "
                                  f"that learns from whole episodes (ppo); {cfg.algo} learns "
                                  "online as it plays: use --workers 1")
            if env is not None:
                raise ConfigError("parallel rollouts rebuild the environment from the config "
                                  "in each worker; a custom env object trains with workers=1")
            from abmm.parallel import Executor

            # checked now (Ray installed? a sane address?), started at the first update
            self._executor = Executor(self.workers, address=address, backend=backend,
                                      preload=("abmm.learn.rollout",))
        self.league: dict[str, list] = {k: [] for k in self.learners}
        self.rng = np.random.default_rng(cfg.seed)
        self.update = 0
        self.episodes = 0
        self.env_steps = 0
        self.wall = 0.0
        self.history: list[dict] = []

    def eval_scenario(self):
        """The scenario of the held-out evaluation: ``eval.scenario`` (relative to the config's
        folder), else the training environment's scenario (``env_args.scenario``, else the
        environment's default); ``None`` without an ``eval`` section."""
        if self.cfg.eval is None:
            return None
        if self.cfg.eval.scenario:
            p = Path(self.cfg.eval.scenario)
            return p if p.is_absolute() else self.base_dir / p
        scen = self.env_args.get("scenario")
        if scen is None:
            import sys

            scen = getattr(sys.modules[type(self.env).__module__], "DEFAULT_SCENARIO", None)
        return scen

    # ------------------------------------------------------------------------ playing
    def _frozen_choice(self) -> dict:
        """Which agent slots a past snapshot plays this episode: agent -> league index."""
        cfg = self.cfg
        if cfg.sharing != "independent" or len(self.assign) < 2:
            return {}
        frozen = {}
        for a, key in self.assign.items():
            snaps = self.league[key]
            if snaps and self.rng.random() < cfg.league.p_opponent:
                frozen[a] = int(self.rng.integers(len(snaps)))
        if len(frozen) == len(self.assign):  # keep one learner learning
            del frozen[list(frozen)[int(self.rng.integers(len(frozen)))]]
        return frozen

    def _frozen_slots(self) -> dict:
        return {a: FrozenPolicy(self.league[self.assign[a]][i]["policy"])
                for a, i in self._frozen_choice().items()}

    def play_episode(self) -> dict:
        """Play one episode (learners and league opponents); returns its statistics."""
        seed = TRAIN_SEED_BASE + self.cfg.seed * 100_000 + self.episodes
        frozen = self._frozen_slots()
        out, steps = play_episode(self.env, self.learners, self.assign, frozen, seed)
        self.env_steps += steps
        self.episodes += 1
        return out

    def _play_parallel(self, n: int) -> list[dict]:
        """Play the next ``n`` episodes on the rollout workers and hand their records to the
        learners in episode order. Each episode explores with its own stream (seeded by the
        config's seed, the episode and the learner), so the result does not depend on how
        many workers there are (but differs from ``workers=1``, whose learners explore with
        one stream each and update their normalizers as they go)."""
        from abmm.learn.rollout import rollout

        cfg = self.cfg
        states = {k: lr.acting_state() for k, lr in self.learners.items()}
        setup = {"hash": self.config_hash, "config": cfg.model_dump(),
                 "env_args": self.env_args}
        tasks = []
        for j in range(n):
            ep = self.episodes + j
            frozen = {a: self.league[self.assign[a]][i]["policy"]
                      for a, i in self._frozen_choice().items()}
            tasks.append({"setup": setup, "states": states, "frozen": frozen,
                          "seed": TRAIN_SEED_BASE + cfg.seed * 100_000 + ep,
                          "act_seeds": {k: [cfg.seed, ep, i]
                                        for i, k in enumerate(self.learners)}})
        results = self._executor.map(rollout, tasks)
        episodes = []
        for r in results:  # in episode order: the same merge whatever finished first
            for k, lr in self.learners.items():
                lr.merge_rollout(r["learners"][k])
            self.env_steps += r["steps"]
            self.episodes += 1
            episodes.append(r["stats"])
        return episodes

    @property
    def rollout_backend(self) -> str:
        """Who plays the episodes: ``"serial"`` (this process), ``"pool"`` or ``"ray"``."""
        return "serial" if self._executor is None else self._executor.kind

    def close(self) -> None:
        """Stop the rollout workers (if any were started); a later update starts them again."""
        if self._executor is not None:
            self._executor.close()

    # ------------------------------------------------------------------------ updates
    def train_update(self) -> dict:
        """One update: play the episodes, update the learners, log, snapshot."""
        t0 = time.perf_counter()
        n = self.cfg.episodes_per_update
        if self._executor is not None:
            episodes = self._play_parallel(n)
        else:
            episodes = [self.play_episode() for _ in range(n)]
        stats = {k: learner.update() for k, learner in self.learners.items()}
        self.update += 1
        if self.update % self.cfg.league.snapshot_every == 0:
            for k, learner in self.learners.items():
                self.league[k].append({"update": self.update, "policy": learner.policy_state()})
                del self.league[k][:-self.cfg.league.max_snapshots]
        self.wall += time.perf_counter() - t0
        row = {"update": self.update, "episodes": self.episodes, "env_steps": self.env_steps,
               "wall_s": round(self.wall, 3)}
        for key in self.learners:
            mine = [ep[a] for ep in episodes for a in ep
                    if self.assign[a] == key and not ep[a]["frozen"]]
            for m in ("return", "pnl", "map", "final_inventory", "quoted_spread",
                      "quoting_ratio", "traded"):
                vals = [x[m] for x in mine if x[m] == x[m]]
                row[f"{key}/{m}"] = float(np.mean(vals)) if vals else np.nan
            for s, v in stats[key].items():
                row[f"{key}/{s}"] = v
        self.history.append(row)
        return row

    def run(self, progress=None) -> list[dict]:
        """Train up to ``cfg.updates`` updates (from where a resumed run is), writing
        ``curves.csv``, ``curves.png``, ``checkpoint.pt`` and ``policy.pt`` in the out dir.
        Setting ``stop_requested`` (a signal handler does) stops between two updates, after
        writing the checkpoint; ``--resume`` continues exactly from there."""
        self.out.mkdir(parents=True, exist_ok=True)
        try:
            return self._run(progress)
        finally:
            self.close()

    def _run(self, progress) -> list[dict]:
        cfg = self.cfg
        while self.update < cfg.updates:
            if getattr(self, "stop_requested", None):  # a signal asked to stop: a safe point
                self.save_checkpoint()
                return self.history
            row = self.train_update()
            self.write_curves()
            if self.update % cfg.checkpoint_every == 0 or self.update == cfg.updates:
                self.save_checkpoint()
            if progress is not None:
                progress(row)
        self.write_policy()
        self.plot_curves()
        return self.history

    # ------------------------------------------------------------------------ outputs
    def write_curves(self) -> Path:
        """Write ``curves.csv``."""
        path = self.out / "curves.csv"
        keys = list(dict.fromkeys(k for r in self.history for k in r))
        tmp = path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self.history)
        tmp.replace(path)
        return path

    def plot_curves(self) -> Path | None:
        """Write ``curves.png`` (None without matplotlib)."""
        if not self.history:
            return None
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 7))
        x = [r["update"] for r in self.history]
        for i, (metric, title) in enumerate((("return", "episode return"),
                                             ("pnl", "final PnL"), ("map", "mean |inventory|"),
                                             ("final_inventory", "final inventory"),
                                             ("quoted_spread", "quoted spread (ticks)"),
                                             ("traded", "lots traded"))):
            ax = fig.add_subplot(2, 3, i + 1)
            for key in self.learners:
                ax.plot(x, [r.get(f"{key}/{metric}", np.nan) for r in self.history], label=key)
            ax.set_title(title)
            ax.set_xlabel("update")
            ax.grid(alpha=0.3)
        fig.axes[0].legend(fontsize=8)
        fig.suptitle(f"{self.cfg.name}: {self.cfg.algo}, {self.cfg.env}")
        fig.tight_layout()
        path = self.out / "curves.png"
        fig.savefig(path, dpi=90)
        return path

    def env_config(self) -> dict:
        """The environment's kind, arguments and ``policy_config``."""
        cfg_fn = getattr(self.env, "policy_config", None)
        return {"kind": self.cfg.env, "args": {k: v for k, v in self.env_args.items()
                                               if k != "log_dir"},
                "policy_config": cfg_fn() if cfg_fn else {}}

    def save_checkpoint(self) -> Path:
        """Write ``checkpoint.pt`` (atomically); returns its path."""
        payload = {
            "kind": "training", "algo": self.cfg.algo, "config": self.cfg.model_dump(),
            "config_hash": self.config_hash, "env": self.env_config(),
            "learners": {k: {"state": lr.state_dict(), "policy": lr.policy_state()}
                         for k, lr in self.learners.items()},
            "assign": self.assign, "league": self.league,
            "rng": self.rng.bit_generator.state, "update": self.update,
            "episodes": self.episodes, "env_steps": self.env_steps, "wall": self.wall,
            "history": self.history, "torch_rng": torch.get_rng_state(),
        }
        path = ckpt.save(self.out / "checkpoint.pt", payload)
        log.info("checkpoint at update %d: %s", self.update, path)
        return path

    def write_policy(self) -> Path:
        """Write ``policy.pt`` (torch) and ``policy.npz`` (torch-free) of the current
        learners; returns the ``.pt`` path."""
        payload = policy_payload({k: lr.policy_state() for k, lr in self.learners.items()},
                                 self.env_config(), self.config_hash,
                                 {"name": self.cfg.name, "update": self.update,
                                  "env_steps": self.env_steps, "wall_s": self.wall})
        path = ckpt.save(self.out / "policy.pt", payload)
        from abmm.learn.export import export_payload

        # the torch-free copy for kind: policy agents (abmm.policy); same policies
        export_payload(payload, self.out / "policy.npz", provenance={"source": path.name})
        return path

    def restore(self, payload: dict) -> None:
        """Continue from a training checkpoint's payload."""
        if payload.get("kind") != "training":
            raise ckpt.CheckpointError("not a training checkpoint (kind "
                                       f"{payload.get('kind')!r})")
        missing = set(self.learners) ^ set(payload["learners"])
        if missing:
            raise ckpt.CheckpointError(f"checkpoint learners {sorted(payload['learners'])} do "
                                       f"not match this config's {sorted(self.learners)}")
        for k, lr in self.learners.items():
            lr.load_state_dict(payload["learners"][k]["state"])
        self.league = {k: list(v) for k, v in payload["league"].items()}
        self.rng.bit_generator.state = payload["rng"]
        self.update = int(payload["update"])
        self.episodes = int(payload["episodes"])
        self.env_steps = int(payload["env_steps"])
        self.wall = float(payload["wall"])
        self.history = list(payload["history"])
        torch.set_rng_state(payload["torch_rng"])

    @classmethod
    def resume(cls, cfg: TrainConfig, base_dir: Path, out_dir: Path, env=None,
               **kw) -> Trainer:
        """A trainer continuing ``out_dir/checkpoint.pt`` exactly (``kw``: ``workers``,
        ``backend``, ``address`` as for a new one)."""
        t = cls(cfg, base_dir, out_dir, env=env, **kw)
        payload = ckpt.load(Path(out_dir) / "checkpoint.pt", expect_hash=t.config_hash)
        t.restore(payload)
        return t

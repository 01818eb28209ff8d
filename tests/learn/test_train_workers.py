"""``abmm train --workers N``: rollouts on worker processes, the learners in the driver.

Each parallel episode explores with its own stream and the workers' records are merged in
episode order, so a run's result depends on its config and seed, not on how many workers
play it (checked with 2 and 3); the serial path (``workers=1``) is the one the rest of the
suite checks, and it differs from the parallel one (the negative control of the comparison).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from abmm.learn.config import ConfigError, TrainConfig
from abmm.learn.normalize import RunningNorm
from abmm.learn.trainer import Trainer


def config(algo="ppo", updates=2, **kw):
    args = {"ppo": {"minibatch": 64, "epochs": 2},
            "dqn": {"learning_starts": 64, "batch": 32, "buffer": 5000}}[algo]
    return TrainConfig(name="w", env="model_based",
                       env_args={"n_agents": 2, "max_cycles": 30,
                                 "action_mode": "continuous" if algo == "ppo" else "discrete"},
                       algo=algo, algo_args=args, updates=updates, episodes_per_update=3,
                       checkpoint_every=1, league={"snapshot_every": 1, "p_opponent": 0.5},
                       **kw)


def weights(t):
    return {k: {n: p.detach().clone() for n, p in lr.net.named_parameters()}
            for k, lr in t.learners.items()}


def same(t1, t2) -> bool:
    w1, w2 = weights(t1), weights(t2)
    eq = all(torch.equal(w1[k][n], w2[k][n]) for k in w1 for n in w1[k])
    h1 = [{k: repr(v) for k, v in r.items() if k != "wall_s"} for r in t1.history]
    h2 = [{k: repr(v) for k, v in r.items() if k != "wall_s"} for r in t2.history]
    return eq and h1 == h2


def test_parallel_rollouts_do_not_depend_on_the_number_of_workers(tmp_path):
    runs = {}
    for w in (2, 3, 1):
        t = Trainer(config(), tmp_path, tmp_path / f"w{w}", workers=w, backend="pool")
        t.run()
        runs[w] = t
    assert runs[2].episodes == runs[3].episodes == 6
    assert runs[2].env_steps == runs[1].env_steps
    assert same(runs[2], runs[3])
    assert not same(runs[2], runs[1])  # the comparison can fail: serial explores differently
    # every agent's episodes reached its learner: per-update statistics exist for both
    for key in ("mm_0", "mm_1"):
        assert all(np.isfinite(r[f"{key}/return"]) for r in runs[2].history)
    assert (tmp_path / "w2" / "policy.npz").exists()


def test_parallel_resume_gives_the_same_run(tmp_path):
    full = Trainer(config(updates=3), tmp_path, tmp_path / "full", workers=2, backend="pool")
    full.run()
    part = Trainer(config(updates=2), tmp_path, tmp_path / "part", workers=2, backend="pool")
    part.run()
    resumed = Trainer.resume(config(updates=3), tmp_path, tmp_path / "part", workers=2,
                             backend="pool")
    resumed.run()
    assert same(full, resumed)


def test_normalizer_statistics_merge_as_if_seen_in_one_place():
    rng = np.random.default_rng(0)
    a, b = rng.normal(3, 2, (500, 4)), rng.normal(-1, 5, (300, 4))
    one = RunningNorm((4,))
    one.update(a)
    before = one.state_dict()
    worker = RunningNorm((4,))
    worker.load_state_dict(before)
    for chunk in np.array_split(b, 7):
        worker.update(chunk)
    one.update(b)
    merged = RunningNorm((4,))
    merged.load_state_dict(before)
    merged.merge(*worker.delta_since(before))
    np.testing.assert_allclose(merged.mean, one.mean, rtol=1e-10)
    np.testing.assert_allclose(merged.var, one.var, rtol=1e-10)
    assert merged.count == one.count


def test_online_learners_refuse_parallel_rollouts(tmp_path):
    with pytest.raises(ConfigError, match="ppo"):
        Trainer(config("dqn"), tmp_path, tmp_path / "d", workers=2, backend="pool")
    with pytest.raises(ConfigError, match="workers"):
        Trainer(config(), tmp_path, tmp_path / "z", workers=0)

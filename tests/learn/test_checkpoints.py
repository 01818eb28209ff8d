"""Checkpoints: round trip, exact resume, and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from abmm.learn import checkpoint as ckpt
from abmm.learn.config import TrainConfig
from abmm.learn.policy import load_policies
from abmm.learn.trainer import Trainer


def config(algo="ppo", updates=3, **kw):
    args = {"ppo": {"minibatch": 128, "epochs": 2},
            "dqn": {"learning_starts": 64, "batch": 32, "buffer": 5000},
            "tabular": {}}[algo]
    return TrainConfig(name="ck", env="model_based",
                       env_args={"n_agents": 2, "max_cycles": 40,
                                 "action_mode": "continuous" if algo == "ppo" else "discrete"},
                       algo=algo, algo_args=args, updates=updates, episodes_per_update=2,
                       checkpoint_every=1, league={"snapshot_every": 1, "p_opponent": 0.5},
                       **kw)


def weights(t):
    return {k: {n: p.detach().clone() for n, p in
                (lr.net.named_parameters() if hasattr(lr, "net") else
                 lr.q.named_parameters() if hasattr(lr, "q") else [("Q", torch.as_tensor(lr.Q))])}
            for k, lr in t.learners.items()}


@pytest.mark.parametrize("algo", ["ppo", "dqn", "tabular"])
def test_round_trip_gives_identical_actions(algo, tmp_path):
    t = Trainer(config(algo), tmp_path, tmp_path / "run")
    t.run()
    pols, payload = load_policies(tmp_path / "run" / "policy.pt")
    assert payload["kind"] == "policy" and set(pols) == {"mm_0", "mm_1"}
    pols2, _ = load_policies(tmp_path / "run" / "checkpoint.pt")  # a training checkpoint too
    obs = np.random.default_rng(0).uniform(-1, 1, (50, 16)).astype(np.float32)
    for k, lr in t.learners.items():
        direct = lr.act(obs, explore=False)[0]
        np.testing.assert_array_equal(pols[k](obs), direct)
        np.testing.assert_array_equal(pols2[k](obs), direct)


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_resume_gives_the_same_next_update(algo, tmp_path):
    full = Trainer(config(algo, updates=3), tmp_path, tmp_path / "full")
    full.run()
    part = Trainer(config(algo, updates=2), tmp_path, tmp_path / "part")
    part.run()
    resumed = Trainer.resume(config(algo, updates=3), tmp_path, tmp_path / "part")
    assert resumed.update == 2 and resumed.episodes == 4
    resumed.run()
    wf, wr = weights(full), weights(resumed)
    for k in wf:
        for n in wf[k]:
            torch.testing.assert_close(wf[k][n], wr[k][n], rtol=0, atol=0)
    strip = [{k: repr(v) for k, v in r.items() if k != "wall_s"} for r in full.history]
    strip2 = [{k: repr(v) for k, v in r.items() if k != "wall_s"} for r in resumed.history]
    assert strip == strip2  # (repr: NaN == NaN)
    assert len(resumed.league["mm_0"]) == 3


def test_corrupt_truncated_foreign_and_mismatched_checkpoints(tmp_path):
    t = Trainer(config(updates=1), tmp_path, tmp_path / "run")
    t.run()
    good = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(ckpt.CheckpointError, match="truncated"):
        ckpt.load(bad)
    flipped = bytearray(good)
    flipped[-100] ^= 0xFF
    bad.write_bytes(bytes(flipped))
    with pytest.raises(ckpt.CheckpointError, match="corrupt"):
        ckpt.load(bad)
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ckpt.CheckpointError, match="not an abmm checkpoint"):
        ckpt.load(bad)
    newer = bytearray(good)
    newer[8:12] = (99).to_bytes(4, "little")
    bad.write_bytes(bytes(newer))
    with pytest.raises(ckpt.CheckpointError, match="format version 99 is newer"):
        ckpt.load(bad)
    with pytest.raises(ckpt.CheckpointError, match="no such checkpoint"):
        ckpt.load(tmp_path / "missing.pt")
    other = config(updates=1).model_copy(update={"env_args": {"n_agents": 2, "max_cycles": 41,
                                                             "action_mode": "continuous"}})
    with pytest.raises(ckpt.CheckpointError, match="another configuration"):
        Trainer.resume(other, tmp_path, tmp_path / "run")


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    ckpt.save(path, {"kind": "x", "v": 1})

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", boom)  # the rename, wherever the atomic write does it
    with pytest.raises(KeyboardInterrupt):
        ckpt.save(path, {"kind": "x", "v": 2})
    assert ckpt.load(path)["v"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary left behind

"""Batched PPO for Spooner & Savani's game (abmm.learn.adversarial) and its benchmark."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from abmm.env.adversarial import mm_offsets
from abmm.learn import adversarial as al

torch.set_num_threads(1)


def tiny(**kw):
    return al.PPOConfig(**{"iters": 4, "paths": 200, "epochs": 2, "minibatch": 4000, "lr": 3e-3,
                           **kw})


def naive_maker(obs, rng=None):
    """Symmetric quotes 0.7 either side of the mid, whatever the inventory."""
    return mm_offsets(np.zeros(obs.shape[0]), np.full(obs.shape[0], 0.7))


def per_step_random_drift(obs, rng):
    return rng.uniform(-10, 10, obs.shape[0])


def test_training_beats_a_random_maker():
    mm, hist = al.train_plain(tiny(), seed=0)
    trained = al.evaluate(mm, al.fixed_drift(0.0), 1000, seed=99)
    rand = al.evaluate(al.random_maker, al.fixed_drift(0.0), 1000, seed=99)
    untrained = al.evaluate(al.MMPolicy(al.Player((9, 10), tiny()).net), al.fixed_drift(0.0),
                            1000, seed=99)
    assert hist[-1]["pnl_mean"] > hist[0]["pnl_mean"] + 3  # sampled play improves
    assert trained["pnl_mean"] > rand["pnl_mean"] + 10
    assert trained["pnl_mean"] > untrained["pnl_mean"] + 5


def test_best_response_adversary_pushes_against_the_inventory():
    adv, _ = al.train_best_response(naive_maker, tiny(iters=5), seed=1)
    g = al.MarketMakingGame(500)
    obs = g.reset(5)
    agree = []
    for _ in range(100):  # the drift opposes the inventory
        b = adv(obs)
        nz = g.q != 0
        agree.append(np.mean(np.sign(b[nz]) == -np.sign(g.q[nz])) if nz.any() else 1.0)
        obs, *_ = g.step(*naive_maker(obs), b)
    assert np.mean(agree) > 0.9
    trained = al.evaluate(naive_maker, adv, 1000, seed=8)
    rand = al.evaluate(naive_maker, per_step_random_drift, 1000, seed=8)
    none = al.evaluate(naive_maker, al.fixed_drift(0.0), 1000, seed=8)
    assert trained["drift_abs_mean"] > rand["drift_abs_mean"] + 2
    assert none["pnl_mean"] - trained["pnl_mean"] > 10
    assert trained["pnl_mean"] < rand["pnl_mean"] - 10
    assert trained["pnl_worst5"] < rand["pnl_worst5"]


def test_adversarial_training_plays_a_zero_sum_game_and_is_deterministic():
    a = al.train_adversarial(tiny(iters=2, paths=100), seed=4)
    b = al.train_adversarial(tiny(iters=2, paths=100), seed=4)
    for x, y in zip(list(a[0].net.parameters()) + list(a[1].net.parameters()),
                    list(b[0].net.parameters()) + list(b[1].net.parameters()), strict=True):
        assert torch.equal(x, y)
    assert a[2] == b[2] and "mm" in a[2][0] and "adv" in a[2][0]


def test_pnl_stats():
    ro = {"pnl": np.arange(100.0), "q_T": np.array([1.0, -1.0] * 50),
          "q_abs_mean": np.ones(100), "drift_abs_mean": np.zeros(100)}
    st = al.pnl_stats(ro)
    assert st["pnl_worst5"] == 2.0 and st["pnl_mean"] == 49.5
    assert st["inv_sd"] == pytest.approx(np.std(ro["q_T"], ddof=1))
    with pytest.raises(ValueError, match="reward"):
        al.train_plain(tiny(reward="mean"))


def _bench():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "spooner_savani.py"
    spec = importlib.util.spec_from_file_location("spooner_savani", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_json_keys_and_determinism(capsys):
    mod = _bench()
    argv = ["--json", "--iters", "1", "--br-iters", "1", "--train-paths", "50", "--paths", "100",
            "--drifts", "5", "--seed", "3"]
    assert mod.main(argv) == 0
    first = capsys.readouterr().out
    res = json.loads(first)
    conds = res["conditions"]
    assert set(conds) == {"adversary", "oracle", "random_drift", "drift_0", "drift_+5",
                          "drift_-5"}
    for row in conds.values():
        assert {"plain", "adversarial"} <= set(row)
        for m in row.values():
            assert set(mod.METRICS) <= set(m) and all(np.isfinite(list(m.values())))
    assert mod.main(argv) == 0
    assert capsys.readouterr().out == first

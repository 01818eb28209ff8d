"""Weight-conditioned rewards (``abmm.env.conditioned``) and ``abmm pareto``."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from abmm.cli import main
from abmm.env import model_based_v0
from abmm.env.conditioned import WeightConditioned, parse_objectives
from abmm.env.rewards import COMPONENTS
from abmm.learn.pareto import COLUMNS, _dominates

MARKET = {
    "name": "tiny_mm", "seed": 3,
    "market": {"open": "10:00", "close": "10:04", "warmup": "1min"},
    "fundamental": {"sigma_1h": 0.05},
    "agents": [
        {"kind": "noise", "count": 40, "wake": {"kind": "poisson", "interval": "20s"},
         "p_market": 0.3, "offset_ticks": 6, "order_ttl": "1min"},
        {"kind": "market_maker", "name": "mm", "strategy": "fixed", "half_spread_ticks": 2,
         "size": 5},
        {"kind": "market_maker", "name": "learner", "count": 2, "learnable": True,
         "latency": "1ms", "size": 5, "max_inventory": 25},
    ],
}
OBJ = {"spread_capture": 1.0, "inventory_pnl": 1.0, "inventory_abs": [0.0, 2.0]}


def test_conditioned_reward_is_the_weighted_reward_vector_and_obs_carry_the_weights():
    env = WeightConditioned(model_based_v0.parallel_env(n_agents=2, vector_reward=True,
                                                        max_cycles=20), OBJ)
    assert env.observation_space("mm_0").shape == (17,)
    obs, infos = env.reset(seed=4)
    w = {a: infos[a]["weights"]["inventory_abs"] for a in env.possible_agents}
    assert w["mm_0"] != w["mm_1"] and all(0 <= x <= 2 for x in w.values())
    for a, o in obs.items():
        assert o[-1] == pytest.approx(w[a] - 1.0)  # [0, 2] mapped to [-1, 1]
    idx = [COMPONENTS.index(k) for k in OBJ]
    rng = np.random.default_rng(0)
    while env.agents:
        _, rew, _, _, infos = env.step({a: int(rng.integers(env.action_space(a).n))
                                        for a in env.agents})
        for a, r in rew.items():
            vec = np.asarray(infos[a]["reward_vector"], np.float64)[idx]
            assert r == pytest.approx(vec @ np.array([1.0, 1.0, w[a]]), rel=1e-12, abs=1e-12)
    env.set_weights({"inventory_abs": 0.5})
    _, infos = env.reset(seed=5)
    assert {infos[a]["weights"]["inventory_abs"] for a in infos} == {0.5}
    # the same seed draws the same weights
    env.set_weights(None)
    w1 = env.reset(seed=9)[1]["mm_0"]["weights"]
    assert env.reset(seed=9)[1]["mm_0"]["weights"] == w1


@pytest.mark.parametrize("bad,msg", [({}, "non-empty"), ({"pnl": 1.0}, "unknown component"),
                                     ({"inventory_abs": [2, 1]}, "lo <= hi"),
                                     ({"inventory_abs": 1.0}, "no weight has a range"),
                                     ({"inventory_abs": "x"}, "expected a number")])
def test_bad_objectives(bad, msg):
    with pytest.raises(ValueError, match=msg):
        parse_objectives(bad)


def _row(pnl, mp):
    return {"_pnl": np.asarray(pnl, float), "_map": np.asarray(mp, float)}


def test_dominance_needs_both_better_at_95_percent():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, 200)
    inv = rng.uniform(2, 4, 200)
    b = _row(base, inv)
    gen = np.random.default_rng(0)
    assert _dominates(_row(base + 0.5, inv - 0.5), b, 2000, gen)
    # negative controls: the same point; better PnL with more risk; a difference within noise
    assert not _dominates(_row(base, inv), b, 2000, gen)
    assert not _dominates(_row(base + 0.5, inv + 0.1), b, 2000, gen)
    noise = rng.normal(0, 1, 200)
    assert not _dominates(_row(base + 0.01 + noise, inv - 0.01 + noise), b, 2000, gen)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "market.yaml").write_text(yaml.safe_dump(MARKET))
    cfg = {"name": "par", "env": "market",
           "env_args": {"scenario": "market.yaml", "action_mode": "discrete", "objectives": OBJ},
           "algo": "ppo", "algo_args": {"minibatch": 64, "epochs": 1}, "sharing": "shared",
           "updates": 1, "episodes_per_update": 1, "checkpoint_every": 1}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path


def test_train_conditioned_then_pareto(files, capsys):
    run = files / "run"
    assert main(["train", str(files / "train.yaml"), "--out", str(run)]) == 0
    out = files / "front"
    assert main(["pareto", "--scenario", str(files / "market.yaml"), "--policy",
                 str(run / "policy.npz"), "--seeds", "1000-1001", "--out", str(out),
                 "--weights", "3", "--gammas", "0.01,0.1"]) == 0
    text = capsys.readouterr().out
    assert "dominated by a learned point" in text
    rows = list(csv.DictReader(open(out / "pareto.csv")))
    assert list(rows[0]) == list(COLUMNS)
    assert [r["source"] for r in rows] == ["learned"] * 3 + ["as"] * 2 + ["glft"] * 2
    weights = [json.loads(r["params"])["inventory_abs"] for r in rows[:3]]
    assert weights == [0.0, 1.0, 2.0]
    for r in rows:
        assert int(r["n"]) == 4  # 2 seeds x 2 learners
        assert float(r["pnl_lo"]) <= float(r["pnl_mean"]) <= float(r["pnl_hi"])
    res = json.loads((out / "pareto.json").read_text())
    assert set(res["dominated"]) == {"as:0.01", "as:0.1", "glft:0.01", "glft:0.1"}
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a plain (unconditioned) policy: one line, and no output folder left behind
    plain = files / "plain.yaml"
    cfg = yaml.safe_load((files / "train.yaml").read_text())
    del cfg["env_args"]["objectives"]
    plain.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(plain), "--out", str(files / "prun")]) == 0
    capsys.readouterr()
    assert main(["pareto", "--scenario", str(files / "market.yaml"), "--policy",
                 str(files / "prun" / "policy.npz"), "--seeds", "1000", "--out",
                 str(files / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a weight-conditioned policy" in err
    assert not (files / "nope").exists()
    assert main(["pareto", "--scenario", str(files / "market.yaml"), "--policy",
                 str(run / "policy.npz"), "--out", str(out)]) == 2  # not empty: --force
    assert "--force" in capsys.readouterr().err

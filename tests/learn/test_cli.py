"""``abmm train`` and ``abmm evaluate`` with tiny budgets, policy agents in a scenario, and the
RL execution environment."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from abmm.cli import main
from abmm.env import execution_v0
from abmm.learn import checkpoint as ckpt
from abmm.scenario import build_model

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


@pytest.fixture
def files(tmp_path):
    (tmp_path / "market.yaml").write_text(yaml.safe_dump(MARKET))
    cfg = {"name": "smoke", "env": "market",
           "env_args": {"scenario": "market.yaml", "action_mode": "discrete"},
           "algo": "ppo", "algo_args": {"minibatch": 64, "epochs": 1}, "updates": 2,
           "episodes_per_update": 1, "checkpoint_every": 1,
           "league": {"snapshot_every": 1, "p_opponent": 0.5}}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path


def test_train_then_resume_then_evaluate(files, capsys):
    out = files / "run"
    assert main(["train", str(files / "train.yaml"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "trained 2 updates, 2 episodes" in text
    for f in ("curves.csv", "curves.png", "checkpoint.pt", "policy.pt"):
        assert (out / f).is_file(), f
    rows = list(csv.DictReader(open(out / "curves.csv")))
    assert [r["update"] for r in rows] == ["1", "2"]
    assert "learner_0/return" in rows[0] and "learner_1/pg_loss" in rows[0]
    # refuses to overwrite, resumes on request
    assert main(["train", str(files / "train.yaml"), "--out", str(out)]) == 2
    assert "use --resume" in capsys.readouterr().err
    assert main(["train", str(files / "train.yaml"), "--out", str(out), "--resume",
                 "--updates", "3"]) == 0
    assert "trained 3 updates, 3 episodes" in capsys.readouterr().out
    assert ckpt.load(out / "checkpoint.pt")["update"] == 3
    # evaluate the learned policy against the baselines on held-out seeds
    assert main(["evaluate", "--scenario", str(files / "market.yaml"), "--policy",
                 str(out / "policy.pt"), "--policy", "as", "--policy", "fixed",
                 "--seeds", "1000-1002", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res["policies"]) == {str(out / "policy.pt"), "as", "fixed"}
    for r in res["policies"].values():
        assert r["n"] == 6  # 3 seeds x 2 learners
        for k in ("pnl_mean", "pnl_std", "sharpe", "map", "final_inventory",
                  "realized_spread", "quoting_ratio", "pnl_ci"):
            assert k in r
    assert main(["evaluate", "--scenario", str(files / "market.yaml"), "--policy", "as",
                 "--seeds", "1000-1001"]) == 0
    table = capsys.readouterr().out
    assert "Sharpe" in table and "95 % confidence" in table


def test_bad_train_and_evaluate_input(files, capsys):
    (files / "bad.yaml").write_text("algo: sarsa\nupdates: 0\n")
    assert main(["train", str(files / "bad.yaml"), "--out", str(files / "x")]) == 2
    err = capsys.readouterr().err
    assert "algo" in err and "updates" in err  # every problem listed
    assert main(["evaluate", "--scenario", str(files / "market.yaml"), "--policy", "best"]) == 2
    assert "neither a checkpoint file nor a baseline" in capsys.readouterr().err
    assert main(["evaluate", "--scenario", str(files / "market.yaml"), "--policy", "as",
                 "--seeds", "9-3"]) == 2
    assert "--seeds" in capsys.readouterr().err
    (files / "junk.pt").write_bytes(b"junk")
    assert main(["evaluate", "--scenario", str(files / "market.yaml"), "--policy",
                 str(files / "junk.pt")]) == 2
    assert "not an abmm checkpoint" in capsys.readouterr().err
    assert main(["train", str(files / "train.yaml"), "--out", str(files / "none"),
                 "--resume"]) == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_a_policy_file_drives_scenario_agents(files, capsys):
    out = files / "run"
    assert main(["train", str(files / "train.yaml"), "--out", str(out), "--updates", "1"]) == 0
    capsys.readouterr()
    scen = dict(MARKET)
    scen["agents"] = MARKET["agents"][:2] + [
        {"kind": "policy", "name": "rl", "count": 2, "checkpoint": str(out / "policy.npz"),
         "latency": "1ms"}]
    model = build_model(scen)
    model.run()
    agents = model.groups["rl"]
    assert [a.learner_name for a in agents] == ["learner_0", "learner_1"]
    assert all(a.decisions == 180 for a in agents)  # 10:01-10:04, one decision a second
    assert sum(a.n_orders for a in agents) > 0
    bad = dict(scen, agents=MARKET["agents"][:2] + [
        {"kind": "policy", "checkpoint": str(files / "nothing.pt")}])
    from abmm.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="not found"):
        build_model(bad)


EXEC = {
    "name": "tiny_exec", "seed": 1,
    "market": {"open": "10:00", "close": "10:10", "warmup": "1min"},
    "fundamental": {"sigma_1h": 0.05},
    "agents": [
        {"kind": "noise", "count": 60, "wake": {"kind": "poisson", "interval": "10s"},
         "p_market": 0.2, "offset_ticks": 6, "order_ttl": "1min"},
        {"kind": "market_maker", "name": "mm", "strategy": "fixed", "half_spread_ticks": 1,
         "levels": 3, "size": 20},
        {"kind": "executor", "name": "seller", "learnable": True, "side": "sell",
         "quantity": 300, "start": "10:02", "duration": "5min",
         "wake": {"kind": "fixed", "interval": "30s"}},
    ],
}


def test_execution_env_rewards_sum_to_minus_the_shortfall(tmp_path):
    env = execution_v0.parallel_env(scenario=EXEC)
    assert env.possible_agents == ["seller_0"] and env.action_space("seller_0").n == 13
    obs, _ = env.reset(seed=4)
    assert obs["seller_0"].shape == (8,) and obs["seller_0"][0] == 1.0
    total, n = 0.0, 0
    while env.agents:
        _, r, term, trunc, info = env.step({"seller_0": 2})  # one TWAP slice, market order
        total += r["seller_0"]
        n += 1
    assert term["seller_0"]
    assert info["seller_0"]["executed"] == 300 and info["seller_0"]["remaining"] == 0
    assert total == pytest.approx(-info["seller_0"]["shortfall_bps"])
    assert n == 10  # ten 30-lot slices: done at the end of the schedule
    with pytest.raises(ValueError, match="learnable executors only"):
        execution_v0.parallel_env(scenario=MARKET)


def test_execution_evaluation_against_twap_and_ac(tmp_path, capsys):
    (tmp_path / "exec.yaml").write_text(yaml.safe_dump(EXEC))
    cfg = {"name": "ex", "env": "execution", "env_args": {"scenario": "exec.yaml"},
           "algo": "ppo", "algo_args": {"minibatch": 32, "epochs": 1}, "updates": 1,
           "episodes_per_update": 2, "sharing": "shared"}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", str(tmp_path / "train.yaml"), "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--scenario", str(tmp_path / "exec.yaml"), "--policy",
                 str(tmp_path / "run" / "policy.pt"), "--policy", "twap", "--policy", "ac",
                 "--seeds", "1000-1002", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["kind"] == "execution"
    for r in res["policies"].values():
        assert r["n"] == 3 and np.isfinite(r["shortfall_bps"]) and 0 < r["completion"] <= 1
    assert res["policies"]["twap"]["completion"] == 1.0


@pytest.mark.parametrize("path", sorted(p for p in (
    __import__("pathlib").Path(__file__).resolve().parents[2] / "scenarios" / "train").glob(
        "[!_]*.yaml")), ids=lambda p: p.stem)
def test_shipped_training_configs_load_and_build(path, tmp_path):
    from abmm.learn.config import load_config
    from abmm.learn.trainer import Trainer

    cfg, base = load_config(path)
    t = Trainer(cfg, base, tmp_path / "out")
    assert t.learners and t.assign
    if cfg.eval is not None and cfg.eval.scenario:
        assert (base / cfg.eval.scenario).is_file()


@pytest.mark.parametrize("sig,status", [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_stops_training_at_a_safe_point_with_a_checkpoint(files, tmp_path, sig, status):
    """SIGTERM (as SIGINT) stops ``abmm train`` between two updates: the checkpoint holds the
    finished updates, the exit status is 143 (130 for SIGINT), and --resume continues. The test
    waits on a readiness marker (curves.csv, written after each update), not on a sleep."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    cfg = yaml.safe_load((files / "train.yaml").read_text())
    cfg["updates"] = 200
    (files / "long.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.Popen([sys.executable, "-m", "abmm.cli", "train", str(files / "long.yaml"),
                             "--out", str(out)], cwd=files, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (out / "curves.csv").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "training never finished an update"
        time.sleep(0.05)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == status, err
    assert f"stopped by {sig}" in err and "Traceback" not in err
    from abmm.learn import checkpoint as ckpt

    saved = ckpt.load(out / "checkpoint.pt")
    assert 1 <= saved["update"] < 200
    assert main(["train", str(files / "long.yaml"), "--out", str(out), "--resume",
                 "--updates", str(saved["update"] + 1)]) == 0


def test_train_with_two_rollout_workers_and_bad_worker_input(files, capsys):
    out = files / "par"
    assert main(["train", str(files / "train.yaml"), "--out", str(out), "--workers", "2",
                 "--backend", "pool"]) == 0
    cap = capsys.readouterr()
    assert "rollouts on 2 pool worker(s)" in cap.err
    assert "trained 2 updates, 2 episodes" in cap.out
    assert (out / "policy.npz").is_file()
    assert main(["train", str(files / "train.yaml"), "--out", str(files / "w0"),
                 "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--workers 0" in err
    (files / "dqn.yaml").write_text((files / "train.yaml").read_text().replace(
        "algo: ppo", "algo: dqn").replace("epochs: 1", "batch: 16").replace(
        "minibatch: 64", "learning_starts: 16"))
    assert main(["train", str(files / "dqn.yaml"), "--out", str(files / "dq"),
                 "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ppo" in err and "--workers 1" in err
    assert not (files / "dq").exists()  # nothing left lying

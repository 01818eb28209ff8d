"""``abmm train`` with ``env: trading`` (abmm.env.trading_v0): the shipped chartist config for
two updates and its evaluation through the CLI, PPO (discrete and continuous) and DQN with
shared and independent learners on a tiny market, and the one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from abmm.cli import main
from abmm.learn.config import load_config
from abmm.learn.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "name": "tiny_trading", "seed": 2,
    "market": {"open": "10:00", "close": "10:05", "warmup": "2min"},
    "fundamental": {"sigma_1h": 0.1},
    "agents": [
        {"kind": "noise", "count": 40, "wake": {"kind": "poisson", "interval": "20s"},
         "p_market": 0.3, "offset_ticks": 6, "order_ttl": "1min"},
        {"kind": "market_maker", "name": "mm", "strategy": "fixed", "half_spread_ticks": 2,
         "size": 5},
        {"kind": "momentum", "name": "trader", "count": 2, "learnable": True, "latency": "1ms",
         "wake": {"kind": "fixed", "interval": "10s"}, "short_window": 3, "long_window": 6,
         "signal_window": 3, "rsi_window": 5, "max_position": 10},
    ],
}


def test_chartist_config_trains_two_updates_and_evaluates(tmp_path, capsys):
    cfg = yaml.safe_load((ROOT / "scenarios" / "train" / "chartist.yaml").read_text())
    assert cfg["env"] == "trading" and cfg["algo"] == "ppo"
    cfg.update(updates=2, episodes_per_update=1, checkpoint_every=1)
    cfg["algo_args"].update(epochs=1, minibatch=128)
    cfg["eval"]["seeds"] = "1000-1001"
    (tmp_path / "chartist.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    assert main(["train", str(tmp_path / "chartist.yaml"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "trained 2 updates, 2 episodes" in text and "Sharpe" in text
    res = json.loads((out / "eval.json").read_text())
    assert res["kind"] == "trading" and list(res["policies"])[1:] == ["ma", "rsi", "flat"]
    assert main(["evaluate", "--scenario", str(ROOT / "abmm" / "env" / "trading.yaml"),
                 "--policy", str(out / "policy.npz"), "--policy", "ma", "--policy", "rsi",
                 "--seeds", "1000-1001", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["kind"] == "trading"
    for r in res["policies"].values():
        assert r["n"] == 4  # 2 seeds x 2 chartists
        for k in ("pnl_mean", "pnl_ci", "sharpe", "sharpe_ci", "map", "traded", "stops"):
            assert k in r
    # the .npz and the .pt act the same on the same seeds
    npz, pt = res["policies"][str(out / "policy.npz")], json.loads(
        (out / "eval.json").read_text())["policies"][str(out / "policy.pt")]
    assert npz["pnl_mean"] == pt["pnl_mean"] and npz["traded"] == pt["traded"]


@pytest.mark.parametrize("algo,mode,sharing", [("ppo", "continuous", "shared"),
                                               ("dqn", "discrete", "independent")])
def test_trading_learners_train_and_evaluate(tmp_path, algo, mode, sharing):
    from abmm.learn.evaluate import evaluate

    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    algo_args = {"minibatch": 32, "epochs": 1} if algo == "ppo" else \
        {"batch": 16, "learning_starts": 10, "buffer": 500}
    cfg = {"name": "t", "env": "trading",
           "env_args": {"scenario": "tiny.yaml", "action_mode": mode}, "algo": algo,
           "algo_args": algo_args, "sharing": sharing, "updates": 2, "checkpoint_every": 1,
           "league": {"snapshot_every": 1, "p_opponent": 0.5},
           "eval": {"seeds": "1000-1001"}}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    c, base = load_config(tmp_path / "train.yaml")
    assert c.eval.baselines == ["ma", "rsi", "flat"]  # the trading default
    t = Trainer(c, base, tmp_path / "run")
    rows = t.run()
    assert len(rows) == 2 and len(t.learners) == (1 if sharing == "shared" else 2)
    key = next(iter(t.learners))
    assert np.isfinite(rows[-1][f"{key}/return"]) and rows[-1][f"{key}/traded"] >= 0
    assert Path(t.eval_scenario()) == tmp_path / "tiny.yaml"
    res = evaluate(t.eval_scenario(), [str(tmp_path / "run" / "policy.npz"), "flat"],
                   [1000, 1001])
    r = res["policies"][str(tmp_path / "run" / "policy.npz")]
    assert r["n"] == 4 and np.isfinite(r["pnl_mean"])
    assert res["policies"]["flat"]["traded"] == 0


def test_trading_policies_are_refused_where_they_do_not_fit(tmp_path, capsys):
    from abmm.learn.evaluate import evaluate
    from abmm.scenario import load_scenario

    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    cfg = {"name": "t", "env": "trading", "env_args": {"scenario": "tiny.yaml"},
           "algo": "ppo", "algo_args": {"minibatch": 32, "epochs": 1}, "updates": 1}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    c, base = load_config(tmp_path / "train.yaml")
    Trainer(c, base, tmp_path / "run").run()
    npz = tmp_path / "run" / "policy.npz"
    with pytest.raises(ValueError, match="market-making baseline"):
        evaluate(tmp_path / "tiny.yaml", ["as"], [1])
    market = ROOT / "abmm" / "env" / "market_making.yaml"
    with pytest.raises(ValueError, match="shape"):  # a trading policy on market makers
        evaluate(market, [str(npz)], [1])
    # a trading policy saved without its indicator windows cannot be a kind: policy chartist
    from abmm.policy.file import learner_arrays, read_policy_file, save_policy

    config, arrays = read_policy_file(npz)
    del config["env"]["policy_config"]["windows"]
    old = tmp_path / "old.npz"
    save_policy(old, {n: (lc, {k: arrays[k] for k in learner_arrays(n, lc) if k in arrays})
                      for n, lc in config["learners"].items()}, config["env"],
                config.get("config_hash", ""), config.get("meta"), config.get("provenance"))
    scen = dict(TINY, agents=[*TINY["agents"][:2],
                              {"kind": "policy", "name": "p", "checkpoint": str(old)}])
    with pytest.raises(Exception, match="without its indicator windows") as e:
        load_scenario(scen)
    assert "\n" not in str(e.value).strip().splitlines()[-1]


def test_trading_policy_plays_as_a_kind_policy_chartist(tmp_path):
    """A trained trading policy as ``kind: policy`` agents in a scenario: the first decision
    sees exactly trading_v0's first observation on the same seed (not another seed's); one
    decision per interval after the warm-up; it trades."""
    from abmm.env import trading_v0
    from abmm.scenario import build_model

    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    cfg = {"name": "t", "env": "trading", "env_args": {"scenario": "tiny.yaml"},
           "algo": "ppo", "algo_args": {"minibatch": 32, "epochs": 1, "ent_coef": 0.0},
           "updates": 1}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    c, base = load_config(tmp_path / "train.yaml")
    Trainer(c, base, tmp_path / "run").run()
    npz = tmp_path / "run" / "policy.npz"
    group = {"kind": "policy", "name": "trader", "count": 2, "latency": "1ms",
             "checkpoint": str(npz)}
    scen = dict(TINY, agents=[*TINY["agents"][:2], group])
    firsts = {}

    def first_obs(agent):  # the observation of the agent's first decision
        decide = agent._decide

        def wrapped():
            decide()
            firsts.setdefault(agent.name, agent.last_obs.copy())
        agent._decide = wrapped

    m = build_model(scen, seed=7)
    agents = m.groups["trader"]
    for a in agents:
        first_obs(a)
    m.run()
    env = trading_v0.parallel_env(scenario=tmp_path / "tiny.yaml")
    obs, _ = env.reset(seed=7)
    for i, a in enumerate(agents):
        np.testing.assert_allclose(firsts[a.name], obs[f"trader_{i}"], atol=1e-6)
    decisions = (m.end - m.warmup_end) // env.decision_ns
    assert [a.decisions for a in agents] == [decisions, decisions]
    assert sum(a.n_fills for a in agents) > 0
    other, _ = env.reset(seed=8)  # negative control: another market's first observation
    assert not np.allclose(firsts[agents[0].name], other["trader_0"], atol=1e-6)


"""Sequence encoders in training (``encoder`` key of a training config): PPO and DQN train with
a conv1d and a GRU encoder, export and reload acting as the learner does; every environment
trains with one; checkpoints resume exactly; same seed, same weights; a sequence policy
plays ``kind: policy`` agents and is evaluated without torch; and bad configs are one-line
``ConfigError``s."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import yaml

from abmm.learn.config import ConfigError, TrainConfig, load_config
from abmm.learn.policy import load_policies
from abmm.learn.trainer import Trainer
from abmm.policy.file import load_policy

CONV = {"type": "conv1d", "window": 4, "channels": [6], "kernel": 2}
GRU = {"type": "gru", "window": 4, "hidden": 8}
ENCODERS = {"conv1d": CONV, "gru": GRU}
ARGS = {"ppo": {"minibatch": 64, "epochs": 1, "hidden": [16]},
        "dqn": {"learning_starts": 32, "batch": 16, "buffer": 2000, "train_every": 2,
                "hidden": [16]}}


def config(algo="ppo", encoder=None, updates=2, **kw):
    return TrainConfig(name="seq", env="model_based",
                       env_args={"n_agents": 2, "max_cycles": 30,
                                 "action_mode": "continuous" if algo == "ppo" else "discrete"},
                       algo=algo, algo_args=ARGS[algo], encoder=encoder, updates=updates,
                       episodes_per_update=2, checkpoint_every=1,
                       league={"snapshot_every": 1, "p_opponent": 0.5}, **kw)


def weights(t):
    return {k: {n: p.detach().clone() for n, p in
                (lr.net if hasattr(lr, "net") else lr.q).named_parameters()}
            for k, lr in t.learners.items()}


@pytest.mark.parametrize("enc", list(ENCODERS))
@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_train_export_and_reload_act_as_the_learner(algo, enc, tmp_path):
    t = Trainer(config(algo, ENCODERS[enc]), tmp_path, tmp_path / "run")
    t.run()
    lr = t.learners["mm_0"]
    assert lr.window == 4
    net = lr.net if algo == "ppo" else lr.q
    assert net.spec["encoder"]["type"] == enc and net.encoder is not None
    pols, config_ = load_policy(tmp_path / "run" / "policy.npz")
    assert config_["version"] == 3
    assert config_["learners"]["mm_0"]["encoder"] == net.spec["encoder"]
    pt_pols, _ = load_policies(tmp_path / "run" / "policy.pt")
    # one stream fed step by step: the learner's greedy actions (its own windows), the .npz
    # policy and the .pt policy agree
    rng = np.random.default_rng(0)
    npz, pt = pols["mm_0"].fork(), pt_pols["mm_0"].fork()
    lr.clear_windows()
    for _ in range(7):
        obs = rng.uniform(-1, 1, (1, 16)).astype(np.float32)
        direct = lr.act(obs, explore=False, keys=["x"])[0]
        np.testing.assert_array_equal(npz(obs), direct)
        np.testing.assert_array_equal(pt(obs), direct)


@pytest.mark.parametrize("algo,enc", [("ppo", "gru"), ("dqn", "conv1d")])
def test_resume_with_an_encoder_gives_the_same_next_update(algo, enc, tmp_path):
    full = Trainer(config(algo, ENCODERS[enc], updates=3), tmp_path, tmp_path / "full")
    full.run()
    part = Trainer(config(algo, ENCODERS[enc], updates=2), tmp_path, tmp_path / "part")
    part.run()
    resumed = Trainer.resume(config(algo, ENCODERS[enc], updates=3), tmp_path,
                             tmp_path / "part")
    resumed.run()
    wf, wr = weights(full), weights(resumed)
    for k in wf:
        for n in wf[k]:
            torch.testing.assert_close(wf[k][n], wr[k][n], rtol=0, atol=0)
    if algo == "ppo":  # same config and seed, run again: identical
        again = Trainer(config(algo, ENCODERS[enc], updates=3), tmp_path, tmp_path / "again")
        again.run()
        wa = weights(again)
        for k in wf:
            for n in wf[k]:
                torch.testing.assert_close(wf[k][n], wa[k][n], rtol=0, atol=0)
        assert [r[f"{k}/return"] for r in again.history for k in wf] == \
            [r[f"{k}/return"] for r in full.history for k in wf]
    # another encoder: another configuration
    with pytest.raises(Exception, match="another configuration"):
        Trainer.resume(config(algo, None, updates=3), tmp_path, tmp_path / "part")


def test_the_default_encoder_changes_nothing(tmp_path):
    """``encoder: {type: mlp}`` is today's network: same weights, same config hash."""
    a = Trainer(config("ppo", None, updates=1), tmp_path, tmp_path / "a")
    b = Trainer(config("ppo", {"type": "mlp"}, updates=1), tmp_path, tmp_path / "b")
    assert a.config_hash == b.config_hash and "encoder" not in a.learners["mm_0"].net.spec
    a.run()
    b.run()
    wa, wb = weights(a), weights(b)
    for k in wa:
        for n in wa[k]:
            torch.testing.assert_close(wa[k][n], wb[k][n], rtol=0, atol=0)
    c = Trainer(config("ppo", GRU, updates=1), tmp_path, tmp_path / "c")
    assert c.config_hash != a.config_hash


TINY_MARKET = {
    "name": "tiny_mm", "seed": 3,
    "market": {"open": "10:00", "close": "10:03", "warmup": "1min"},
    "fundamental": {"sigma_1h": 0.05},
    "agents": [
        {"kind": "noise", "count": 30, "wake": {"kind": "poisson", "interval": "20s"},
         "p_market": 0.3, "offset_ticks": 6, "order_ttl": "1min"},
        {"kind": "market_maker", "name": "mm", "strategy": "fixed", "half_spread_ticks": 2,
         "size": 5},
        {"kind": "market_maker", "name": "learner", "count": 2, "learnable": True,
         "latency": "1ms", "size": 5, "max_inventory": 25},
    ],
}
TINY_TRADING = {
    "name": "tiny_trading", "seed": 2,
    "market": {"open": "10:00", "close": "10:04", "warmup": "2min"},
    "fundamental": {"sigma_1h": 0.1},
    "agents": [
        {"kind": "noise", "count": 30, "wake": {"kind": "poisson", "interval": "20s"},
         "p_market": 0.3, "offset_ticks": 6, "order_ttl": "1min"},
        {"kind": "market_maker", "name": "mm", "strategy": "fixed", "half_spread_ticks": 2,
         "size": 5},
        {"kind": "momentum", "name": "trader", "count": 2, "learnable": True, "latency": "1ms",
         "wake": {"kind": "fixed", "interval": "10s"}, "short_window": 3, "long_window": 6,
         "signal_window": 3, "rsi_window": 5, "max_position": 10},
    ],
}
TINY_EXEC = {
    "name": "tiny_exec", "seed": 1,
    "market": {"open": "10:00", "close": "10:06", "warmup": "1min"},
    "fundamental": {"sigma_1h": 0.05},
    "agents": [
        {"kind": "noise", "count": 40, "wake": {"kind": "poisson", "interval": "10s"},
         "p_market": 0.2, "offset_ticks": 6, "order_ttl": "1min"},
        {"kind": "market_maker", "name": "mm", "strategy": "fixed", "half_spread_ticks": 1,
         "levels": 3, "size": 20},
        {"kind": "executor", "name": "seller", "learnable": True, "side": "sell",
         "quantity": 300, "start": "10:02", "duration": "3min",
         "wake": {"kind": "fixed", "interval": "30s"}},
    ],
}


@pytest.mark.parametrize("env,scenario,algo", [("market", TINY_MARKET, "dqn"),
                                               ("trading", TINY_TRADING, "ppo"),
                                               ("execution", TINY_EXEC, "ppo")])
def test_every_environment_trains_and_evaluates_with_an_encoder(env, scenario, algo, tmp_path):
    from abmm.learn.evaluate import evaluate

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(scenario))
    args = {"scenario": "s.yaml"}
    if env != "execution":
        args["action_mode"] = "discrete"
    cfg = {"name": "e", "env": env, "env_args": args, "algo": algo, "algo_args": ARGS[algo],
           "encoder": GRU if env != "market" else CONV, "updates": 1, "checkpoint_every": 1}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    c, base = load_config(tmp_path / "train.yaml")
    t = Trainer(c, base, tmp_path / "run")
    t.run()
    assert t.env_steps > 0
    res = evaluate(tmp_path / "s.yaml", [str(tmp_path / "run" / "policy.npz")], [1000])
    (row,) = res["policies"].values()
    assert row["n"] >= 1


def test_a_sequence_policy_plays_policy_agents_and_evaluates_without_torch(tmp_path):
    (tmp_path / "market.yaml").write_text(yaml.safe_dump(TINY_MARKET))
    cfg = {"name": "seq_mm", "env": "market",
           "env_args": {"scenario": "market.yaml", "action_mode": "discrete"},
           "algo": "ppo", "algo_args": ARGS["ppo"], "encoder": GRU, "updates": 1}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    c, base = load_config(tmp_path / "train.yaml")
    Trainer(c, base, tmp_path / "run").run()
    scen = dict(TINY_MARKET, agents=TINY_MARKET["agents"][:2] + [
        {"kind": "policy", "name": "rl", "count": 2,
         "checkpoint": str(tmp_path / "run" / "policy.npz"), "latency": "1ms"}])
    (tmp_path / "play.yaml").write_text(yaml.safe_dump(scen))
    code = textwrap.dedent(f"""
        import json, sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is not installed (blocked by the test)")
        sys.meta_path.insert(0, _Block())
        from abmm.scenario import build_model
        from abmm.learn.evaluate import evaluate
        model = build_model({str(tmp_path / "play.yaml")!r})
        model.run()
        agents = model.groups["rl"]
        res = evaluate({str(tmp_path / "market.yaml")!r},
                       [{str(tmp_path / "run" / "policy.npz")!r}], [1000])
        assert "torch" not in sys.modules, "torch was imported"
        print(json.dumps({{"window": [a.policy.window for a in agents],
                          "own": agents[0].policy is not agents[1].policy,
                          "decisions": [a.decisions for a in agents],
                          "orders": sum(a.n_orders for a in agents),
                          "n": next(iter(res["policies"].values()))["n"]}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["window"] == [4, 4] and got["own"]  # one window per agent
    assert got["decisions"] == [120, 120] and got["orders"] > 0  # 10:01-10:03, every second
    assert got["n"] == 2


@pytest.mark.parametrize("encoder,algo,match", [
    ({"type": "lstm"}, "ppo", "encoder.type: 'lstm'; expected one of mlp, conv1d, gru"),
    ({"type": "gru", "window": 0}, "dqn", "encoder.window: 0; expected an int from 1"),
    ({"type": "gru", "window": 8}, "tabular", "encoder.type: 'gru' with algo tabular"),
    ({"type": "conv1d", "hidden": 8}, "ppo", "encoder.hidden: not a key of a conv1d"),
    ({"type": "mlp", "window": 3}, "ppo", "encoder.window: 3 with type mlp"),
])
def test_bad_encoder_configs_are_one_line_config_errors(encoder, algo, match, tmp_path):
    cfg = {"name": "bad", "env": "model_based", "env_args": {"action_mode": "discrete"},
           "algo": algo, "encoder": encoder}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=match) as exc:
        load_config(tmp_path / "bad.yaml")
    assert "\n" not in str(exc.value) and "bad.yaml" in str(exc.value)
    with pytest.raises(ConfigError, match=match):  # built in code: the trainer checks it
        Trainer(TrainConfig(**cfg), tmp_path, tmp_path / "out")
    from abmm.cli import main

    assert main(["train", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "x")]) == 2


def test_encoder_in_algo_args_is_refused(tmp_path):
    cfg = TrainConfig(name="bad", env="model_based", algo="ppo",
                      algo_args={"encoder": {"type": "gru"}})
    with pytest.raises(ConfigError, match=r"algo_args: unknown key\(s\) \['encoder'\]"):
        Trainer(cfg, tmp_path, tmp_path / "out")

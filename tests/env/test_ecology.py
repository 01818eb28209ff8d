"""ecology_v0: every role in one market. PettingZoo's conformance tests, each role alone equal
to its own environment step by step (with a negative control), determinism, early exit of a
finished executor, clear errors, and training with per-role spaces."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test

from abmm.env import ecology_v0, execution_v0, market_v0, trading_v0
from abmm.env.ecology_env import DEFAULT_SCENARIO

#: every learnable group of the default ecology scenario but one role's
OTHERS = {"maker": ["agents.trader.learnable=false", "agents.seller.learnable=false"],
          "chartist": ["agents.maker.learnable=false", "agents.seller.learnable=false"],
          "executor": ["agents.maker.learnable=false", "agents.trader.learnable=false"]}


def _random_actions(env, rng):
    return {a: int(rng.integers(env.action_space(a).n)) for a in env.agents}


def _lockstep(a, b, steps: int, seed: int = 5):
    """Play ``a`` and ``b`` with the same random actions; returns the number of steps on which
    their observations, rewards, terminations and truncations all agreed."""
    rng = np.random.default_rng(0)
    oa, _ = a.reset(seed=seed)
    ob, _ = b.reset(seed=seed)
    assert sorted(oa) == sorted(ob)
    for n in oa:
        np.testing.assert_array_equal(oa[n], ob[n])
    same = 0
    for _ in range(steps):
        if not a.agents:
            break
        acts = _random_actions(a, rng)
        ra = a.step(acts)
        rb = b.step(acts)
        agree = all(ra[k].keys() == rb[k].keys() for k in range(5)) and all(
            np.array_equal(ra[0][n], rb[0][n]) and ra[1][n] == rb[1][n]
            and ra[2][n] == rb[2][n] and ra[3][n] == rb[3][n] for n in ra[0])
        if not agree:
            break
        same += 1
        assert sorted(a.agents) == sorted(b.agents)
    return same


def test_parallel_api():
    parallel_api_test(ecology_v0.parallel_env(max_cycles=25), num_cycles=40)


def test_aec_api_and_seeds():
    api_test(ecology_v0.env(max_cycles=15), num_cycles=20)
    parallel_seed_test(lambda **kw: ecology_v0.parallel_env(max_cycles=15, **kw), num_cycles=15)


def test_roles_and_spaces():
    env = ecology_v0.parallel_env(max_cycles=5)
    assert env.possible_agents == ["maker_0", "maker_1", "trader_0", "trader_1", "seller_0"]
    assert [env.role(a) for a in env.possible_agents] == ["maker"] * 2 + ["chartist"] * 2 + [
        "executor"]
    assert env.action_space("maker_0").n == 26
    assert env.action_space("trader_0").n == trading_v0.N_ACTIONS
    assert env.action_space("seller_0").n == execution_v0.N_ACTIONS
    assert env.observation_space("trader_0").shape == (trading_v0.N_OBS,)
    cfg = env.policy_config()
    assert cfg["roles"]["seller_0"] == "executor" and cfg["decision_ns"] == 10 ** 10
    assert {"maker", "chartist", "executor"} <= set(cfg)


def test_makers_alone_are_market_v0():
    kw = {"overrides": OTHERS["maker"], "decision_interval": "10s", "max_cycles": 30}
    eco = ecology_v0.parallel_env(**kw, maker={"offsets": [1, 2, 4, 8]})
    mkt = market_v0.parallel_env(scenario=DEFAULT_SCENARIO, offsets=[1, 2, 4, 8], **kw)
    assert _lockstep(eco, mkt, 30) == 30
    # negative control: other reward weights change the rewards, so lockstep breaks
    other = market_v0.parallel_env(scenario=DEFAULT_SCENARIO, offsets=[1, 2, 4, 8],
                                   reward={"spread_capture": 1.0}, **kw)
    assert _lockstep(ecology_v0.parallel_env(**kw, maker={"offsets": [1, 2, 4, 8]}), other,
                     30) < 30


def test_chartists_alone_are_trading_v0():
    kw = {"overrides": OTHERS["chartist"], "decision_interval": "10s", "max_cycles": 30}
    eco = ecology_v0.parallel_env(**kw)
    trd = trading_v0.parallel_env(scenario=DEFAULT_SCENARIO, **kw)
    assert _lockstep(eco, trd, 30) == 30
    other = trading_v0.parallel_env(scenario=DEFAULT_SCENARIO, risk_aversion=1.0, **kw)
    assert _lockstep(ecology_v0.parallel_env(**kw), other, 30) < 30


def test_executor_alone_is_execution_v0_and_leaves_early():
    # the seller's start (11:00) is the end of the warm-up, where the ecology starts it
    kw = {"overrides": OTHERS["executor"], "decision_interval": "10s", "max_cycles": 180}
    eco = ecology_v0.parallel_env(**kw)
    exe = execution_v0.parallel_env(scenario=DEFAULT_SCENARIO, **kw)
    n = _lockstep(eco, exe, 180)
    assert 120 <= n < 180 and not eco.agents and not exe.agents  # 20 min of 10 s decisions
    other = execution_v0.parallel_env(scenario=DEFAULT_SCENARIO,
                                      overrides=OTHERS["executor"] + ["agents.seller.quantity=300"],
                                      decision_interval="10s", max_cycles=180)
    assert _lockstep(ecology_v0.parallel_env(**kw), other, 180) < 120


def _episode_digest(env, seed):
    rng = np.random.default_rng(1)
    h = hashlib.sha256()
    obs, _ = env.reset(seed=seed)
    left = {}
    while env.agents:
        obs, rew, term, trunc, _ = env.step(_random_actions(env, rng))
        for n in sorted(obs):
            h.update(obs[n].tobytes() + np.float64(rew[n]).tobytes())
            if term[n] or trunc[n]:
                left[n] = env.num_cycles
    return h.hexdigest(), left


def test_full_episode_determinism_and_early_exit():
    a = _episode_digest(ecology_v0.parallel_env(max_cycles=150), 3)
    b = _episode_digest(ecology_v0.parallel_env(max_cycles=150), 3)
    c = _episode_digest(ecology_v0.parallel_env(max_cycles=150), 4)
    assert a == b and a[0] != c[0]
    left = a[1]
    assert left["seller_0"] <= 121 and left["maker_0"] == left["trader_1"] == 150


def test_event_logs_identical(tmp_path):
    from abmm.rundir import open_run

    digests = []
    for k in range(2):
        env = ecology_v0.parallel_env(max_cycles=20, log_dir=tmp_path / str(k))
        _episode_digest(env, 7)
        env.close()
        run = next((tmp_path / str(k)).iterdir())
        ev = open_run(run).events()
        digests.append(hashlib.sha256(str(ev.to_pydict()).encode()).hexdigest())
    assert digests[0] == digests[1]


@pytest.mark.parametrize("kw, msg", [
    ({"overrides": ["agents.noise.learnable=true"]}, "other kinds"),
    ({"maker": {"decision_interval": "5s"}}, "ecology's own arguments"),
    ({"maker": {"no_such_arg": 1}}, "maker:"),
    ({"decision_interval": "1500ms"}, "multiple"),
    ({"chartist": [1]}, "expected a dict"),
])
def test_errors(kw, msg):
    with pytest.raises(ValueError, match=msg) as exc:
        ecology_v0.parallel_env(**kw)
    assert "\n" not in str(exc.value)


def test_bad_action_names_the_agent():
    from abmm.env.actions import InvalidActionError

    env = ecology_v0.parallel_env(max_cycles=5)
    env.reset(seed=1)
    acts = {a: 0 for a in env.agents}
    acts["trader_1"] = 99
    with pytest.raises(InvalidActionError, match="trader_1"):
        env.step(acts)


def test_training_builds_a_learner_per_role(tmp_path):
    from abmm.learn.config import ConfigError, TrainConfig
    from abmm.learn.trainer import Trainer, build_learners

    env = ecology_v0.parallel_env(max_cycles=6)
    cfg = TrainConfig(env="ecology", updates=1, episodes_per_update=1,
                      algo_args={"hidden": [8], "minibatch": 16, "epochs": 1})
    learners, assign = build_learners(cfg, env, None, "cpu")
    assert learners["trader_0"].norm.mean.shape != learners["maker_0"].norm.mean.shape
    with pytest.raises(ConfigError, match="sharing: shared"):
        build_learners(cfg.model_copy(update={"sharing": "shared"}), env, None, "cpu")
    # negative control: one role only, shared spaces are fine
    one = ecology_v0.parallel_env(max_cycles=6, overrides=OTHERS["chartist"])
    shared, _ = build_learners(cfg.model_copy(update={"sharing": "shared"}), one, None, "cpu")
    assert list(shared) == ["shared"]
    t = Trainer(cfg, tmp_path, tmp_path / "run", env=env)
    hist = t.run()
    assert len(hist) == 1 and {"seller_0/return", "maker_1/return"} <= set(hist[0])
    t.write_policy()
    # abmm evaluate: one row per role; one-role baselines and one-role policies are refused
    from abmm.learn.evaluate import evaluate, format_table

    pol = str(tmp_path / "run" / "policy.npz")
    res = evaluate(DEFAULT_SCENARIO, [pol], [1000])
    row = res["policies"][pol]
    assert res["kind"] == "ecology" and set(row) == {"maker", "chartist", "executor"}
    assert row["maker"]["n"] == 2 and row["executor"]["n"] == 1
    assert "chartists:" in format_table(res)
    with pytest.raises(ValueError, match="one-role baseline"):
        evaluate(DEFAULT_SCENARIO, ["as"], [1000])
    with pytest.raises(ValueError, match="trained in a 'market'"):
        evaluate(DEFAULT_SCENARIO, ["mm_coevolved"], [1000])
    # kind: policy agents play one learner of an ecology file: a maker, a chartist or an
    # executor (with its parent order)
    from abmm.scenario import build_model, load_scenario

    market = {"name": "eco_pol", "seed": 3,
              "market": {"open": "10:00", "close": "10:04", "warmup": "1min"},
              "fundamental": {"sigma_1h": 0.1},
              "agents": [{"kind": "noise", "count": 40, "order_ttl": "1min",
                          "wake": {"kind": "poisson", "interval": "10s"}, "p_market": 0.3},
                         {"kind": "market_maker", "name": "mm", "strategy": "fixed",
                          "half_spread_ticks": 2, "size": 5}]}
    groups = [{"kind": "policy", "name": "pm", "checkpoint": pol, "learner": "maker_0"},
              {"kind": "policy", "name": "pc", "checkpoint": pol, "learner": "trader_1"},
              {"kind": "policy", "name": "pe", "checkpoint": pol, "learner": "seller_0",
               "side": "sell", "quantity": 60, "start": "10:01", "duration": "2min"}]
    m = build_model({**market, "agents": market["agents"] + groups})
    m.run()
    pm, pc, pe = m.groups["pm"][0], m.groups["pc"][0], m.groups["pe"][0]
    assert not pm.chartist and pc.chartist and pe.executor
    assert pm.decisions == pc.decisions == 18  # 3 minutes of 10 s decisions
    s = pe.summary()
    assert s["executed"] == 60 and s["completion"] == 1.0 and pe.inventory == -60
    assert 1 <= pe.decisions <= 12  # at most 2 minutes of 10 s decisions, then at market
    for bad, msg in (({"learner": "seller_0"}, "give its parent order's side, quantity"),
                     ({"learner": None}, "name the learner"),
                     ({"side": "buy"}, "parent-order fields are for execution policies")):
        g = {**groups[0], **bad}
        with pytest.raises(Exception, match=msg):
            load_scenario({**market, "agents": market["agents"] + [g]})


def test_role_args_override_algo_args_per_role():
    from pydantic import ValidationError

    from abmm.learn.config import ConfigError, TrainConfig
    from abmm.learn.trainer import build_learners, check_args

    env = ecology_v0.parallel_env(max_cycles=6)
    cfg = TrainConfig(env="ecology", algo_args={"hidden": [8], "gamma": 0.99},
                      role_args={"executor": {"gamma": 1.0, "lam": 1.0}})
    learners, _ = build_learners(cfg, env, None, "cpu")
    assert learners["seller_0"].hp["gamma"] == 1.0 and learners["seller_0"].hp["lam"] == 1.0
    assert learners["maker_0"].hp["gamma"] == 0.99 and learners["trader_1"].hp["lam"] == 0.95
    with pytest.raises(ValidationError, match="role_args is for env: ecology"):
        TrainConfig(env="market", role_args={"maker": {"gamma": 1.0}})
    with pytest.raises(ValidationError, match="unknown role"):
        TrainConfig(env="ecology", role_args={"seller": {"gamma": 1.0}})
    with pytest.raises(ConfigError, match=r"role_args.executor: unknown key\(s\) \['gama'\]"):
        check_args(TrainConfig(env="ecology", role_args={"executor": {"gama": 1.0}}))

"""trading_v0: PettingZoo's API tests, full-episode determinism, the action grid and the stops on
constructed books, bad actions, observation bounds, baselines, and the learnable-kind rules."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test

from abmm.agents.base import BUY, SELL
from abmm.env import baselines, market_v0, trading_v0, vector
from abmm.env.actions import InvalidActionError
from abmm.learn.evaluate import evaluate

REF = 10_000


def hand_scenario(**learner):
    """A still market: a hand-driven trader (the test's) and one learnable chartist."""
    return {
        "name": "trading_rules", "seed": 1,
        "market": {"open": "10:00", "close": "10:10", "warmup": "0s"},
        "fundamental": {"sigma_1h": 0.0},
        "agents": [
            {"kind": "noise", "name": "hand", "count": 1, "latency": 0,
             "wake": {"kind": "fixed", "interval": "1h"}},
            {"kind": "momentum", "name": "lrn", "count": 1, "latency": 0, "learnable": True,
             "wake": {"kind": "fixed", "interval": "10s"}, "max_position": 10, **learner},
        ],
    }


def make(mode="discrete", **kw):
    """The env on the still market, reset, with the hand quoting 1 tick around 10000."""
    env = trading_v0.parallel_env(scenario=hand_scenario(), action_mode=mode,
                                  min_stop_ticks=10.0, **kw)
    env.reset(seed=1)
    hand = env.model.by_name("hand/0")
    env.model.detach(hand)
    hand.limit(BUY, REF - 1, 1000)
    hand.limit(SELL, REF + 1, 1000)
    return env, hand, env.learner("lrn_0")


def test_the_grid_reaches_its_targets():
    env, _, lrn = make()
    assert env.action_space("lrn_0").n == 15 == trading_v0.N_ACTIONS
    long_full = env.action_index(1.0)
    assert env.decode("lrn_0", long_full) == (10, None)
    _, r, _, _, info = env.step({"lrn_0": long_full})
    i = info["lrn_0"]
    assert lrn.inventory == i["position"] == 10 and i["entry_price"] == REF + 1
    assert i["traded"] == 10 and i["step_trades"] == 1
    assert r["lrn_0"] == pytest.approx(-10 / 10)  # paid the half-spread on 10 lots, scale 10
    _, _, _, _, info = env.step({"lrn_0": env.action_index(-0.5, 2.0)})
    assert lrn.inventory == -5 and info["lrn_0"]["entry_price"] == REF - 1
    assert info["lrn_0"]["traded"] == 25 and info["lrn_0"]["pnl_ticks"] == -25
    _, _, _, _, info = env.step({"lrn_0": env.action_index(0.0)})
    assert lrn.inventory == 0 and info["lrn_0"]["entry_price"] == 0
    assert [env.decode("lrn_0", a) for a in range(3)] == [(-10, None), (-10, 1.0), (-10, 2.0)]


def test_continuous_targets_and_stops():
    env, _, lrn = make("continuous")
    assert env.action_space("lrn_0").shape == (2,)
    assert env.decode("lrn_0", np.array([0.5, -0.2], np.float32)) == (5, None)
    assert env.decode("lrn_0", [-1.0, 1.0]) == (-10, 3.0)
    env.step({"lrn_0": np.array([0.5, 0.0], np.float32)})
    assert lrn.inventory == 5


@pytest.mark.parametrize(("stop", "fires"), [(1.0, True), (2.0, False), (None, False)])
def test_a_stop_flattens_after_an_adverse_move(stop, fires):
    env, hand, lrn = make()
    act = env.action_index(1.0, stop)
    env.step({"lrn_0": act})  # long 10 at 10001; sigma is 0, so 1 sigma = min_stop_ticks = 10
    assert lrn.inventory == 10
    if stop is not None:
        assert env.stop_ticks(stop) == 10 * stop
    hand.cancel_all()  # the bid drops to 9980: the mid 9990.5, 10.5 ticks under the entry
    hand.limit(BUY, REF - 20, 1000)
    hand.limit(SELL, REF + 1, 1000)
    _, _, _, _, info = env.step({"lrn_0": act})
    i = info["lrn_0"]
    assert i["stop_hit"] is fires and i["stops_hit"] == int(fires)
    assert lrn.inventory == (0 if fires else 10) == i["position"]
    if fires:  # flattened at the bid, and flat until the next decision
        assert i["pnl_ticks"] == -10 * 21
        _, _, _, _, info = env.step({"lrn_0": env.action_index(1.0)})  # no stop: back long
        assert lrn.inventory == 10 and info["lrn_0"]["stops_hit"] == 1
        _, _, _, _, info = env.step({"lrn_0": act})  # 1 sigma: still 10.5 ticks under: stopped
        assert lrn.inventory == 0 and info["lrn_0"]["stops_hit"] == 2


@pytest.mark.parametrize(("mode", "action", "why"), [
    ("discrete", 15, r"lrn_0: action 15: expected an int in \[0, 15\)"),
    ("discrete", -1, "expected an int"),
    ("discrete", 1.5, "expected an int"),
    ("discrete", True, "expected an int"),
    ("discrete", np.array([1, 2]), "expected an int"),
    ("continuous", [0.1, 0.2, 0.3], r"lrn_0: action .*expected 2 finite numbers in \[-1, 1\]"),
    ("continuous", [float("nan"), 0.0], "expected 2 finite"),
    ("continuous", [1.5, 0.0], "expected 2 finite"),
    ("continuous", "long", "expected 2 finite"),
])
def test_bad_actions_name_the_agent_value_and_expectation(mode, action, why):
    env, _, _ = make(mode)
    with pytest.raises(InvalidActionError, match=why) as e:
        env.step({"lrn_0": action})
    assert "\n" not in str(e.value)
    with pytest.raises(InvalidActionError, match="not an agent"):
        env.step({"nobody": 0})


def test_learnable_kinds_are_checked_by_both_envs():
    with pytest.raises(ValueError, match=r"market_v0 drives learnable quoting agents only.*"
                       r"lrn \(kind momentum\).*trading_v0"):
        market_v0.parallel_env(scenario=hand_scenario())
    sc = hand_scenario()
    sc["agents"][1] = {"kind": "market_maker", "name": "mm", "learnable": True}
    with pytest.raises(ValueError, match=r"trading_v0 drives learnable momentum chartists only"
                       r".*mm \(kind market_maker\)"):
        trading_v0.parallel_env(scenario=sc)
    with pytest.raises(ValueError, match="action_mode"):
        trading_v0.parallel_env(scenario=hand_scenario(), action_mode="grid")


@pytest.mark.parametrize("mode", ["discrete", "continuous"])
def test_parallel_api(mode):
    parallel_api_test(trading_v0.parallel_env(action_mode=mode, max_cycles=30), num_cycles=40)


def test_aec_api():
    api_test(trading_v0.env(max_cycles=20), num_cycles=30)


# ---------------------------------------------------------------------- full-episode determinism
def _episode(seed: int, log_dir: Path, mode: str = "discrete"):
    env = trading_v0.parallel_env(max_cycles=90, log_dir=log_dir, action_mode=mode)
    for i, a in enumerate(env.possible_agents):
        env.action_space(a).seed(5 + i)
    obs, _ = env.reset(seed=seed)
    space = env.observation_space(env.possible_agents[0])
    trace, rewards, infos = [np.concatenate(list(obs.values()))], [], []
    while env.agents:
        obs, r, _, _, info = env.step({a: env.action_space(a).sample() for a in env.agents})
        for o in obs.values():
            assert o.dtype == np.float32 and space.contains(o)
        trace.append(np.concatenate(list(obs.values())))
        rewards.append(list(r.values()))
        infos.append(sorted((a, sorted(i.items())) for a, i in info.items()))
    env.close()
    return np.array(trace), np.array(rewards), infos


def _hash_dir(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.rglob("*.parquet")):
        h.update(f.relative_to(path).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def test_full_episode_is_deterministic_and_in_bounds(tmp_path):
    o1, r1, i1 = _episode(3, tmp_path / "a")
    o2, r2, i2 = _episode(3, tmp_path / "b")
    assert o1.shape == (91, 2 * trading_v0.N_OBS) and r1.shape == (90, 2)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)
    assert i1 == i2
    assert _hash_dir(tmp_path / "a") == _hash_dir(tmp_path / "b")
    assert len(list((tmp_path / "a").rglob("*.parquet"))) >= 2
    assert np.abs(o1[0, :8]).max() > 0  # the warm-up filled the returns and indicators
    assert dict(i1[-1][0][1])["traded"] > 0 and dict(i1[-1][0][1])["stops_hit"] >= 0
    o3, _, _ = _episode(4, tmp_path / "c", "continuous")
    assert not np.array_equal(o1, o3)


# ---------------------------------------------------------------------- baselines, vector, eval
def test_baselines_vector_and_evaluate():
    env = trading_v0.parallel_env(max_cycles=5)
    obs, _ = env.reset(seed=2)
    o = obs["trader_0"]
    ma = baselines.make("ma", env)
    assert ma(o) == env.action_index(float(np.sign(o[4])))
    assert baselines.make("flat", env)(o) == env.action_index(0.0)
    assert env.action_space("trader_0").contains(baselines.make("random", env)(o))
    assert baselines.make("rsi", env, stop=1.0)(o) % 3 == 1
    with pytest.raises(ValueError, match="unknown baseline 'as' for TradingEnv"):
        baselines.make("as", env)
    out = baselines.run_episode(env, baselines.make("flat", env), seed=2)
    assert out["trader_0"]["inventory"] == 0 and out["trader_0"]["pnl"] == 0
    env.close()
    venv = vector.vec_env("trading_v0", 2, seed=1, max_cycles=3)
    vo, _ = venv.reset(seed=1)
    assert vo.shape == (4, trading_v0.N_OBS)
    venv.step(np.zeros(4, np.int64))
    venv.close()
    res = evaluate(str(trading_v0.DEFAULT_SCENARIO), ["ma", "flat"], [1])
    assert res["kind"] == "trading" and res["policies"]["flat"]["pnl_mean"] == 0
    assert res["policies"]["ma"]["n"] == 2
    with pytest.raises(ValueError, match="market-making baseline"):
        evaluate(str(trading_v0.DEFAULT_SCENARIO), ["as"], [1])

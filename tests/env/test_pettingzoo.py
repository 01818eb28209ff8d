"""PettingZoo's conformance tests for the three environments (market_v0, model_based_v0,
execution_v0), and full-episode determinism tests."""

from __future__ import annotations

import hashlib
import types
from pathlib import Path

import numpy as np
import pytest
from pettingzoo.test import (
    api_test,
    max_cycles_test,
    parallel_api_test,
    parallel_seed_test,
    render_test,
    seed_test,
)

from abmm.env import execution_v0, market_v0, model_based_v0

MODES = ["discrete", "continuous"]


@pytest.mark.parametrize("mode", MODES)
def test_market_parallel_api(mode):
    parallel_api_test(market_v0.parallel_env(action_mode=mode, max_cycles=60), num_cycles=80)


@pytest.mark.parametrize("mode", MODES)
def test_market_aec_api(mode):
    api_test(market_v0.env(action_mode=mode, max_cycles=40), num_cycles=60)


def test_market_seeds():
    seed_test(lambda **kw: market_v0.env(max_cycles=30, **kw), num_cycles=30)
    parallel_seed_test(lambda **kw: market_v0.parallel_env(max_cycles=30, **kw), num_cycles=30)


def test_market_max_cycles_and_render():
    max_cycles_test(market_v0)
    render_test(lambda **kw: market_v0.env(max_cycles=20, **kw))


@pytest.mark.parametrize("mode", MODES)
def test_model_based_apis(mode):
    parallel_api_test(model_based_v0.parallel_env(action_mode=mode, n_agents=2), num_cycles=250)
    api_test(model_based_v0.env(action_mode=mode, n_agents=2), num_cycles=250)


def test_model_based_seeds_max_cycles_render():
    seed_test(lambda **kw: model_based_v0.env(n_agents=2, **kw), num_cycles=100)
    parallel_seed_test(lambda **kw: model_based_v0.parallel_env(n_agents=2, **kw), num_cycles=100)
    max_cycles_test(model_based_v0)
    render_test(lambda **kw: model_based_v0.env(n_agents=2, max_cycles=20, **kw))


# ------------------------------------------------------------------------------ execution_v0
#: A small execution market: two learnable sellers among 60 noise traders, 10 decisions.
EXEC = {
    "name": "tiny_exec", "seed": 1,
    "market": {"open": "10:00", "close": "10:10", "warmup": "1min"},
    "fundamental": {"sigma_1h": 0.05},
    "agents": [
        {"kind": "noise", "count": 60, "wake": {"kind": "poisson", "interval": "10s"},
         "p_market": 0.2, "offset_ticks": 6, "order_ttl": "1min"},
        {"kind": "market_maker", "name": "mm", "strategy": "fixed", "half_spread_ticks": 1,
         "levels": 3, "size": 20},
        {"kind": "executor", "name": "seller", "learnable": True, "side": "sell", "count": 2,
         "quantity": 300, "start": "10:02", "duration": "5min",
         "wake": {"kind": "fixed", "interval": "30s"}},
    ],
}


def _exec_parallel(**kw):
    return execution_v0.parallel_env(scenario=EXEC, **kw)


def _exec_aec(**kw):
    return execution_v0.env(scenario=EXEC, **kw)


def test_execution_apis():
    parallel_api_test(_exec_parallel(), num_cycles=40)  # past the end: episodes of 11 steps
    api_test(_exec_aec(), num_cycles=40)


def test_execution_seeds_max_cycles_render():
    seed_test(_exec_aec, num_cycles=15)
    parallel_seed_test(_exec_parallel, num_cycles=15)
    max_cycles_test(types.SimpleNamespace(parallel_env=_exec_parallel, env=_exec_aec))
    render_test(lambda **kw: _exec_aec(max_cycles=5, **kw))


def test_execution_default_scenario_max_cycles():
    """The module itself, with its shipped default scenario (as PettingZoo calls it)."""
    max_cycles_test(execution_v0)


def test_execution_episode_end_and_arguments():
    env = _exec_parallel()
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})
    obs, _ = env.reset(seed=3)
    assert all(o.dtype == env.observation_space(a).dtype for a, o in obs.items())
    while env.agents:
        obs, _, term, trunc, _ = env.step({a: 2 for a in env.agents})
        assert all(type(v) is bool for v in (*term.values(), *trunc.values()))
        assert all(env.observation_space(a).contains(o) for a, o in obs.items())
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step({})
    for bad in (0, -3, True):
        with pytest.raises(ValueError, match="max_cycles"):
            _exec_parallel(max_cycles=bad)


# ---------------------------------------------------------------------- full-episode determinism
def _episode(env_fn, seed, tmp: Path | None = None):
    env = env_fn(tmp)
    obs, _ = env.reset(seed=seed)
    trace = [np.concatenate([obs[a] for a in env.possible_agents])]
    rewards = []
    while env.agents:
        acts = {a: env.action_space(a).sample() for a in env.agents}
        obs, r, term, trunc, _ = env.step(acts)
        if obs:
            trace.append(np.concatenate([obs[a] for a in env.possible_agents if a in obs]))
        rewards.append([r[a] for a in env.possible_agents if a in r])
    env.close()
    return np.array(trace), np.array(rewards)


def _hash_dir(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.rglob("*.parquet")):
        h.update(f.relative_to(path).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def test_market_full_episode_is_deterministic(tmp_path):
    def make(log_dir):
        e = market_v0.parallel_env(max_cycles=400, log_dir=log_dir)
        for i, a in enumerate(e.possible_agents):
            e.action_space(a).seed(7 + i)
        return e

    o1, r1 = _episode(make, 11, tmp_path / "a")
    o2, r2 = _episode(make, 11, tmp_path / "b")
    assert o1.shape == (401, 32) and r1.shape == (400, 2)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)
    assert _hash_dir(tmp_path / "a") == _hash_dir(tmp_path / "b")
    assert len(list((tmp_path / "a").rglob("*.parquet"))) >= 2
    o3, _ = _episode(make, 12, tmp_path / "c")
    assert not np.array_equal(o1, o3)


def test_model_based_full_episode_is_deterministic():
    def make(_):
        e = model_based_v0.parallel_env(n_agents=2, action_mode="continuous")
        for i, a in enumerate(e.possible_agents):
            e.action_space(a).seed(3 + i)
        return e

    o1, r1 = _episode(make, 5)
    o2, r2 = _episode(make, 5)
    assert o1.shape == (201, 32)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)


def test_execution_full_episode_is_deterministic():
    def make(_):
        e = _exec_parallel()
        for i, a in enumerate(e.possible_agents):
            e.action_space(a).seed(5 + i)
        return e

    o1, r1 = _episode(make, 9)
    o2, r2 = _episode(make, 9)
    assert o1.shape == (12, 16) and r1.shape == (11, 2)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)
    o3, _ = _episode(make, 10)
    assert not np.array_equal(o1, o3)

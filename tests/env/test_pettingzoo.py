"""PettingZoo's conformance tests for both markets, and a full-episode determinism test."""

from __future__ import annotations

import hashlib
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

from abmm.env import market_v0, model_based

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
    parallel_api_test(model_based.parallel_env(action_mode=mode, n_agents=2), num_cycles=250)
    api_test(model_based.env(action_mode=mode, n_agents=2), num_cycles=250)


def test_model_based_seeds_max_cycles_render():
    seed_test(lambda **kw: model_based.env(n_agents=2, **kw), num_cycles=100)
    parallel_seed_test(lambda **kw: model_based.parallel_env(n_agents=2, **kw), num_cycles=100)
    max_cycles_test(model_based)
    render_test(lambda **kw: model_based.env(n_agents=2, max_cycles=20, **kw))


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
        e = model_based.parallel_env(n_agents=2, action_mode="continuous")
        for i, a in enumerate(e.possible_agents):
            e.action_space(a).seed(3 + i)
        return e

    o1, r1 = _episode(make, 5)
    o2, r2 = _episode(make, 5)
    assert o1.shape == (201, 32)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)

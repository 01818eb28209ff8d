"""Vectorized training: SuperSuit's vec-env wrappers over the parallel env, in several
processes (as documented in abmm.env.market_v0)."""

from __future__ import annotations

import numpy as np
import pytest

ss = pytest.importorskip("supersuit", reason="supersuit is in the 'test' and 'rl' extras")

from abmm.env import market_v0, model_based_v0  # noqa: E402


def test_supersuit_vec_env_in_two_processes():
    vec = ss.pettingzoo_env_to_vec_env_v1(market_v0.parallel_env(max_cycles=30))
    vec = ss.concat_vec_envs_v1(vec, 2, num_cpus=2, base_class="gymnasium")
    try:
        obs, infos = vec.reset(seed=3)
        assert obs.shape == (4, 16) and obs.dtype == np.float32  # 2 envs x 2 learners
        assert isinstance(infos, list)  # reset infos: one list per process
        ends = 0
        for _ in range(40):  # past the end of an episode: sub-envs reset themselves
            obs, rew, term, trunc, infos = vec.step(
                np.array([vec.action_space.sample() for _ in range(vec.num_envs)]))
            assert obs.shape == (4, 16) and rew.shape == (4,)
            ends += int(np.any(term | trunc))
        assert ends >= 1
    finally:
        vec.close()


def test_supersuit_model_based_in_one_process():
    vec = ss.pettingzoo_env_to_vec_env_v1(model_based_v0.parallel_env(n_agents=2))
    vec = ss.concat_vec_envs_v1(vec, 3, num_cpus=1, base_class="gymnasium")
    obs, _ = vec.reset(seed=1)
    assert obs.shape == (6, 16)
    obs, rew, *_ = vec.step(np.zeros(6, dtype=np.int64))
    assert rew.shape == (6,)
    vec.close()

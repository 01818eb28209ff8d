"""abmm.env.vector: independent, reproducible copies; SB3's seed(); worker processes from a
plain script (no __main__ guard, after `import mesa`) without hanging."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("supersuit", reason="supersuit is in the 'test' and 'rl' extras")

from abmm.env import vector  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
KW = {"max_cycles": 5, "overrides": ["market.close=10:06"]}


def test_copies_play_distinct_reproducible_seeds():
    envs = vector.parallel_envs("market_v0", 3, seed=11, **KW)
    firsts = []
    for e in envs:
        e.reset()
        firsts.append(e.episode_seed)
        e.close()
    assert len(set(firsts)) == 3
    assert firsts == [s[0] for s in vector.episode_seeds(11, 3, 1)]
    again = vector.parallel_envs("market_v0", 3, seed=11, **KW)
    for e, want in zip(again, firsts, strict=True):
        e.reset()
        assert e.episode_seed == want
        e.reset()
        assert e.episode_seed != want  # the stream moves on
        e.close()


def test_explicit_seed_then_stream_and_reseed_option():
    e = vector.parallel_envs("market_v0", 2, seed=0, **KW)[1]
    e.reset(seed=42)
    assert e.episode_seed == 42
    e.reset(options={vector.SEED_OPTION: 5})
    assert e.episode_seed == vector.episode_seeds(5, 2, 1)[1][0]
    e.close()


def test_import_mesa_keeps_start_method():
    code = ("import multiprocessing as mp; import abmm.market.model, abmm.agents.base; "
            "print(mp.get_start_method(allow_none=True))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=60, check=True)
    assert out.stdout.strip() == "None"


def test_vec_env_gymnasium_sync_distinct_copies():
    vec = vector.vec_env("market_v0", 2, num_cpus=0, seed=3, **KW)
    try:
        obs, _ = vec.reset(seed=3)
        assert obs.shape == (4, 16)
        seeds = [c.par_env.episode_seed for c in vec.env.vec_envs]
        assert seeds[0] != seeds[1]
        vec.reset(seed=3)
        assert [c.par_env.episode_seed for c in vec.env.vec_envs] == seeds
    finally:
        vec.close()


def test_bad_arguments_one_line():
    with pytest.raises(ValueError, match="unknown environment 'nope_v0'"):
        vector.make_env("nope_v0")
    with pytest.raises(ValueError, match="num_envs must be >= 1"):
        vector.env_fns("market_v0", 0, seed=1)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="a plain script needs fork for worker processes")
def test_plain_script_two_cpus_no_hang(tmp_path):
    script = tmp_path / "plain.py"
    script.write_text(textwrap.dedent("""
        import mesa  # makes spawn the default start method, process-wide
        import numpy as np
        from abmm.env import vector

        kw = {"max_cycles": 5, "overrides": ["market.close=10:06"]}
        vec = vector.vec_env("market_v0", 2, num_cpus=2, seed=1, **kw)
        obs, _ = vec.reset()
        assert obs.shape == (4, 16), obs.shape
        a, b = obs[:2].copy(), obs[2:].copy()
        for _ in range(7):
            obs, *_ = vec.step(np.zeros(vec.num_envs, dtype=np.int64))
        vec.close()
        sb = vector.vec_env("market_v0", 2, num_cpus=2, seed=1, base_class="stable_baselines3",
                            **kw) if __import__("importlib").util.find_spec(
                                "stable_baselines3") else None
        if sb is not None:
            sb.seed(4)
            assert sb.reset().shape == (4, 16)
            sb.close()
        print("ok")
    """))
    raw = tmp_path / "raw.py"  # SuperSuit's own recipe (abmm imported mesa: start method kept)
    raw.write_text(textwrap.dedent("""
        import supersuit as ss
        from abmm.env import market_v0

        kw = {"max_cycles": 5, "overrides": ["market.close=10:06"]}
        vec = ss.pettingzoo_env_to_vec_env_v1(market_v0.parallel_env(**kw))
        vec = ss.concat_vec_envs_v1(vec, 2, num_cpus=2, base_class="gymnasium")
        vec.reset(seed=1)
        vec.close()
        print("ok")
    """))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for path in (script, raw):
        out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                             cwd=ROOT, timeout=180, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().endswith("ok")


def test_worker_limits_torch_threads():
    torch = pytest.importorskip("torch")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply(_threads_after_limit) == 1
    assert torch.get_num_threads() >= 1


def _threads_after_limit():
    import torch

    vector.limit_worker_threads()
    return torch.get_num_threads()


def test_sb3_seed_is_reproducible():
    pytest.importorskip("stable_baselines3")
    vec = vector.vec_env("market_v0", 2, seed=0, base_class="stable_baselines3", **KW)
    try:
        vec.seed(9)
        a = vec.reset()
        vec.seed(9)
        b = vec.reset()
        np.testing.assert_array_equal(a, b)
        assert [c.par_env.episode_seed for c in vec.venv.vec_envs] == \
            [s[0] for s in vector.episode_seeds(9, 2, 1)]
    finally:
        vec.close()

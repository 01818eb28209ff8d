"""market_v0's raw book window (``book_levels``): the extra observations are the book's top
levels, the 16 features are unchanged, a GRU trains over them, and a ``kind: policy`` agent
built from such a policy sees the same observation as the environment."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from abmm.env import market_v0
from abmm.env.observations import N_FEATURES

TINY = {"name": "t", "seed": 4, "market": {"open": "10:00", "close": "10:03", "warmup": "30s"},
        "fundamental": {"sigma_1h": 0.05},
        "agents": [{"kind": "noise", "count": 30, "wake": {"kind": "poisson", "interval": "5s"},
                    "order_ttl": "1min"},
                   {"kind": "market_maker", "name": "mm", "strategy": "fixed",
                    "half_spread_ticks": 2, "size": 5, "levels": 3},
                   {"kind": "market_maker", "name": "learner", "count": 2, "learnable": True,
                    "size": 5}]}


def test_book_window_is_the_books_top_levels():
    base = market_v0.parallel_env(scenario=TINY)
    env = market_v0.parallel_env(scenario=TINY, book_levels=3, book_scale=10.0)
    assert env.observation_space("learner_0").shape == (N_FEATURES + 12,)
    o0, _ = base.reset(seed=5)
    o1, _ = env.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(6):
        a = {n: int(rng.integers(17)) for n in env.agents}
        o0 = base.step(a)[0]
        o1 = env.step(a)[0]
    book, mid = env.model.book, env.features.mid
    for n in o1:
        np.testing.assert_array_equal(o1[n][:N_FEATURES], o0[n])  # the 16 are unchanged
        j = N_FEATURES
        for side in (0, 1):
            prices, qtys = book.depth(side, 3)[:2]
            for i in range(3):
                if i < len(prices):
                    want = (min(abs(prices[i] - mid) / env.actions.max_offset, 1.0),
                            math.tanh(qtys[i] / 10.0))
                else:
                    want = (1.0, 0.0)
                assert o1[n][j:j + 2] == pytest.approx(want, abs=1e-6)
                j += 2
    assert len(book.depth(0, 3)[0]) >= 1 and o1["learner_0"][N_FEATURES + 1] > 0  # not empty
    assert env.policy_config()["book_levels"] == 3


@pytest.mark.parametrize("bad", [-1, 51, "3", True, 2.5])
def test_bad_book_levels(bad):
    with pytest.raises(ValueError, match="book_levels"):
        market_v0.parallel_env(scenario=TINY, book_levels=bad)


def test_gru_over_the_book_trains_and_plays_as_a_policy_agent(tmp_path):
    from abmm.learn.config import load_config
    from abmm.learn.trainer import Trainer
    from abmm.scenario import build_model

    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    cfg = {"name": "b", "env": "market",
           "env_args": {"scenario": "tiny.yaml", "book_levels": 2},
           "algo": "ppo", "algo_args": {"minibatch": 32, "epochs": 1, "hidden": [16]},
           "encoder": {"type": "gru", "window": 4, "hidden": 8}, "updates": 1}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    c, base = load_config(tmp_path / "train.yaml")
    Trainer(c, base, tmp_path / "run").run()
    npz = tmp_path / "run" / "policy.npz"
    scen = dict(TINY, agents=[*TINY["agents"][:2],
                              {"kind": "policy", "name": "learner", "count": 2,
                               "checkpoint": str(npz)}])
    m = build_model(scen, seed=9)
    firsts = {}
    for a in m.groups["learner"]:
        def rec(obs, pol=a.policy, name=a.name):
            firsts.setdefault(name, obs.copy())
            return pol(obs)
        a.policy = rec
    m.run()
    env = market_v0.parallel_env(scenario=TINY, book_levels=2)
    obs, _ = env.reset(seed=9)
    for i, a in enumerate(m.groups["learner"]):
        got = firsts[a.name][0]
        assert got.shape == (N_FEATURES + 8,)
        np.testing.assert_allclose(got, obs[f"learner_{i}"], atol=1e-6)
    assert all(a.decisions > 0 for a in m.groups["learner"])

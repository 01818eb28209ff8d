"""Spooner & Savani's zero-sum game (abmm.env.adversarial) and the drift / inventory limit of
ASMarket it rests on."""

from __future__ import annotations

import numpy as np
import pytest

from abmm.env.adversarial import SS2020, MarketMakingGame, mm_offsets, worst_case_drift
from abmm.env.model_based_sim import ASMarket

# Sums after 60 steps of the driftless ASMarket as it was before drift and q_max existed
# (64 paths, 2 agents, seed 11, offsets from default_rng(5)): the driftless path must not move.
GOLDEN = {"binomial": (6402.262741699797, 1365.319192602308, -2.0, 426.0),
          "brownian": (6406.946027194063, 7217.1245482795475, -61.0, 383.0),
          "ou": (6405.39283139172, 4866.248845514805, -39.0, 369.0)}


def _run(mid, **step_kw):
    m = ASMarket(64, 2, mid=mid, kappa=2.0, fill="poisson" if mid == "ou" else "paper", seed=11)
    rng = np.random.default_rng(5)
    for _ in range(60):
        m.step(rng.uniform(0.1, 1.5, (64, 2)), rng.uniform(0.1, 1.5, (64, 2)), **step_kw)
    return m


@pytest.mark.parametrize("mid", sorted(GOLDEN))
def test_driftless_market_is_bit_identical_to_before(mid):
    for kw in ({}, {"drift": None}, {"drift": 0.0}, {"drift": np.zeros(64)}):
        m = _run(mid, **kw)
        got = (float(m.s.sum()), float(m.cash.sum()), float(m.q.sum()), float(np.abs(m.q).sum()))
        assert got == GOLDEN[mid], kw


def test_zero_drift_game_matches_the_plain_market():
    g = MarketMakingGame(50, seed=3)
    m = ASMarket(50, 1, mid="brownian", seed=3, **{k: SS2020[k] for k in
                                                   ("s0", "T", "sigma", "dt", "A", "k")})
    while not g.done:
        g.step(0.7, 0.6, 0.0)
        m.step(0.7, 0.6)
    assert np.array_equal(g.s, m.s) and np.array_equal(g.q, m.q[:, 0])
    assert np.array_equal(g.cash, m.cash[:, 0])


@pytest.mark.parametrize("mid", ["brownian", "binomial"])
def test_drift_moves_the_mid_by_b_dt(mid):
    n, dt = 40_000, 0.005
    m = ASMarket(n, 1, mid=mid, sigma=2.0, dt=dt, seed=1)
    b = np.where(np.arange(n) < n // 2, 10.0, -4.0)
    s0 = m.s.copy()
    m.step(np.inf, np.inf, drift=b)
    ds = m.s - s0
    se = 2.0 * np.sqrt(dt) / np.sqrt(n // 2)
    assert ds[: n // 2].mean() == pytest.approx(10.0 * dt, abs=4 * se)
    assert ds[n // 2:].mean() == pytest.approx(-4.0 * dt, abs=4 * se)
    assert ds.std() == pytest.approx(2.0 * np.sqrt(dt), rel=0.1)  # drift adds no noise


def test_game_clips_the_drift():
    g = MarketMakingGame(10, sigma=0.0, seed=0)
    g.step(np.inf, np.inf, 25.0)
    assert np.allclose(g.s, 100 + 10 * 0.005) and np.all(g.last_drift == 10.0)


def test_inventory_limits_hold():
    g = MarketMakingGame(200, q_max=3, seed=2)
    qs = []
    while not g.done:  # bid at the mid (fills 70 % of steps), never sell
        g.step(0.0, np.inf, 0.0)
        qs.append(g.q.copy())
    assert np.max(qs) == 3 and np.all(g.q == 3)
    g.reset(4)
    while not g.done:
        g.step(np.inf, 0.0, 0.0)
        assert g.q.min() >= -3
    assert np.all(g.q == -3)


def test_rewards_are_zero_sum_and_add_up_to_the_pnl():
    g = MarketMakingGame(300, seed=7)
    rng = np.random.default_rng(0)
    obs = g.reset(7)
    total = np.zeros(300)
    w = g.pnl.copy()
    while not g.done:
        db, da = mm_offsets(rng.uniform(-1, 1, 300), rng.uniform(0.2, 1.5, 300))
        obs, r, r_adv, done = g.step(db, da, rng.uniform(-10, 10, 300))
        assert np.array_equal(r_adv, -r)
        np.testing.assert_allclose(r, g.pnl - w, atol=1e-9)  # reward = change of cash + q s
        w = g.pnl.copy()
        total += r
    assert done and obs.shape == (300, 2) and np.all(obs[:, 0] == 1.0)
    np.testing.assert_allclose(total, g.pnl, atol=1e-7)  # the pnl starts at 0
    np.testing.assert_allclose(obs[:, 1] * 50, g.q)


def test_observation_and_spaces():
    g = MarketMakingGame(4)
    o = g.reset(0)
    assert o.shape == (4, 2) and np.all(o == 0)
    assert g.observation_space.shape == (2,) and g.mm_action_space.shape == (2,)
    assert g.adversary_action_space.high[0] == 10.0 and g.n_steps == 200


def test_offsets_and_worst_case_drift():
    db, da = mm_offsets([0.0, 1.0, -3.0], [0.5, 0.5, 1.0])
    assert db.tolist() == [0.5, 0.0, 4.0] and da.tolist() == [0.5, 1.5, 0.0]
    assert worst_case_drift([-3, 0, 2]).tolist() == [10.0, 0.0, -10.0]


def test_bad_parameters():
    with pytest.raises(ValueError, match="q_max"):
        ASMarket(1, q_max=0)
    with pytest.raises(ValueError, match="drift_max"):
        MarketMakingGame(1, drift_max=-1)

"""The market environment's rules on constructed situations: reward components, actions,
bad actions, baselines, and the model-based market's fill statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abmm.agents.base import BUY, SELL
from abmm.env import baselines, market_v0, model_based_v0
from abmm.env.actions import InvalidActionError
from abmm.env.model_based_sim import ASMarket
from abmm.env.rewards import COMPONENTS

REF = 10_000
C = {name: i for i, name in enumerate(COMPONENTS)}


def scenario(**learner):
    return {
        "name": "rules", "seed": 1,
        "market": {"open": "10:00", "close": "10:10", "warmup": "0s"},
        "fundamental": {"sigma_1h": 0.0},
        "agents": [
            {"kind": "noise", "name": "taker", "count": 1, "latency": 0,
             "wake": {"kind": "fixed", "interval": "1h"}},
            {"kind": "market_maker", "name": "lrn", "count": 1, "latency": 0, "size": 5,
             "learnable": True, **learner},
        ],
    }


def make(mode="discrete", **kw):
    kw.setdefault("reward", {"spread_capture": 1.0, "inventory_pnl": 1.0})
    env = market_v0.parallel_env(scenario=scenario(), action_mode=mode, vector_reward=True, **kw)
    env.reset(seed=1)
    taker = env.model.by_name("taker/0")
    env.model.detach(taker)  # the test trades for it, by hand
    return env, taker, env.learner("lrn_0")


def test_a_round_trip_at_the_quotes_earns_exactly_the_spread():
    env, taker, lrn = make()
    a = env.actions.discrete_index(1, 1)
    _, r, *_ = env.step({"lrn_0": a})
    assert sorted((o[0], o[1], o[2]) for o in lrn.open_orders.values()) == [
        (BUY, REF - 1, 5), (SELL, REF + 1, 5)]
    # the taker's own orders rest behind the learner's, so the mid stays at 10000
    taker.limit(BUY, REF - 1, 100)
    taker.limit(SELL, REF + 1, 100)
    taker.market_order(SELL, 5)
    taker.market_order(BUY, 5)
    assert lrn.inventory == 0 and lrn.cash == 10
    _, r, _, _, info = env.step({"lrn_0": a})
    v = info["lrn_0"]["reward_vector"]
    assert v[C["spread_capture"]] == pytest.approx(10 / 5)  # two 1-tick edges on 5 lots / 5
    assert v[C["inventory_pnl"]] == pytest.approx(0.0)
    assert v[C["adverse_selection"]] == 0
    assert v[C["order_cost"]] * 5 == pytest.approx(-2)  # the two quotes sent again
    assert r["lrn_0"] == pytest.approx(2.0)
    assert info["lrn_0"]["pnl_ticks"] == 10


@pytest.mark.parametrize("new_mid", [10_050, 9_950])
def test_holding_inventory_through_a_move_is_the_inventory_term(new_mid):
    env, taker, lrn = make("continuous", inventory_gamma=0.0)
    taker.limit(BUY, REF - 10, 100)
    taker.limit(SELL, REF + 10, 100)
    env.step({"lrn_0": env.actions.continuous_action(1, 1, 5, 0)})  # a bid only
    assert [(o[0], o[1]) for o in lrn.open_orders.values()] == [(BUY, REF - 1)]
    taker.market_order(SELL, 5)  # hits the learner's bid at 9999; the mid was 10004.5
    assert lrn.inventory == 5
    taker.cancel_all()
    taker.limit(BUY, new_mid - 10, 100)
    taker.limit(SELL, new_mid + 10, 100)
    _, r, _, _, info = env.step({"lrn_0": env.actions.continuous_action(1, 1, 0, 0)})
    v = info["lrn_0"]["reward_vector"] * 5  # back to tick-lots
    m0 = (REF - 1 + REF + 10) / 2
    assert v[C["spread_capture"]] == pytest.approx(5 * (m0 - (REF - 1)))
    assert v[C["inventory_pnl"]] == pytest.approx(5 * (new_mid - m0))
    assert v[C["adverse_selection"]] == pytest.approx(min(0.0, 5 * (new_mid - m0)))
    damped = v[C["spread_capture"]] + v[C["inventory_pnl"]] - 0.5 * max(0, v[C["inventory_pnl"]])
    assert v[C["dampened_pnl"]] == pytest.approx(damped)
    assert info["lrn_0"]["pnl_ticks"] == pytest.approx(-5 * (REF - 1) + 5 * new_mid)


def test_inventory_cost_is_gamma_q2_sigma2_dt():
    env, taker, lrn = make("continuous", inventory_gamma=0.02,
                           reward={"inventory_cost": 1.0})
    taker.limit(SELL, REF + 10, 100)
    env.step({"lrn_0": env.actions.continuous_action(1, 1, 5, 0)})
    taker.market_order(SELL, 5)
    for mid in (10_004, 10_012, 10_001):  # move the mid so sigma is not 0
        taker.cancel_all()
        taker.limit(BUY, mid - 2, 50)
        taker.limit(SELL, mid + 2, 50)
        _, r, _, _, info = env.step({"lrn_0": env.actions.continuous_action(1, 1, 0, 0)})
    var = env.features.var
    assert var > 0
    assert r["lrn_0"] == pytest.approx(-0.02 * 25 * var * 1.0 / 5)


def test_inventory_abs_is_abs_q_dt():
    env, taker, lrn = make("continuous", reward={"inventory_abs": 1.0})
    taker.limit(BUY, REF - 10, 100)
    env.step({"lrn_0": env.actions.continuous_action(1, 1, 0, 5)})  # an ask only
    taker.market_order(BUY, 5)  # lifts it: short 5
    assert lrn.inventory == -5
    _, r, _, _, info = env.step({"lrn_0": env.actions.continuous_action(1, 1, 0, 0)})
    assert info["lrn_0"]["reward_vector"][C["inventory_abs"]] == pytest.approx(-5 * 1.0 / 5)
    assert r["lrn_0"] == pytest.approx(-1.0)  # |q| dt = 5 lot-seconds over the scale 5


def test_quotes_keep_their_place_when_unchanged_and_respect_max_inventory():
    env, taker, lrn = make(max_inventory=5)
    a = env.actions.discrete_index(2, 2)  # symmetric: its own quotes keep the mid at 10000
    env.step({"lrn_0": a})
    ids = set(lrn.open_orders)
    _, _, _, _, info = env.step({"lrn_0": a})
    assert set(lrn.open_orders) == ids  # same quotes: nothing cancelled, queue kept
    assert info["lrn_0"]["reward_vector"][C["order_cost"]] == 0
    taker.market_order(SELL, 5)  # fills the bid: inventory 5 = max_inventory
    env.step({"lrn_0": a})
    assert [o[0] for o in lrn.open_orders.values()] == [SELL]  # no more bids
    env.step({"lrn_0": env.actions.no_quote})
    assert lrn.open_orders == {}


def test_bad_actions_get_clear_errors():
    env, _, _ = make()
    for bad, msg in ((26, "out of bounds"), (-1, "out of bounds"), (2.5, "expected an int"),
                     ("3", "expected an int"), (None, "expected an int"), (True, "expected")):
        with pytest.raises(InvalidActionError, match=msg):
            env.step({"lrn_0": bad})
    with pytest.raises(InvalidActionError, match="not an agent of this env"):
        env.step({"nobody_0": 1})
    with pytest.raises(InvalidActionError, match="must be a dict"):
        env.step([1])
    cont, _, _ = make("continuous")
    for bad, msg in (([0, 0, 0], r"shape \(3,\)"), ([0, 0, np.nan, 0], "NaN"),
                     ([0, 0, 2, 0], "out of bounds"), ("abcd", "expected 4 floats|shape")):
        with pytest.raises(InvalidActionError, match=msg):
            cont.step({"lrn_0": bad})
    now = cont.model.now
    cont.step({"lrn_0": np.zeros(4, np.float32)})  # the errors changed nothing
    assert cont.model.now == now + 10**9


def test_an_agent_that_is_done_gets_no_actions():
    env = market_v0.parallel_env(scenario=scenario(), max_cycles=3)
    env.reset(seed=2)
    for _ in range(3):
        _, _, term, trunc, _ = env.step({"lrn_0": 0})
    assert trunc == {"lrn_0": True} and term == {"lrn_0": False} and env.agents == []
    with pytest.raises(InvalidActionError, match="which is done"):
        env.step({"lrn_0": 0})
    full = market_v0.parallel_env(scenario=scenario(), decision_interval="2min")
    full.reset(seed=2)
    n = 0
    while full.agents:
        _, _, term, trunc, _ = full.step({"lrn_0": 0})
        n += 1
    assert n == 5 and term == {"lrn_0": True}  # the 10-minute session ends: terminated


def test_bad_env_arguments():
    with pytest.raises(ValueError, match="no learnable agents"):
        market_v0.parallel_env(scenario={**scenario(), "agents": scenario()["agents"][:1]})
    with pytest.raises(ValueError, match="multiple of the scenario's market.step"):
        market_v0.parallel_env(scenario=scenario(), decision_interval="1500ms")
    with pytest.raises(ValueError, match="unknown reward component"):
        market_v0.parallel_env(scenario=scenario(), reward={"profit": 1})
    with pytest.raises(ValueError, match="action_mode"):
        market_v0.parallel_env(scenario=scenario(), action_mode="both")
    with pytest.raises(ValueError, match="render_mode"):
        market_v0.parallel_env(scenario=scenario(), render_mode="video")


# ------------------------------------------------------------------------------ model-based
@pytest.mark.parametrize("delta", [0.2, 0.8, 1.5])
def test_model_based_fills_match_the_intensity(delta):
    mk = ASMarket(20_000, 1, seed=3, sigma=0.0)
    for _ in range(20):
        mk.step(delta, delta)
    n = 20 * 20_000
    p = 140 * math.exp(-1.5 * delta) * 0.005
    for fills in (mk.fills_b, mk.fills_a):
        rate = fills.sum() / n
        assert rate == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / n))


def test_model_based_poisson_fill_rule_and_competition():
    mk = ASMarket(50_000, 2, seed=4, sigma=0.0, fill="poisson")
    mk.step(np.array([0.5, 1.0]), np.array([1.0, 1.0]))
    lam = 140 * 0.005
    pb, pa = -math.expm1(-lam * math.exp(-1.5 * 0.5)), -math.expm1(-lam * math.exp(-1.5))
    n = 50_000
    assert mk.fills_b[:, 1].sum() == 0  # the worse bid never fills
    assert mk.fills_b[:, 0].mean() == pytest.approx(pb, abs=4 * math.sqrt(pb / n))
    # equal asks: the fill goes to one of them, half the time each
    assert (mk.fills_a.sum(axis=1) <= 1).all()
    assert mk.fills_a.sum() / n == pytest.approx(pa, abs=4 * math.sqrt(pa / n))
    assert mk.fills_a[:, 0].sum() / mk.fills_a.sum() == pytest.approx(0.5, abs=0.05)


def test_model_based_accounts_and_mid():
    mk = ASMarket(1000, 1, seed=5)
    w0 = mk.wealth.copy()
    s0 = mk.s.copy()
    buy, sell = mk.step(0.5, 0.7)
    ds = mk.s - s0
    assert np.allclose(np.abs(ds), 2 * math.sqrt(0.005))  # binomial +- sigma sqrt(dt)
    x = buy[:, 0].astype(float) - sell[:, 0]
    expected = w0[:, 0] + 0.5 * buy[:, 0] + 0.7 * sell[:, 0] + x * ds
    assert np.allclose(mk.wealth[:, 0], expected)
    with pytest.raises(ValueError, match="A\\*dt <= 1"):
        ASMarket(1, A=400)
    with pytest.raises(ValueError, match="mid must be"):
        ASMarket(1, mid="gbm")


def test_as2008_inventory_strategy_reproduces_the_paper():
    """gamma = 0.1: the paper reports 62.94 +- 5.89 (q std 2.80) for the inventory strategy and
    67.21 +- 13.43 (q std 8.66) for the symmetric one, over 1,000 paths."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "as2008", Path(__file__).resolve().parents[2] / "benchmarks" / "as2008.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    inv = mod.run("inventory", 0.1, 4000, 1)
    sym = mod.run("symmetric", 0.1, 4000, 1)
    assert inv["spread"] == pytest.approx(1.49, abs=0.01)
    assert inv["profit_mean"] == pytest.approx(64, abs=3)
    assert 5 < inv["profit_std"] < 7.5 and 2.4 < inv["q_std"] < 3.3
    assert 12 < sym["profit_std"] < 15 and 7.5 < sym["q_std"] < 9.5
    assert sym["profit_mean"] > inv["profit_mean"]  # more profit, much more risk


def test_baselines_run_in_both_envs():
    mb = model_based_v0.parallel_env()
    res = {n: np.mean([baselines.run_episode(mb, baselines.make(n, mb, **(
        {"gamma": 0.1} if n in ("as", "glft") else {})), seed=s)["mm_0"]["pnl"]
        for s in range(40)]) for n in ("as", "fixed", "random")}
    assert res["as"] > res["random"]
    env = market_v0.parallel_env(max_cycles=120)
    for n in baselines.NAMES:
        out = baselines.run_episode(env, baselines.make(n, env), seed=4)
        assert set(out) == set(env.possible_agents)
    with pytest.raises(ValueError, match="unknown baseline"):
        baselines.make("best", env)


def test_reset_frees_the_previous_market():
    """Mesa's class-level ``Agent._ids`` holds every model; ``release`` lets it go, so a long
    training loop does not keep one market per episode alive."""
    import gc
    import weakref

    env = make()[0]
    old = weakref.ref(env.model)
    env.reset(seed=2)
    gc.collect()
    assert old() is None
    env.close()

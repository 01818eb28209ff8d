"""Inverse RL (abmm.learn.irl): records rebuilt from a log match the agent's own state, the
fits recover known rewards from synthetic soft-optimal data, and random data is not mistaken
for an identified objective."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abmm.learn import irl
from abmm.policy.inferred import (
    EXEC_MULTIPLES,
    FINE_OFFSETS,
    ExecPolicy,
    MMPolicy,
    load_inferred,
)
from abmm.rundir import open_run
from abmm.scenario import build_model

MARKET = {"tick_size": 0.01, "reference_price": 100.0, "open": "10:00", "close": "10:10",
          "warmup": "1min", "step": "1s"}
CROWD = [
    {"kind": "noise", "count": 30, "wake": {"kind": "poisson", "interval": "5s"},
     "p_market": 0.4, "offset_ticks": 6, "cross_ticks": 1, "max_qty": 5, "order_ttl": "20s"},
    {"kind": "market_maker", "name": "bg", "count": 1, "strategy": "fixed",
     "half_spread_ticks": 2, "levels": 5, "size": 40, "max_inventory": 100000},
]


def _scenario(agent):
    return {"name": "irl_t", "seed": 3, "market": MARKET,
            "fundamental": {"half_life": None, "sigma_1h": 0.3}, "agents": [*CROWD, agent]}


def test_mm_record_rebuilt_from_the_log_matches_the_agent(tmp_path):
    agent = {"kind": "market_maker", "name": "as", "strategy": "avellaneda_stoikov",
             "gamma": 0.1, "k": 1.5, "latency": "1ms", "size": 5, "max_inventory": 50}
    m = build_model(_scenario(agent), out=tmp_path / "run")
    a = m.by_name("as/0")
    seen = []
    wake = a.on_wake

    def spy():
        inv = a.inventory
        wake()
        seen.append((m.now, inv, a.sigma()))

    a.on_wake = spy
    m.run()
    tr = irl.mm_trace(tmp_path / "run", "as/0")
    true = {t + 1_000_000: (inv, s) for t, inv, s in seen}  # requests arrive 1 ms later
    rows = [(true[t], inv, s) for t, inv, s in zip(tr.t, tr.inventory, tr.sigma, strict=True)
            if t in true]
    assert len(rows) > 0.9 * len(tr) > 400
    inv_ok = np.mean([i == ti for (ti, _), i, _ in rows])
    # sigma: the agent saw the mid 2 ms earlier (latency both ways), the log just before
    rel = np.array([abs(s - ts) / ts for (_, ts), _, s in rows])
    assert inv_ok > 0.99 and np.median(rel) < 0.01 and np.mean(rel < 0.1) > 0.95
    final = open_run(tmp_path / "run").agents().set_index("name").loc["as/0", "inventory"]
    assert tr.inventory.max() > 0 or tr.inventory.min() < 0
    assert abs(final) <= 50
    # the logged quotes are the AS rule's at the rebuilt states (mapped to the env grid)
    from abmm.policy.closed_form import as_quotes
    from abmm.policy.inferred import mm_action

    b, k = [], []
    for q, s, mid in zip(tr.q, tr.sigma, tr.mid, strict=True):
        bb, aa = as_quotes(mid, q, 0.1, s, 1.5, 60.0)
        bb, aa = min(math.floor(bb), math.ceil(mid) - 1), max(math.ceil(aa), math.floor(mid) + 1)
        b.append(mid - bb)
        k.append(aa - mid)
    assert irl.agreement(mm_action(np.array(b), np.array(k), tr.offsets), tr.action) > 0.95


def test_exec_record_rebuilt_from_the_log(tmp_path):
    agent = {"kind": "executor", "name": "ac", "side": "sell", "quantity": 600,
             "start": "10:02", "duration": "5min", "algo": "almgren_chriss", "urgency": 3.0,
             "child": "market", "wake": {"kind": "fixed", "interval": "30s"}, "latency": "1ms"}
    build_model(_scenario(agent), out=tmp_path / "run").run()
    tr = irl.exec_trace(tmp_path / "run", "ac/0")
    assert tr.n_slices == 9 and len(tr) == 9
    assert tr.f[0] == 1.0 and np.all(np.diff(tr.f) < 0)
    # the AC rule's first child: kappa coth(kappa) over the adaptive TWAP slice, front-loaded
    assert tr.ratio[0] > 2 and tr.action[0] == EXEC_MULTIPLES.index(2.0)
    assert tr.ratio[-1] < 1
    eta, sigma = irl.exec_eta_sigma(tr)
    assert eta > 0 and sigma > 0


def _synthetic_mm(theta, n, rng, random=False):
    model = {"offsets": [1, 2, 3, 5, 8], "fine": list(FINE_OFFSETS), "tau": 60.0}
    pol = MMPolicy(theta, model)
    q = rng.integers(-8, 9, n) / 5
    sigma = rng.uniform(0.5, 1.2, n)
    mid = 10000 + rng.integers(0, 2, n) / 2
    fine = np.asarray(FINE_OFFSETS)
    offs = []
    for side in (0, 1):
        p = pol.side_probs(q, sigma, side, mid)
        if random:  # uniform over the possible offsets up to 10 ticks
            p = np.where(pol.side_values(q, sigma, side, mid) > -np.inf, 1.0, 0.0)[:, :20]
            p = p / p.sum(1, keepdims=True)
        idx = np.array([rng.choice(p.shape[1], p=row) for row in p])
        offs.append(fine[idx])
    z = np.zeros(n)
    return irl.MMTrace(t=np.arange(n), inventory=q * 5, q=q, sigma=sigma, mid=mid,
                       bid_offset=offs[0], ask_offset=offs[1], bid_filled=z > 0,
                       ask_filled=z > 0, can_bid=z == 0, can_ask=z == 0,
                       action=irl.mm_action(offs[0], offs[1], model["offsets"]), dt=1.0,
                       size=5, meta={})


def test_fit_mm_recovers_gamma_from_soft_optimal_data():
    rng = np.random.default_rng(0)
    gamma = 0.1
    theta = np.array([2.0, 2.0, 2.0 * gamma])  # offset, -offset^2/2, offset * h
    tr = _synthetic_mm(theta, 1500, rng)
    res = irl.fit_mm(tr, tau=60.0, A=1.0, k=1.0)
    assert res.param == pytest.approx(gamma, rel=0.1)
    assert res.param_se < 0.02
    assert np.allclose(res.theta, theta, rtol=0.2)
    assert res.gain > 1.0


def test_fit_mm_random_quotes_identify_nothing():
    rng = np.random.default_rng(1)
    tr = _synthetic_mm(np.array([2.0, 2.0, 0.2]), 1500, rng, random=True)
    res = irl.fit_mm(tr, tau=60.0, A=1.0, k=1.0)
    # no confident gamma near 0.1: either far off or a standard error as large as the effect
    assert not (0.05 <= res.param <= 0.2 and res.param_se < 0.025)


def _synthetic_exec(u, n_runs, rng, random=False, N=20):
    theta = np.array([40.0, 40.0 * u * u])
    pol = ExecPolicy(theta, {"grid": 201})
    fs, js, acts = [], [], []
    for _ in range(n_runs):
        f = 1.0
        for j in range(N):
            p = pol.probs([f], [j], N)[0]
            a = int(rng.integers(4)) if random else int(rng.choice(4, p=p))
            fs.append(f)
            js.append(j)
            acts.append(a)
            f = max(f - min(EXEC_MULTIPLES[a] * f / (N - j), f), 0.0)
            if f <= 1e-9:
                break
    n = len(fs)
    return irl.ExecTrace(t=np.arange(n), j=np.array(js), f=np.array(fs), remaining=np.array(fs),
                         qty=np.zeros(n), ratio=np.zeros(n), action=np.array(acts),
                         n_slices=N, dt=30.0, quantity=1, sigma=1.0)


def test_fit_exec_recovers_urgency_from_soft_optimal_data():
    rng = np.random.default_rng(2)
    tr = _synthetic_exec(3.0, 40, rng)
    res = irl.fit_exec(tr, eta=1.0, sigma=1.0, grid=201)
    assert res.extra["urgency"] == pytest.approx(3.0, rel=0.15)
    T = tr.n_slices * tr.dt
    assert res.param == pytest.approx(9.0 / T ** 2, rel=0.3)  # lambda = u^2 eta / (sigma T)^2
    assert res.gain > 0.3


def test_fit_exec_random_slices_identify_nothing():
    rng = np.random.default_rng(3)
    tr = _synthetic_exec(3.0, 40, rng, random=True)
    res = irl.fit_exec(tr, eta=1.0, sigma=1.0, grid=201)
    assert res.gain < 0.05  # no better than the uniform policy


def test_save_result_round_trip_and_cloning(tmp_path):
    rng = np.random.default_rng(4)
    tr = _synthetic_mm(np.array([2.0, 2.0, 0.2]), 600, rng)
    res = irl.fit_mm(tr, tau=60.0, A=1.0, k=1.0)
    path = irl.save_result(res, tmp_path / "p.npz")
    pol, cfg = load_inferred(path, "market_maker")
    assert cfg["role"] == "market_maker" and np.allclose(pol.theta, res.theta)
    assert np.array_equal(irl.predict(res, tr), pol.env_actions(tr.q, tr.sigma, tr.mid))
    bc = irl.fit_cloning(tr)
    assert irl.agreement(bc(tr), tr.action) > irl.constant_agreement(tr.action)[0]


def _ac_trace(u, N=60):
    """An Almgren-Chriss rule's slices (urgency u = kappa T) as multiples of the adaptive TWAP
    slice: kappa tau coth(kappa tau), tau the time left, on schedule."""
    fs, js, ratios = [], [], []
    for j in range(N):
        x0 = np.sinh(u * (1 - j / N)) / np.sinh(u)
        x1 = np.sinh(u * (1 - (j + 1) / N)) / np.sinh(u)
        fs.append(x0)
        js.append(j)
        ratios.append((x0 - x1) / (x0 / (N - j)))
    n = len(fs)
    r = np.array(ratios)
    return irl.ExecTrace(t=np.arange(n), j=np.array(js), f=np.array(fs), remaining=np.array(fs),
                         qty=np.zeros(n), ratio=r, action=irl.exec_action(r), n_slices=N,
                         dt=30.0, quantity=1, sigma=1.0)


def _rollout(pol, N):
    f, path = 1.0, []
    for j in range(N):
        m = pol.multiples[pol.act(f, j, N)]
        f = max(f - min(m * f / (N - j), f), 0.0)
        path.append(f)
    return np.array(path)


def test_fine_multiples_follow_almgren_chriss_front_loading():
    from abmm.policy.inferred import FINE_MULTIPLES

    N, u = 60, 3.0
    tr = _ac_trace(u, N)
    assert tr.ratio.max() > 2.9  # the rule's first slices: beyond the environment's largest (2)
    true = np.sinh(u * (1 - np.arange(1, N + 1) / N)) / np.sinh(u)
    fine = irl.fit_exec(tr, eta=1.0, sigma=1.0, grid=201, multiples=FINE_MULTIPLES)
    assert fine.extra["urgency"] == pytest.approx(u, rel=0.05)
    assert fine.model["multiples"] == list(FINE_MULTIPLES)
    pol = fine.policy()
    assert np.abs(_rollout(pol, N) - true).max() < 0.01
    # the prediction is mapped to the environment's grid, as the logged actions are
    assert set(np.unique(irl.predict(fine, tr))) <= set(range(len(EXEC_MULTIPLES)))
    assert irl.agreement(irl.predict(fine, tr), tr.action) >= 0.9
    # negative control: on the environment's grid the same reward cannot front-load enough
    coarse = ExecPolicy(fine.theta, {"grid": 201})
    assert coarse.multiples == EXEC_MULTIPLES
    assert np.abs(_rollout(coarse, N) - true).max() > 0.02

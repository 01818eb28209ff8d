"""Agent and group metrics replayed from a run's event log (abmm.analysis.metrics)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from abmm.analysis import metrics as M
from abmm.scenario import build_model

SCENARIO = {
    "name": "metrics", "seed": 1,
    "market": {"open": "09:30", "close": "09:45"},
    "agents": [
        {"kind": "noise", "count": 60, "wake": {"kind": "poisson", "interval": "5s"}},
        {"kind": "value", "count": 10},
        {"kind": "market_maker", "name": "mm", "count": 1, "half_spread_ticks": 1},
        # quotes far away (capped at mid ± max_offset_ticks = 50): always two-sided, never hit
        {"kind": "market_maker", "name": "far", "count": 1, "half_spread_ticks": 500},
        {"kind": "executor", "start": "09:31", "duration": "10min", "quantity": 500,
         "wake": {"kind": "fixed", "interval": "10s"}},
    ],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("metrics") / "run"
    build_model(SCENARIO, seed=1, out=out).run()
    return out


@pytest.fixture(scope="module")
def data(run):
    return M.load_run(run)


@pytest.fixture(scope="module")
def am(data):
    return M.agent_metrics(data)


@pytest.fixture(scope="module")
def parquet(run):
    return pd.read_parquet(run / "agents.parquet").set_index("agent_id")


def _one(am, group):
    rows = am[am["group"] == group]
    assert len(rows) == 1
    return rows.iloc[0]


# ---------------------------------------------------------------------------------- core helpers
def test_step_lookup_inclusive_and_before():
    t = np.array([10, 20, 20, 30])
    v = np.array([1.0, 2.0, 3.0, 4.0])
    at = M.step_lookup(t, v, [5, 10, 20, 25, 30, 99], inclusive=True, default=-1)
    before = M.step_lookup(t, v, [5, 10, 20, 25, 30, 99], inclusive=False, default=-1)
    assert at.tolist() == [-1, 1, 3, 3, 4, 4]
    assert before.tolist() == [-1, -1, 1, 3, 3, 4]


def test_pnl_decomposition_on_arrays():
    # buy 10 @ 101 (mid 100.5), sell 5 @ 103 (mid 102), final mark 104
    spread, inventory, total = M.pnl_decomposition([10, -5], [101, 103], [100.5, 102], 104)
    assert spread == pytest.approx(10 * (100.5 - 101) - 5 * (102 - 103))
    assert inventory == pytest.approx(10 * (104 - 100.5) - 5 * (104 - 102))
    assert total == pytest.approx(-10 * 101 + 5 * 103 + 5 * 104)
    assert spread + inventory == pytest.approx(total)


def test_realized_spread_and_impact_signs():
    # taker buys at the ask 101 (mid 100), the mid then rises to 100.5: the maker (seller)
    # keeps +0.5 of its 1-tick edge and loses 0.5 to adverse selection
    assert M.realized_spread([101], [0], [100.5])[0] == pytest.approx(0.5)
    assert M.price_impact([0], [100], [100.5])[0] == pytest.approx(0.5)
    # taker sells at the bid 99 (mid 100), the mid falls to 98: the maker (buyer) loses 1 net
    assert M.realized_spread([99], [1], [98])[0] == pytest.approx(-1.0)
    assert M.price_impact([1], [100], [98])[0] == pytest.approx(2.0)
    # mid unchanged: realized spread = the half-spread earned, no impact
    assert M.realized_spread([99], [1], [100])[0] == pytest.approx(1.0)
    assert M.price_impact([1], [100], [100])[0] == 0
    # edge = realized spread + impact
    edge = 1 * (99 - 100) * -1
    assert edge == pytest.approx(M.realized_spread([99], [1], [98])[0]
                                 + M.price_impact([1], [100], [98])[0])


def test_drawdown_and_sharpe():
    assert M.max_drawdown([0, 5, 2, 7, 1, 3]) == 6
    assert M.max_drawdown([0, 1, 2]) == 0
    assert M.max_drawdown(np.array([[0, 3, 1], [0, -2, 4]]), axis=1).tolist() == [2, 2]
    assert np.isnan(M.sharpe_ratio([1, 1, 1, 1], 390))
    path = np.cumsum([0, 1, 2, 1, 2])
    d = np.diff(path)
    assert M.sharpe_ratio(path, 4) == pytest.approx(d.mean() / d.std(ddof=1) * 2)


def test_two_sided_time():
    # agent 0: bid [0, 10), ask [5, 20) -> both during [5, 10); agent 1: two bids only
    agent = [0, 0, 0, 0, 1, 1, 1, 1]
    ts = [0, 10, 5, 20, 0, 10, 3, 8]
    d_bid = [1, -1, 0, 0, 1, -1, 1, -1]
    d_ask = [0, 0, 1, -1, 0, 0, 0, 0]
    assert M.two_sided_time(agent, ts, d_bid, d_ask, 3).tolist() == [5, 0, 0]


# ---------------------------------------------------------------------------------- a run
def test_pnl_equals_agents_parquet(am, parquet, data):
    p = parquet.loc[am.index]
    unit = data.tick * data.lot
    np.testing.assert_allclose(am["pnl"], p["pnl_ticks"] * unit, atol=1e-9, rtol=0)
    np.testing.assert_allclose(am["pnl_ticks"], p["pnl_ticks"], atol=1e-7, rtol=0)
    assert (am["inventory"] == p["inventory"]).all()
    assert (am["fills"] == p["fills"]).all()
    assert (am["traded"] == p["traded"]).all()
    assert (am["orders"] == p["orders"]).all()  # every order reached the exchange


def test_decomposition_sums_to_total(am):
    np.testing.assert_allclose(am["spread_pnl"] + am["inventory_pnl"], am["pnl"],
                               atol=1e-9, rtol=0)


def test_spread_capture_matches_an_event_by_event_replay(am, run, data):
    """Spread capture recomputed by walking the log in order, one fill at a time, with the mark
    just before each fill (the mid of the last top/ row of an earlier time, else the last trade
    of an earlier time, else the reference price) -- independent of the vectorized ledger."""
    from abmm.engine.types import EventKind
    from abmm.rundir import open_run

    ev = open_run(run).events().to_pandas()
    top = open_run(run).top().to_pandas()
    ref_ticks = yaml.safe_load((run / "scenario.yaml").read_text())["market"]
    ref_ticks = round(ref_ticks["reference_price"] / ref_ticks["tick_size"])
    fills = ev[ev["kind"] == int(EventKind.FILL)]
    top_t, fill_t = top["ts"].to_numpy(), fills["ts"].to_numpy()
    spread = {}
    last_trade = None
    ti = fi = 0
    mid = None
    for _, f in fills.iterrows():
        t = f["ts"]
        while ti < len(top_t) and top_t[ti] < t:
            row = top.iloc[ti]
            mid = (row["bid"] + row["ask"]) / 2 if row["bid"] > 0 and row["ask"] > 0 else None
            ti += 1
        while fi < len(fill_t) and fill_t[fi] < t:
            last_trade = fills["price"].iloc[fi]
            fi += 1
        mark = mid if mid is not None else last_trade if last_trade is not None else ref_ticks
        assert mark is not None, "a fill before any two-sided book or trade"
        taker_sign = 1 if f["side"] == 0 else -1
        for agent, sign in ((f["other_owner"], taker_sign), (f["owner"], -taker_sign)):
            spread[agent] = spread.get(agent, 0.0) + sign * f["qty"] * (mark - f["price"])
    assert len(spread) > 10
    unit = data.tick * data.lot
    for agent, ticks in spread.items():
        assert am.loc[agent, "spread_pnl"] == pytest.approx(ticks * unit, abs=1e-9), agent
    traded = am.index[am["fills"] > 0]
    assert set(traded) == set(spread)


def test_market_maker_trades_and_earns_its_edge(am):
    mm = _one(am, "mm")
    assert mm["maker_fills"] > 0 and mm["taker_fills"] == 0
    assert mm["maker_edge_ticks"] > 0
    for h in ("5s", "60s"):
        assert mm[f"realized_spread_{h}_ticks"] + mm[f"adverse_selection_{h}_ticks"] == \
            pytest.approx(mm["maker_edge_ticks"])
    assert 0 < mm["quoting_ratio"] <= 1
    assert mm["inv_max_abs"] >= mm["inv_map"] >= abs(mm["inv_mean"])


def test_idle_maker_has_zero_pnl_and_always_quotes(am):
    far = _one(am, "far")
    assert far["orders"] > 0 and far["fills"] == 0
    assert far["pnl"] == 0 and far["spread_pnl"] == 0 and far["inventory_pnl"] == 0
    assert far["inv_max_abs"] == 0 and far["max_drawdown"] == 0
    assert far["quoting_ratio"] == 1.0


def test_ratios_in_range(am):
    q = am["quoting_ratio"].dropna()
    assert len(q) and ((q >= 0) & (q <= 1)).all()
    f = am["fill_ratio"].dropna()
    assert ((f >= 0) & (f <= 1)).all()
    assert (am["max_drawdown"] >= 0).all()


def test_executor_matches_its_own_accounts(am, parquet, data):
    ex = am[am["kind"] == "executor"]
    assert len(ex) == 1
    e, p = ex.iloc[0], parquet.loc[ex.index[0]]
    assert e["avg_price_ticks"] == pytest.approx(p["avg_price_ticks"], abs=1e-9)
    # the arrival mark replayed from the log is what the executor saw
    assert e["arrival_price_log_ticks"] == pytest.approx(p["arrival_price_ticks"])
    assert e["shortfall_ticks"] == pytest.approx(p["shortfall_ticks"], abs=1e-9)
    assert e["shortfall_bps"] == pytest.approx(p["shortfall_ticks"] / p["arrival_price_ticks"]
                                               * 1e4)
    assert e["completion"] == pytest.approx(p["completion"])
    assert e["executed"] == p["executed"] == 500
    assert np.isfinite(e["vwap_slippage_ticks"]) and np.isfinite(e["taker_slippage_ticks"])


def test_quoting_ratio_matches_a_replay(am, run, data):
    """Replay the market maker's orders event by event, tracking each one's open lots."""
    ev = pd.read_parquet(run / "events")
    mm_id = _one(am, "mm").name
    mine = set(ev.loc[(ev["kind"] == 0) & (ev["owner"] == mm_id), "order_id"])
    rows = ev[ev["order_id"].isin(mine) | ev["other_id"].isin(mine)]
    open_ = {}  # order id -> [side, open lots]
    both = 0
    prev = None
    first = None
    for r in rows.itertuples():
        if prev is not None and r.ts != prev:
            sides = {s for s, _ in open_.values()}
            both += (r.ts - prev) * (sides == {0, 1})
        prev = r.ts
        if r.kind == 0:
            open_[r.order_id] = [r.side, r.qty]
            first = r.ts if first is None else first
        elif r.kind == 1:
            if r.order_id in open_:
                open_[r.order_id][1] = r.remaining
            if r.other_id in open_:
                open_[r.other_id][1] -= r.qty
        elif r.kind == 2 and r.order_id in open_:
            open_[r.order_id][1] = r.remaining
        elif r.kind in (3, 4):
            open_.pop(r.order_id, None)
        open_ = {k: v for k, v in open_.items() if v[1] > 0}
    if {s for s, _ in open_.values()} == {0, 1}:
        both += data.end - prev
    assert _one(am, "mm")["quoting_ratio"] == pytest.approx(both / (data.end - first))


def test_inventory_stats_match_a_sampled_path(am, run, data):
    ev = pd.read_parquet(run / "events")
    f = ev[ev["kind"] == 1]
    grid = np.arange(data.start, data.end + 1, 1_000_000_000)
    for group in ("mm", "executor"):
        aid = _one(am, group).name
        signed = np.where(f["side"] == 0, 1, -1) * f["qty"]
        q = np.where(f["other_owner"] == aid, signed, 0) - np.where(f["owner"] == aid, signed, 0)
        cum = np.cumsum(q)
        idx = np.searchsorted(f["ts"].to_numpy(), grid, side="right") - 1
        inv = np.where(idx >= 0, cum[np.clip(idx, 0, None)], 0).astype(float)
        row = am.loc[aid]
        assert row["inv_mean"] == pytest.approx(inv.mean())
        assert row["inv_std"] == pytest.approx(inv.std())
        assert row["inv_map"] == pytest.approx(np.abs(inv).mean())
        sd = inv.std()
        assert row["inv_skew"] == pytest.approx(((inv - inv.mean()) ** 3).mean() / sd**3)
        assert row["inv_max_abs"] == np.abs(cum).max()


def test_group_metrics_and_paths(run, data, am):
    gm = M.group_metrics(data, agents=am)
    summary = json.loads((run / "summary.json").read_text())
    for name, g in summary["groups"].items():
        assert gm.loc[name, "pnl"] == pytest.approx(g["pnl_total"], abs=1e-9)
        assert gm.loc[name, "inventory"] == g["inventory_total"]
        assert gm.loc[name, "agents"] == g["agents"]
    np.testing.assert_allclose(gm["spread_pnl"] + gm["inventory_pnl"], gm["pnl"], atol=1e-9)
    assert gm.loc["executor", "completion"] == pytest.approx(1.0)
    pnl = M.pnl_paths(data, "1min")
    inv = M.inventory_paths(data, "1min")
    assert len(pnl) == 16 and list(pnl.columns) == list(gm.index)  # 09:30 .. 09:45
    assert (pnl.iloc[0] == 0).all() and (inv.iloc[0] == 0).all()
    np.testing.assert_allclose(pnl.iloc[-1].to_numpy(), gm["pnl"].to_numpy(), atol=1e-9)
    assert (inv.iloc[-1] == gm["inventory"]).all()
    # the group path at a minute is the sum of its agents' cash + inventory x mark
    assert gm.loc["mm", "max_drawdown"] == pytest.approx(am.loc[am["group"] == "mm",
                                                                "max_drawdown"].iloc[0])

"""Multi-symbol markets (issue 19): the schema, correlated and index fundamentals, one event log
with a symbol column, per-symbol analyses, accounts across symbols, the arbitrageur and the
hedging market maker."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from abmm.agents.cross import RollingBeta
from abmm.rundir import SymbolError, open_run, require_complete
from abmm.scenario import ScenarioError, build_model, load_scenario
from abmm.scenario.builder import build_fundamental

CROWD = [
    {"kind": "noise", "count": 20, "wake": {"kind": "poisson", "interval": "5s"},
     "p_market": 0.15, "offset_ticks": 8, "cross_ticks": 1, "order_ttl": "1min"},
    {"kind": "value", "count": 3, "wake": {"kind": "poisson", "interval": "20s"}},
    {"kind": "market_maker", "name": "mm", "strategy": "fixed", "half_spread_ticks": 2,
     "levels": 3, "size": 10, "latency": "500us"},
]

TWO = {
    "name": "two", "seed": 5,
    "market": {"open": "09:30", "close": "10:00", "warmup": "1min",
               "symbols": [{"symbol": "A"},
                           {"symbol": "B", "tick_size": 0.05, "lot_size": 10,
                            "reference_price": 50.0}]},
    "fundamental": {"sigma_1h": 0.5, "correlation": [[1, 0.7], [0.7, 1]],
                    "symbols": {"B": {"sigma_1h": 0.4}}},
    "agents": [{**g, "symbol": ["A", "B"]} for g in CROWD],
}


def sc(base=TWO, **changes):
    out = copy.deepcopy(base)
    for path, value in changes.items():
        d = out
        *head, last = path.split("__")
        for k in head:
            d = d[int(k)] if isinstance(d, list) else d[k]
        d[last] = value
    return out


def problems(scenario) -> str:
    with pytest.raises(ScenarioError) as err:
        load_scenario(scenario)
    return str(err.value)


# ------------------------------------------------------------------------------ schema
def test_the_symbols_resolve_with_the_section_defaults_and_the_primary_first():
    s = load_scenario(TWO)
    a, b = s.market.symbols
    assert (a.symbol, a.tick_size, a.lot_size, a.reference_price) == ("A", 0.01, 1.0, 100.0)
    assert (b.tick_size, b.lot_size, b.reference_price_ticks) == (0.05, 10, 1000)
    assert (s.market.symbol, s.market.tick_size) == ("A", 0.01)  # the primary's
    # the resolved record loads again to the same scenario
    assert load_scenario(s.resolved()).resolved() == s.resolved()


@pytest.mark.parametrize("change, where, what", [
    ({"market__symbols": [{"symbol": "A"}, {"symbol": "A"}]}, "market", "'A' is listed 2"),
    ({"market__symbols__1__tick_size": -1.0}, "market", "symbols: B: tick_size must be > 0"),
    ({"market__symbol": "B"}, "market", "not the first of symbols"),
    ({"agents__0__symbol": ["A", "C"]}, "agents.0.symbol", "no symbol 'C' in market.symbols (A, B)"),
    ({"fundamental__symbols": {"Z": {"sigma_1h": 1.0}}}, "fundamental.symbols.Z",
     "no symbol 'Z'"),
    ({"fundamental__correlation": [[1, 0.5, 0], [0.5, 1, 0], [0, 0, 1]]},
     "fundamental.correlation", "expected a 2x2 matrix"),
    ({"fundamental__correlation": [[1, 0.5], [0.4, 1]]}, "fundamental.correlation", "symmetric"),
    ({"fundamental__correlation": [[1, 1.5], [1.5, 1]]}, "fundamental.correlation", "[-1, 1]"),
])
def test_schema_errors_name_the_symbol_and_the_key(change, where, what):
    msg = problems(sc(**change))
    assert where in msg and what in msg, msg


def test_an_index_must_be_priced_as_its_basket_and_made_of_plain_symbols():
    three = sc(market__symbols=[{"symbol": "A"}, {"symbol": "B"},
                                {"symbol": "IDX", "reference_price": 90.0}],
               fundamental={"correlation": [[1, 0.5], [0.5, 1]],
                            "symbols": {"IDX": {"index_of": {"A": 0.5, "B": 0.5}}}})
    msg = problems(three)
    assert "market.symbols.IDX.reference_price" in msg and "must be their weighted sum, 100" in msg
    ok = sc(three, market__symbols__2__reference_price=100.0)
    load_scenario(ok)
    msg = problems(sc(ok, fundamental__symbols={"IDX": {"index_of": {"IDX": 1.0}}}))
    assert "is an index itself" in msg
    msg = problems(sc(ok, fundamental__symbols={"IDX": {"index_of": {"A": 1.0},
                                                        "sigma_1h": 1.0}}))
    assert "drop sigma_1h" in msg


def test_a_one_symbol_market_refuses_per_symbol_fundamentals():
    one = {"agents": [{"kind": "noise"}], "fundamental": {"correlation": [[1.0]]}}
    assert "needs a multi-symbol market" in problems(one)


# ------------------------------------------------------------------------------ fundamentals
def test_fundamental_moves_are_correlated_as_configured_and_an_index_is_its_basket():
    day = sc(market__close="16:00")
    for rho in (0.7, 0.0, -0.4):
        fa, fb = build_fundamental(load_scenario(
            sc(day, fundamental__correlation=[[1, rho], [rho, 1]])), seed=3)
        da, db = np.diff(fa.path), np.diff(fb.path)
        assert np.corrcoef(da, db)[0, 1] == pytest.approx(rho, abs=0.03)  # n = 23,400
        # each symbol keeps its own volatility, in its own ticks: B's 0.4/h in 0.05 ticks
        assert da.std() * np.sqrt(3600) == pytest.approx(0.5 / 0.01, rel=0.03)
        assert db.std() * np.sqrt(3600) == pytest.approx(0.4 / 0.05, rel=0.03)
    idx = load_scenario(sc(market__symbols=[{"symbol": "A"}, {"symbol": "B"},
                                            {"symbol": "IDX", "tick_size": 0.05}],
                           fundamental={"symbols": {"IDX": {"index_of": {"A": 0.5, "B": 0.5}}}}))
    fa, fb, fi = build_fundamental(idx, seed=1)
    # the index in its own ticks (0.05) is the weighted sum of the constituents' prices
    assert np.allclose(fi.path * 0.05, 0.5 * fa.path * 0.01 + 0.5 * fb.path * 0.01)


# ------------------------------------------------------------------------------ baskets
def _deep_market(*groups, close="09:40"):
    """A, B and IDX with a deep fixed maker on each and flat fundamentals, plus ``groups``."""
    fixed = {"kind": "market_maker", "name": "mm", "strategy": "fixed", "half_spread_ticks": 1,
             "levels": 10, "size": 500, "max_inventory": 10**7, "latency": 0,
             "symbol": ["A", "B", "IDX"]}
    return {"seed": 4,
            "market": {"open": "09:30", "close": close,
                       "symbols": [{"symbol": "A"}, {"symbol": "B"}, {"symbol": "IDX"}]},
            "fundamental": {"sigma_1h": 0.0}, "agents": [fixed, *groups]}


def test_a_basket_trader_sends_every_leg_at_once_in_its_proportions():
    basket = {"kind": "basket", "name": "bk", "count": 2, "legs": {"A": 1, "B": -1, "IDX": 2},
              "wake": {"kind": "poisson", "interval": "5s"}, "size_alpha": 1.4,
              "max_units": 50, "latency": 0}
    model = build_model(_deep_market(basket))
    model.run()
    for agent in model.groups["bk"]:
        a, b, i = (agent.legs[s] for s in ("A", "B", "IDX"))
        assert a.n_orders == b.n_orders == i.n_orders > 50
        assert a.inventory == -b.inventory and i.inventory == 2 * a.inventory
        assert a.traded == b.traded and i.traded == 2 * a.traded
        assert a.traded > a.n_orders  # power-law units: more than one lot an order on average


def test_basket_metaorders_keep_one_side_per_parent():
    basket = {"kind": "basket", "name": "bk", "legs": {"A": 1, "B": 1},
              "wake": {"kind": "poisson", "interval": "1s"}, "min_units": 2, "max_units": 2,
              "min_children": 5, "max_children": 200, "latency": 0}
    model = build_model(_deep_market(basket, close="10:30"))
    sides = []
    agent = model.groups["bk"][0]
    leg = agent.legs["A"]
    orig = leg.market_order

    def spy(side, qty, *a, **k):
        sides.append(side)
        return orig(side, qty, *a, **k)

    leg.market_order = spy
    model.run()
    switches = sum(x != y for x, y in zip(sides, sides[1:], strict=False))
    assert len(sides) > 1000 and 0 < switches <= agent.parents
    assert len(sides) / agent.parents > 5  # a parent is 5 children or more
    # negative control: single baskets flip sides about every other order
    single = {**basket, "max_children": 1, "min_children": 1}
    model = build_model(_deep_market(single, close="10:30"))
    sides.clear()
    leg = model.groups["bk"][0].legs["A"]
    orig = leg.market_order
    leg.market_order = spy
    model.run()
    switches = sum(x != y for x, y in zip(sides, sides[1:], strict=False))
    assert switches > 0.4 * len(sides)


def test_a_basket_trader_paces_itself_by_the_primary_symbols_volatility():
    SECOND = 10**9
    basket = {"kind": "basket", "name": "bk", "count": 2, "legs": {"A": 1, "B": 1},
              "wake": {"kind": "poisson", "interval": "60s"}, "attention": 1.0,
              "attention_clip": 2.0, "attention_horizons": ["1min", "4h"], "latency": 0}
    model = build_model(_deep_market(basket))
    agents = model.groups["bk"]
    assert [a._h for a in agents] == [0, 1] and agents[0]._tracker is agents[1]._tracker
    assert agents[0]._tracker is not None
    stub = type("Stub", (), {"update": lambda self, m: [4.0, 0.5]})()
    for a in agents:
        a._tracker = stub
    model.venue.activity = lambda: 1.0  # the market's own activity: not what they read
    for a, rate in ((agents[0], 2.0), (agents[1], 0.5)):  # 4.0 clipped to 2
        gaps = [a.next_wake(0) for _ in range(4_000)]
        assert np.mean(gaps) == pytest.approx(60 * SECOND / rate, rel=0.06)
    # negative control: without attention the pace is the schedule's
    plain = build_model(_deep_market({**basket, "attention": 0.0})).groups["bk"][0]
    plain._tracker = stub
    assert np.mean([plain.next_wake(0) for _ in range(4_000)]) == pytest.approx(
        60 * SECOND, rel=0.06)


@pytest.mark.parametrize("change, what", [
    ({"legs": {"A": 0}}, "A has 0 lots"),
    ({"min_children": 10, "max_children": 5}, "max_children (5) must be >= min_children (10)"),
    ({"symbol": "A"}, "names its symbols in 'legs'"),
    ({"legs": {"A": 1, "Q": 1}}, "no symbol 'Q' in market.symbols"),
])
def test_basket_groups_are_checked(change, what):
    basket = {"kind": "basket", "legs": {"A": 1, "B": 1}, **change}
    assert what in problems(_deep_market(basket))


def test_a_crowd_can_quote_around_other_symbols_prices():
    crowd = {"kind": "noise", "count": 30, "wake": {"kind": "poisson", "interval": "2s"},
             "p_market": 0.2, "offset_ticks": 10, "cross_ticks": 2, "order_ttl": "1ms"}
    two = {"seed": 6, "market": {"open": "09:30", "close": "10:00",
                                 "symbols": [{"symbol": "A"},
                                             {"symbol": "B", "reference_price": 110.0,
                                              "tick_size": 0.05}]},
           "fundamental": {"sigma_1h": 0.0},
           "agents": [{**crowd, "symbol": "A"},
                      {**crowd, "name": "crowd_b", "symbol": "B", "quote_around": {"A": 1.0}}]}
    model = build_model(two)
    model.run()
    a, b = model.venues
    # B's crowd prices off A (about 100), not off B's own start (110)
    assert abs(b.mid() * 0.05 - a.mid() * 0.01) < 1.0
    # negative control: around its own mid B wanders on its own, nowhere near A
    del two["agents"][1]["quote_around"]
    model = build_model(two)
    model.run()
    a, b = model.venues
    assert abs(b.mid() * 0.05 - a.mid() * 0.01) > 5.0
    two["agents"][1]["quote_around"] = {"Z": 1.0}
    assert "agents.1.quote_around: no symbol 'Z'" in problems(two)


# ------------------------------------------------------------------------------ shocks
def test_a_news_jump_moves_its_own_symbols_fundamental_and_the_index_made_of_it():
    three = sc(market__symbols=[{"symbol": "A"}, {"symbol": "B"},
                                {"symbol": "IDX", "tick_size": 0.05}],
               fundamental={"sigma_1h": 0.0, "jumps": {"rate_per_hour": 0.0},
                            "symbols": {"IDX": {"index_of": {"A": 0.5, "B": 0.5}}}},
               shocks=[{"kind": "news_jump", "at": "09:45", "size": 2.0, "symbol": "B"}])
    fa, fb, fi = build_fundamental(load_scenario(three), seed=1)
    t = fb.start + 15 * 60 * 10**9
    assert fb.value(t + 10**9) - fb.value(t - 10**9) == pytest.approx(2.0 / 0.01)
    assert fa.value(t + 10**9) == fa.value(t - 10**9)  # A's does not move
    assert (fi.value(t + 10**9) - fi.value(t - 10**9)) * 0.05 == pytest.approx(1.0)
    # the default is still the primary symbol
    fa, fb, _ = build_fundamental(load_scenario(sc(three, shocks__0__symbol=None)), seed=1)
    assert fa.value(t + 10**9) - fa.value(t - 10**9) == pytest.approx(2.0 / 0.01)
    assert fb.value(t + 10**9) == fb.value(t - 10**9)
    msg = problems(sc(three, shocks__0__symbol="IDX"))
    assert "shocks.0.symbol" in msg and "'IDX' is an index" in msg and "jump one of them" in msg
    msg = problems(sc(three, shocks__0__symbol="Z"))
    assert "shocks.0.symbol: no symbol 'Z' in market.symbols (A, B, IDX)" in msg


def test_a_flash_crash_on_another_symbol_trades_that_book_only(tmp_path):
    crash = {"kind": "flash_crash", "at": "09:40", "qty": 300, "symbol": "B"}
    model = build_model(sc(shocks=[crash]), out=tmp_path / "run")
    model.run()
    shooters = model.groups["shocks"]
    assert [a.venue.symbol for a in shooters] == ["A", "B"]
    assert shooters[1].traded == 300 and shooters[0].traded == 0
    ev = open_run(tmp_path / "run").events(["owner", "symbol", "kind"]).to_pandas()
    assert set(ev[ev.owner == shooters[1].unique_id].symbol) == {"B"}
    # the same crash on the primary symbol goes through the first shooter (negative control)
    model = build_model(sc(shocks=[{**crash, "symbol": None}]))
    model.run()
    assert [a.traded for a in model.groups["shocks"]] == [300]


def test_a_liquidity_withdrawal_on_one_symbol_silences_its_makers_only():
    wd = {"kind": "liquidity_withdrawal", "at": "09:40", "duration": "5min", "symbol": "B"}
    model = build_model(sc(shocks=[wd]), until="09:42")
    model.run()
    mm = {a.venue.symbol: a for a in model.groups["mm"]}
    assert mm["B"].suspended_until > model.now and not mm["B"].open_orders
    assert mm["A"].suspended_until < 0 and mm["A"].open_orders
    # without a symbol both are silenced
    model = build_model(sc(shocks=[{**wd, "symbol": None}]), until="09:42")
    model.run()
    assert all(a.suspended_until > model.now for a in model.groups["mm"])


def test_a_hedging_maker_withdraws_its_quotes_on_the_shocked_symbol():
    scen = _hedge_market("skew")
    scen["shocks"] = [{"kind": "liquidity_withdrawal", "at": "09:40", "duration": "10min",
                       "symbol": "A"}]
    model = build_model(scen, until="09:41")
    model.run()
    (hm,) = model.groups["hm"]
    assert hm.suspended_until > model.now
    assert not hm.legs["A"].open_orders and hm.legs["B"].open_orders


# ------------------------------------------------------------------------------ the market
@pytest.fixture(scope="module")
def two_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("two") / "run"
    model = build_model(TWO, out=out)
    summary = model.run()
    return out, model, summary


def test_each_symbol_trades_in_its_own_book_and_logs_into_one_event_log(two_run):
    out, model, summary = two_run
    ev = open_run(out).events(["symbol", "owner", "price", "kind"])
    assert set(ev["symbol"].to_pylist()) == {"A", "B"}
    owners = {a.unique_id: a.venue.symbol for a in model._by_id.values()}
    for sym in ("A", "B"):
        mine = ev.filter(pc.equal(ev["symbol"], sym))
        assert {owners[o] for o in set(mine["owner"].to_pylist())} == {sym}
    prices = {s: open_run(out, symbol=s).events(["price"])["price"].to_numpy() for s in "AB"}
    prices = {s: p[p > 0] for s, p in prices.items()}
    # A near 100 in 0.01 ticks (~10,000), B near 50 in 0.05 ticks (~1,000)
    assert 9_000 < np.median(prices["A"]) < 11_000 and 900 < np.median(prices["B"]) < 1_100
    assert set(summary["symbols"]) == {"A", "B"}
    assert summary["symbols"]["B"]["trades"] > 100 and summary["symbols"]["A"]["trades"] > 100
    assert summary["trades"] == summary["symbols"]["A"]["trades"] + summary["symbols"]["B"]["trades"]


def test_accounts_balance_per_symbol(two_run):
    """Every fill moves cash and lots between two accounts of one symbol: per symbol, the
    inventories and the cash (in that symbol's ticks) sum to zero."""
    _, model, _ = two_run
    for v in model.venues:
        accts = [a for a in model._owners.values() if a.venue is v]
        assert sum(a.inventory for a in accts) == 0
        assert sum(a.cash for a in accts) == 0
        assert sum(a.n_fills for a in accts) == 2 * v.n_trades


def test_per_symbol_views_of_a_run(two_run, tmp_path):
    out, _, summary = two_run
    run = open_run(out)
    assert run.symbols == ["A", "B"] and run.multi_symbol
    with pytest.raises(SymbolError, match=r"holds 2 symbols \(A, B\): give one with --symbol"):
        require_complete(out)
    with pytest.raises(SymbolError, match="no symbol 'C' in this run; its symbols: A, B"):
        open_run(out, symbol="C")
    b = require_complete(open_run(out, symbol="B"))
    assert (b.tick_size, b.lot_size, b.market["reference_price"]) == (0.05, 10.0, 50.0)
    assert b.summary["final_price"] == summary["symbols"]["B"]["final_price"]
    assert set(b.top(["symbol"])["symbol"].to_pylist()) == {"B"}
    assert set(b.fundamental()["symbol"]) == {"B"}
    assert set(b.agents()["symbol"]) == {"B"} and len(b.agents()) == 24
    from abmm.analysis.bars import run_bars

    bars = run_bars(b, "1min")
    assert 40 < bars["close"].median() < 60  # B's price units


def _abmm(*args):
    return subprocess.run([sys.executable, "-m", "abmm.cli", *args], capture_output=True, text=True)


def test_the_cli_asks_for_a_symbol_and_lists_them(two_run, tmp_path):
    out, _, _ = two_run
    for cmd in (["bars", str(out), "--out", str(tmp_path / "b.csv")], ["facts", str(out)]):
        p = _abmm(*cmd)
        assert p.returncode == 2 and "holds 2 symbols (A, B)" in p.stderr, p.stderr
        assert "Traceback" not in p.stderr
    p = _abmm("bars", str(out), "--symbol", "Q", "--out", str(tmp_path / "b.csv"))
    assert p.returncode == 2 and "no symbol 'Q'" in p.stderr
    p = _abmm("bars", str(out), "--symbol", "B", "--out", str(tmp_path / "b.csv"))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "b.csv").read_text().count("\n") > 25


def test_same_seed_same_log_other_seed_another(tmp_path):
    tables = []
    for i, seed in enumerate((7, 7, 8)):
        out = tmp_path / f"r{i}"
        build_model(sc(market__close="09:40"), seed=seed, out=out).run()
        tables.append(open_run(out).events())
    assert tables[0].equals(tables[1])
    assert not tables[0].equals(tables[2])


def test_a_one_entry_symbols_list_is_the_one_symbol_market(tmp_path):
    plain = {"seed": 3, "market": {"open": "09:30", "close": "09:45", "symbol": "X"},
             "agents": CROWD}
    listed = sc(plain, market={"open": "09:30", "close": "09:45", "symbols": [{"symbol": "X"}]})
    logs = []
    for i, s in enumerate((plain, listed)):
        build_model(s, out=tmp_path / str(i)).run()
        logs.append(open_run(tmp_path / str(i)).events())
    assert logs[0].equals(logs[1])


# ------------------------------------------------------------------------------ arbitrage
def _basket_market(idx_price: float, **arb):
    fixed = {"kind": "market_maker", "name": "mm", "strategy": "fixed", "half_spread_ticks": 1,
             "levels": 5, "size": 50, "max_inventory": 10**6, "latency": 0,
             "symbol": ["A", "B", "IDX"]}
    return {
        "seed": 2,
        "market": {"open": "09:30", "close": "09:35",
                   "symbols": [{"symbol": "A"}, {"symbol": "B"},
                               {"symbol": "IDX", "reference_price": idx_price}]},
        "fundamental": {"sigma_1h": 0.0},
        "agents": [fixed, {"kind": "arbitrage", "name": "arb", "legs": {"IDX": 2, "A": -1, "B": -1},
                           "band_bps": 5, "max_baskets": 3, "latency": "1ms", **arb}],
    }


def test_the_arbitrageur_sells_a_rich_future_against_its_basket(tmp_path):
    model = build_model(_basket_market(101.0), out=tmp_path / "rich")
    model.run()
    arb = model.groups["arb"][0]
    legs = {s: leg.inventory for s, leg in arb.legs.items()}
    assert arb.baskets == -3 and legs == {"IDX": -6, "A": 3, "B": 3}
    rows = open_run(tmp_path / "rich").agents()
    mine = rows[rows["group"] == "arb"]
    assert sorted(mine["name"]) == ["arb/0@A", "arb/0@B", "arb/0@IDX"]
    assert dict(zip(mine["symbol"], mine["inventory"], strict=True)) == legs
    # cheap: it buys the future
    cheap = build_model(_basket_market(99.0)).groups["arb"][0]
    cheap.model.run()
    assert cheap.baskets == 3 and cheap.legs["IDX"].inventory == 6


def test_a_slow_arbitrageur_waits_for_its_legs_in_flight(monkeypatch):
    # a 3-second latency against a 1-second wake: each IOC leg is in flight over two wakes
    slow = _basket_market(101.0, latency="3s")
    model = build_model(slow)
    model.run()
    arb = model.groups["arb"][0]
    assert arb.baskets == -3 and {s: leg.inventory for s, leg in arb.legs.items()} == \
        {"IDX": -6, "A": 3, "B": 3}
    # negative control: without the in-flight check the legs are sent again and overshoot
    from abmm.agents.legs import Leg
    monkeypatch.setattr(Leg, "in_flight", lambda self: False)
    model = build_model(slow)
    model.run()
    arb = model.groups["arb"][0]
    assert abs(arb.legs["IDX"].inventory) > 6


def test_the_arbitrageur_leaves_a_fair_basis_alone():
    model = build_model(_basket_market(100.0))
    model.run()
    arb = model.groups["arb"][0]
    assert arb.baskets == 0 and all(leg.n_orders == 0 for leg in arb.legs.values())


def test_arbitrage_groups_are_checked():
    msg = problems(_basket_market(100.0, legs={"IDX": 2, "A": 0}))
    assert "legs: A has 0 lots" in msg
    msg = problems(_basket_market(100.0, legs={"IDX": 2, "Q": -1}))
    assert "agents.1.legs" in msg and "no symbol 'Q'" in msg


# ------------------------------------------------------------------------------ hedging MM
def test_rolling_beta_recovers_a_slope_and_forgets_old_samples():
    rng = np.random.default_rng(0)
    rb = RollingBeta(2, window=500, interval=1, min_samples=30)
    x = y1 = y2 = 100.0
    assert rb.beta(0) is None
    for t in range(2000):
        dx = rng.normal(0, 0.001)
        slope = 0.7 if t < 1000 else -0.3  # the relation changes half way
        x *= np.exp(dx)
        y1 *= np.exp(slope * dx + rng.normal(0, 0.0005))
        y2 *= np.exp(rng.normal(0, 0.001))
        rb.update(t, [y1, y2], x)
    assert rb.beta(0) == pytest.approx(-0.3, abs=0.05)  # only the last 500 returns count
    assert rb.beta(1) == pytest.approx(0.0, abs=0.1)


def _hedge_market(mode: str, **kw):
    scen = _basket_market(100.0)
    scen["fundamental"] = {"sigma_1h": 1.0, "correlation": [[1, 0.8, 0.8], [0.8, 1, 0.8],
                                                            [0.8, 0.8, 1]]}
    scen["market"]["close"] = "10:00"
    noise = {"kind": "noise", "count": 10, "symbol": ["A", "B", "IDX"], "p_market": 0.3,
             "wake": {"kind": "poisson", "interval": "2s"}, "offset_ticks": 5}
    scen["agents"] = [scen["agents"][0], noise,
                      {"kind": "hedging_mm", "name": "hm", "quote": ["A", "B"],
                       "hedge_with": "IDX", "hedge": mode, "beta": {"A": 0.5, "B": 1.0},
                       "half_spread_ticks": 1, "size": 5, "latency": 0, **kw}]
    return scen


def test_the_hedger_holds_minus_beta_times_its_exposure_in_the_hedge():
    model = build_model(_hedge_market("take"))
    model.run()
    hm = model.groups["hm"][0]
    a, b, h = (hm.legs[s] for s in ("A", "B", "IDX"))
    assert a.n_fills and b.n_fills  # it made markets
    value = lambda leg: leg.inventory * leg.venue.mark_price() * leg.venue.tick_size  # noqa: E731
    target = -(0.5 * value(a) + 1.0 * value(b)) / (h.venue.mark_price() * h.venue.tick_size)
    assert h.inventory == pytest.approx(target, abs=3)  # within a wake's drift
    assert h.n_fills > 0
    unhedged = build_model(_hedge_market("none"))
    unhedged.run()
    assert unhedged.groups["hm"][0].legs["IDX"].inventory == 0


def test_hedging_groups_are_checked():
    scen = _hedge_market("take")
    scen["agents"][2]["hedge_with"] = "A"
    assert "must not be one of the quoted symbols" in problems(scen)
    scen = _hedge_market("take", beta={"A": 0.5})
    assert "beta: no hedge ratio for B" in problems(scen)


def test_a_cross_symbol_chartist_trades_its_symbol_on_anothers_trend():
    fixed = {"kind": "market_maker", "name": "mm", "strategy": "fixed", "half_spread_ticks": 1,
             "size": 50, "latency": 0, "symbol": ["A", "B"], "wake": {"kind": "fixed",
                                                                     "interval": "1h"}}
    base = {"seed": 1, "market": {"open": "09:30", "close": "10:30",
                                  "symbols": [{"symbol": "A"}, {"symbol": "B"}]},
            "fundamental": {"sigma_1h": 0.0}}
    sent = {}
    for follow in ("B", None):
        chart = {"kind": "momentum", "name": "chart", "symbol": "A", "latency": 0,
                 "short_window": 2, "long_window": 4, "signal_symbol": follow}
        m = build_model({**base, "agents": [fixed, chart]})
        m.run_until(m.start + 1)  # the makers quote both books once
        agent = m.groups["chart"][0]
        orders = []
        m.send = lambda a, req, orders=orders: orders.append((a.venue.symbol, req))
        vb = m.venue_of("B")
        for k in range(8):  # B's mid rises a tick a minute; A's stays put
            m.now += 60 * 10**9
            vb.history.record(m.now, (10_000 + k, 5, 10_002 + k, 5), vb.last_price)
            agent.on_wake()
        sent[follow] = orders
    assert sent["B"] and all(sym == "A" and req[1] == 0 for sym, req in sent["B"])  # buys A
    assert sent[None] == []  # its own symbol is flat: no signal


def test_signal_symbol_must_exist():
    msg = problems(sc(agents=[{"kind": "momentum", "symbol": "A", "signal_symbol": "Z"}]))
    assert "agents.0.signal_symbol" in msg and "no symbol 'Z'" in msg


def _study():
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "multi_asset_study.py"
    spec = importlib.util.spec_from_file_location("multi_asset_study", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_study_reads_the_configured_correlations_from_the_scenario():
    study = _study()
    shipped = Path(__file__).resolve().parents[2] / "scenarios" / "multi_asset.yaml"
    names, c = study.configured_correlation(load_scenario(shipped))
    assert names == ["A", "B", "IDX"]
    assert c[0, 1] == pytest.approx(0.6)
    assert c[0, 2] == pytest.approx(np.sqrt(0.8)) and c[1, 2] == pytest.approx(np.sqrt(0.8))
    # and they are what the drawn paths show (a negative control: a path pair the scenario
    # does not correlate reads 0)
    fa, fb, fi = build_fundamental(load_scenario(shipped, overrides=["market.days=1"]), seed=9)
    d = np.diff(np.vstack([fa.path, fb.path, fi.path]), axis=1)
    assert np.corrcoef(d)[0, 2] == pytest.approx(c[0, 2], abs=0.02)
    assert np.corrcoef(d)[0, 1] == pytest.approx(0.6, abs=0.03)


def test_the_paired_bootstrap_covers_a_known_difference_and_not_zero():
    study = _study()
    rng = np.random.default_rng(1)
    a = rng.normal(1.0, 1.0, 40)
    b = a - 0.5 + rng.normal(0, 0.1, 40)  # paired: a - b is 0.5 with little noise
    lo, hi = study.paired_bootstrap(a, b, lambda x, y: (x - y).mean())
    assert lo < 0.5 < hi and lo > 0


def test_the_seed_bootstrap_of_a_pooled_correlation_covers_the_truth_and_is_honest():
    study = _study()
    rng = np.random.default_rng(4)
    cov = [[1.0, 0.6], [0.6, 1.0]]
    # 20 "seeds" of 60 returns each, with very different volatilities, as simulated seeds have
    runs = [rng.multivariate_normal([0, 0], cov, 60) * rng.uniform(0.2, 3.0) for _ in range(20)]
    point = study._pooled(runs, 2)[0, 1]
    lo, hi = study.seed_bootstrap_corr(runs)
    assert lo.shape == (2, 2) and lo[0, 1] < point < hi[0, 1]
    assert lo[0, 1] < 0.6 < hi[0, 1] and hi[0, 1] - lo[0, 1] < 0.3
    # the sufficient-statistics resampling gives the pooled correlation of the resampled runs:
    # with every seed once (no resampling at all), the interval collapses onto the point
    one = [runs[0]] * 2  # two identical runs: every resample is the same pool
    lo1, hi1 = study.seed_bootstrap_corr(one)
    assert lo1[0, 1] == pytest.approx(study._pooled(one, 2)[0, 1])
    assert hi1[0, 1] == pytest.approx(lo1[0, 1])
    # a negative control: seeds whose pairs are uncorrelated give an interval that excludes 0.6
    flat = [rng.normal(size=(60, 2)) for _ in range(20)]
    lo0, hi0 = study.seed_bootstrap_corr(flat)
    assert hi0[0, 1] < 0.6 and lo0[0, 1] < 0 < hi0[0, 1]
    # each resample is the pooled correlation of the resampled runs, as np.corrcoef gives it
    lo3, hi3 = study.seed_bootstrap_corr(runs[:7], n_boot=3, seed=5)
    idx = np.random.default_rng(5).integers(0, 7, (3, 7))
    cs = np.array([np.corrcoef(np.concatenate([runs[i] for i in row]).T) for row in idx])
    assert np.allclose(lo3, np.percentile(cs, 2.5, axis=0))
    assert np.allclose(hi3, np.percentile(cs, 97.5, axis=0))
    # fewer than two runs: no interval
    assert np.isnan(study.seed_bootstrap_corr(runs[:1])[0]).all()


def test_the_study_runs_end_to_end(capsys):
    """A smoke run of the benchmark (two 90-minute sessions, no scorecard): every section of its
    JSON is there and holds numbers (30- and 60-minute returns are too few there: NaN)."""
    import json

    study = _study()
    shipped = Path(__file__).resolve().parents[2] / "scenarios" / "multi_asset.yaml"
    assert study.main(["--scenario", str(shipped), "--quick", "--workers", "1", "--json",
                       "--no-facts", "--ablation-days", "1", "--set", "market.close=11:00"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res["correlation"]) == {"A-B", "A-IDX", "B-IDX"}
    for c in res["correlation"].values():
        assert np.isfinite(c["sim_1min"]) and np.isfinite(c["sim_5min"])
        lo, hi = c["sim_5min_ci"]  # two seeds: the pooled point is one of the resamples
        assert lo - 1e-9 <= c["sim_5min"] <= hi + 1e-9
        assert c["sim_60min"] is None or not np.isfinite(c["sim_60min"])
    assert res["basis"]["without_arbitrageur"]["sd_bp"] > 0
    assert set(res["makers"]) == {"mm_hedged", "mm_unhedged", "hedged_minus_unhedged"}
    assert res["facts"] == {}

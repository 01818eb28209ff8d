"""``abmm tune-baseline``: a gamma x window grid on training seeds, written as a baseline spec
that ``abmm evaluate --policy FILE`` plays exactly as tuned."""

from __future__ import annotations

import json

import pytest
import yaml

from abmm.cli import main
from abmm.learn.tune import GAMMAS, load_spec, tune_baseline

MARKET = {
    "name": "tiny_mm", "seed": 3,
    "market": {"open": "10:00", "close": "10:04", "warmup": "1min"},
    "fundamental": {"sigma_1h": 0.05},
    "agents": [
        {"kind": "noise", "count": 40, "wake": {"kind": "poisson", "interval": "20s"},
         "p_market": 0.3, "offset_ticks": 6, "order_ttl": "1min"},
        {"kind": "market_maker", "name": "mm", "strategy": "fixed", "half_spread_ticks": 2,
         "size": 5},
        {"kind": "market_maker", "name": "learner", "count": 2, "learnable": True,
         "latency": "1ms", "size": 5, "max_inventory": 25},
    ],
}


@pytest.fixture
def market(tmp_path):
    p = tmp_path / "market.yaml"
    p.write_text(yaml.safe_dump(MARKET))
    return p


def test_default_grid_spans_two_decades_with_eight_or_more_gammas():
    assert len(GAMMAS) >= 8 and max(GAMMAS) / min(GAMMAS) >= 100


def test_the_grid_picks_the_best_sharpe_and_the_spec_replays_it(market, tmp_path, capsys):
    out = tmp_path / "as_tuned.yaml"
    assert main(["tune-baseline", "--scenario", str(market), "--kind", "as", "--seeds", "1-2",
                 "--gammas", "0.01,1,30", "--windows", "5,60", "--out", str(out)]) == 0
    spec = load_spec(out)
    grid = spec["tuned"]["grid"]
    assert len(grid) == 6 and spec["baseline"] == "as"
    best = max(grid, key=lambda r: r["sharpe"])
    assert spec["params"]["gamma"] == best["gamma"]
    assert spec["env_args"]["vol_halflife"] == best["vol_halflife"]
    # the cells differ: the grid is not searching over a parameter that does nothing
    assert len({round(r["pnl_mean"], 9) for r in grid}) > 1
    capsys.readouterr()
    # abmm evaluate plays the spec as tuned: same seeds, same Sharpe as its grid cell
    assert main(["evaluate", "--scenario", str(market), "--policy", str(out),
                 "--seeds", "1-2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    row = res["policies"][str(out)]
    assert row["sharpe"] == pytest.approx(best["sharpe"], abs=2e-6)
    assert row["map"] == pytest.approx(best["map"], abs=2e-6)


def test_parallel_grid_equals_serial(market):
    a = tune_baseline(str(market), "glft", [1], gammas=[0.05, 0.5], windows=[30], workers=1)
    b = tune_baseline(str(market), "glft", [1], gammas=[0.05, 0.5], windows=[30], workers=2)
    assert a == b


@pytest.mark.parametrize("args, words", [
    (["--kind", "as", "--seeds", "1000-1001"], "held-out seed"),
    (["--kind", "as", "--seeds", "x"], "--seeds"),
    (["--kind", "as", "--gammas", "0,1"], "positive"),
])
def test_bad_input_is_one_line_and_writes_nothing(market, tmp_path, capsys, args, words):
    out = tmp_path / "spec.yaml"
    rc = main(["tune-baseline", "--scenario", str(market), "--out", str(out), *args])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_bad_spec_file_is_one_line(market, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("baseline: xyz\nparams: {gamma: 0.1}\n")
    rc = main(["evaluate", "--scenario", str(market), "--policy", str(bad), "--seeds", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "baseline: 'xyz'" in err and len(err.strip().splitlines()) == 1


def test_a_spec_is_not_a_policy_file_for_scenario_agents(tmp_path, capsys):
    scen = tmp_path / "s.yaml"
    scen.write_text(yaml.safe_dump({
        "name": "s", "market": {"open": "10:00", "close": "10:02", "warmup": "1min"},
        "agents": [{"kind": "noise", "count": 5},
                   {"kind": "policy", "checkpoint": "as_tuned"}]}))
    rc = main(["run", str(scen), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and "tuned-baseline spec" in err
    assert not (tmp_path / "run").exists()


def test_shipped_tuned_specs_load():
    from abmm.resources import shipped_policies

    for name, kind in (("as_tuned", "as"), ("glft_tuned", "glft")):
        spec = load_spec(shipped_policies()[name])
        assert spec["baseline"] == kind and spec["params"]["gamma"] > 0
        assert len(spec["tuned"]["grid"]) >= 8 * 3

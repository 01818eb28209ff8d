"""``abmm.ScenarioModel`` under ``mesa.batch_run``: paths, dicts and Scenario objects as
parameters, model and agent rows aligned from Step 0, columns in price units, no run directory,
determinism per seed; and ``examples/mesa_batch_run.py`` end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mesa
import pandas as pd
import pytest

import abmm
from abmm.scenario import Scenario, build_model, load_scenario
from abmm.scenario.mesa_model import AGENT_COLUMNS, MODEL_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
TINY = {"name": "tiny", "seed": 3,
        "market": {"open": "09:30", "close": "09:40", "reference_price": 50.0, "tick_size": 0.05,
                   "lot_size": 10},
        "agents": [{"kind": "noise", "count": 30, "wake": {"kind": "poisson", "interval": "5s"}},
                   {"kind": "market_maker", "count": 1}]}


def frames(rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The batch_run rows as (model rows, agent rows)."""
    df = pd.DataFrame(rows)
    return df.drop_duplicates(["RunId", "Step"]), df


def test_import_abmm_stays_light():
    code = ("import sys, abmm; assert 'mesa' not in sys.modules, 'mesa'; "
            "assert 'abmm.scenario' not in sys.modules; assert abmm.ScenarioModel.__name__; "
            "assert 'abmm.scenario' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_batch_run_with_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written here
    rows = mesa.batch_run(abmm.ScenarioModel,
                          parameters={"scenario": str(ROOT / "scenarios/default.yaml"),
                                      "seed": [1, 2]},
                          max_steps=60, number_processes=1, data_collection_period=1,
                          display_progress=False)
    model, agents = frames(rows)
    assert list(tmp_path.iterdir()) == []  # no run directory, no litter
    assert {"mid", "spread", "volume", "time", "fundamental", "trades"} <= set(model.columns)
    assert {"AgentID", "group", "cash", "inventory", "pnl"} <= set(agents.columns)
    for run_id, m in model.groupby("RunId"):
        a = agents[agents.RunId == run_id]
        # aligned: the same steps for the model and the agents, Step 0 included
        assert sorted(m.Step) == sorted(a.Step.unique()) == list(range(61))
        assert (a.groupby("Step").size() == a.AgentID.nunique()).all()
        first = m[m.Step == 0].iloc[0]
        assert first["time"] == 9.5 * 3600 and first["volume"] == 0  # the open, before a step
        assert (m.sort_values("Step")["time"].diff().dropna() == 1.0).all()  # 1 s a step
        # price units: near default.yaml's reference price 100.0, not 10,000 ticks
        assert m["mid"].dropna().between(95, 105).all() and len(m["mid"].dropna()) > 50
        assert m["spread"].dropna().between(0.0, 2.0).all()
        assert m["fundamental"].between(95, 105).all()
    with pytest.raises(AssertionError):  # the two seeds differ
        pd.testing.assert_series_equal(model[model.RunId == 0].mid.reset_index(drop=True),
                                       model[model.RunId == 1].mid.reset_index(drop=True))


def test_batch_run_with_a_dict_a_scenario_and_overrides():
    sc = load_scenario(TINY)
    rows = mesa.batch_run(abmm.ScenarioModel,
                          parameters={"scenario": [TINY, sc], "seed": 5,
                                      "agents.noise.count": [20, 30]},
                          max_steps=30, number_processes=1, data_collection_period=1,
                          display_progress=False)
    model, agents = frames(rows)
    assert model.RunId.nunique() == 4
    n_agents = agents.groupby("RunId").AgentID.nunique().tolist()
    assert n_agents == [22, 32, 22, 32]  # noise + market maker + the shock pseudo-agent
    # a dict and the same Scenario give the same run
    a = model[model.RunId == 1][["Step", "mid", "volume"]].reset_index(drop=True)
    b = model[model.RunId == 3][["Step", "mid", "volume"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    # a bare Scenario (not in a list) is one value, not iterated into its fields
    rows = mesa.batch_run(abmm.ScenarioModel, parameters={"scenario": sc}, max_steps=3,
                          number_processes=1, display_progress=False)
    assert {r["RunId"] for r in rows} == {0}


def test_units_are_price_units():
    m = abmm.ScenarioModel(TINY, seed=1)
    for _ in range(120):
        m.step()
    df = m.datacollector.get_model_vars_dataframe()
    row = df.iloc[-1]
    assert row["mid"] == pytest.approx(m.mid() * 0.05)
    assert row["spread"] == pytest.approx(m.spread() * 0.05)
    assert row["volume"] == m.volume * 10 and row["trades"] == m.n_trades > 0
    assert row["time"] == m.now / 1e9
    assert 40 < row["mid"] < 60
    agents = m.datacollector.get_agent_vars_dataframe().xs(120, level="Step")
    for a in m.agents:
        assert agents.loc[a.unique_id, "inventory"] == a.inventory * 10
        assert agents.loc[a.unique_id, "cash"] == pytest.approx(a.cash * 0.05 * 10)
        assert agents.loc[a.unique_id, "pnl"] == pytest.approx(a.pnl() * 0.05 * 10)
        assert agents.loc[a.unique_id, "group"] == a.group
    assert agents["inventory"].sum() == 0
    assert set(MODEL_COLUMNS) == set(df.columns) and set(AGENT_COLUMNS) == set(agents.columns)
    for name in (*MODEL_COLUMNS, *AGENT_COLUMNS):  # every column's unit is documented
        assert f"``{name}``" in abmm.ScenarioModel.__doc__


def test_deterministic_per_seed_and_same_as_build_model():
    runs = []
    for _ in range(2):
        m = abmm.ScenarioModel(TINY, seed=9, overrides=["agents.noise.count=25"])
        for _ in range(200):
            m.step()
        runs.append(m.datacollector.get_model_vars_dataframe())
    pd.testing.assert_frame_equal(*runs)
    ref = build_model(TINY, seed=9, overrides=["agents.noise.count=25"])
    mids = []
    for _ in range(200):
        ref.step()
        mids.append(None if ref.mid() is None else ref.mid() * 0.05)
    assert runs[0]["mid"].iloc[1:].tolist() == pytest.approx(mids, nan_ok=True)


def test_out_writes_a_run_directory_only_when_asked(tmp_path):
    m = abmm.ScenarioModel(TINY, seed=1, out=tmp_path / "run", collect=False)
    assert (tmp_path / "run" / "summary.json").exists()
    m.step()
    assert len(m.datacollector.get_model_vars_dataframe()) == 0
    assert m.run()["status"] == "complete"


def test_bad_parameters_name_what_and_where():
    with pytest.raises(ValueError, match=r"agents.0.count: .*greater than or equal to 0"):
        abmm.ScenarioModel(TINY, **{"agents.noise.count": -1})
    with pytest.raises(ValueError, match="market.bogus"):
        abmm.ScenarioModel(TINY, **{"market.bogus": 1})
    assert isinstance(load_scenario(TINY), Scenario)


def test_example_runs_quickly():
    out = subprocess.run([sys.executable, "examples/mesa_batch_run.py"], cwd=ROOT, timeout=120,
                         capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert "mid_last" in out.stdout and "agents.noise.count" in out.stdout
    assert len([ln for ln in out.stdout.splitlines() if ln.strip()]) >= 6

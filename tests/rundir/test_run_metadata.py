"""The run directory describes itself: ``abmm.*`` Parquet metadata on every file, the ``time``
column dated by ``market.date``, bars on that date, and old runs still read."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from abmm.analysis.bars import run_bars
from abmm.engine.types import EventKind, OrderType, Reason, Side
from abmm.rundir import file_metadata, layout, open_run
from abmm.scenario import build_model, load_scenario
from abmm.scenario.loader import ScenarioError

SCENARIO = {
    "name": "meta_tiny",
    "market": {"open": "09:30", "close": "09:33", "tick_size": 0.05, "lot_size": 2.0,
               "date": "2023-06-07"},
    "agents": [{"kind": "noise", "count": 20, "wake": {"kind": "poisson", "interval": "5s"}},
               {"kind": "market_maker", "levels": 2}],
}
DAY0 = pd.Timestamp("2023-06-07", tz="UTC")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("meta") / "run"
    build_model(SCENARIO, seed=3, out=out).run()
    return out


def _files(run) -> dict:
    parts = {f"{d}/{p.name}": p for d in (layout.EVENTS, layout.TOP)
             for p in sorted((run / d).glob("part-*.parquet"))}
    return parts | {f: run / f for f in (layout.AGENTS, layout.FUNDAMENTAL)}


def test_every_file_carries_the_metadata(run_dir):
    files = _files(run_dir)
    assert {k.split("/")[0] for k in files} == {"events", "top", "agents.parquet",
                                              "fundamental.parquet"}
    for name, path in files.items():
        m = file_metadata(path)
        assert m["tick_size"] == 0.05 and m["lot_size"] == 2.0, name
        assert (m["scenario"], m["seed"], m["symbol"], m["date"]) == \
            ("meta_tiny", 3, "ABM", "2023-06-07"), name
        assert set(m["units"]) == set(pq.read_schema(path).names), name
    run = open_run(run_dir)
    assert run.metadata("events")["units"]["price"] == "ticks"
    assert run.metadata("fundamental")["units"] == {
        "ts": layout.UNITS["fundamental"]["ts"], "time": layout.UNITS["fundamental"]["time"],
        "value": "price", "value_ticks": "ticks", "symbol": "text"}
    assert run.metadata("agents")["units"]["cash"] == "tick*lots"
    assert run.metadata("top")["codes"] == {}
    with pytest.raises(ValueError, match="expected one of"):
        run.metadata("nope")


def test_code_tables_are_the_engines_enums(run_dir):
    codes = open_run(run_dir).metadata("events")["codes"]
    for column, enum in (("kind", EventKind), ("side", Side), ("reason", Reason)):
        assert codes[column] == {int(e): e.name for e in enum}
    assert codes["order_type"] == {-1: None, **{int(e): e.name for e in OrderType}}
    # the raw metadata is plain JSON under abmm.* keys
    raw = pq.read_schema(next((run_dir / "events").glob("part-*.parquet"))).metadata
    assert json.loads(raw[b"abmm.codes"])["kind"]["1"] == "FILL"
    assert json.loads(raw[b"abmm.tick_size"]) == 0.05


def test_time_is_date_plus_ts(run_dir):
    run = open_run(run_dir)
    for table in (run.events(), run.top()):
        assert table.schema.field("time").type == pa.timestamp("ns", tz="UTC")
        assert table.column_names[:2] == ["ts", "time"] and table.num_rows > 0
        ts = table.column("ts").to_numpy()
        time = table.column("time").cast(pa.int64()).to_numpy()
        assert (time - ts == DAY0.value).all()
    f = run.fundamental()
    assert list(f.columns) == list(layout.FUNDAMENTAL_COLUMNS)
    assert (f["time"] - DAY0 == pd.to_timedelta(f["ts"], "ns")).all()
    np.testing.assert_allclose(f["value"], f["value_ticks"] * 0.05)
    assert yaml.safe_load((run_dir / "scenario.yaml").read_text())["market"]["date"] == \
        "2023-06-07"


def test_bars_are_dated_by_the_run(run_dir):
    bars = run_bars(run_dir, "1min")
    assert len(bars) and (bars["timestamp"].dt.normalize() == pd.Timestamp("2023-06-07")).all()
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2023-06-07 09:30")


def test_same_seed_same_bytes(run_dir, tmp_path):
    other = tmp_path / "elsewhere"
    build_model(SCENARIO, seed=3, out=other).run()
    a, b = _files(run_dir), _files(other)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes(), name


def test_an_old_run_still_reads(run_dir, tmp_path):
    """Files without metadata, ``time`` or ``value_ticks``, a scenario without ``market.date``:
    the reader adds ``time`` (on the legacy date) and ``value_ticks``; bars use 2024-01-01."""
    old = tmp_path / "old"
    old.mkdir()
    sc = yaml.safe_load((run_dir / "scenario.yaml").read_text())
    del sc["market"]["date"]
    (old / "scenario.yaml").write_text(yaml.safe_dump(sc))
    (old / "summary.json").write_text((run_dir / "summary.json").read_text())
    for d in (layout.EVENTS, layout.TOP):
        (old / d).mkdir()
        for p in (run_dir / d).glob("part-*.parquet"):
            t = pq.read_table(p).drop_columns(["time"]).replace_schema_metadata(None)
            pq.write_table(t, old / d / p.name)
    f = pq.read_table(run_dir / layout.FUNDAMENTAL).select(["ts", "value"])
    pq.write_table(f.replace_schema_metadata(None), old / layout.FUNDAMENTAL)
    run = open_run(old)
    assert run.date == layout.LEGACY_DATE and run.metadata("events") == {}
    legacy = pd.Timestamp(layout.LEGACY_DATE, tz="UTC").value
    ev = run.events()
    assert ev.column_names == list(layout.EVENT_COLUMNS)
    assert (ev.column("time").cast(pa.int64()).to_numpy() - ev.column("ts").to_numpy()
            == legacy).all()
    assert run.top(["time", "bid"]).column_names == ["time", "bid"]
    assert run.events(["ts", "kind"]).column_names == ["ts", "kind"]
    fund = run.fundamental()
    assert list(fund.columns) == list(layout.FUNDAMENTAL_COLUMNS)
    np.testing.assert_allclose(fund["value_ticks"], f.column("value").to_numpy() / 0.05)
    bars = run_bars(old, "1min")
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2024-01-01 09:30")
    # no date in the scenario but one in the files' metadata: the files' date
    for p in (old / layout.EVENTS).glob("part-*.parquet"):
        pq.write_table(pq.read_table(p).replace_schema_metadata(
            {b"abmm.date": b'"2022-02-02"'}), p)
    assert open_run(old).date == "2022-02-02"


def test_market_date_default_and_errors():
    agents = SCENARIO["agents"]
    assert load_scenario({"agents": agents}).market.date.isoformat() == layout.DEFAULT_DATE == \
        "2024-01-02"
    sc = load_scenario({"market": {"date": "2025-02-03"}, "agents": agents})
    assert sc.market.date.isoformat() == "2025-02-03"
    with pytest.raises(ScenarioError, match=r"market\.date"):
        load_scenario({"market": {"date": "03/02/2025"}, "agents": agents})
    with pytest.raises(ScenarioError, match=r"market\.date.*ISO date"):
        load_scenario({"market": {"date": 20250203}, "agents": agents})

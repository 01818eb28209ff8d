"""The one run-directory reader (abmm.rundir): layout, parts, laziness, the session window."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import abmm
from abmm.engine.types import EventKind
from abmm.market.eventlog import EventLog, read_events, read_top
from abmm.rundir import (
    EVENT_COLUMNS,
    EVENT_LOG_DTYPE,
    EVENT_SCHEMA,
    TOP_COLUMNS,
    TOP_DTYPE,
    TOP_SCHEMA,
    IncompleteRunError,
    RunDir,
    layout,
    open_run,
    read_parts,
)
from abmm.schema.timing import HOUR, MINUTE

OPEN = 9 * HOUR + 30 * MINUTE


def _write_part(folder: Path, index: int, dtype: np.dtype, **cols) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n = len(next(iter(cols.values())))
    arr = np.zeros(n, dtype)
    for k, v in cols.items():
        arr[k] = v
    pq.write_table(pa.table({k: arr[k] for k in dtype.names}), folder / layout.part_name(index))


def _run(tmp_path, market=None, summary=None) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    m = {"tick_size": 0.01, "open": "09:30", "close": "10:00", "days": 1} | (market or {})
    (run / layout.SCENARIO).write_text(yaml.safe_dump({"name": "t", "market": m}))
    if summary is not None:
        (run / layout.SUMMARY).write_text(json.dumps(summary))
    return run


# ------------------------------------------------------------------------------ layout
def test_layout_is_what_the_writer_writes(tmp_path):
    log = EventLog(tmp_path, chunk_rows=2)
    rows = [(OPEN + i, i + 1, 3, 0, 0, 100 + i, 5, 5, int(EventKind.ACCEPTED), 0, 0)
            for i in range(3)]
    for row in rows:  # one request each: a part every 2 rows
        log.add_events([row], order_type=0)
    log.add_top(OPEN, 100, 5, None, 0)
    log.flush()
    assert sorted(p.name for p in (tmp_path / layout.EVENTS).iterdir()) == \
        [layout.part_name(0), layout.part_name(1)]
    events = open_run(tmp_path).events()
    assert events.schema.equals(EVENT_SCHEMA) and events.num_rows == 3
    assert tuple(events.column_names) == EVENT_COLUMNS
    assert [c for c in EVENT_COLUMNS if c not in ("time", "symbol")] == list(EVENT_LOG_DTYPE.names)
    assert events.column("order_type").to_pylist() == [0, 0, 0]
    assert events.column("symbol").to_pylist() == ["ABM"] * 3
    top = open_run(tmp_path).top()
    assert top.schema.equals(TOP_SCHEMA) and tuple(top.column_names) == TOP_COLUMNS
    assert top.drop_columns(["time"]).to_pylist() == [
        {"ts": OPEN, "bid": 100, "bid_qty": 5, "ask": 0, "ask_qty": 0, "symbol": "ABM"}]
    assert [c for c in TOP_COLUMNS if c not in ("time", "symbol")] == list(TOP_DTYPE.names)


def test_the_symbol_column_follows_each_request_across_parts(tmp_path):
    """Rows take the symbol of the request they came with, whatever the part boundaries."""
    meta = {"symbol": "A", "symbols": ["A", "B", "C"]}
    log = EventLog(tmp_path, chunk_rows=3, meta=meta)
    row = (OPEN, 1, 3, 0, 0, 100, 5, 5, int(EventKind.ACCEPTED), 0, 0)
    for sym in [0, 0, 1, 2, 2, 2, 1, 0]:
        log.add_events([row, row], order_type=0, sym=sym)
        log.add_top(OPEN, 100 + sym, 5, None, 0, sym)
    log.flush()
    events = open_run(tmp_path).events(["symbol"])["symbol"].to_pylist()
    want = [s for s in "AABCCCBA" for _ in range(2)]
    assert events == want
    assert open_run(tmp_path).top(["symbol"])["symbol"].to_pylist() == list("AABCCCBA")
    assert [b - 100 for b in open_run(tmp_path).top(["bid"])["bid"].to_pylist()] == \
        [0, 0, 1, 2, 2, 2, 1, 0]


# ------------------------------------------------------------------------------ parts
def test_an_empty_or_missing_folder_reads_as_no_rows_with_the_layout_columns(tmp_path):
    run = _run(tmp_path)
    (run / layout.EVENTS).mkdir()  # empty; top/ missing altogether
    r = open_run(run)
    for table, schema in ((r.events(), EVENT_SCHEMA), (r.top(), TOP_SCHEMA)):
        assert table.num_rows == 0 and table.schema.equals(schema)
    assert r.events(["ts", "kind"]).column_names == ["ts", "kind"]
    assert r.fills(["ts", "price"]).num_rows == 0
    assert r.top(["ts"]).to_pandas()["ts"].dtype == np.int64
    # a hidden temporary of a torn write is no part
    (run / layout.TOP).mkdir()
    (run / layout.TOP / layout.part_tmp_name(0)).write_bytes(b"torn")
    assert r.top().num_rows == 0
    assert read_parts(run / "nowhere").num_rows == 0  # without a schema: no columns either


def test_parts_in_number_order_with_gaps_and_temporaries_skipped(tmp_path):
    run = _run(tmp_path)
    folder = run / layout.TOP
    for index in (100_000, 2, 0, 99_999):  # part-100000 sorts first as text, last as a number
        _write_part(folder, index, TOP_DTYPE, ts=[index], bid=[1])
    (folder / layout.part_tmp_name(100_001)).write_bytes(b"torn")
    (folder / "notes.txt").write_text("not a part")
    assert open_run(run).top(["ts"]).column("ts").to_pylist() == [0, 2, 99_999, 100_000]


def test_fills_are_the_fill_rows_in_log_order(tmp_path):
    run = _run(tmp_path)
    kinds = [int(EventKind.ACCEPTED), int(EventKind.FILL), int(EventKind.CANCELLED),
             int(EventKind.FILL)]
    _write_part(run / layout.EVENTS, 0, EVENT_LOG_DTYPE, ts=[1, 2, 3, 4], kind=kinds,
                price=[10, 11, 12, 13], qty=[1, 2, 3, 4])
    f = open_run(run).fills(["ts", "qty"])
    assert f.column_names == ["ts", "qty"] and f.to_pydict() == {"ts": [2, 4], "qty": [2, 4]}
    assert open_run(run).fills().num_rows == 2


# ------------------------------------------------------------------------------ laziness
def test_opening_reads_nothing_and_each_part_only_when_asked(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()  # no scenario.yaml, no summary.json
    _write_part(run / layout.TOP, 0, TOP_DTYPE, ts=[1, 2], bid=[5, 6], ask=[7, 8])
    (run / layout.EVENTS).mkdir()
    (run / layout.EVENTS / layout.part_name(0)).write_bytes(b"not parquet")
    reads = []
    real = pq.read_table

    def counting(path, columns=None, **kw):
        reads.append((Path(path).parent.name, None if columns is None else tuple(columns)))
        return real(path, columns=columns, **kw)

    monkeypatch.setattr(pq, "read_table", counting)
    r = open_run(run)  # neither the broken events/ nor the missing scenario matter yet
    assert reads == [] and r.summary == {}
    assert r.top(["ts", "bid"]).to_pydict() == {"ts": [1, 2], "bid": [5, 6]}
    assert reads == [("top", ("ts", "bid"))]  # one part, the columns asked for
    with pytest.raises(pa.ArrowInvalid):
        r.events()
    with pytest.raises(FileNotFoundError, match="scenario.yaml"):
        r.scenario  # noqa: B018
    with pytest.raises(FileNotFoundError, match="scenario.yaml"):
        r.end_ns  # noqa: B018


# ------------------------------------------------------------------------------ missing files
def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run directory"):
        open_run(tmp_path / "absent")
    run = _run(tmp_path)
    r = open_run(run)
    assert open_run(r) is r and isinstance(r, RunDir) and Path(r) == run
    assert r.summary == {} and r.status is None
    assert r.fundamental() is None
    with pytest.raises(FileNotFoundError, match="agents.parquet.*killed run"):
        r.agents()
    pq.write_table(pa.table({"agent_id": [2, 0, 1], "name": ["c", "a", "b"]}),
                   run / layout.AGENTS)
    assert r.agents()["name"].tolist() == ["a", "b", "c"]  # in agent_id order
    pq.write_table(pa.table({"ts": [OPEN], "value": [100.0]}), run / layout.FUNDAMENTAL)
    assert r.fundamental()["value"].tolist() == [100.0]
    assert r.tick_size == 0.01 and r.lot_size == 1.0


# ------------------------------------------------------------------------------ the session
def test_session_from_the_scenario_when_the_summary_does_not_say(tmp_path):
    # a killed run: summary.json only says "running" (no pid: its writer cannot be alive)
    run = _run(tmp_path, market={"warmup": "2min"}, summary={"status": "running"})
    r = open_run(run)
    assert r.start_ns == OPEN and r.end_ns == OPEN + 30 * MINUTE
    assert r.day_ns == 30 * MINUTE and r.warmup_ns == 2 * MINUTE
    assert r.status == "running" and r.state == "killed"
    # nothing is padded past what was logged (issue 13): nothing logged, so it ends at the open
    assert r.now_ns == OPEN
    _write_part(run / layout.TOP, 0, TOP_DTYPE, ts=[OPEN, OPEN + 3 * MINUTE], bid=[100, 100],
                bid_qty=[1, 1], ask=[102, 104], ask_qty=[1, 1])
    r = open_run(run)
    assert r.now_ns == OPEN + 3 * MINUTE
    with pytest.raises(IncompleteRunError, match=r"killed .* got to 09:33:00.000 .*10%"):
        r.check_complete()
    r.check_complete(allow_incomplete=True)


def test_a_live_writer_is_running_and_a_stale_one_killed(tmp_path):
    import os
    import time

    run = _run(tmp_path, summary={"status": "running", "pid": os.getpid(),
                                  "heartbeat": time.time()})
    assert open_run(run).state == "running"
    (run / layout.SUMMARY).write_text(json.dumps(
        {"status": "running", "pid": os.getpid(), "heartbeat": time.time() - 3600}))
    assert open_run(run).state == "killed"  # a live pid whose heartbeat stopped: reused


def test_session_over_several_days(tmp_path):
    r = open_run(_run(tmp_path, market={"open": 0, "close": "24:00", "days": 3},
                      summary={"status": "complete"}))
    assert (r.start_ns, r.end_ns) == (0, 3 * 24 * HOUR)
    assert r.state == "complete" and r.now_ns == 3 * 24 * HOUR
    assert r.day_ns == 24 * HOUR and r.warmup_ns == 0


def test_session_from_the_summary_and_an_interrupted_run_ends_where_it_stopped(tmp_path):
    stop = OPEN + 7 * MINUTE
    r = open_run(_run(tmp_path, summary={"status": "incomplete", "start_ns": OPEN,
                                         "end_ns": OPEN + 30 * MINUTE, "now_ns": stop}))
    assert (r.start_ns, r.end_ns, r.now_ns) == (OPEN, OPEN + 30 * MINUTE, stop)


def test_every_analysis_uses_the_readers_session(tmp_path):
    """Bars, book facts and metrics all end at the reader's ``now_ns``."""
    from abmm.analysis import metrics as M
    from abmm.analysis.bars import BASE_DATE, run_bars
    from abmm.analysis.facts import book_facts

    stop = OPEN + 5 * MINUTE
    run = _run(tmp_path, summary={"status": "incomplete", "start_ns": OPEN,
                                  "end_ns": OPEN + 30 * MINUTE, "now_ns": stop})
    _write_part(run / layout.TOP, 0, TOP_DTYPE, ts=[OPEN, OPEN + MINUTE], bid=[100, 100],
                bid_qty=[1, 1], ask=[102, 104], ask_qty=[1, 1])
    _write_part(run / layout.EVENTS, 0, EVENT_LOG_DTYPE, ts=[OPEN], owner=[1],
                kind=[int(EventKind.ACCEPTED)], price=[100], qty=[1], remaining=[1])
    pq.write_table(pa.table({"agent_id": [0, 1], "name": ["a/0", "b/0"], "group": ["a", "b"],
                             "kind": ["noise", "noise"]}), run / layout.AGENTS)
    with pytest.raises(IncompleteRunError):
        run_bars(run, "1min")  # an unfinished run is refused unless allowed
    run = open_run(run, allow_incomplete=True)
    bars = run_bars(run, "1min")
    assert bars["timestamp"].iloc[-1] == BASE_DATE + np.timedelta64(stop - MINUTE, "ns")
    assert len(bars) == 5
    b = book_facts(run)  # 1 minute at spread 2, then 4 minutes at spread 4 (to now_ns)
    assert b["spread_mean"] == pytest.approx((2 * 1 + 4 * 4) / 5)
    data = M.load_run(run)
    assert (data.start, data.end, data.day_ns) == (OPEN, stop, 30 * MINUTE)


# ------------------------------------------------------------------------------ one reader
def test_the_old_eventlog_readers_are_the_reader(tmp_path):
    run = _run(tmp_path)
    _write_part(run / layout.EVENTS, 0, EVENT_LOG_DTYPE, ts=[1, 2], kind=[0, 1])
    with pytest.warns(DeprecationWarning, match="abmm.rundir"):
        assert read_events(run).equals(open_run(run).events())
        assert read_events(run, ["ts"]).column_names == ["ts"]
        assert read_top(run).num_rows == 0 and read_top(run).schema.equals(TOP_SCHEMA)


def test_no_other_module_reads_run_parts():
    """Only abmm.rundir opens a run directory's Parquet parts (signals and analysis read through
    it), and only one class is named RunData."""
    pkg = Path(abmm.__file__).parent
    readers, run_data = [], []
    for path in pkg.rglob("*.py"):
        rel = path.relative_to(pkg).as_posix()
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == "RunData":
                run_data.append(rel)
            if rel.startswith(("rundir/", "market/eventlog.py")):
                continue
            if rel.startswith(("signals/", "analysis/")):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) \
                        else [node.module or ""]
                    if "pyarrow.parquet" in names:
                        readers.append(rel)
    assert readers == []
    assert run_data == ["signals/run.py"]

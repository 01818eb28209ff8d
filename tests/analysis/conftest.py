"""Helpers of the analysis tests: hand-made run directories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from abmm.rundir.layout import EVENT_LOG_DTYPE, TOP_DTYPE


def _fake_run(tmp_path, top=None, fills=None, market=None, status="complete") -> Path:
    """A finished run directory (``summary.json`` says ``status``) with a scenario (09:30-09:31
    unless ``market`` says otherwise), a top/ and rows of events/ (``{column: values}``;
    missing columns are 0)."""
    run = tmp_path / "run"
    run.mkdir()
    m = {"tick_size": 0.01, "open": "09:30", "close": "09:31", "days": 1} | (market or {})
    (run / "scenario.yaml").write_text(yaml.safe_dump({"market": m}))
    if status is not None:
        (run / "summary.json").write_text(json.dumps({"status": status}))
    for name, dtype, data in (("top", TOP_DTYPE, top), ("events", EVENT_LOG_DTYPE, fills)):
        if data is None:
            continue
        (run / name).mkdir()
        arr = np.zeros(len(next(iter(data.values()))), dtype)
        for key, values in data.items():
            arr[key] = values
        pq.write_table(pa.table({k: arr[k] for k in dtype.names}),
                       run / name / "part-00000.parquet")
    return run


def _top_rows(rows_):
    """``[(ts, bid, bid_qty, ask, ask_qty), ...]`` as top/ columns."""
    cols = list(zip(*rows_, strict=True))
    return dict(zip(["ts", "bid", "bid_qty", "ask", "ask_qty"], map(np.array, cols),
                    strict=True))


@pytest.fixture
def fake_run():
    return _fake_run


@pytest.fixture
def top_rows():
    return _top_rows

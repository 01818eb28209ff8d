"""The examples in ``examples/`` run (the queries ``docs/event_log.md`` shows among them)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_pandas_polars_and_duckdb_read_a_run_alike():
    missing = [m for m in ("polars", "duckdb") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"examples/query_run_duckdb_polars.py needs {' and '.join(missing)} "
                    "(pip install 'abmm[test]', or pip install polars duckdb)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "query_run_duckdb_polars.py")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "pandas, polars and duckdb agree" in out.stdout


def test_the_event_log_doc_shows_the_example_queries():
    doc = (ROOT / "docs" / "event_log.md").read_text()
    assert "read_parquet('RUN/events/*.parquet')" in doc
    assert "examples/query_run_duckdb_polars.py" in doc

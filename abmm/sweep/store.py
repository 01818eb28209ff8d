"""A sweep's results folder: ``results.parquet`` (one row a run) and ``sweep.json`` (what the
folder holds and how far it got), both written atomically: a killed sweep leaves the last
version whole.

Columns of ``results.parquet``, in order: ``run_id``, ``seed``, one column per override key
(the sweep file's order), ``status`` (``"ok"`` or ``"error"``), ``error`` (null, the failure's
one line, or "scorecard not available: ..."), ``wall_s``, then the statistics
(:mod:`abmm.sweep.runner`: ``summary.*``, ``facts.*``) in the order first met. Rows follow the
sweep's plan (grid or sample order, seeds within a point); rows of an earlier run of the folder
whose runs are no longer in the file are kept, after them.

An override column holds the values' own type when they share one (bool, integer, float,
string), else their JSON text.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from abmm.schema.files import write_atomic

__all__ = ["RESULTS", "MANIFEST", "HEAD", "MIDDLE", "read_rows", "write_results",
           "read_manifest", "write_manifest", "flat_row"]

RESULTS = "results.parquet"
MANIFEST = "sweep.json"
HEAD = ("run_id", "seed")
MIDDLE = ("status", "error", "wall_s")


def flat_row(res: dict) -> dict:
    """A row dict as ``results.parquet`` stores it, from :func:`abmm.sweep.runner.run_one`'s
    result (``values`` and ``stats`` spread into columns)."""
    row = {"run_id": res["run_id"], "seed": int(res["seed"])}
    row.update(res["values"])
    row.update(status=res["status"], error=res["error"], wall_s=res["wall_s"])
    row.update(res["stats"])
    return row


def read_rows(path: Path) -> tuple[list[dict], list[str]]:
    """The rows of a results file and its column order (``([], [])`` when there is none)."""
    path = Path(path)
    if not path.exists():
        return [], []
    table = pq.read_table(path)
    return table.to_pylist(), table.column_names


def _override_array(values: list) -> pa.Array:
    seen = [v for v in values if v is not None]
    if seen and all(isinstance(v, bool) for v in seen):
        return pa.array(values, pa.bool_())
    if seen and all(isinstance(v, int) and not isinstance(v, bool) for v in seen):
        return pa.array(values, pa.int64())
    if seen and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seen):
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    return pa.array([v if v is None or isinstance(v, str)
                     else json.dumps(v, sort_keys=True, default=str) for v in values],
                    pa.string())


def _stat_array(values: list) -> pa.Array:
    seen = [v for v in values if v is not None]
    if seen and all(isinstance(v, bool) for v in seen):
        return pa.array(values, pa.bool_())
    if seen and all(isinstance(v, int) and not isinstance(v, bool) for v in seen):
        return pa.array(values, pa.int64())
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seen):
        return pa.array([None if v is None or (isinstance(v, float) and math.isnan(v))
                         else float(v) for v in values], pa.float64())
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def table(rows: list[dict], keys: list[str], prior_columns: list[str] = ()) -> pa.Table:
    """The results table of ``rows`` (see the module docstring for the column order);
    ``keys``: the sweep's override keys; ``prior_columns``: an earlier file's columns, whose
    order the statistics keep."""
    fixed = set(HEAD) | set(MIDDLE)
    over = list(keys)
    prior = [c for c in prior_columns if c not in fixed]
    stats: list[str] = []
    # an earlier file's override columns (between seed and status) stay override columns
    if prior_columns and "status" in prior_columns:
        idx = list(prior_columns).index("status")
        over += [c for c in prior_columns[2:idx] if c not in over]
        prior = [c for c in prior_columns[idx:] if c not in fixed]
    stats += prior
    known = set(over) | set(stats) | fixed
    for r in rows:
        for c in r:
            if c not in known:
                stats.append(c)
                known.add(c)
    cols: dict[str, pa.Array] = {
        "run_id": pa.array([r["run_id"] for r in rows], pa.string()),
        "seed": pa.array([r["seed"] for r in rows], pa.int64()),
    }
    for c in over:
        cols[c] = _override_array([r.get(c) for r in rows])
    cols["status"] = pa.array([r["status"] for r in rows], pa.string())
    cols["error"] = pa.array([r.get("error") for r in rows], pa.string())
    cols["wall_s"] = pa.array([r.get("wall_s") for r in rows], pa.float64())
    for c in stats:
        cols[c] = _stat_array([r.get(c) for r in rows])
    return pa.table(cols)


def write_results(path: Path, rows: list[dict], keys: list[str],
                  prior_columns: list[str] = ()) -> Path:
    """Write ``rows`` to the Parquet file ``path`` atomically."""
    buf = io.BytesIO()
    pq.write_table(table(rows, keys, prior_columns), buf)
    return write_atomic(path, buf.getvalue())


def read_manifest(folder: Path) -> dict | None:
    """The folder's ``sweep.json``, or None when it has none (or an unreadable one)."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_manifest(folder: Path, data: dict) -> Path:
    """Write the folder's ``sweep.json`` atomically."""
    return write_atomic(Path(folder) / MANIFEST, json.dumps(data, indent=1).encode())

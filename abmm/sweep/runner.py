"""One run of a sweep, in whichever process runs it (this one, a pool worker, a Ray worker).

:func:`run_one` builds the scenario with the run's overrides and seed, runs it with its event
log in a temporary run directory, scores it (:func:`abmm.analysis.scorecard.facts_from_run`)
and returns one row of ``results.parquet``; the directory is removed. It never raises: a run
that fails is a row with ``status`` ``"error"`` and the error's one line.

The scratch directory (``abmm-sweep-RUNID-PID-*`` in the temporary folder) goes with its run
also when the sweep is stopped: pool workers turn SIGTERM into ``SystemExit``
(:func:`abmm.parallel._pool_worker_init`), so the ``finally`` that removes it runs; and one
left by a process that could not clean up (SIGKILL, out of memory) is removed by the next run
on that machine, once no process has that PID.

Statistic columns, by their stable keys:

* ``summary.KEY``: the run summary's numbers (``summary.json``: ``orders``, ``trades``,
  ``volume_lots``, ``final_price``, ...; its ``wall_seconds`` is the row's ``wall_s``), and
  ``summary.groups.GROUP.KEY`` for each agent group (``pnl_total``, ``inventory_total``, ...);
* ``facts.KEY``: each scorecard row's value (``abmm facts --json``'s keys), and for the checked
  rows ``facts.KEY.passed``; ``facts.passed``: the whole scorecard.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

__all__ = ["run_one", "summary_stats", "facts_stats", "error_row", "one_line"]

log = logging.getLogger(__name__)

#: Summary entries that are not statistics of the run (or are columns of their own).
_NOT_STATS = ("status", "error", "scenario", "seed", "symbol", "wall_seconds", "groups")
#: Longest error text kept in a row.
MAX_ERROR = 500
#: The scratch directories' name prefix (then ``RUNID-PID-``), in the temporary folder.
SCRATCH_PREFIX = "abmm-sweep-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


def remove_stale_scratch(root: str | os.PathLike | None = None) -> int:
    """Remove the scratch directories of runs whose process is gone (killed before it could
    clean up); returns how many were removed. Directories of live processes are left alone."""
    root = Path(root or tempfile.gettempdir())
    removed = 0
    try:
        entries = list(root.glob(SCRATCH_PREFIX + "*"))
    except OSError:
        return 0
    for d in entries:
        parts = d.name[len(SCRATCH_PREFIX):].split("-")
        if len(parts) < 3 or not parts[1].isdigit() or not d.is_dir():
            continue  # not ours, or from a version without the PID: leave it
        if int(parts[1]) == os.getpid() or _alive(int(parts[1])):
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed += not d.exists()
    return removed


def one_line(exc: BaseException) -> str:
    """An exception as one line: ``Type: message`` (whitespace collapsed, cut to MAX_ERROR)."""
    text = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line[:MAX_ERROR]


def _scalar(v):
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v) if math.isfinite(v) else None
    return None


def summary_stats(summary: dict) -> dict:
    """The ``summary.*`` columns of a run summary (numbers only, in the summary's order)."""
    out = {}
    for k, v in summary.items():
        if k in _NOT_STATS or isinstance(v, str):
            continue
        if isinstance(v, (int, float)) or v is None:
            out[f"summary.{k}"] = _scalar(v)
    for g, d in (summary.get("groups") or {}).items():
        for k, v in d.items():
            if isinstance(v, (int, float)) and not isinstance(v, str):
                out[f"summary.groups.{g}.{k}"] = _scalar(v)
    return out


def facts_stats(card: dict) -> dict:
    """The ``facts.*`` columns of a scorecard (``Scorecard.to_dict()``)."""
    out = {"facts.passed": bool(card["passed"]) if card.get("passed") is not None else None}
    checks = card.get("checks") or {}
    for row in card["rows"]:
        key = row.get("key") or row["name"]
        out[f"facts.{key}"] = _scalar(row["value"])
        if key in checks:
            out[f"facts.{key}.passed"] = None if row["passed"] is None else bool(row["passed"])
    return out


def error_row(job: dict, error: str, wall_s: float = 0.0) -> dict:
    """The row of a run that failed with ``error``."""
    return {"run_id": job["run_id"], "seed": job["seed"], "values": dict(job["values"]),
            "status": "error", "error": error[:MAX_ERROR], "wall_s": round(wall_s, 3),
            "stats": {}}


def run_one(job: dict) -> dict:
    """Run one point of a sweep. ``job``: ``{"run_id", "seed", "values": {key: value},
    "overrides": ["KEY=VALUE", ...], "scenario": the scenario dict}``. Returns ``{"run_id",
    "seed", "values", "status": "ok" | "error", "error", "wall_s", "stats": {column:
    value}}``: ``error`` is None for a clean run, the error's one line for a failed one, and
    "scorecard not available: ..." for a run that finished but could not be scored."""
    from abmm.analysis.scorecard import facts_from_run
    from abmm.scenario import build_model

    t0 = time.perf_counter()
    remove_stale_scratch()
    tmp = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{job['run_id']}-{os.getpid()}-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # estimators on short series
            model = build_model(job["scenario"], seed=job["seed"], out=tmp / "run",
                                overrides=list(job["overrides"]))
            try:
                summary = model.run()
            finally:
                model.release()
            if summary.get("status") != "complete":
                raise RuntimeError(f"the run did not complete: {summary.get('error')}")
            stats = summary_stats(summary)
            error = None
            try:
                stats.update(facts_stats(facts_from_run(tmp / "run").to_dict()))
            except Exception as exc:  # noqa: BLE001 - a short run may not support every estimator
                error = f"scorecard not available: {one_line(exc)}"
    except Exception as exc:  # noqa: BLE001 - a failed run is a row, and the sweep goes on
        log.debug("run %s (seed %s, %s) failed: %s", job["run_id"], job["seed"],
                    " ".join(job["overrides"]) or "no overrides", one_line(exc))
        return error_row(job, one_line(exc), time.perf_counter() - t0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"run_id": job["run_id"], "seed": job["seed"], "values": dict(job["values"]),
            "status": "ok", "error": error, "wall_s": round(time.perf_counter() - t0, 3),
            "stats": stats}

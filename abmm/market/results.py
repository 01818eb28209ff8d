"""A run's results: the summary (counts, final prices, PnL per group) and the run directory's
files other than the event log (``summary.json``, ``scenario.yaml``, ``agents.parquet``,
``fundamental.parquet``; names from :mod:`abmm.rundir.layout`, meaning in
``docs/event_log.md``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from abmm.rundir import layout

__all__ = ["summarize", "start_run_dir", "write_run_dir", "write_final_summary", "heartbeat"]


def summarize(model, status: str = "complete", error: str | None = None) -> dict:
    """The run's summary as a JSON-ready dict (what ``summary.json`` holds)."""
    groups = {}
    mark = model.mark_price()
    unit = model.tick_size * model.lot_size
    for name, members in model.groups.items():
        pnl = [a.cash + a.inventory * mark - a.fees for a in members]
        since = pnl
        if model.warmup_price is not None:
            w = model.warmup_marks
            since = [p - (w[a.unique_id][0] + w[a.unique_id][1] * model.warmup_price)
                     for p, a in zip(pnl, members, strict=True)]
        groups[name] = {
            "kind": members[0].kind, "agents": len(members),
            "pnl_total": sum(pnl) * unit,
            "pnl_mean": sum(pnl) / len(pnl) * unit,
            "pnl_after_warmup_total": sum(since) * unit,
            "inventory_total": sum(a.inventory for a in members),
            "orders": sum(a.n_orders for a in members),
            "fills": sum(a.n_fills for a in members),
        }
    stats = model.book.stats()
    bid, _, ask, _ = model._top
    return {
        "status": status, "error": error, "scenario": model.spec.name,
        "seed": model.seed_value, "symbol": model.symbol,
        "start_ns": model.start, "end_ns": model.end, "now_ns": model.now,
        "wall_seconds": round(time.perf_counter() - model._wall0, 3),
        "orders": stats["next_id"] - 1,
        "cancels": sum(a.n_cancels for a in model._by_id.values()),
        "trades": model.n_trades, "volume_lots": model.volume, "requests": model.n_requests,
        "kernel_events": model.n_kernel_events,
        "invalid_requests": model.n_invalid, "late_cancels": model.late_cancels,
        "suppressed_orders": model.n_suppressed,
        "events_logged": model.log.n_events, "top_of_book_changes": model.log.n_top,
        "final_bid": None if bid is None else model.to_price(bid),
        "final_ask": None if ask is None else model.to_price(ask),
        "final_price": model.to_price(model.mark_price()),
        "final_fundamental": model.to_price(model.fundamental.value(model.now)),
        "live_orders": stats["live_orders"], "groups": groups,
    }


def _write_summary(out_dir: Path, summary: dict) -> None:
    """``summary.json``, atomically (a reader sees the old or the new one, never half)."""
    tmp = out_dir / (layout.SUMMARY + ".tmp")
    tmp.write_text(json.dumps(summary, indent=1))
    tmp.replace(out_dir / layout.SUMMARY)


def heartbeat(out_dir: Path, model) -> None:
    """Write ``summary.json`` as ``running``: the writer's pid, the wall time (a heartbeat a
    reader can age) and how far the run got, atomically."""
    import os

    state = {"status": "running", "pid": os.getpid(), "heartbeat": time.time(),
             "start_ns": model.start, "end_ns": model.end, "now_ns": model.now}
    _write_summary(out_dir, state)


def start_run_dir(out_dir: Path, record: dict | None, model=None) -> None:
    """Mark a run directory as running (``summary.json`` with the writer's pid and a heartbeat)
    and record what built the run (``scenario.yaml``, when given)."""
    import yaml

    out_dir.mkdir(parents=True, exist_ok=True)
    if model is not None:
        heartbeat(out_dir, model)
    else:
        (out_dir / layout.SUMMARY).write_text(json.dumps({"status": "running"}))
    if record is not None:
        (out_dir / layout.SCENARIO).write_text(yaml.safe_dump(record, sort_keys=False))


def write_final_summary(out_dir: Path, summary: dict) -> bool:
    """Write ``summary.json`` alone, atomically, if at all possible (returns whether it was);
    used when the rest of the run directory could not be written."""
    try:
        _write_summary(out_dir, summary)
        return True
    except OSError:
        return False


def write_run_dir(model, out_dir: Path, summary: dict) -> None:
    """Flush the event log, write ``agents.parquet`` and ``fundamental.parquet``, then
    ``summary.json`` (atomically, last: a reader that sees the final status sees everything)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    model.log.flush()
    meta = model.file_meta_args()
    rows = [a.summary() for a in model._by_id.values()]
    keys = list(dict.fromkeys(k for r in rows for k in r))  # kinds add their own columns
    table = pa.table({k: [r.get(k) for r in rows] for k in keys})
    table = table.replace_schema_metadata(layout.file_meta("agents", keys, **meta))
    pq.write_table(table, out_dir / layout.AGENTS)
    times = model.fundamental.times()
    keep = times <= model.now
    ts = np.asarray(times[keep], dtype=np.int64)
    ticks = np.asarray(model.fundamental.path[keep], dtype=np.float64)
    time = pa.array((ts + np.int64(layout.date_ns(meta["date"]))).view("datetime64[ns]"),
                    layout.TIME_TYPE)
    schema = layout.FUNDAMENTAL_SCHEMA.with_metadata(
        layout.file_meta("fundamental", layout.FUNDAMENTAL_COLUMNS, **meta))
    pq.write_table(pa.Table.from_arrays([ts, time, ticks * model.tick_size, ticks],
                                        schema=schema), out_dir / layout.FUNDAMENTAL)
    _write_summary(out_dir, summary)

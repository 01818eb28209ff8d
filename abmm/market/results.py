"""A run's results: the summary (counts, final prices, PnL per group) and the run directory's
files other than the event log (``summary.json``, ``scenario.yaml``, ``agents.parquet``,
``fundamental.parquet``; names from :mod:`abmm.rundir.layout`, meaning in
``docs/event_log.md``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from abmm.rundir import layout

__all__ = ["accounts", "summarize", "start_run_dir", "write_run_dir", "write_final_summary", "heartbeat"]


def accounts(agent) -> list:
    """``[(account, venue), ...]`` of an agent: itself on its venue, or a multi-symbol agent's
    legs (``agent.legs``), each on its own."""
    legs = getattr(agent, "legs", None)
    if legs:
        return [(leg, leg.venue) for leg in legs.values()]
    return [(agent, agent.venue)]


def summarize(model, status: str = "complete", error: str | None = None) -> dict:
    """The run's summary as a JSON-ready dict (what ``summary.json`` holds). PnL is in price
    units (a multi-symbol group's sums every symbol's); ``symbols`` (a multi-symbol market
    only) gives each symbol's prices, trades, volume and each group's PnL and inventory there."""
    groups = {}
    multi = len(model.venues) > 1
    marks = {v.index: v.mark_price() for v in model.venues}
    w = model.warmup_marks
    per_symbol = {v.symbol: {} for v in model.venues}
    for name, members in model.groups.items():
        # tick-lot sums per venue, then price units (one venue: exactly the one-symbol sums)
        pnl_v: dict = {}
        since_v: dict = {}
        inv_v: dict = {}
        n_acc = 0
        for a in members:
            for acc, v in accounts(a):
                n_acc += 1
                p = acc.cash + acc.inventory * marks[v.index] - acc.fees
                pnl_v.setdefault(v.index, []).append(p)
                if v.warmup_price is not None:
                    c0, q0 = w[acc.unique_id]
                    p = p - (c0 + q0 * v.warmup_price)
                since_v.setdefault(v.index, []).append(p)
                inv_v[v.index] = inv_v.get(v.index, 0) + acc.inventory
        units = {v.index: v.tick_size * v.lot_size for v in model.venues}
        total = sum(sum(p) * units[i] for i, p in pnl_v.items())
        groups[name] = {
            "kind": members[0].kind, "agents": len(members),
            "pnl_total": total,
            "pnl_mean": (sum(sum(p) / len(members) * units[i] for i, p in pnl_v.items())),
            "pnl_after_warmup_total": sum(sum(p) * units[i] for i, p in since_v.items()),
            "inventory_total": sum(inv_v.values()),
            "orders": sum(a.n_orders for a in members),
            "fills": sum(a.n_fills for a in members),
        }
        if multi:
            for i, p in pnl_v.items():
                per_symbol[model.venues[i].symbol][name] = {
                    "pnl_total": sum(p) * units[i], "inventory_total": inv_v[i]}
    stats = [v.book.stats() for v in model.venues]
    bid, _, ask, _ = model.venue._top
    out = {
        "status": status, "error": error, "scenario": model.spec.name,
        "seed": model.seed_value, "symbol": model.symbol,
        "start_ns": model.start, "end_ns": model.end, "now_ns": model.now,
        "wall_seconds": round(time.perf_counter() - model._wall0, 3),
        "orders": sum(st["next_id"] - 1 for st in stats),
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
        "live_orders": sum(st["live_orders"] for st in stats), "groups": groups,
    }
    if multi:
        out["symbols"] = {}
        for v, st in zip(model.venues, stats, strict=True):
            b, _, a, _ = v._top
            out["symbols"][v.symbol] = {
                "orders": st["next_id"] - 1, "trades": v.n_trades, "volume_lots": v.volume,
                "final_bid": None if b is None else v.to_price(b),
                "final_ask": None if a is None else v.to_price(a),
                "final_price": v.to_price(v.mark_price()),
                "final_fundamental": v.to_price(v.fundamental.value(model.now)),
                "live_orders": st["live_orders"], "groups": per_symbol[v.symbol]}
    return out


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
    rows = []
    for a in model._by_id.values():
        r = a.summary()
        rows.extend(r if isinstance(r, list) else [r])
    keys = list(dict.fromkeys(k for r in rows for k in r))  # kinds add their own columns
    table = pa.table({k: [r.get(k) for r in rows] for k in keys})
    table = table.replace_schema_metadata(layout.file_meta("agents", keys, **meta))
    pq.write_table(table, out_dir / layout.AGENTS)
    origin = np.int64(layout.date_ns(meta["date"]))
    parts = []
    for v in model.venues:
        f = v.fundamental
        times = f.times()
        keep = times <= model.now
        ts = np.asarray(times[keep], dtype=np.int64)
        ticks = np.asarray(f.path[keep], dtype=np.float64)
        time = pa.array((ts + origin).view("datetime64[ns]"), layout.TIME_TYPE)
        parts.append(pa.Table.from_arrays(
            [ts, time, ticks * v.tick_size, ticks, pa.array([v.symbol] * len(ts), pa.string())],
            schema=layout.FUNDAMENTAL_SCHEMA))
    schema = layout.FUNDAMENTAL_SCHEMA.with_metadata(
        layout.file_meta("fundamental", layout.FUNDAMENTAL_COLUMNS, **meta))
    pq.write_table(pa.concat_tables(parts).replace_schema_metadata(schema.metadata),
                   out_dir / layout.FUNDAMENTAL)
    _write_summary(out_dir, summary)

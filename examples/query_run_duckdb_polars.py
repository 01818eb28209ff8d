#!/usr/bin/env python3
"""Read one run directory with pandas, polars and duckdb, and check they agree.

Runs a short scenario (noise traders and a market maker, 09:30-09:45) into a temporary
folder -- or reads the run directory given as the first argument -- then asks the same questions
of its files with each library: the trades (count, volume, VWAP in price units, first trade
time), the events by kind (names from the files' own ``abmm.codes`` metadata) and the mean
spread in ticks. ``docs/event_log.md`` shows the same queries; ``tests/test_examples.py`` runs
this script in CI. Needs ``pip install polars duckdb`` (the ``test`` extra has both)::

    python examples/query_run_duckdb_polars.py            # a fresh 15-minute run
    python examples/query_run_duckdb_polars.py runs/default-seed1
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq

SCENARIO = {
    "name": "query_example",
    "market": {"open": "09:30", "close": "09:45", "date": "2024-03-05"},
    "agents": [{"kind": "noise", "count": 40, "wake": {"kind": "poisson", "interval": "5s"}},
               {"kind": "market_maker", "levels": 2}],
}


def run_short(out: Path) -> Path:
    """A 15-minute run of ``SCENARIO`` into ``out``."""
    from abmm.scenario import build_model

    build_model(SCENARIO, seed=7, out=out).run()
    return out


def meta(path) -> dict:
    """A Parquet file's ``abmm.*`` metadata, JSON-decoded, with pyarrow alone."""
    md = pq.read_schema(path).metadata or {}
    return {k.decode()[5:]: json.loads(v) for k, v in md.items() if k.startswith(b"abmm.")}


def with_pandas(run: Path, tick: float, kinds: dict) -> dict:
    """The questions, answered with pandas."""
    events = pd.read_parquet(run / "events")               # all parts as one DataFrame
    fills = events[events["kind"] == 1]                    # kinds["1"] == "FILL"
    price = fills["price"] * tick                          # ticks -> price units
    top = pd.read_parquet(run / "top")
    both = top[(top["bid"] > 0) & (top["ask"] > 0)]
    by_kind = events["kind"].map(lambda k: kinds[str(k)]).value_counts()
    return {"trades": len(fills), "volume": int(fills["qty"].sum()),
            "vwap": float((price * fills["qty"]).sum() / fills["qty"].sum()),
            "first_trade": fills["time"].min(),
            "by_kind": {k: int(v) for k, v in by_kind.items()},
            "spread_ticks": float((both["ask"] - both["bid"]).mean())}


def with_polars(run: Path, tick: float, kinds: dict) -> dict:
    """The questions, answered with polars."""
    events = pl.read_parquet(run / "events" / "*.parquet")
    fills = events.filter(pl.col("kind") == 1)
    t = fills.select(pl.len().alias("n"), pl.col("qty").sum().alias("volume"),
                     ((pl.col("price") * tick * pl.col("qty")).sum() / pl.col("qty").sum())
                     .alias("vwap"), pl.col("time").min().dt.epoch("ns").alias("first"))
    by_kind = events.group_by("kind").len()
    top = pl.read_parquet(run / "top" / "*.parquet")
    spread = top.filter((pl.col("bid") > 0) & (pl.col("ask") > 0)) \
        .select((pl.col("ask") - pl.col("bid")).mean()).item()
    row = t.row(0, named=True)
    return {"trades": row["n"], "volume": int(row["volume"]), "vwap": float(row["vwap"]),
            "first_trade": pd.Timestamp(row["first"], unit="ns", tz="UTC"),  # ns kept
            "by_kind": {kinds[str(k)]: int(n) for k, n in by_kind.iter_rows()},
            "spread_ticks": float(spread)}


def with_duckdb(run: Path, tick: float, kinds: dict) -> dict:
    """The questions, answered with duckdb (a folder of parts is a ``*.parquet`` glob)."""
    con = duckdb.connect()
    events = f"read_parquet('{run}/events/*.parquet')"
    n, volume, vwap, first = con.execute(
        f"SELECT count(*), sum(qty), sum(price * {tick} * qty) / sum(qty), epoch_ns(min(time)) "
        f"FROM {events} WHERE kind = 1").fetchone()
    by_kind = con.execute(f"SELECT kind, count(*) FROM {events} GROUP BY kind").fetchall()
    spread = con.execute(f"SELECT avg(ask - bid) FROM read_parquet('{run}/top/*.parquet') "
                         "WHERE bid > 0 AND ask > 0").fetchone()[0]
    return {"trades": n, "volume": int(volume), "vwap": float(vwap),
            "first_trade": pd.Timestamp(first, unit="ns", tz="UTC"),
            "by_kind": {kinds[str(k)]: int(c) for k, c in by_kind},
            "spread_ticks": float(spread)}


def check(run: Path) -> dict:
    """Answer the questions with all three libraries; ``AssertionError`` unless they agree.
    Returns the pandas answers."""
    part = sorted((run / "events").glob("part-*.parquet"))[0]
    m = meta(part)
    tick, kinds = m["tick_size"], m["codes"]["kind"]
    answers = {lib: f(run, tick, kinds) for lib, f in
               (("pandas", with_pandas), ("polars", with_polars), ("duckdb", with_duckdb))}
    ref = answers["pandas"]
    assert ref["trades"] > 0, f"{run}: no trades"
    for lib, a in answers.items():
        for key, value in ref.items():
            if isinstance(value, float):
                assert abs(a[key] - value) <= 1e-9 * max(1.0, abs(value)), (lib, key, a[key], value)
            else:
                assert a[key] == value, (lib, key, a[key], value)
    return ref


def main(argv: list[str]) -> int:
    """Check the run directory ``argv[0]``, or a fresh short run."""
    if argv:
        ref = check(Path(argv[0]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            ref = check(run_short(Path(tmp) / "run"))
    print(f"pandas, polars and duckdb agree: {ref['trades']} trades, volume {ref['volume']} "
          f"lots, VWAP {ref['vwap']:.4f}, first trade {ref['first_trade']}, mean spread "
          f"{ref['spread_ticks']:.2f} ticks, events {ref['by_kind']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

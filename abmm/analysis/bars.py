"""OHLCV bars from a run directory (or a real OHLCV file), in price units.

A run's mid-price is a step function that changes at the rows of ``top/``; a bar's ``open`` is
the mid in force at the bar's start, ``high``/``low`` the extremes it takes during the bar,
``close`` the last mid of the bar, and ``volume`` the lots traded in the bar (``FILL`` rows of
``events/``). Bar timestamps are bar starts: simulated nanoseconds since midnight of the first
session day, placed on the calendar at ``BASE_DATE`` (a Monday) so pandas tools work.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from abmm.engine.types import EventKind
from abmm.market.eventlog import read_events, read_top

BASE_DATE = pd.Timestamp("2024-01-01")  # a Monday
COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"]


def run_meta(run_dir) -> dict:
    """The run's resolved scenario (``scenario.yaml``)."""
    return yaml.safe_load((Path(run_dir) / "scenario.yaml").read_text())


def mid_series(run_dir) -> pd.Series:
    """The mid price (price units) at each top-of-book change with both sides present."""
    top = read_top(run_dir).to_pandas()
    tick = run_meta(run_dir)["market"]["tick_size"]
    both = (top["bid"] > 0) & (top["ask"] > 0)
    top = top[both]
    mid = (top["bid"].to_numpy() + top["ask"].to_numpy()) * (0.5 * tick)
    return pd.Series(mid, index=BASE_DATE + pd.to_timedelta(top["ts"].to_numpy(), "ns"),
                     name="mid")


def trades(run_dir) -> pd.DataFrame:
    """Trades: timestamp, price (price units), qty (lots), side (taker: 0 buy, 1 sell)."""
    ev = read_events(run_dir).to_pandas()
    tick = run_meta(run_dir)["market"]["tick_size"]
    f = ev[ev["kind"] == int(EventKind.FILL)]
    return pd.DataFrame({
        "timestamp": BASE_DATE + pd.to_timedelta(f["ts"].to_numpy(), "ns"),
        "price": f["price"].to_numpy() * tick, "qty": f["qty"].to_numpy(),
        "side": f["side"].to_numpy(),
    })


def run_bars(run_dir, freq: str = "1min") -> pd.DataFrame:
    """OHLCV bars of a run's mid price (see the module docstring), one row per bar from the
    session open to its close; columns ``timestamp, open, high, low, close, volume``."""
    meta = run_meta(run_dir)["market"]
    start = BASE_DATE + pd.to_timedelta(_ns(meta["open"]), "ns")
    end = BASE_DATE + pd.to_timedelta(_ns(meta["open"]) + meta["days"]
                                      * (_ns(meta["close"]) - _ns(meta["open"])), "ns")
    mid = mid_series(run_dir)
    mid = mid[~mid.index.duplicated(keep="last")]
    edges = pd.date_range(start, end, freq=freq, inclusive="left")
    if len(edges) == 0 or mid.empty:
        return pd.DataFrame(columns=COLUMNS)
    # the mid in force at each bar start joins the changes inside the bar
    at_start = mid.reindex(mid.index.union(edges)).ffill().reindex(edges)
    path = pd.concat([mid, at_start]).sort_index(kind="stable")
    path = path[~path.index.duplicated(keep="first")].dropna()
    path = path[(path.index >= start) & (path.index < end)]
    grouped = path.resample(freq, origin=start)
    ohlc = grouped.ohlc()
    ohlc["close"] = grouped.last()
    tr = trades(run_dir)
    vol = tr.set_index("timestamp")["qty"].resample(freq, origin=start).sum()
    out = ohlc.join(vol.rename("volume"), how="left").reindex(edges)
    out["close"] = out["close"].ffill()
    for c in ("open", "high", "low"):
        out[c] = out[c].fillna(out["close"])
    out["volume"] = out["volume"].fillna(0).astype(np.int64)
    out = out.dropna(subset=["close"]).reset_index(names="timestamp")
    return out[COLUMNS]


def _ns(v) -> int:
    from abmm.market.timeutil import parse_duration

    return parse_duration(v)


def read_ohlcv(path) -> pd.DataFrame:
    """A real OHLCV file (CSV or Parquet with ``timestamp, open, high, low, close, volume``, e.g.
    a Bybit kline export) as bars with a parsed ``timestamp`` column, sorted by time."""
    path = Path(path)
    df = pd.read_parquet(path) if path.suffix in (".parquet", ".pq") else pd.read_csv(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected {COLUMNS}")
    df = df[COLUMNS].copy()
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True).dt.tz_localize(None)
    return df.sort_values("timestamp", kind="stable").reset_index(drop=True)

"""OHLCV bars from a run directory (or a real OHLCV file), in price units.

A run's mid-price is a step function that changes at the rows of ``top/``; a bar's ``open`` is
the mid in force at the bar's start, ``high``/``low`` the extremes it takes during the bar,
``close`` the last mid of the bar, and ``volume`` the lots traded in the bar (``FILL`` rows of
``events/``). Bar timestamps are bar starts: simulated nanoseconds since midnight of the first
session day, placed on the calendar at the run's date (:func:`run_date`: the scenario's
``market.date``, default 2024-01-02; a run written before that key existed falls back to
``BASE_DATE``, 2024-01-01) as tz-naive UTC timestamps, like real bars. The run is
read through :func:`abmm.rundir.open_run`; bars cover its session window (``start_ns`` to
``now_ns``: the close, or where an interrupted run stopped).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from abmm.rundir import LEGACY_DATE, open_run, require_complete

#: The date of a run that records none (written before ``market.date``): 2024-01-01, a Monday.
BASE_DATE = pd.Timestamp(LEGACY_DATE)
COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"]
#: Most bars one call may build (guards a typo such as ``--freq 1ns``).
MAX_BARS = 5_000_000


def run_meta(run_dir) -> dict:
    """The run's resolved scenario (``scenario.yaml``) as a dict."""
    return open_run(run_dir).scenario


def run_date(run_dir) -> pd.Timestamp:
    """Midnight (tz-naive, UTC) of the run's first day: ``RunDir.date`` -- the scenario's
    ``market.date``, else the files' ``abmm.date``, else ``BASE_DATE``."""
    return pd.Timestamp(open_run(run_dir).date)


def mid_series(run_dir) -> pd.Series:
    """The mid price (price units) at each top-of-book change with both sides present.

    Raises ``ValueError`` when the run has no top-of-book log (``logging.top_of_book: false``):
    use trade-price bars (``run_bars(..., price="trade")``) for such a run."""
    return quote_series(run_dir)["mid"]


def quote_series(run_dir) -> pd.DataFrame:
    """The mid and the quoted spread (``ask - bid``, price units) at each top-of-book change
    with both sides present (columns ``mid``, ``spread``; raises like ``mid_series``)."""
    run = open_run(run_dir)
    top = run.top(["ts", "bid", "ask"]).to_pandas()
    if top.empty:
        raise ValueError(f"{run.path} has no top-of-book log (top/ is empty: the run had "
                         "logging.top_of_book: false); use trade-price bars instead "
                         "(price='trade', or --price trade on the command line)")
    tick = run.tick_size
    both = (top["bid"] > 0) & (top["ask"] > 0)
    top = top[both]
    bid, ask = top["bid"].to_numpy(), top["ask"].to_numpy()
    return pd.DataFrame({"mid": (bid + ask) * (0.5 * tick), "spread": (ask - bid) * tick},
                        index=run_date(run) + pd.to_timedelta(top["ts"].to_numpy(), "ns"))


def trades(run_dir) -> pd.DataFrame:
    """Trades: timestamp, price (price units), qty (lots), side (taker: 0 buy, 1 sell),
    taker_id (the incoming order's id: the fills of one order share it)."""
    run = open_run(run_dir)
    f = run.fills(["ts", "price", "qty", "side", "other_id"]).to_pandas()
    tick = run.tick_size
    return pd.DataFrame({
        "timestamp": run_date(run) + pd.to_timedelta(f["ts"].to_numpy(), "ns"),
        "price": f["price"].to_numpy() * tick, "qty": f["qty"].to_numpy(),
        "side": f["side"].to_numpy(), "taker_id": f["other_id"].to_numpy(),
    })


def trade_series(run_dir) -> pd.Series:
    """The last trade price (price units) after each fill."""
    tr = trades(run_dir)
    return pd.Series(tr["price"].to_numpy(), index=pd.DatetimeIndex(tr["timestamp"]),
                     name="trade")


def run_bars(run_dir, freq: str = "1min", after_warmup: bool = False,
             price: str = "mid", spread: bool = False) -> pd.DataFrame:
    """OHLCV bars of a run's mid price (see the module docstring) -- or, with
    ``price="trade"``, of its trade prices -- one row per bar from the session open (or, with
    ``after_warmup``, from the end of the scenario's ``market.warmup``, while the book is still
    filling up) to its close (or to where an interrupted run stopped: the reader's ``now_ns``);
    columns ``timestamp, open, high, low, close, volume`` -- and, with ``spread``, ``spread``:
    the quoted spread (ask - bid, price units) in force at the bar's close (what ``abmm
    calibrate`` reads as the spread moments' series). Bars before the first price are left out;
    a bar without a change repeats the last close."""
    if price not in ("mid", "trade"):
        raise ValueError(f"price must be 'mid' or 'trade', not {price!r}")
    if spread and price != "mid":
        raise ValueError("spread bars need mid-price bars (price='mid'): the spread comes from "
                         "the top-of-book log")
    try:
        step = pd.to_timedelta(pd.tseries.frequencies.to_offset(freq))
    except (ValueError, TypeError):
        raise ValueError(f"freq {freq!r} is not a pandas frequency of fixed length (e.g. '1s', "
                         "'1min', '5min', '1h', '1D')") from None
    if step <= pd.Timedelta(0):
        raise ValueError(f"freq {freq!r} must be a positive duration (e.g. '1min')")
    run = require_complete(run_dir)
    n_bars = (run.now_ns - run.start_ns) / step.value
    if n_bars > MAX_BARS:
        raise ValueError(f"freq {freq!r} gives {n_bars:,.0f} bars over the run; expected at most "
                         f"{MAX_BARS:,} (a coarser freq, e.g. '1s' or '1min')")
    open_ns = run.start_ns + (run.warmup_ns if after_warmup else 0)
    base = run_date(run)
    start = base + pd.to_timedelta(open_ns, "ns")
    end = base + pd.to_timedelta(run.now_ns, "ns")
    quotes = quote_series(run) if price == "mid" else None
    mid = quotes["mid"] if price == "mid" else trade_series(run)
    mid = mid[~mid.index.duplicated(keep="last")]
    sessions = run.sessions
    # bars inside the trading sessions only (a sessioned market over several days is closed
    # overnight: no bars there), each session's grid from its own open
    edges, session_of = [], []
    for i, (s_open, s_close) in enumerate(sessions):
        lo, hi = max(s_open, open_ns), min(s_close, run.now_ns)
        if hi <= lo:
            continue
        e = pd.date_range(base + pd.to_timedelta(lo, "ns"),
                          base + pd.to_timedelta(hi, "ns"), freq=freq, inclusive="left")
        edges.append(e)
        session_of.append(np.full(len(e), i))
    edges = edges[0].append(edges[1:]) if edges else pd.DatetimeIndex([])
    columns = COLUMNS + (["spread"] if spread else [])
    if len(edges) == 0 or mid.empty:
        return pd.DataFrame(columns=columns)
    # the mid in force at each bar start joins the changes inside the bar
    at_start = mid.reindex(mid.index.union(edges)).ffill().reindex(edges)
    path = pd.concat([mid, at_start]).sort_index(kind="stable")
    path = path[~path.index.duplicated(keep="first")].dropna()
    path = path[(path.index >= start) & (path.index < end)]
    grouped = path.resample(freq, origin=start)
    ohlc = grouped.ohlc()
    ohlc["close"] = grouped.last()
    tr = trades(run)
    vol = tr.set_index("timestamp")["qty"].resample(freq, origin=start).sum()
    out = ohlc.join(vol.rename("volume"), how="left").reindex(edges)
    multi = len(sessions) > 1
    if multi:
        out["session"] = np.concatenate(session_of)
    out["close"] = out["close"].ffill()
    for c in ("open", "high", "low"):
        out[c] = out[c].fillna(out["close"])
    out["volume"] = out["volume"].fillna(0).astype(np.int64)
    if spread:  # the spread in force at the close: the last change up to the bar's end
        sp = quotes["spread"]
        sp = sp[~sp.index.duplicated(keep="last")]
        at = sp.reindex(sp.index.union(edges)).ffill().reindex(edges)
        inside = sp[(sp.index >= start) & (sp.index < end)]
        last = inside.resample(freq, origin=start).last().reindex(edges)
        out["spread"] = last.fillna(at).ffill().to_numpy()
    out = out.dropna(subset=["close"]).reset_index(names="timestamp")
    # prices are multiples of half a tick: round away the float noise of ticks * tick_size
    digits = max(0, -math.floor(math.log10(run.tick_size / 2)) + 1)
    for c in ("open", "high", "low", "close") + (("spread",) if spread else ()):
        out[c] = out[c].round(digits)
    return out[columns + (["session"] if multi else [])]


def read_ohlcv(path) -> pd.DataFrame:
    """A real OHLCV file (CSV or Parquet with ``timestamp, open, high, low, close, volume``, e.g.
    a Bybit kline export) as bars with a parsed ``timestamp`` column, sorted by time; an optional
    ``spread`` column (the quoted spread at each bar's close, price units) is kept."""
    path = Path(path)
    df = pd.read_parquet(path) if path.suffix in (".parquet", ".pq") else pd.read_csv(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected {COLUMNS}")
    df = df[COLUMNS + (["spread"] if "spread" in df.columns else [])].copy()
    df["timestamp"] = _parse_timestamps(df["timestamp"], path)
    return df.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _parse_timestamps(ts: pd.Series, path) -> pd.Series:
    """ISO strings or datetimes as they are; numbers as epoch seconds, milliseconds (Bybit's
    kline ``startTime``), microseconds or nanoseconds, told apart by their size."""
    if pd.api.types.is_numeric_dtype(ts):
        v = pd.to_numeric(ts, errors="coerce")
        if v.isna().any():
            raise ValueError(f"{path}: 'timestamp' has missing values")
        mag = float(v.abs().max()) if len(v) else 0.0
        unit = "s" if mag < 1e11 else "ms" if mag < 1e14 else "us" if mag < 1e17 else "ns"
        return pd.to_datetime(v.astype("int64"), unit=unit, utc=True).dt.tz_localize(None)
    try:
        return pd.to_datetime(ts, utc=True, format="ISO8601").dt.tz_localize(None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: cannot parse column 'timestamp' ({exc}); expected ISO-8601 "
                         "times or epoch seconds/milliseconds") from None

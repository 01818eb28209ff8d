"""The local Parquet store of real market data (docs/data.md gives every path and schema).

Layout under a store directory ``DIR``::

    DIR/klines/CATEGORY/SYMBOL_INTERVAL.parquet          bars (KLINE_SCHEMA)
    DIR/trades/VENUE/CATEGORY/SYMBOL/YYYY-MM-DD.parquet  trades (TRADE_SCHEMA), one file a UTC day
    DIR/orderbook/CATEGORY/SYMBOL/YYYY-MM-DD.parquet     L2 snapshots (BOOK_SCHEMA), one a UTC day
    DIR/instruments/VENUE/CATEGORY.parquet               instrument specs (INSTRUMENT_SCHEMA)

Every file is written atomically (a temporary file in the same folder, fsync'd, renamed over
the target): a killed writer leaves the previous file whole, never a partial one. Each file
records in its Parquet metadata (key ``abmm.coverage``) the time ranges that were *fetched or
imported* into it, as ``[[start_ms, end_ms), ...]`` -- so fetching a range again asks only for
what is missing, and a gap the venue really has (no trading) is remembered as covered, not
fetched again and again. Rows are unique by their key (``timestamp`` for bars; ``trade_id``, or
``timestamp``+``price``+``size``+``side`` when a venue gives none, for trades; ``timestamp``,
``side``, ``level`` for books) and sorted ascending by time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from abmm.errors import DataError
from abmm.schema.files import write_atomic

#: The metadata key of a store file's covered ranges, and of the store's format version.
COVERAGE_KEY = b"abmm.coverage"
FORMAT_KEY = b"abmm.store"
FORMAT = "1"

_TS = pa.timestamp("ms", tz="UTC")
_TS_NS = pa.timestamp("ns", tz="UTC")

#: Bars: ``timestamp`` is the bar's open (UTC); prices in quote currency; ``volume`` in the
#: base asset (contracts for inverse), ``turnover`` in the quote currency (NaN when unknown).
KLINE_SCHEMA = pa.schema([("timestamp", _TS), ("open", pa.float64()), ("high", pa.float64()),
                          ("low", pa.float64()), ("close", pa.float64()),
                          ("volume", pa.float64()), ("turnover", pa.float64())])

#: Trades: ``side`` is the taker's (+1 buy, -1 sell; 0 when the venue does not say),
#: ``size`` in the base asset, ``trade_id`` the venue's id as text ("" when none).
TRADE_SCHEMA = pa.schema([("timestamp", _TS_NS), ("price", pa.float64()), ("size", pa.float64()),
                          ("side", pa.int8()), ("trade_id", pa.string())])

#: L2 snapshots in long form: one row per price level; ``side`` +1 bid, -1 ask; ``level`` 0 is
#: the best; ``update_id`` the venue's update id (``u``) of the book state, -1 when unknown.
BOOK_SCHEMA = pa.schema([("timestamp", _TS), ("side", pa.int8()), ("level", pa.int16()),
                         ("price", pa.float64()), ("size", pa.float64()),
                         ("update_id", pa.int64())])

#: Instrument specs: what a scenario's ``market:`` section needs.
INSTRUMENT_SCHEMA = pa.schema([("symbol", pa.string()), ("category", pa.string()),
                               ("status", pa.string()), ("base_coin", pa.string()),
                               ("quote_coin", pa.string()), ("tick_size", pa.float64()),
                               ("lot_size", pa.float64()), ("min_order_qty", pa.float64()),
                               ("funding_interval_min", pa.int64())])

_KEYS = {"klines": ["timestamp"], "trades": ["trade_id", "timestamp", "price", "size", "side"],
         "orderbook": ["timestamp", "side", "level"], "instruments": ["symbol"]}
_SCHEMAS = {"klines": KLINE_SCHEMA, "trades": TRADE_SCHEMA, "orderbook": BOOK_SCHEMA,
            "instruments": INSTRUMENT_SCHEMA}


def _name(part: str, what: str) -> str:
    """A path component from user input, refused when it could leave the store."""
    if not part or "/" in part or "\\" in part or part in (".", "..") or "\x00" in part:
        raise DataError(f"{what} {part!r}: expected a plain name (no path separators)")
    return part


def klines_path(root, category: str, symbol: str, interval: str) -> Path:
    """``DIR/klines/CATEGORY/SYMBOL_INTERVAL.parquet``."""
    return (Path(root) / "klines" / _name(category, "category")
            / f"{_name(symbol, 'symbol')}_{_name(str(interval), 'interval')}.parquet")


def trades_path(root, venue: str, category: str, symbol: str, day: str) -> Path:
    """``DIR/trades/VENUE/CATEGORY/SYMBOL/YYYY-MM-DD.parquet``."""
    return (Path(root) / "trades" / _name(venue, "venue") / _name(category, "category")
            / _name(symbol, "symbol") / f"{_name(day, 'day')}.parquet")


def orderbook_path(root, category: str, symbol: str, day: str) -> Path:
    """``DIR/orderbook/CATEGORY/SYMBOL/YYYY-MM-DD.parquet``."""
    return (Path(root) / "orderbook" / _name(category, "category") / _name(symbol, "symbol")
            / f"{_name(day, 'day')}.parquet")


def instruments_path(root, venue: str, category: str) -> Path:
    """``DIR/instruments/VENUE/CATEGORY.parquet``."""
    return (Path(root) / "instruments" / _name(venue, "venue")
            / f"{_name(category, 'category')}.parquet")


# ------------------------------------------------------------------ coverage
def merge_ranges(ranges) -> list[list[int]]:
    """The union of half-open ``[start, end)`` ranges, sorted and merged (touching ones join)."""
    out: list[list[int]] = []
    for a, b in sorted((int(a), int(b)) for a, b in ranges if b > a):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def missing_ranges(covered, start: int, end: int) -> list[list[int]]:
    """The parts of ``[start, end)`` not in ``covered`` (half-open ranges, same units)."""
    out = []
    t = int(start)
    for a, b in merge_ranges(covered):
        if b <= t:
            continue
        if a >= end:
            break
        if a > t:
            out.append([t, min(a, end)])
        t = max(t, b)
        if t >= end:
            break
    if t < end:
        out.append([t, int(end)])
    return out


# ------------------------------------------------------------------ read / write
def read_table(path) -> tuple[pd.DataFrame, list[list[int]]]:
    """A store file as ``(frame, coverage)``; an absent file is an empty frame, no coverage.
    A file that is not a Parquet file of the store raises ``DataError`` naming it."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(), []
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet file of an abmm data store ({exc})") \
            from None
    meta = table.schema.metadata or {}
    try:
        coverage = merge_ranges(json.loads(meta.get(COVERAGE_KEY, b"[]")))
    except (ValueError, TypeError):
        raise DataError(f"{path}: damaged coverage metadata ({COVERAGE_KEY.decode()}); "
                        "expected a JSON list of [start_ms, end_ms] pairs") from None
    return table.to_pandas(), coverage


def _conform(frame: pd.DataFrame, schema: pa.Schema, path: Path) -> pa.Table:
    missing = [f.name for f in schema if f.name not in frame.columns]
    if missing:
        raise DataError(f"{path.name}: rows lack the columns {missing}; expected {schema.names}")
    try:
        return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError) as exc:
        raise DataError(f"{path.name}: rows do not fit the store's schema ({exc})") from None


def write_table(path, kind: str, frame: pd.DataFrame, coverage) -> Path:
    """Write ``frame`` (``kind``: klines, trades, orderbook or instruments) to ``path``
    atomically, deduplicated by the kind's key, sorted by time, with ``coverage``."""
    path = Path(path)
    schema = _SCHEMAS[kind]
    if len(frame):
        frame = frame.drop_duplicates(subset=[k for k in _KEYS[kind] if k in frame.columns],
                                      keep="last")
        order = [c for c in ("timestamp", "side", "level", "symbol") if c in frame.columns]
        if kind == "orderbook":  # bids best first (descending) are level-ordered already
            order = ["timestamp", "side", "level"]
        frame = frame.sort_values(order, kind="mergesort", ascending=[True] * len(order))
    else:
        frame = pd.DataFrame({n: pd.Series(dtype=object) for n in schema.names})
    table = _conform(frame.reset_index(drop=True), schema, path)
    meta = dict(table.schema.metadata or {})
    meta[COVERAGE_KEY] = json.dumps(merge_ranges(coverage)).encode()
    meta[FORMAT_KEY] = FORMAT.encode()
    table = table.replace_schema_metadata(meta)
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf)
    return write_atomic(path, buf.getvalue().to_pybytes())


def merge_into(path, kind: str, new: pd.DataFrame, covered) -> int:
    """Add ``new`` rows and the ranges ``covered`` to the store file ``path`` (created when
    absent) in one atomic write; returns the number of rows that were not there before."""
    old, cov = read_table(path)
    before = len(old)
    frame = pd.concat([old, new], ignore_index=True) if len(old) else new
    write_table(path, kind, frame, list(cov) + [list(r) for r in covered])
    after, _ = read_table(path)
    return len(after) - before


def list_store(root) -> list[dict]:
    """Every data file under a store: ``{"path", "kind", "rows", "start", "end", "coverage"}``
    (``start``/``end`` the first and last row's timestamp, ``None`` when empty)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such data store (a directory written by abmm data)")
    out = []
    for kind in ("klines", "trades", "orderbook", "instruments"):
        for p in sorted((root / kind).rglob("*.parquet")) if (root / kind).is_dir() else []:
            meta = pq.read_metadata(p)
            md = meta.schema.to_arrow_schema().metadata or {}
            row = {"path": str(p.relative_to(root)), "kind": kind, "rows": meta.num_rows,
                   "start": None, "end": None,
                   "coverage": merge_ranges(json.loads(md.get(COVERAGE_KEY, b"[]")))}
            if meta.num_rows and kind != "instruments":
                ts = pq.read_table(p, columns=["timestamp"]).column(0)
                row["start"] = pd.Timestamp(ts[0].as_py()).isoformat()
                row["end"] = pd.Timestamp(ts[len(ts) - 1].as_py()).isoformat()
            out.append(row)
    return out


def book_spreads(root, category: str, symbol: str, freq: str = "1min") -> pd.DataFrame:
    """The quoted spread (best ask - best bid, quote currency) in force at the end of each
    ``freq`` bar, from the store's L2 snapshots of ``symbol``: columns ``timestamp`` (the bar's
    open, UTC) and ``spread``; a bar without a snapshot carries the last one, a snapshot with one
    side empty (or crossed) gives no spread. Joined to bars on ``timestamp`` it makes the
    ``spread`` column ``abmm calibrate --real`` reads as the spread moments (docs/data.md)."""
    folder = Path(root) / "orderbook" / _name(category, "category") / _name(symbol, "symbol")
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        raise DataError(f"{folder}: no order-book snapshots of {symbol} ({category}) in the "
                        "store (abmm data orderbook or abmm data import writes them)")
    book = pd.concat([read_table(p)[0] for p in files], ignore_index=True)
    best = book[book["level"] == 0]
    bid = best[best["side"] == 1].groupby("timestamp")["price"].last()
    ask = best[best["side"] == -1].groupby("timestamp")["price"].last()
    quotes = pd.concat([bid.rename("bid"), ask.rename("ask")], axis=1).sort_index()
    spread = (quotes["ask"] - quotes["bid"]).where(lambda s: s > 0)
    if spread.empty:
        return pd.DataFrame({"timestamp": pd.Series([], dtype="datetime64[ms, UTC]"),
                             "spread": pd.Series([], dtype=float)})
    start = spread.index[0].floor(freq)
    bars = spread.resample(freq, origin=start).last().ffill()
    return bars.rename("spread").rename_axis("timestamp").reset_index()

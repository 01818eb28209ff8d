"""Loaders of downloadable history files and recorded feeds into the local Parquet store.

Formats, detected from the content (the header line, the first JSON line, the gzip magic --
never from the file name), gzip-compressed or plain:

``bybit_trades``
    Bybit derivatives trades CSV: ``timestamp`` (s, with a fraction), ``symbol``, ``side``
    (``Buy``/``Sell``), ``size``, ``price``, ``trdMatchID``, ... (newer files add ``RPI``).
    Category ``linear`` (``inverse`` for a ``...USD`` symbol), symbol from the file.
``bybit_spot_trades``
    Bybit spot trades CSV: ``id``, ``timestamp`` (ms), ``price``, ``volume``, ``side``
    (newer files add ``rpi``). Category ``spot``; the symbol must be given.
``bybit_orderbook``
    Bybit order-book history, JSON lines ``{"topic", "type": "snapshot"|"delta", "ts",
    "data": {"s", "b", "a", "u", "seq"}}``: rebuilt into L2 books, one snapshot of up to
    ``depth`` levels a side per message (after applying it). Symbol from ``s``; the category
    must be given.
``binance_feed``
    A recorded Binance USD-M websocket feed (:mod:`abmm.data.binance`): its trades, and its
    ``bookTicker`` messages as top-of-book snapshots (level 0 both sides). Venue ``binance``,
    category ``linear``, symbol from the stream name.
``klines_1m``
    1-minute bars CSV: ``timestamp`` (ISO-8601, UTC; or epoch ms/s), ``open``, ``high``, ``low``,
    ``close``, ``volume`` and optionally ``turnover`` (NaN when absent). Category and symbol
    must be given.

CSV columns are read by header name (case-insensitive, in any order; extra columns are
ignored). Every problem raises :class:`abmm.errors.DataError` naming the file, the line and
what was expected. :func:`import_file` parses the whole file before it writes anything, so a
file that fails leaves the store as it was; it then merges the rows into the store
(:func:`abmm.data.store.merge_into`): importing a file twice adds nothing.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from abmm.data.binance import parse_binance_feed
from abmm.data.store import (
    BOOK_SCHEMA,
    KLINE_SCHEMA,
    TRADE_SCHEMA,
    klines_path,
    merge_into,
    orderbook_path,
    trades_path,
)
from abmm.errors import DataError

try:  # optional: faster JSON
    import orjson as _json

    _JSON_ERRORS: tuple = (_json.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - depends on the environment
    import json as _json

    _JSON_ERRORS = (ValueError,)

log = logging.getLogger(__name__)

__all__ = ["FORMATS", "detect_format", "read_bybit_trades", "read_bybit_spot_trades",
           "read_bybit_orderbook", "read_binance_feed_frames", "read_klines_csv",
           "import_file"]

_MS = 1_000_000
_DAY_MS = 86_400 * 1_000

#: The CSV layouts: format -> the required columns (lower case).
_CSV_LAYOUTS = {
    "bybit_trades": ("timestamp", "symbol", "side", "size", "price", "trdmatchid"),
    "bybit_spot_trades": ("id", "timestamp", "price", "volume", "side"),
    "klines_1m": ("timestamp", "open", "high", "low", "close", "volume"),
}

#: Every format :func:`detect_format` knows, with what it looks like.
FORMATS = {
    "bybit_trades": "Bybit derivatives trades CSV: timestamp,symbol,side,size,price,"
                    "tickDirection,trdMatchID,grossValue,homeNotional,foreignNotional[,RPI]",
    "bybit_spot_trades": "Bybit spot trades CSV: id,timestamp,price,volume,side[,rpi]",
    "bybit_orderbook": 'Bybit order-book history JSON lines: {"topic", "type": '
                       '"snapshot"|"delta", "ts", "data": {"s", "b", "a", "u"}}',
    "binance_feed": 'Binance websocket capture: <receive time ns> {"stream": ..., '
                    '"data": {...}} a line',
    "klines_1m": "1-minute bars CSV: timestamp,open,high,low,close,volume[,turnover]",
}


def _expected() -> str:
    return "; ".join(FORMATS.values())


# ------------------------------------------------------------------ reading text
def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _open_text(path: Path):
    """A text stream of ``path`` (gunzipped when it starts with the gzip magic)."""
    if _is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="strict")
    return open(path, encoding="utf-8-sig", errors="strict")


def _check_file(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected a history file ({_expected()})")
    return path


def _first_line(path: Path) -> tuple[int, str]:
    """The first non-blank line of ``path`` and its number (0, "" for an empty file)."""
    try:
        with _open_text(path) as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    return n, line.strip()
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, OSError) as exc:
        raise DataError(f"{path}: not a text file ({type(exc).__name__}: {exc}); expected "
                        f"one of: {_expected()}") from None
    return 0, ""


def _header(line: str) -> list[str]:
    return [c.strip().strip('"').strip().lower() for c in line.split(",")]


def detect_format(path) -> str:
    """The format of ``path`` (a key of :data:`FORMATS`), from its first non-blank line: a CSV
    header, a JSON object, or a receive time then a JSON object. ``DataError`` naming the file,
    its first line and the layouts expected when it is none of them, and naming the missing
    columns when a CSV header is close to one layout but lacks some of its columns."""
    path = _check_file(path)
    n, line = _first_line(path)
    if not line:
        raise DataError(f"{path}: empty file; expected one of: {_expected()}")
    shown = line if len(line) <= 120 else line[:117] + "..."
    if line.startswith("{"):
        try:
            msg = _json.loads(line)
        except _JSON_ERRORS:
            msg = None
        if isinstance(msg, dict) and "data" in msg and "type" in msg and "topic" in msg:
            return "bybit_orderbook"
        raise DataError(f"{path}, line {n}: a JSON line of no known layout ({shown}); "
                        f"expected one of: {_expected()}")
    if re.match(r"^\d+ \{", line):
        return "binance_feed"
    cols = set(_header(line))
    if len(cols) >= 2:
        score = {f: len(cols & set(req)) for f, req in _CSV_LAYOUTS.items()}
        full = [f for f, req in _CSV_LAYOUTS.items() if set(req) <= cols]
        if full:
            return max(full, key=lambda f: len(_CSV_LAYOUTS[f]))
        best = max(score, key=score.get)
        if score[best] >= 3 and list(score.values()).count(score[best]) == 1:
            missing = [c for c in _CSV_LAYOUTS[best] if c not in cols]
            raise DataError(f"{path}, line {n}: the header lacks the columns {missing} of a "
                            f"{FORMATS[best].split(':')[0]}; columns found: {_header(line)}; "
                            f"expected one of: {_expected()}")
    raise DataError(f"{path}, line {n}: unknown format (first line {shown!r}); expected one "
                    f"of: {_expected()}")


# ------------------------------------------------------------------ CSV
def _read_csv(path: Path, fmt: str) -> pd.DataFrame:
    """The required columns of a CSV of layout ``fmt`` as text, renamed to lower case, with
    the row's line number as the index (the header is line 1)."""
    required = _CSV_LAYOUTS[fmt]
    optional = ("turnover",) if fmt == "klines_1m" else ()
    compression = "gzip" if _is_gzip(path) else None
    try:
        head = pd.read_csv(path, nrows=0, compression=compression, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc}); expected "
                        f"{FORMATS[fmt]}") from None
    found = {str(c).strip().lower(): c for c in head.columns}
    missing = [c for c in required if c not in found]
    if missing:
        raise DataError(f"{path}, line 1: the header lacks the columns {missing}; columns "
                        f"found: {list(head.columns)}; expected one of: {_expected()}")
    use = [found[c] for c in required + tuple(c for c in optional if c in found)]
    try:
        frame = pd.read_csv(path, usecols=use, dtype=str, keep_default_na=False,
                            skip_blank_lines=False, compression=compression,
                            encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, OSError, EOFError,
            pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc}); expected "
                        f"{FORMATS[fmt]}") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    frame.index = np.arange(2, len(frame) + 2)
    for c in frame.columns:
        frame[c] = frame[c].str.strip()
    return frame


def _fail(path: Path, col: pd.Series, bad: np.ndarray, what: str, expected: str):
    """Raise the ``DataError`` of the first row where ``bad`` is true."""
    i = int(np.flatnonzero(bad)[0])
    line, value = col.index[i], col.iloc[i]
    raise DataError(f"{path}, line {line}: bad {what} {value!r}; expected {expected}")


def _positive(path: Path, col: pd.Series, what: str) -> np.ndarray:
    v = pd.to_numeric(col, errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(v) & (v > 0))
    if bad.any():
        _fail(path, col, bad, what, "a number > 0")
    return v


def _number(path: Path, col: pd.Series, what: str) -> np.ndarray:
    v = pd.to_numeric(col, errors="coerce").to_numpy(float)
    bad = ~np.isfinite(v)
    if bad.any():
        _fail(path, col, bad, what, "a number")
    return v


def _sides(path: Path, col: pd.Series) -> np.ndarray:
    s = col.str.lower()
    out = np.where(s == "buy", 1, np.where(s == "sell", -1, 0)).astype(np.int8)
    if (out == 0).any():
        _fail(path, col, out == 0, "side", "Buy or Sell")
    return out


def _seconds_ns(path: Path, col: pd.Series) -> np.ndarray:
    """Epoch seconds with a decimal fraction as exact integer ns."""
    ok = col.str.fullmatch(r"\d+(\.\d*)?").fillna(False).to_numpy(bool)
    if not ok.all():
        _fail(path, col, ~ok, "timestamp", "seconds since the epoch (e.g. 1733011200.1234)")
    parts = col.str.partition(".")
    frac = parts[2].str[:9].str.ljust(9, "0")
    return parts[0].astype(np.int64).to_numpy() * 1_000_000_000 + frac.astype(np.int64).to_numpy()


def _ms_ns(path: Path, col: pd.Series) -> np.ndarray:
    """Epoch milliseconds as integer ns."""
    v = pd.to_numeric(col, errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(v) & (v >= 0))
    if bad.any():
        _fail(path, col, bad, "timestamp", "milliseconds since the epoch")
    return np.rint(v).astype(np.int64) * _MS


def _trades_frame(ts_ns, price, size, side, trade_id) -> pd.DataFrame:
    return pd.DataFrame({
        "timestamp": pd.to_datetime(np.asarray(ts_ns, dtype=np.int64), unit="ns", utc=True),
        "price": np.asarray(price, float), "size": np.asarray(size, float),
        "side": np.asarray(side, np.int8), "trade_id": np.asarray(trade_id, dtype=object),
    }, columns=TRADE_SCHEMA.names)


def _parse_bybit_trades(path: Path) -> tuple[pd.DataFrame, dict]:
    f = _read_csv(path, "bybit_trades")
    f = f[~(f == "").all(axis=1)]  # blank lines
    ts = _seconds_ns(path, f["timestamp"])
    out = _trades_frame(ts, _positive(path, f["price"], "price"),
                        _positive(path, f["size"], "size"), _sides(path, f["side"]),
                        f["trdmatchid"].to_numpy(object))
    symbols = sorted(set(f["symbol"].unique()) - {""})
    if len(symbols) > 1:
        raise DataError(f"{path}: holds trades of several symbols {symbols[:10]}; expected one "
                        "symbol a file")
    if (f["symbol"] == "").any():
        _fail(path, f["symbol"], (f["symbol"] == "").to_numpy(), "symbol", "a symbol")
    info = {"venue": "bybit", "category": "linear",
            "symbol": symbols[0] if symbols else None}
    if info["symbol"] and re.fullmatch(r"[A-Z0-9]+USD([FGHJKMNQUVXZ]\d\d)?", info["symbol"]):
        info["category"] = "inverse"
    return out, info


def _parse_bybit_spot(path: Path) -> tuple[pd.DataFrame, dict]:
    f = _read_csv(path, "bybit_spot_trades")
    f = f[~(f == "").all(axis=1)]
    out = _trades_frame(_ms_ns(path, f["timestamp"]), _positive(path, f["price"], "price"),
                        _positive(path, f["volume"], "volume"), _sides(path, f["side"]),
                        f["id"].to_numpy(object))
    return out, {"venue": "bybit", "category": "spot", "symbol": None}


def _parse_klines(path: Path) -> tuple[pd.DataFrame, dict]:
    f = _read_csv(path, "klines_1m")
    f = f[~(f == "").all(axis=1)]
    col = f["timestamp"]
    if len(col) and col.str.fullmatch(r"\d+(\.\d*)?").all():
        v = pd.to_numeric(col).to_numpy(float)
        unit = "ms" if v.max() >= 1e11 else "s"
        ts = pd.to_datetime(v, unit=unit, utc=True)
    else:
        ts = pd.to_datetime(col, utc=True, errors="coerce", format="ISO8601")
        bad = pd.isna(ts)
        if np.asarray(bad).any():
            _fail(path, col, np.asarray(bad), "timestamp", "an ISO-8601 time (UTC) or epoch ms")
    out = pd.DataFrame({"timestamp": pd.DatetimeIndex(ts).as_unit("ms")}, index=f.index)
    for c in ("open", "high", "low", "close"):
        out[c] = _positive(path, f[c], c)
    out["volume"] = _number(path, f["volume"], "volume")
    out["turnover"] = (_number(path, f["turnover"], "turnover") if "turnover" in f.columns
                       else np.nan)
    return out.reset_index(drop=True)[KLINE_SCHEMA.names], {"venue": None, "category": None,
                                                            "symbol": None}


# ------------------------------------------------------------------ order book
def _levels(path: Path, n: int, rows, book: dict, what: str) -> None:
    if not isinstance(rows, list):
        raise DataError(f"{path}, line {n}: bad {what} {rows!r}; expected a list of "
                        "[price, size] pairs")
    for pair in rows:
        try:
            price, size = float(pair[0]), float(pair[1])
        except (TypeError, ValueError, IndexError, KeyError):
            raise DataError(f"{path}, line {n}: bad {what} level {pair!r}; expected "
                            "[price, size] as numbers") from None
        if not (np.isfinite(price) and price > 0 and np.isfinite(size) and size >= 0):
            raise DataError(f"{path}, line {n}: bad {what} level {pair!r}; expected a price "
                            "> 0 and a size >= 0")
        if size == 0:
            book.pop(price, None)
        else:
            book[price] = size


def _parse_bybit_orderbook(path: Path, depth: int = 50) -> tuple[pd.DataFrame, dict]:
    if not (isinstance(depth, (int, np.integer)) and 0 < depth <= 32767):
        raise DataError(f"depth={depth!r}: expected a whole number of levels from 1 to 32767")
    bids: dict = {}
    asks: dict = {}
    started = False
    symbols: set = set()
    cols: dict = {k: [] for k in ("timestamp", "side", "level", "price", "size", "update_id")}
    last_ts, last_start = None, 0
    try:
        fh = _open_text(path)
        with fh:
            for n, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    msg = _json.loads(line)
                except _JSON_ERRORS:
                    raise DataError(f"{path}, line {n}: not JSON ({line[:60]!r}); expected "
                                    f"{FORMATS['bybit_orderbook']}") from None
                try:
                    kind, ts, data = msg["type"], int(msg["ts"]), msg["data"]
                    b, a, u = data.get("b", []), data.get("a", []), int(data.get("u", -1))
                except (KeyError, TypeError, ValueError, AttributeError):
                    raise DataError(f"{path}, line {n}: a message without type, ts or data; "
                                    f"expected {FORMATS['bybit_orderbook']}") from None
                if kind == "snapshot":
                    bids.clear()
                    asks.clear()
                    started = True
                elif kind == "delta":
                    if not started:
                        raise DataError(f"{path}, line {n}: a delta before any snapshot; "
                                        "expected the file to start with a snapshot")
                else:
                    raise DataError(f"{path}, line {n}: bad type {kind!r}; expected "
                                    "'snapshot' or 'delta'")
                if data.get("s"):
                    symbols.add(str(data["s"]))
                _levels(path, n, b, bids, "bid")
                _levels(path, n, a, asks, "ask")
                if ts == last_ts:  # one state a millisecond: the last one holds
                    for v in cols.values():
                        del v[last_start:]
                last_ts, last_start = ts, len(cols["timestamp"])
                for side, prices in ((1, sorted(bids, reverse=True)[:depth]),
                                     (-1, sorted(asks)[:depth])):
                    book = bids if side == 1 else asks
                    k = len(prices)
                    cols["timestamp"].extend([ts] * k)
                    cols["side"].extend([side] * k)
                    cols["level"].extend(range(k))
                    cols["price"].extend(prices)
                    cols["size"].extend(book[p] for p in prices)
                    cols["update_id"].extend([u] * k)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise DataError(f"{path}: unreadable ({type(exc).__name__}: {exc}); expected "
                        f"{FORMATS['bybit_orderbook']}") from None
    if len(symbols) > 1:
        raise DataError(f"{path}: holds books of several symbols {sorted(symbols)}; expected "
                        "one symbol a file")
    out = pd.DataFrame({
        "timestamp": pd.to_datetime(np.asarray(cols["timestamp"], np.int64), unit="ms",
                                    utc=True),
        "side": np.asarray(cols["side"], np.int8), "level": np.asarray(cols["level"], np.int16),
        "price": np.asarray(cols["price"], float), "size": np.asarray(cols["size"], float),
        "update_id": np.asarray(cols["update_id"], np.int64)}, columns=BOOK_SCHEMA.names)
    return out, {"venue": "bybit", "category": None,
                 "symbol": next(iter(symbols)) if symbols else None}


# ------------------------------------------------------------------ Binance feed
def _parse_binance(path: Path) -> tuple[tuple[pd.DataFrame, pd.DataFrame], dict]:
    try:
        feed = parse_binance_feed(path)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    tr = feed.trades
    trades = _trades_frame(tr["ts"].to_numpy(np.int64), tr["price"], tr["qty"],
                           np.where(tr["side"].to_numpy() == 0, 1, -1),
                           tr["trade_id"].astype(str).to_numpy(object))
    top = feed.top
    ts = pd.to_datetime(top["ts"].to_numpy(np.int64) // _MS, unit="ms", utc=True)
    parts = []
    for side, px, qty in ((1, "bid", "bid_qty"), (-1, "ask", "ask_qty")):
        keep = (top[px].to_numpy() > 0)
        parts.append(pd.DataFrame({
            "timestamp": ts[keep], "side": np.int8(side), "level": np.int16(0),
            "price": top[px].to_numpy(float)[keep], "size": top[qty].to_numpy(float)[keep],
            "update_id": top["u"].to_numpy(np.int64)[keep]}))
    book = pd.concat(parts, ignore_index=True)
    book = book.astype({"side": np.int8, "level": np.int16})
    # one state a millisecond (the store's key): the last update of the ms holds
    book = book.sort_values(["timestamp", "update_id"], kind="stable")
    book = book.drop_duplicates(["timestamp", "side", "level"], keep="last")
    book = book.sort_values(["timestamp", "side"], ascending=[True, False], kind="stable")
    if len(feed.symbols) > 1:
        raise DataError(f"{path}: holds streams of several symbols {sorted(feed.symbols)}; "
                        "expected one symbol a file")
    info = {"venue": "binance", "category": "linear",
            "symbol": next(iter(feed.symbols)) if feed.symbols else None}
    return (trades, book.reset_index(drop=True)[BOOK_SCHEMA.names]), info


# ------------------------------------------------------------------ public readers
def read_bybit_trades(path) -> pd.DataFrame:
    """A Bybit derivatives trades CSV (plain or gzip) as a frame of the store's
    ``TRADE_SCHEMA`` columns (``timestamp`` ns UTC, ``price``, ``size``, ``side`` +1 Buy /
    -1 Sell, ``trade_id`` = ``trdMatchID``), in file order."""
    return _parse_bybit_trades(_check_file(path))[0]


def read_bybit_spot_trades(path) -> pd.DataFrame:
    """A Bybit spot trades CSV (plain or gzip) as a frame of ``TRADE_SCHEMA`` columns
    (``size`` = ``volume``, ``trade_id`` = ``id``), in file order."""
    return _parse_bybit_spot(_check_file(path))[0]


def read_bybit_orderbook(path, depth: int = 50) -> pd.DataFrame:
    """A Bybit order-book history file rebuilt into L2 books: one snapshot per message (after
    applying it; of messages sharing a millisecond only the last) with up to ``depth`` levels
    a side, as ``BOOK_SCHEMA`` long rows (``side`` +1 bid / -1 ask, ``level`` 0 the best,
    ``update_id`` = ``u``)."""
    return _parse_bybit_orderbook(_check_file(path), depth)[0]


def read_binance_feed_frames(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A recorded Binance feed as ``(trades, book)``: its market trades in ``TRADE_SCHEMA``
    columns (``side`` the taker's: ``m`` true -- the buyer is the maker -- is a sell) and its
    ``bookTicker`` messages as top-of-book snapshots in ``BOOK_SCHEMA`` columns (level 0 of
    both sides; the last update of each millisecond)."""
    return _parse_binance(_check_file(path))[0]


def read_klines_csv(path) -> pd.DataFrame:
    """A 1-minute bars CSV as a frame of ``KLINE_SCHEMA`` columns (``turnover`` NaN when the
    file has none)."""
    return _parse_klines(_check_file(path))[0]


# ------------------------------------------------------------------ import
def _resolve(path: Path, fmt: str, info: dict, venue, category, symbol) -> tuple:
    """The venue, category and symbol to file under: the file's, or the arguments'."""
    file_symbol = info.get("symbol")
    if symbol and file_symbol and str(symbol).upper() != str(file_symbol).upper():
        raise DataError(f"{path}: the file's symbol is {file_symbol!r}, not {symbol!r}; drop "
                        "--symbol or give the file's")
    symbol = file_symbol or symbol
    venue = venue or info.get("venue")
    category = category or info.get("category")
    need = {"symbol": symbol, "category": category}
    if fmt not in ("klines_1m", "bybit_orderbook"):
        need["venue"] = venue
    lacking = [name for name, value in need.items() if not value]
    if lacking:
        raise DataError(f"{path}: a {FORMATS[fmt].split(':')[0]} file does not say its "
                        f"{' or '.join(lacking)}; give "
                        f"{' and '.join('--' + n for n in lacking)}")
    return venue, category, symbol


def _epoch(ts: pd.Series, unit: str) -> np.ndarray:
    """Times as integers since the epoch in ``unit`` (``ns`` or ``ms``), floored."""
    return ((ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, unit)).to_numpy(np.int64)


def _split_days(frame: pd.DataFrame) -> list:
    """``[(YYYY-MM-DD, rows)]``, one per UTC day of the rows' timestamps."""
    if not len(frame):
        return []
    days = _epoch(frame["timestamp"], "ms") // _DAY_MS
    return [(pd.Timestamp(int(d) * _DAY_MS, unit="ms", tz="UTC").strftime("%Y-%m-%d"),
             frame.loc[days == d]) for d in np.unique(days)]


def _coverage_ms(frame: pd.DataFrame) -> list[list[int]]:
    """``[[first ms, last ms + 1]]`` of the rows' timestamps."""
    ms = _epoch(frame["timestamp"], "ms")
    return [[int(ms.min()), int(ms.max()) + 1]]


def import_file(path, root, venue: str | None = None, category: str | None = None,
                symbol: str | None = None, depth: int = 50,
                progress: Callable[[str], None] | None = None) -> dict:
    """Import a history file into the store at ``root``.

    The format is detected from the content (:func:`detect_format`); the venue, category and
    symbol are taken from the file where it says them (an explicit ``symbol`` that differs is
    an error; explicit ``venue``/``category`` take precedence over what the layout implies),
    and must be given otherwise (``DataError`` naming the flag). The whole file is parsed
    before anything is written. Trades go to ``trades/VENUE/CATEGORY/SYMBOL/YYYY-MM-DD``, books
    to ``orderbook/CATEGORY/SYMBOL/YYYY-MM-DD`` (split by UTC day), bars to
    ``klines/CATEGORY/SYMBOL_1``; each store file records ``[first ts, last ts + 1)`` (ms) of
    the rows imported into it as covered. ``depth``: the levels a side kept of a rebuilt book.
    ``progress``: called with a line of text at each step (parsing, each file written).

    Returns ``{"format", "venue", "category", "symbol", "rows", "added", "paths"}``: the rows
    parsed, the rows that were not in the store before, the store files written."""
    path = _check_file(path)
    root = Path(root)

    def say(text: str) -> None:
        log.info("%s", text)
        if progress is not None:
            progress(text)

    fmt = detect_format(path)
    say(f"{path}: parsing as {fmt}")
    if fmt == "bybit_trades":
        frame, info = _parse_bybit_trades(path)
        parts = [("trades", frame)]
    elif fmt == "bybit_spot_trades":
        frame, info = _parse_bybit_spot(path)
        parts = [("trades", frame)]
    elif fmt == "bybit_orderbook":
        frame, info = _parse_bybit_orderbook(path, depth)
        parts = [("orderbook", frame)]
    elif fmt == "binance_feed":
        (trades, book), info = _parse_binance(path)
        parts = [("trades", trades), ("orderbook", book)]
    else:
        frame, info = _parse_klines(path)
        parts = [("klines", frame)]
    venue, category, symbol = _resolve(path, fmt, info, venue, category, symbol)

    plan = []  # (store path, kind, rows, coverage): every path checked before any write
    for kind, frame in parts:
        if kind == "klines":
            if len(frame):
                plan.append((klines_path(root, category, symbol, "1"), kind, frame,
                             _coverage_ms(frame)))
            continue
        for day, rows in _split_days(frame):
            target = (trades_path(root, venue, category, symbol, day) if kind == "trades"
                      else orderbook_path(root, category, symbol, day))
            plan.append((target, kind, rows, _coverage_ms(rows)))
    rows_total = sum(len(f) for _, f in parts)
    if not rows_total:
        log.warning("%s: no rows to import", path)
    added = 0
    for i, (target, kind, rows, cov) in enumerate(plan, 1):
        added += merge_into(target, kind, rows, cov)
        say(f"wrote {target} ({i}/{len(plan)}, {len(rows)} rows)")
    return {"format": fmt, "venue": venue, "category": category, "symbol": symbol,
            "rows": rows_total, "added": added, "paths": [str(p) for p, *_ in plan]}

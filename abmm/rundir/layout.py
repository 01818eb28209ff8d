"""What a run directory holds: its file names and the columns of its event log and top of book.

This is the one place that says so (``docs/event_log.md`` documents the meaning of each file and
column). The writer (:class:`abmm.market.eventlog.EventLog`) and the reader
(:mod:`abmm.rundir.reader`) both take their names and schemas from here::

    DIR/
      scenario.yaml          SCENARIO     the resolved scenario (durations in ns, the seed used)
      summary.json           SUMMARY      run status and totals, the session window
      events/part-NNNNN.parquet  EVENTS   every engine event but L2 level updates (EVENT_LOG_DTYPE)
      top/part-NNNNN.parquet     TOP      every change of the top of book (TOP_DTYPE)
      agents.parquet         AGENTS       one row per agent, written at the end of the run
      fundamental.parquet    FUNDAMENTAL  the fundamental value path (ts, time, value in price
                                          units, value_ticks in ticks)

Every Parquet file carries schema metadata under ``abmm.*`` keys, JSON-encoded (``file_meta``
builds it, :func:`abmm.rundir.file_metadata` reads it): the tick and lot sizes, each column's
unit, the code tables of the enum columns (taken from :mod:`abmm.engine.types`), the scenario's
name, seed and symbol, and the session date. ``ts`` counts ns from midnight UTC of that date;
``time`` is the same instant as a ``timestamp[ns, UTC]``.

A dataset folder holds complete parts only: each is written to a hidden ``.part-NNNNN.parquet.tmp``
(``part_tmp_name``) and then renamed to ``part-NNNNN.parquet`` (``part_name``).
"""

from __future__ import annotations

import datetime as _dt
import json
import re

import numpy as np
import pyarrow as pa

from abmm.engine.types import LOG_DTYPE, EventKind, OrderType, Reason, Side

__all__ = [
    "SCENARIO", "SUMMARY", "EVENTS", "TOP", "AGENTS", "FUNDAMENTAL", "PART_RE", "part_name",
    "part_tmp_name", "EVENT_LOG_DTYPE", "TOP_DTYPE", "EVENT_COLUMNS", "TOP_COLUMNS",
    "FUNDAMENTAL_COLUMNS", "EVENT_SCHEMA", "TOP_SCHEMA", "FUNDAMENTAL_SCHEMA", "schema_of",
    "TIME_TYPE", "DEFAULT_DATE", "LEGACY_DATE", "as_date", "date_ns", "CODE_TABLES", "UNITS", "META_PREFIX",
    "file_meta", "decode_meta",
]

#: The resolved scenario (YAML).
SCENARIO = "scenario.yaml"
#: Run status and totals (JSON); ``{"status": "running"}`` until the run finishes.
SUMMARY = "summary.json"
#: Folder of the event log's parts.
EVENTS = "events"
#: Folder of the top-of-book log's parts.
TOP = "top"
#: One row per agent (Parquet), written when the run ends or is interrupted.
AGENTS = "agents.parquet"
#: The fundamental value path (Parquet: ``ts``, ``time``, ``value``, ``value_ticks``).
FUNDAMENTAL = "fundamental.parquet"

#: A complete part's file name; group 1 is its number (parts are read in that order).
PART_RE = re.compile(r"^part-(\d+)\.parquet$")


def part_name(index: int) -> str:
    """The file name of part ``index`` of a dataset folder (``part-00000.parquet``, ...)."""
    return f"part-{index:05d}.parquet"


def part_tmp_name(index: int) -> str:
    """The hidden temporary a part is written to before its rename (readers skip it)."""
    return f".{part_name(index)}.tmp"


#: Arrow type of the ``time`` columns: ``ts`` placed on the session date, in UTC.
TIME_TYPE = pa.timestamp("ns", tz="UTC")
#: The session date of a scenario without ``market.date`` (a Tuesday, a trading day).
DEFAULT_DATE = "2024-01-02"
#: The date ``abmm bars`` (and the other analyses) put a run on when its scenario and files
#: name none: runs written before ``market.date`` existed were always stamped 2024-01-01.
LEGACY_DATE = "2024-01-01"


def as_date(date) -> _dt.date:
    """``date`` (``"2024-01-02"`` or a ``datetime.date``) as a ``datetime.date``; ``ValueError``
    naming the value when it is not an ISO date."""
    if isinstance(date, _dt.datetime):
        return date.date()
    if isinstance(date, _dt.date):
        return date
    try:
        return _dt.date.fromisoformat(str(date))
    except ValueError:
        raise ValueError(f"date {date!r}: expected an ISO date such as 2024-01-02") from None


def date_ns(date) -> int:
    """Nanoseconds from the Unix epoch to midnight UTC of ``date`` (see :func:`as_date`)."""
    return (as_date(date) - _dt.date(1970, 1, 1)).days * 86_400_000_000_000


#: Columns of the ``events/`` buffer: the engine's event fields, plus the order type of ACCEPTED
#: rows (-1 on every other row). The files add ``time`` after ``ts`` (``EVENT_SCHEMA``).
EVENT_LOG_DTYPE = LOG_DTYPE
#: Columns of the ``top/`` buffer: time, best bid and ask (ticks, 0 = empty side) and their
#: displayed lots. The files add ``time`` after ``ts`` (``TOP_SCHEMA``).
TOP_DTYPE = np.dtype([("ts", "<i8"), ("bid", "<i8"), ("bid_qty", "<i8"), ("ask", "<i8"),
                      ("ask_qty", "<i8")])


def schema_of(dtype: np.dtype, time: bool = False, symbol: bool = False) -> pa.Schema:
    """The Arrow schema of a numpy structured dtype (the columns a part file holds); ``time``:
    with a ``time`` column (``TIME_TYPE``) right after ``ts``; ``symbol``: with a last column
    ``symbol`` (string)."""
    fields = []
    for name in dtype.names:
        fields.append((name, pa.from_numpy_dtype(dtype.fields[name][0])))
        if time and name == "ts":
            fields.append(("time", TIME_TYPE))
    if symbol:
        fields.append(("symbol", pa.string()))
    return pa.schema(fields)


#: Arrow schema of an ``events/`` part (the buffer's columns, ``time``, and ``symbol``: the
#: book the event happened in; one value in a one-symbol market).
EVENT_SCHEMA = schema_of(EVENT_LOG_DTYPE, time=True, symbol=True)
#: Arrow schema of a ``top/`` part (with ``time`` and ``symbol``).
TOP_SCHEMA = schema_of(TOP_DTYPE, time=True, symbol=True)
#: Arrow schema of ``fundamental.parquet`` (runs before ``time`` and ``value_ticks`` hold
#: ``ts`` and ``value`` only; the reader adds the others).
FUNDAMENTAL_SCHEMA = pa.schema([("ts", pa.int64()), ("time", TIME_TYPE), ("value", pa.float64()),
                                ("value_ticks", pa.float64()), ("symbol", pa.string())])
#: Column names of ``events/``, in file order.
EVENT_COLUMNS: tuple[str, ...] = tuple(EVENT_SCHEMA.names)
#: Column names of ``top/``, in file order.
TOP_COLUMNS: tuple[str, ...] = tuple(TOP_SCHEMA.names)
#: Column names of ``fundamental.parquet``.
FUNDAMENTAL_COLUMNS: tuple[str, ...] = tuple(FUNDAMENTAL_SCHEMA.names)

#: The code tables of the enum columns of ``events/``: ``{column: {code: name}}``, from the
#: engine's enums (the one definition); ``order_type`` is -1 on every row but ``ACCEPTED``.
CODE_TABLES: dict[str, dict[int, str | None]] = {
    "kind": {int(e): e.name for e in EventKind},
    "side": {int(e): e.name for e in Side},
    "reason": {int(e): e.name for e in Reason},
    "order_type": {-1: None, **{int(e): e.name for e in OrderType}},
}

_TIME = "timestamp[ns, UTC]: abmm.date + ts"
_TS = "ns since midnight UTC of abmm.date"
#: The unit of each column, by file (``events``, ``top``, ``agents``, ``fundamental``):
#: ``ticks`` (x tick_size: price units), ``lots`` (x lot_size: base units), ``tick*lots``,
#: ``price`` (price units), ``code`` (see ``abmm.codes``), ``agent_id``, ``order_id``, ...
UNITS: dict[str, dict[str, str]] = {
    "events": {"ts": _TS, "time": _TIME, "order_id": "order_id", "owner": "agent_id",
               "other_id": "order_id", "other_owner": "agent_id", "price": "ticks",
               "qty": "lots", "remaining": "lots", "kind": "code", "side": "code",
               "reason": "code", "order_type": "code", "symbol": "text"},
    "top": {"ts": _TS, "time": _TIME, "bid": "ticks", "bid_qty": "lots", "ask": "ticks",
            "ask_qty": "lots", "symbol": "text"},
    "agents": {"agent_id": "agent_id", "name": "text", "group": "text", "kind": "text",
               "symbol": "text",
               "cash": "tick*lots", "inventory": "lots", "pnl_ticks": "tick*lots",
               "orders": "count", "cancels": "count", "fills": "count", "traded": "lots",
               "open_orders": "count", "parent_qty": "lots", "executed": "lots",
               "completion": "fraction", "avg_price_ticks": "ticks",
               "arrival_price_ticks": "ticks", "shortfall_ticks": "ticks"},
    "fundamental": {"ts": _TS, "time": _TIME, "value": "price", "value_ticks": "ticks",
                    "symbol": "text"},
}

#: Prefix of every abmm key in a Parquet file's schema metadata.
META_PREFIX = "abmm."


def file_meta(file: str, columns, *, tick_size: float, lot_size: float, scenario: str,
              seed: int, symbol: str, date: str, symbols=None) -> dict[bytes, bytes]:
    """The schema metadata of one of a run's Parquet files: ``file`` is ``events``, ``top``,
    ``agents`` or ``fundamental``, ``columns`` the columns it holds. Keys ``abmm.<name>``, values
    JSON: ``file``, ``tick_size``, ``lot_size``, ``units`` (``{column: unit}``), ``codes``
    (``{column: {code: name}}`` for the enum columns present), ``scenario``, ``seed``,
    ``symbol`` (the primary one), ``date`` (ISO), and ``symbols`` (every symbol, in order) when
    the market has several (``tick_size`` and ``lot_size`` are then the primary symbol's: each
    symbol's are in the scenario's ``market.symbols``). Nothing that differs between two runs of
    one scenario and seed."""
    cols = list(columns)
    units = UNITS[file]
    values = {
        "file": file, "tick_size": float(tick_size), "lot_size": float(lot_size),
        "units": {c: units.get(c, "unknown") for c in cols},
        "codes": {c: {str(k): v for k, v in CODE_TABLES[c].items()}
                  for c in cols if file == "events" and c in CODE_TABLES},
        "scenario": str(scenario), "seed": int(seed), "symbol": str(symbol),
        "date": as_date(date).isoformat(),
    }
    if symbols is not None and len(symbols) > 1:
        values["symbols"] = [str(x) for x in symbols]
    return {(META_PREFIX + k).encode(): json.dumps(v, sort_keys=True).encode()
            for k, v in values.items()}


def decode_meta(metadata: dict | None) -> dict:
    """The ``abmm.*`` entries of Arrow schema metadata as ``{name: value}`` (JSON decoded, the
    prefix dropped; ``codes`` keyed by int codes); ``{}`` when there are none (old runs)."""
    out = {}
    for k, v in (metadata or {}).items():
        key = k.decode() if isinstance(k, bytes) else k
        if key.startswith(META_PREFIX):
            out[key[len(META_PREFIX):]] = json.loads(v)
    if "codes" in out:
        out["codes"] = {c: {int(k): v for k, v in t.items()} for c, t in out["codes"].items()}
    return out

"""The one reader of a run directory: ``open_run(path) -> RunDir``.

A :class:`RunDir` is lazy: opening one only checks that the folder exists; ``scenario.yaml`` and
``summary.json`` are read (once) when first needed, and the Parquet datasets (``events/``,
``top/``, ``agents.parquet``, ``fundamental.parquet``) each time they are asked for, with only
the columns asked for, so a large run costs what its caller reads.

Behaviours every caller shares:

* **Parts.** ``read_parts`` reads every complete ``part-NNNNN.parquet`` of a dataset folder in
  part-number order (a killed run's hidden ``.part-NNNNN.parquet.tmp`` is skipped, a gap in the
  numbers is no error). A **missing or empty folder** -- a run with ``logging.top_of_book:
  false``, or one killed before its first part -- reads as an **empty table with the layout's
  columns** (:mod:`abmm.rundir.layout`); it never raises.
* **Missing files.** No ``scenario.yaml``: ``FileNotFoundError`` when the scenario is needed. No
  ``summary.json``: ``summary`` is ``{}``. No ``agents.parquet`` (a killed run):
  ``FileNotFoundError`` from ``agents()``. No ``fundamental.parquet``: ``fundamental()`` is None.
* **Session.** ``start_ns`` (the open) and ``end_ns`` (the scheduled close of the last day) come
  from ``summary.json`` when it has them, else from the scenario's ``market.open``, ``close``
  and ``days`` (the close of the last session, ``abmm.schema.timing.sessions``). ``now_ns`` is
  how far the run got: the summary's ``now_ns`` for a finished run (complete, or stopped and
  marked incomplete), else -- a run still running or killed outright -- the last logged event's
  time, so nothing is ever padded past what was logged. Every analysis covers ``[start_ns,
  now_ns]``.
* **State.** ``state`` is ``"complete"``, ``"incomplete"`` (stopped: by a signal, an error, a full
  disk; ``summary["error"]`` says why), ``"running"`` (its writer, ``summary["pid"]``, is alive
  and its heartbeat recent) or ``"killed"`` (the summary still says running but the writer is
  gone), or ``"unknown"`` (no summary). ``check_complete()`` raises ``IncompleteRunError``,
  saying how far the run got, unless ``allow_incomplete``: the command line's readers refuse an
  unfinished run unless given ``--allow-incomplete``.
* **Dates and old runs.** ``date`` is the session date: the scenario's ``market.date``, else the
  ``abmm.date`` of the files' metadata, else ``layout.LEGACY_DATE`` (2024-01-01, where runs
  written before ``market.date`` were always put). ``events()``, ``top()`` and
  ``fundamental()`` always have a ``time`` column (``date + ts``, ``timestamp[ns, UTC]``) and
  ``fundamental()`` a ``value_ticks``: files of older runs, which hold neither, get them
  computed on reading.
* **Symbols.** ``events/``, ``top/``, ``fundamental.parquet`` and ``agents.parquet`` have a
  ``symbol`` column (older runs' files, of one symbol, get it on reading). A multi-symbol run
  (``market.symbols``) is analysed one symbol at a time: ``open_run(path, symbol="ETH")`` reads
  that symbol's rows only, and its ``market`` (tick and lot size, reference price) and
  ``summary`` (final prices, trades, volume) are the symbol's. ``require_complete`` refuses a
  multi-symbol run opened without a symbol, naming the symbols (``SymbolError``).
* **Metadata.** ``metadata(name)`` (and :func:`file_metadata` for any file) returns a file's
  ``abmm.*`` schema metadata decoded (``{}`` for an old run's files).
"""

from __future__ import annotations

import json
import os
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute

from abmm.engine.types import EventKind
from abmm.errors import AbmmError
from abmm.rundir import layout
from abmm.schema.timing import parse_duration, sessions

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["RunDir", "open_run", "require_complete", "read_parts", "IncompleteRunError",
           "SymbolError", "STALE_HEARTBEAT_S", "file_metadata"]


def file_metadata(path) -> dict:
    """The ``abmm.*`` schema metadata of one Parquet file (a part of ``events/`` or ``top/``,
    ``agents.parquet``, ``fundamental.parquet``), JSON decoded and keyed without the prefix:
    ``file``, ``tick_size``, ``lot_size``, ``units`` (``{column: unit}``), ``codes`` (``{column:
    {int code: name}}``), ``scenario``, ``seed``, ``symbol``, ``date``. ``{}`` for a file
    without any (written before abmm recorded it); ``FileNotFoundError`` when missing."""
    import pyarrow.parquet as pq

    return layout.decode_meta(pq.read_schema(path).metadata)


def _add_time(table: pa.Table, origin_ns: int, at: int | None = None) -> pa.Table:
    """``table`` with a ``time`` column (``origin_ns + ts``) inserted at ``at`` (after ``ts``
    when None)."""
    import numpy as np

    ts = table.column("ts").to_numpy().astype(np.int64, copy=False)
    time = pa.array((ts + np.int64(origin_ns)).view("datetime64[ns]"), layout.TIME_TYPE)
    if at is None:
        at = table.column_names.index("ts") + 1
    return table.add_column(at, "time", time)


def _parts(folder) -> list:
    """The complete parts of a dataset folder, in part-number order."""
    folder = Path(folder)
    parts = []
    if folder.is_dir():
        for p in folder.iterdir():
            m = layout.PART_RE.match(p.name)
            if m and p.is_file():
                parts.append((int(m.group(1)), p))
    parts.sort()
    return [p for _, p in parts]


def read_parts(folder, columns=None, schema: pa.Schema | None = None) -> pa.Table:
    """Every complete ``part-NNNNN.parquet`` of ``folder``, in part-number order, as one Arrow
    table (``columns``: only those). A missing or empty folder gives a table with no rows and the
    columns of ``schema`` (those in ``columns``; no columns without a schema)."""
    import pyarrow.parquet as pq

    parts = _parts(folder)
    columns = None if columns is None else list(columns)
    if not parts:
        if schema is None:
            return pa.table({})
        empty = schema.empty_table()
        return empty if columns is None else empty.select(columns)
    return pa.concat_tables([pq.read_table(p, columns=columns) for p in parts])


#: A running writer refreshes its heartbeat every few seconds; older than this, it is gone.
STALE_HEARTBEAT_S = 120.0


class RunDir:
    """A run directory, read lazily (see the module docstring); ``open_run`` makes one."""

    def __init__(self, path, allow_incomplete: bool = False, symbol: str | None = None):
        """Open the run directory at ``path`` (``FileNotFoundError`` when there is none);
        ``allow_incomplete``: analyses of an unfinished run proceed (``require_complete``);
        ``symbol``: read that symbol's rows only (``SymbolError`` naming the run's symbols when
        it has no such symbol)."""
        self.path = Path(path)
        self.allow_incomplete = allow_incomplete
        if not self.path.is_dir():
            raise FileNotFoundError(f"no run directory at {self.path}")
        self.symbol = symbol
        if symbol is not None and symbol not in self.symbols:
            raise SymbolError(f"{self.path}: no symbol {symbol!r} in this run; its symbols: "
                              f"{', '.join(self.symbols)}")

    def __repr__(self) -> str:
        """``RunDir('path')`` (``RunDir('path', symbol='S')`` for one symbol's view)."""
        sym = "" if self.symbol is None else f", symbol={self.symbol!r}"
        return f"RunDir({str(self.path)!r}{sym})"

    # ------------------------------------------------------------------ symbols
    @cached_property
    def symbols(self) -> list[str]:
        """The run's symbols, the primary first (one for a one-symbol market)."""
        m = self.scenario.get("market", {}) if (self.path / layout.SCENARIO).exists() else {}
        listed = m.get("symbols")
        if listed:
            return [str(e["symbol"]) for e in listed]
        if m.get("symbol"):
            return [str(m["symbol"])]
        for name in (layout.EVENTS, layout.TOP):  # no scenario: the files' metadata
            try:
                sym = self.metadata(name).get("symbol")
            except Exception:  # noqa: BLE001 - an unreadable part says nothing
                sym = None
            if sym:
                return [str(sym)]
        return ["ABM"]

    @property
    def multi_symbol(self) -> bool:
        """Whether the run's market has several symbols."""
        return len(self.symbols) > 1

    def check_symbol(self) -> None:
        """``SymbolError`` when the run has several symbols and this view names none."""
        if self.multi_symbol and self.symbol is None:
            raise SymbolError(f"{self.path} holds {len(self.symbols)} symbols "
                              f"({', '.join(self.symbols)}): give one with --symbol (in Python: "
                              "open_run(path, symbol=...))")

    def _symbol_entry(self) -> dict:
        """The selected symbol's ``market.symbols`` entry (``{}`` for a one-symbol run)."""
        if not self.multi_symbol or self.symbol is None:
            return {}
        for e in self.scenario["market"]["symbols"]:
            if e["symbol"] == self.symbol:
                return e
        return {}

    def _filter_symbol(self, table: pa.Table, keep_column: bool) -> pa.Table:
        """The selected symbol's rows of a table with a ``symbol`` column (all rows for a
        one-symbol run); ``keep_column``: keep the ``symbol`` column."""
        if self.symbol is not None and self.multi_symbol and "symbol" in table.column_names:
            table = table.filter(pa.compute.equal(table["symbol"], self.symbol))
        if not keep_column and "symbol" in table.column_names:
            table = table.drop(["symbol"])
        return table

    def __fspath__(self) -> str:
        """The directory's path, so a ``RunDir`` goes wherever a path does."""
        return str(self.path)

    # ------------------------------------------------------------------ small files
    @cached_property
    def scenario(self) -> dict:
        """The resolved scenario (``scenario.yaml``) as a plain dict."""
        import yaml

        path = self.path / layout.SCENARIO
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: {self.path} is not a run directory")
        return yaml.safe_load(path.read_text()) or {}

    @cached_property
    def summary(self) -> dict:
        """``summary.json`` as a dict (``{}`` when the file is missing); a symbol's view of a
        multi-symbol run has that symbol's final prices, orders, trades and volume."""
        path = self.path / layout.SUMMARY
        out = json.loads(path.read_text()) if path.exists() else {}
        if self.symbol is not None and self.multi_symbol:
            mine = dict((out.get("symbols") or {}).get(self.symbol, {}))
            mine.pop("groups", None)
            out = {**out, **mine, "symbol": self.symbol}
        return out

    @property
    def status(self) -> str | None:
        """The summary's ``status``: ``"complete"``, ``"incomplete"``, ``"running"`` or None."""
        return self.summary.get("status")

    @cached_property
    def date(self) -> str:
        """The session date (ISO, UTC; ``ts`` counts ns from its midnight): the scenario's
        ``market.date``, else the files' ``abmm.date``, else ``layout.LEGACY_DATE`` (a run
        written before abmm recorded a date)."""
        path = self.path / layout.SCENARIO
        date = self.market.get("date") if path.exists() else None
        if date is None:
            for f in self._data_files():
                date = file_metadata(f).get("date")
                if date is not None:
                    break
        return layout.as_date(date or layout.LEGACY_DATE).isoformat()

    @property
    def date_ns(self) -> int:
        """Nanoseconds from the Unix epoch to midnight UTC of ``date``: ``time = date_ns + ts``."""
        return layout.date_ns(self.date)

    def _data_files(self) -> list:
        """The run's Parquet files: the first part of ``events/`` and ``top/``, ``agents.parquet``
        and ``fundamental.parquet``, those present."""
        files = [p[0] for p in (_parts(self.path / layout.EVENTS), _parts(self.path / layout.TOP))
                 if p]
        files += [self.path / f for f in (layout.AGENTS, layout.FUNDAMENTAL)
                  if (self.path / f).is_file()]
        return files

    def metadata(self, name: str = "events") -> dict:
        """The decoded ``abmm.*`` metadata (:func:`file_metadata`) of one of the run's files:
        ``name`` is ``events`` or ``top`` (their first part), ``agents`` or ``fundamental``;
        ``{}`` when the file is missing or has none (an old run)."""
        if name in (layout.EVENTS, layout.TOP):
            parts = _parts(self.path / name)
            path = parts[0] if parts else None
        elif name in ("agents", "fundamental"):
            path = self.path / {"agents": layout.AGENTS, "fundamental": layout.FUNDAMENTAL}[name]
        else:
            raise ValueError(f"metadata({name!r}): expected one of 'events', 'top', 'agents', "
                             "'fundamental'")
        return file_metadata(path) if path is not None and path.is_file() else {}

    @property
    def market(self) -> dict:
        """The scenario's ``market`` section (a symbol's view: with that symbol's ``symbol``,
        ``tick_size``, ``lot_size`` and ``reference_price``)."""
        m = self.scenario["market"]
        entry = self._symbol_entry()
        return {**m, **entry} if entry else m

    @property
    def tick_size(self) -> float:
        """Price units per tick (``market.tick_size``)."""
        return float(self.market["tick_size"])

    @property
    def lot_size(self) -> float:
        """Base units per lot (``market.lot_size``, default 1)."""
        return float(self.market.get("lot_size", 1.0))

    # ------------------------------------------------------------------ the session
    @cached_property
    def _session(self) -> dict:
        """Start, scheduled end and reached end of the session, day length, warm-up (ns)."""
        s = self.summary
        out = {"start": s.get("start_ns"), "end": s.get("end_ns"), "now": s.get("now_ns")}
        if self.state not in ("complete", "incomplete"):  # a writer that never finished
            out["now"] = self.logged_until_ns
        if out["start"] is None or out["end"] is None:
            m = self.market
            open_ns, close_ns = parse_duration(m["open"]), parse_duration(m["close"])
            if out["start"] is None:
                out["start"] = open_ns
            if out["end"] is None:
                out["end"] = sessions(open_ns, close_ns, int(m.get("days", 1)))[-1][1]
        if out["now"] is None:
            out["now"] = out["end"]
        return {k: int(v) for k, v in out.items()}

    @property
    def start_ns(self) -> int:
        """Session start: the open of the first day (ns since its midnight)."""
        return self._session["start"]

    @property
    def end_ns(self) -> int:
        """Scheduled end: the close of the last session."""
        return self._session["end"]

    @property
    def now_ns(self) -> int:
        """How far the run got (= ``end_ns`` for a complete run, or when the summary does not
        say): the end of every analysis window."""
        return self._session["now"]

    @cached_property
    def state(self) -> str:
        """``complete``, ``incomplete``, ``running``, ``killed`` or ``unknown`` (module
        docstring)."""
        s = self.summary
        status = s.get("status")
        if status in ("complete", "incomplete"):
            return status
        if status != "running":
            return "unknown"
        pid, beat = s.get("pid"), s.get("heartbeat")
        alive = False
        if isinstance(pid, int) and pid > 0:
            try:
                os.kill(pid, 0)
                alive = True
            except ProcessLookupError:
                alive = False
            except PermissionError:  # someone else's live process
                alive = True
        if alive and isinstance(beat, (int, float)) and time.time() - beat > STALE_HEARTBEAT_S:
            alive = False  # the pid was reused, or the writer hangs
        return "running" if alive else "killed"

    @cached_property
    def logged_until_ns(self) -> int:
        """The time of the last logged event or top-of-book change (the session start when
        nothing was logged)."""
        last = self.start_ns_from_files
        for folder in (layout.EVENTS, layout.TOP):
            t = read_parts(self.path / folder, ["ts"])
            if t.num_rows:
                last = max(last, int(pa.compute.max(t.column("ts")).as_py()))
        return last

    @property
    def start_ns_from_files(self) -> int:
        """The session start from the summary or the scenario (no event needed)."""
        s = self.summary.get("start_ns")
        if s is not None:
            return int(s)
        return parse_duration(self.market["open"])

    def check_complete(self, allow_incomplete: bool = False) -> None:
        """Raise ``IncompleteRunError`` (how far the run got) unless the run is complete or
        ``allow_incomplete``."""
        st = self.state
        if st == "complete" or allow_incomplete:
            return
        raise IncompleteRunError(f"{self.path}: {self.describe_incomplete()}; give "
                                 "--allow-incomplete to analyse exactly what was logged")

    def describe_incomplete(self) -> str:
        """How far an unfinished run got, in one phrase."""
        from abmm.schema.timing import format_ns

        st = self.state
        why = {"incomplete": f"stopped ({self.summary.get('error') or 'no reason recorded'})",
               "running": f"still running (pid {self.summary.get('pid')})",
               "killed": f"killed (its writer, pid {self.summary.get('pid')}, is gone)",
               "unknown": "has no summary.json"}.get(st, st)
        start, end, now = self.start_ns, self.end_ns, self.now_ns
        frac = (now - start) / (end - start) if end > start else 0.0
        return (f"the run {why}: it got to {format_ns(now)} of {format_ns(start)}-"
                f"{format_ns(end)} ({frac:.0%} of the session)")

    @property
    def sessions(self) -> list[tuple[int, int]]:
        """The trading sessions ``[(open, close), ...]`` of the scenario (one for a single day or
        a 24/7 market; one a day, closed overnight, for a sessioned market over several days;
        ``abmm.schema.timing.sessions``)."""
        m = self.market
        if "open" not in m or "close" not in m:
            return [(self.start_ns, self.end_ns)]
        return sessions(parse_duration(m["open"]), parse_duration(m["close"]),
                        int(m.get("days", 1)))

    @property
    def day_ns(self) -> int:
        """Length of one session day, ``close - open`` (ns)."""
        m = self.market
        return parse_duration(m["close"]) - parse_duration(m["open"])

    @property
    def warmup_ns(self) -> int:
        """The scenario's ``market.warmup`` (ns; 0 when none)."""
        return parse_duration(self.market.get("warmup", 0) or 0)

    # ------------------------------------------------------------------ the logs
    def _dataset(self, name: str, columns, schema: pa.Schema) -> pa.Table:
        """``read_parts`` of a dataset folder, with ``time`` and ``symbol`` computed for parts
        of older runs without them, and only the selected symbol's rows."""
        folder = self.path / name
        parts = _parts(folder)
        wanted = list(schema.names if columns is None else columns)
        filtering = self.symbol is not None and self.multi_symbol
        if not parts:
            return read_parts(folder, wanted, schema)
        import pyarrow.parquet as pq

        have = pq.read_schema(parts[0]).names
        read = [c for c in wanted if c in have]
        if "time" in wanted and "time" not in have:
            read.append("ts")
        if filtering and "symbol" in have:
            read.append("symbol")
        table = read_parts(folder, list(dict.fromkeys(read)), schema)
        if filtering:
            table = self._filter_symbol(table, keep_column=True)
        if "time" in wanted and "time" not in have:  # a run written before the time column
            table = _add_time(table, self.date_ns, at=table.num_columns)
        if "symbol" in wanted and "symbol" not in have:  # before the symbol column: one symbol
            table = table.append_column("symbol", pa.array([self.symbols[0]] * table.num_rows,
                                                           pa.string()))
        return table.select(wanted)

    def events(self, columns=None) -> pa.Table:
        """Rows of ``events/`` (``columns``: only those) as one Arrow table."""
        return self._dataset(layout.EVENTS, columns, layout.EVENT_SCHEMA)

    def top(self, columns=None) -> pa.Table:
        """Rows of ``top/`` (``columns``: only those) as one Arrow table."""
        return self._dataset(layout.TOP, columns, layout.TOP_SCHEMA)

    def fills(self, columns=None) -> pa.Table:
        """The ``FILL`` rows of ``events/`` (``columns``: only those), in log order."""
        import pyarrow.compute as pc

        cols = None if columns is None else list(dict.fromkeys([*columns, "kind"]))
        table = self.events(cols)
        table = table.filter(pc.equal(table["kind"], int(EventKind.FILL)))
        return table if columns is None else table.select(list(columns))

    def agents(self) -> pd.DataFrame:
        """``agents.parquet``, one row per agent in ``agent_id`` order; ``FileNotFoundError``
        when missing (a killed run writes none)."""
        import pandas as pd

        path = self.path / layout.AGENTS
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing (a killed run writes none)")
        df = pd.read_parquet(path)
        if self.symbol is not None and self.multi_symbol and "symbol" in df.columns:
            df = df[df["symbol"] == self.symbol]
        return df.sort_values("agent_id", kind="stable").reset_index(drop=True)

    def fundamental(self) -> pd.DataFrame | None:
        """``fundamental.parquet`` (``ts``; ``time``; ``value`` in price units; ``value_ticks``
        in ticks), or None when missing. An old run's file (``ts`` and ``value`` only) gets
        ``time`` and ``value_ticks`` (``value / tick_size``) computed."""
        import pandas as pd

        path = self.path / layout.FUNDAMENTAL
        if not path.exists():
            return None
        df = pd.read_parquet(path)
        if "symbol" not in df.columns:  # written before the symbol column: one symbol
            df["symbol"] = self.symbols[0]
        elif self.symbol is not None and self.multi_symbol:
            df = df[df["symbol"] == self.symbol].reset_index(drop=True)
        if "time" not in df.columns:
            df.insert(1, "time", pd.to_datetime(df["ts"].to_numpy() + self.date_ns, unit="ns",
                                                utc=True))
        if "value_ticks" not in df.columns:
            df["value_ticks"] = df["value"] / self.tick_size
        return df[list(layout.FUNDAMENTAL_COLUMNS)]


class IncompleteRunError(AbmmError, ValueError):
    """An analysis asked for a complete run and got one that stopped, was killed or is still
    running."""


class SymbolError(AbmmError, ValueError):
    """A multi-symbol run read without naming a symbol, or a symbol the run does not have."""


def open_run(run_dir, allow_incomplete: bool = False, symbol: str | None = None) -> RunDir:
    """The :class:`RunDir` of a path (a ``RunDir`` is returned as it is, or as its view of
    ``symbol`` when one is given); ``FileNotFoundError`` when there is no such directory.
    Opening never refuses a run; the analyses (bars, facts, metrics, signals, the report) call
    :func:`require_complete`, which refuses an unfinished one unless it was opened with
    ``allow_incomplete=True``, and a multi-symbol one opened without a ``symbol``."""
    if isinstance(run_dir, RunDir):
        if symbol is None or symbol == run_dir.symbol:
            return run_dir
        return RunDir(run_dir.path, run_dir.allow_incomplete or allow_incomplete, symbol)
    return RunDir(run_dir, allow_incomplete, symbol)


def require_complete(run_dir) -> RunDir:
    """The run, opened; ``IncompleteRunError`` (how far it got) when it did not finish and was
    not opened with ``allow_incomplete``; ``SymbolError`` for a multi-symbol run opened without
    a symbol."""
    run = open_run(run_dir)
    run.check_symbol()
    run.check_complete(run.allow_incomplete)
    return run

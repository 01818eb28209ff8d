"""The run's event log writer, streaming to Parquet in parts so memory stays flat.

Two datasets in the run directory, each a folder of complete Parquet files (``part-00000.parquet``,
...): a killed run leaves every part written so far readable. Their folder names, part names and
columns are those of :mod:`abmm.rundir.layout`; read them with :func:`abmm.rundir.open_run`.

* ``events/``: every engine event except L2 level updates -- orders (``ACCEPTED``, with the order
  type), fills, cancels, expiries, rejects, modifies, iceberg refills -- with ns timestamps and
  agent ids (see ``docs/event_log.md``).
* ``top/``: every change of the top of book (best bid/ask and their displayed sizes).

Each part carries a ``time`` column (``timestamp[ns, UTC]``: the session date + ``ts``) and the
run's ``abmm.*`` schema metadata (:func:`abmm.rundir.layout.file_meta`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from abmm.engine import EventSink
from abmm.rundir import layout, open_run
from abmm.rundir.layout import EVENT_LOG_DTYPE, EVENT_SCHEMA, TIME_TYPE, TOP_DTYPE, TOP_SCHEMA

__all__ = ["EventLog", "EVENT_LOG_DTYPE", "TOP_DTYPE", "read_events", "read_top"]


class _PartWriter:
    """Writes rows (a structured array of ``dtype``) as numbered Parquet parts (with a ``time``
    column, ``origin_ns`` + ``ts``, a ``symbol`` column and the schema ``schema``), and buffers
    tuple rows (``rows``, ``runs``) until ``chunk_rows`` of them make a part."""

    def __init__(self, folder: Path, dtype: np.dtype, chunk_rows: int, schema: pa.Schema,
                 origin_ns: int, symbols=("ABM",)):
        self.folder = folder
        self.symbols = pa.array([str(x) for x in symbols], pa.string())
        #: ``[(first row, symbol index), ...]``: where the buffered tuple rows change symbol
        self.runs: list = [(0, 0)]
        self.dtype = dtype
        self.chunk_rows = chunk_rows
        self.schema = schema
        self.origin_ns = np.int64(origin_ns)
        self.rows: list = []
        self.parts = 0
        self.written = 0
        folder.mkdir(parents=True, exist_ok=True)

    def flush(self) -> None:
        """Write the buffered tuple rows as the next part (nothing when none are buffered)."""
        if not self.rows:
            return
        arr = np.array(self.rows, self.dtype)
        runs = self.runs
        starts = [r[0] for r in runs] + [len(arr)]
        which = np.repeat(np.array([r[1] for r in runs], np.int32), np.diff(starts))
        self.rows = []
        self.runs = [(0, runs[-1][1])]
        self.write(arr, which)

    def write(self, arr: np.ndarray, which: np.ndarray) -> None:
        """Write ``arr`` (rows of ``dtype``; ``which``: each row's symbol index) as the next
        part (nothing when it is empty)."""
        if not len(arr):
            return
        part = self.parts
        cols = []
        for name in self.dtype.names:
            cols.append(arr[name])
            if name == "ts":
                cols.append(pa.array((arr["ts"] + self.origin_ns).view("datetime64[ns]"),
                                     TIME_TYPE))
        cols.append(self.symbols.take(pa.array(which)))
        table = pa.Table.from_arrays(cols, schema=self.schema)
        path = self.folder / layout.part_name(part)
        tmp = self.folder / layout.part_tmp_name(part)  # hidden: readers skip it
        # dictionary-encode the symbol only: the integer columns have too many distinct values
        # for a dictionary to pay (37 % faster writes, 27 % smaller parts, measured)
        pq.write_table(table, tmp, compression="zstd", use_dictionary=["symbol"])
        tmp.replace(path)  # a part is either complete or absent
        self.parts += 1
        self.written += len(arr)

    def switch(self, sym: int) -> None:
        """The tuple rows buffered from now on are symbol ``sym``'s (an index into ``symbols``)."""
        n = len(self.rows)
        if self.runs[-1][0] == n:
            self.runs[-1] = (n, sym)
        else:
            self.runs.append((n, sym))


class EventLog:
    """Collects events and top-of-book changes; ``folder=None`` keeps nothing on disk (counts only).

    Events reach it from the books themselves: :meth:`attach` hands a book the log's
    :class:`abmm.engine.EventSink`, a C buffer the book appends each request's events to (no
    Python objects per row); every ``chunk_rows`` rows become a part."""

    def __init__(self, folder: Path | None, chunk_rows: int = 250_000, top_of_book: bool = True,
                 meta: dict | None = None):
        """Write parts of ``chunk_rows`` rows under ``folder`` (``top_of_book``: log top/);
        ``meta``: the keyword arguments of :func:`abmm.rundir.layout.file_meta` but ``file``
        and ``columns`` (tick and lot size, scenario, seed, symbol, date); default: a scenario
        ``"scenario"``, seed 0, tick 0.01, lot 1, symbol ``ABM``, ``layout.DEFAULT_DATE``."""
        self.folder = Path(folder) if folder is not None else None
        self.top_of_book = top_of_book
        if self.folder is not None:
            meta = {"tick_size": 0.01, "lot_size": 1.0, "scenario": "scenario", "seed": 0,
                    "symbol": "ABM", "date": layout.DEFAULT_DATE} | (meta or {})
            origin = layout.date_ns(meta["date"])
            symbols = meta.get("symbols") or [meta["symbol"]]
            self.events = _PartWriter(
                self.folder / layout.EVENTS, EVENT_LOG_DTYPE, chunk_rows, EVENT_SCHEMA.with_metadata(
                    layout.file_meta("events", EVENT_SCHEMA.names, **meta)), origin, symbols)
            self.top = _PartWriter(
                self.folder / layout.TOP, TOP_DTYPE, chunk_rows, TOP_SCHEMA.with_metadata(
                    layout.file_meta("top", TOP_SCHEMA.names, **meta)), origin, symbols)
            self.sink = EventSink(chunk_rows, self._write_events, True)
        else:
            self.sink = EventSink(0, None, False)  # counts only
        self.n_top = 0
        self._top_sym = 0

    @property
    def n_events(self) -> int:
        """Events logged (or, with no folder, that would have been)."""
        return self.sink.total

    def attach(self, book, sym: int = 0) -> None:
        """Make ``book`` append the events of its requests to this log, as symbol ``sym``'s."""
        book.attach_log(self.sink, sym)

    def _write_events(self) -> None:
        self.events.write(*self.sink.take())

    def add_events(self, rows: list, order_type: int, sym: int = 0) -> None:
        """Engine event tuples of one request that did not come from an attached book;
        ``order_type`` tags its ACCEPTED row (-1: none); ``sym``: the index of the symbol
        whose book they come from."""
        self.sink.add_tuples(rows, order_type, sym)

    def add_top(self, ts: int, bid, bid_qty: int, ask, ask_qty: int, sym: int = 0) -> None:
        """Count a top-of-book change and buffer it for ``top/`` if logged (ticks, lots; None or 0:
        empty side; ``sym``: the symbol's index)."""
        self.n_top += 1
        if self.folder is None or not self.top_of_book:
            return
        if sym != self._top_sym:
            self._top_sym = sym
            self.top.switch(sym)
        rows = self.top.rows
        rows.append((ts, bid or 0, bid_qty, ask or 0, ask_qty))
        if len(rows) >= self.top.chunk_rows:
            self.top.flush()

    def flush(self) -> None:
        """Write the buffered ``events/`` and ``top/`` rows as new parts (no-op with no folder)."""
        if self.folder is not None:
            self._write_events()
            self.top.flush()


def read_events(run_dir, columns: list[str] | None = None) -> pa.Table:
    """Deprecated: ``abmm.rundir.open_run(run_dir).events(columns)``."""
    _deprecated("read_events", "open_run(run_dir).events(columns)")
    return open_run(run_dir).events(columns)


def read_top(run_dir) -> pa.Table:
    """Deprecated: ``abmm.rundir.open_run(run_dir).top()``."""
    _deprecated("read_top", "open_run(run_dir).top()")
    return open_run(run_dir).top()


def _deprecated(name: str, instead: str) -> None:
    import warnings

    warnings.warn(f"abmm.market.eventlog.{name} is deprecated and will be removed in the next "
                  f"release: use abmm.rundir.{instead}", DeprecationWarning, stacklevel=3)

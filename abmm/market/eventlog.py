"""The run's event log writer, streaming to Parquet in parts so memory stays flat.

Two datasets in the run directory, each a folder of complete Parquet files (``part-00000.parquet``,
...): a killed run leaves every part written so far readable. Their folder names, part names and
columns are those of :mod:`abmm.rundir.layout`; read them with :func:`abmm.rundir.open_run`.

* ``events/``: every engine event except L2 level updates -- orders (``ACCEPTED``, with the order
  type), fills, cancels, expiries, rejects, modifies, iceberg refills -- with ns timestamps and
  agent ids (see ``docs/event_log.md``).
* ``top/``: every change of the top of book (best bid/ask and their displayed sizes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from abmm.rundir import layout, open_run
from abmm.rundir.layout import EVENT_LOG_DTYPE, TOP_DTYPE

__all__ = ["EventLog", "EVENT_LOG_DTYPE", "TOP_DTYPE", "read_events", "read_top"]


class _PartWriter:
    """Buffers rows (tuples) and writes every ``chunk_rows`` of them as one Parquet file."""

    def __init__(self, folder: Path, dtype: np.dtype, chunk_rows: int):
        self.folder = folder
        self.dtype = dtype
        self.chunk_rows = chunk_rows
        self.rows: list = []
        self.parts = 0
        self.written = 0
        folder.mkdir(parents=True, exist_ok=True)

    def flush(self) -> None:
        """Write the buffered rows as the next part (nothing when none are buffered)."""
        if not self.rows:
            return
        arr = np.array(self.rows, self.dtype)
        table = pa.table({name: arr[name] for name in self.dtype.names})
        path = self.folder / layout.part_name(self.parts)
        tmp = self.folder / layout.part_tmp_name(self.parts)  # hidden: readers skip it
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)  # a part is either complete or absent
        self.parts += 1
        self.written += len(self.rows)
        self.rows = []


class EventLog:
    """Collects events and top-of-book changes; ``folder=None`` keeps nothing on disk (counts only)."""

    def __init__(self, folder: Path | None, chunk_rows: int = 250_000, top_of_book: bool = True):
        """Write parts of ``chunk_rows`` rows under ``folder`` (``top_of_book``: log top/)."""
        self.folder = Path(folder) if folder is not None else None
        self.top_of_book = top_of_book
        if self.folder is not None:
            self.events = _PartWriter(self.folder / layout.EVENTS, EVENT_LOG_DTYPE, chunk_rows)
            self.top = _PartWriter(self.folder / layout.TOP, TOP_DTYPE, chunk_rows)
        self.n_events = 0
        self.n_top = 0

    def add_events(self, rows: list, order_type: int) -> None:
        """Engine event tuples of one request; ``order_type`` tags its ACCEPTED row (-1: none)."""
        if self.folder is None:
            self.n_events += len(rows)
            return
        buf = self.events.rows
        n = len(buf)
        # L2 level updates are not logged here: top-of-book changes go to top/
        buf.extend([(*r, order_type if r[8] == 0 else -1) for r in rows if r[8] != 7])
        self.n_events += len(buf) - n
        if len(buf) >= self.events.chunk_rows:
            self.events.flush()

    def add_top(self, ts: int, bid, bid_qty: int, ask, ask_qty: int) -> None:
        """Count a top-of-book change and buffer it for ``top/`` if logged (ticks, lots; None or 0:
        empty side)."""
        self.n_top += 1
        if self.folder is None or not self.top_of_book:
            return
        self.top.rows.append((ts, bid or 0, bid_qty, ask or 0, ask_qty))
        if len(self.top.rows) >= self.top.chunk_rows:
            self.top.flush()

    def flush(self) -> None:
        """Write the buffered ``events/`` and ``top/`` rows as new parts (no-op with no folder)."""
        if self.folder is not None:
            self.events.flush()
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

"""The run's event log, streamed to Parquet in parts so memory stays flat.

Two datasets in the run directory, each a folder of complete Parquet files (``part-00000.parquet``,
...): a killed run leaves every part written so far readable (``pyarrow.dataset`` or
``pandas.read_parquet(folder)``).

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

from abmm.engine.types import EVENT_DTYPE

#: Columns of ``events/`` (engine events, plus the order type of ACCEPTED rows).
EVENT_LOG_DTYPE = np.dtype(
    [(name, EVENT_DTYPE.fields[name][0]) for name in EVENT_DTYPE.names] + [("order_type", "i1")]
)
#: Columns of ``top/``.
TOP_DTYPE = np.dtype([("ts", "<i8"), ("bid", "<i8"), ("bid_qty", "<i8"), ("ask", "<i8"),
                      ("ask_qty", "<i8")])


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
        if not self.rows:
            return
        arr = np.array(self.rows, self.dtype)
        table = pa.table({name: arr[name] for name in self.dtype.names})
        path = self.folder / f"part-{self.parts:05d}.parquet"
        tmp = self.folder / f".{path.name}.tmp"  # hidden: readers skip a torn temporary
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)  # a part is either complete or absent
        self.parts += 1
        self.written += len(self.rows)
        self.rows = []


class EventLog:
    """Collects events and top-of-book changes; ``folder=None`` keeps nothing on disk (counts only)."""

    def __init__(self, folder: Path | None, chunk_rows: int = 250_000, top_of_book: bool = True):
        self.folder = Path(folder) if folder is not None else None
        self.top_of_book = top_of_book
        if self.folder is not None:
            self.events = _PartWriter(self.folder / "events", EVENT_LOG_DTYPE, chunk_rows)
            self.top = _PartWriter(self.folder / "top", TOP_DTYPE, chunk_rows)
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


def read_parts(folder, columns: list[str] | None = None) -> pa.Table:
    """Every complete ``part-*.parquet`` of a folder, in order, as one Arrow table (a killed
    run's hidden temporary is skipped); ``columns`` reads only those."""
    parts = sorted(Path(folder).glob("part-*.parquet"))
    if not parts:
        raise FileNotFoundError(f"no part-*.parquet files in {folder}")
    return pa.concat_tables([pq.read_table(p, columns=columns) for p in parts])


def read_events(run_dir, columns: list[str] | None = None) -> pa.Table:
    """All event rows of a run (complete or not) as one Arrow table (``columns``: only
    those)."""
    return read_parts(Path(run_dir) / "events", columns)


def read_top(run_dir) -> pa.Table:
    """All top-of-book rows of a run as one Arrow table."""
    return read_parts(Path(run_dir) / "top")

"""Inputs of the vectorized signals from a run directory (``docs/event_log.md``).

``from_run(run_dir)`` reads every complete ``part-*.parquet`` of ``top/`` and ``events/`` in
part order (a killed run's hidden ``.part-*.tmp`` is skipped) and returns a ``RunData`` with

* ``top``: one row per top-of-book change -- ``ts, bid, bid_qty, ask, ask_qty`` (int64; price 0
  = empty side), in log order. Several rows can share a ``ts`` (requests reaching the exchange
  in the same nanosecond); each is a real intermediate book, which OFI counts. With
  ``last_per_ts=True`` only the last row of each ``ts`` (the book after all of them) is kept.
* ``trades``: one row per ``FILL`` event -- ``ts, price, qty, side`` (int64; ``side`` = the
  taker's side, 0 = buyer-initiated). A market order sweeping three resting orders is three
  rows.

Prices are ticks, sizes lots, times ns since midnight of the first day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from abmm.engine.types import EventKind

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["RunData", "from_run", "read_parts", "TOP_COLUMNS", "TRADE_COLUMNS"]

TOP_COLUMNS = ("ts", "bid", "bid_qty", "ask", "ask_qty")
TRADE_COLUMNS = ("ts", "price", "qty", "side")
_PART = re.compile(r"^part-(\d+)\.parquet$")


def read_parts(folder, columns) -> dict[str, np.ndarray]:
    """The given columns of every ``part-*.parquet`` in ``folder``, in part order, as int64
    numpy arrays (empty arrays when the folder is missing or holds no part)."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    parts = []
    if folder.is_dir():
        for p in folder.iterdir():
            m = _PART.match(p.name)
            if m and p.is_file():
                parts.append((int(m.group(1)), p))
    parts.sort()
    cols: dict[str, list] = {c: [] for c in columns}
    for _, p in parts:
        table = pq.read_table(p, columns=list(columns))
        for c in columns:
            cols[c].append(table.column(c).to_numpy().astype(np.int64, copy=False))
    return {c: np.concatenate(v) if v else np.zeros(0, np.int64) for c, v in cols.items()}


@dataclass(frozen=True)
class RunData:
    """A run's top-of-book rows and trades (see the module docstring)."""

    top: pd.DataFrame
    trades: pd.DataFrame

    def top_arrays(self) -> dict[str, np.ndarray]:
        """``top`` as a dict of int64 numpy arrays (``ts, bid, bid_qty, ask, ask_qty``)."""
        return {c: self.top[c].to_numpy() for c in TOP_COLUMNS}

    def trade_arrays(self) -> dict[str, np.ndarray]:
        """``trades`` as a dict of int64 numpy arrays (``ts, price, qty, side``)."""
        return {c: self.trades[c].to_numpy() for c in TRADE_COLUMNS}


def from_run(run_dir, last_per_ts: bool = False) -> RunData:
    """Read ``run_dir/top`` and the ``FILL`` rows of ``run_dir/events`` (see the module
    docstring)."""
    import pandas as pd

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run directory at {run_dir}")
    top = read_parts(run_dir / "top", TOP_COLUMNS)
    if last_per_ts and len(top["ts"]):
        last = np.r_[top["ts"][1:] != top["ts"][:-1], True]
        top = {c: v[last] for c, v in top.items()}
    ev = read_parts(run_dir / "events", ("kind",) + TRADE_COLUMNS)
    fill = ev["kind"] == int(EventKind.FILL)
    trades = {c: ev[c][fill] for c in TRADE_COLUMNS}
    return RunData(pd.DataFrame(top, columns=list(TOP_COLUMNS)),
                   pd.DataFrame(trades, columns=list(TRADE_COLUMNS)))

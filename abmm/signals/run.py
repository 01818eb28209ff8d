"""Inputs of the vectorized signals from a run directory (``docs/event_log.md``).

``from_run(run_dir)`` reads ``top/`` and the ``FILL`` rows of ``events/`` through the run-directory
reader (:func:`abmm.rundir.open_run`: complete parts in part order, a missing or empty folder as
no rows) and returns a ``RunData`` with

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

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from abmm.rundir import require_complete
from abmm.rundir.layout import TOP_DTYPE

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["RunData", "from_run", "TOP_COLUMNS", "TRADE_COLUMNS"]

#: Columns of ``RunData.top`` (those of ``top/`` but its ``time``: all int64).
TOP_COLUMNS: tuple[str, ...] = tuple(TOP_DTYPE.names)
#: Columns of ``RunData.trades``.
TRADE_COLUMNS = ("ts", "price", "qty", "side")


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


def _int64_columns(table, columns) -> dict[str, np.ndarray]:
    return {c: table.column(c).to_numpy().astype(np.int64, copy=False) for c in columns}


def from_run(run_dir, last_per_ts: bool = False) -> RunData:
    """Read ``run_dir/top`` and the ``FILL`` rows of ``run_dir/events`` (see the module
    docstring); ``FileNotFoundError`` when ``run_dir`` is not a directory."""
    import pandas as pd

    run = require_complete(run_dir)
    top = _int64_columns(run.top(TOP_COLUMNS), TOP_COLUMNS)
    if last_per_ts and len(top["ts"]):
        last = np.r_[top["ts"][1:] != top["ts"][:-1], True]
        top = {c: v[last] for c, v in top.items()}
    trades = _int64_columns(run.fills(TRADE_COLUMNS), TRADE_COLUMNS)
    return RunData(pd.DataFrame(top, columns=list(TOP_COLUMNS)),
                   pd.DataFrame(trades, columns=list(TRADE_COLUMNS)))

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
      fundamental.parquet    FUNDAMENTAL  the fundamental value path (ts, value in price units)

A dataset folder holds complete parts only: each is written to a hidden ``.part-NNNNN.parquet.tmp``
(``part_tmp_name``) and then renamed to ``part-NNNNN.parquet`` (``part_name``).
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from abmm.engine.types import EVENT_DTYPE

__all__ = [
    "SCENARIO", "SUMMARY", "EVENTS", "TOP", "AGENTS", "FUNDAMENTAL", "PART_RE", "part_name",
    "part_tmp_name", "EVENT_LOG_DTYPE", "TOP_DTYPE", "EVENT_COLUMNS", "TOP_COLUMNS",
    "FUNDAMENTAL_COLUMNS", "EVENT_SCHEMA", "TOP_SCHEMA", "schema_of",
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
#: The fundamental value path (Parquet: ``ts``, ``value``).
FUNDAMENTAL = "fundamental.parquet"

#: A complete part's file name; group 1 is its number (parts are read in that order).
PART_RE = re.compile(r"^part-(\d+)\.parquet$")


def part_name(index: int) -> str:
    """The file name of part ``index`` of a dataset folder (``part-00000.parquet``, ...)."""
    return f"part-{index:05d}.parquet"


def part_tmp_name(index: int) -> str:
    """The hidden temporary a part is written to before its rename (readers skip it)."""
    return f".{part_name(index)}.tmp"


#: Columns of ``events/``: the engine's event fields, plus the order type of ACCEPTED rows (-1
#: on every other row).
EVENT_LOG_DTYPE = np.dtype(
    [(name, EVENT_DTYPE.fields[name][0]) for name in EVENT_DTYPE.names] + [("order_type", "i1")]
)
#: Columns of ``top/``: time, best bid and ask (ticks, 0 = empty side) and their displayed lots.
TOP_DTYPE = np.dtype([("ts", "<i8"), ("bid", "<i8"), ("bid_qty", "<i8"), ("ask", "<i8"),
                      ("ask_qty", "<i8")])
#: Column names of ``events/``, in file order.
EVENT_COLUMNS: tuple[str, ...] = tuple(EVENT_LOG_DTYPE.names)
#: Column names of ``top/``, in file order.
TOP_COLUMNS: tuple[str, ...] = tuple(TOP_DTYPE.names)
#: Column names of ``fundamental.parquet``.
FUNDAMENTAL_COLUMNS: tuple[str, ...] = ("ts", "value")


def schema_of(dtype: np.dtype) -> pa.Schema:
    """The Arrow schema of a numpy structured dtype (the columns a part file holds)."""
    return pa.schema([(name, pa.from_numpy_dtype(dtype.fields[name][0])) for name in dtype.names])


#: Arrow schema of an ``events/`` part.
EVENT_SCHEMA = schema_of(EVENT_LOG_DTYPE)
#: Arrow schema of a ``top/`` part.
TOP_SCHEMA = schema_of(TOP_DTYPE)

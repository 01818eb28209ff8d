"""The run directory: what it holds (:mod:`abmm.rundir.layout`) and its one reader
(:mod:`abmm.rundir.reader`).

``open_run(path)`` returns a lazy :class:`RunDir`: the scenario, the summary, the session window
and each Parquet dataset are read only when asked for. This package sits at the bottom of abmm
(it imports only :mod:`abmm.engine` types and :mod:`abmm.schema.timing`), so the market's writer,
the signals and the analysis all share it.
"""

from abmm.rundir.layout import (
    AGENTS,
    DEFAULT_DATE,
    EVENT_COLUMNS,
    EVENT_LOG_DTYPE,
    EVENT_SCHEMA,
    EVENTS,
    FUNDAMENTAL,
    FUNDAMENTAL_COLUMNS,
    FUNDAMENTAL_SCHEMA,
    LEGACY_DATE,
    SCENARIO,
    SUMMARY,
    TOP,
    TOP_COLUMNS,
    TOP_DTYPE,
    TOP_SCHEMA,
)
from abmm.rundir.reader import (
    IncompleteRunError,
    RunDir,
    SymbolError,
    file_metadata,
    open_run,
    read_parts,
    require_complete,
)

__all__ = [
    "RunDir", "open_run", "file_metadata", "read_parts", "IncompleteRunError", "SymbolError",
    "require_complete",
    "SCENARIO", "SUMMARY", "EVENTS", "TOP", "AGENTS", "FUNDAMENTAL",
    "EVENT_LOG_DTYPE", "TOP_DTYPE", "EVENT_COLUMNS", "TOP_COLUMNS", "EVENT_SCHEMA", "TOP_SCHEMA",
    "FUNDAMENTAL_COLUMNS", "FUNDAMENTAL_SCHEMA", "DEFAULT_DATE", "LEGACY_DATE",
]

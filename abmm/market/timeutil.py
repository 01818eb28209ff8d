"""Durations and clock times as integer nanoseconds: moved to :mod:`abmm.timeutil`.

Kept so that ``from abmm.market.timeutil import parse_duration`` still works; new code imports
:mod:`abmm.timeutil` (a bottom-level module, so that the run-directory reader can use it).
"""

from abmm.timeutil import (  # noqa: F401
    DAY,
    HOUR,
    MINUTE,
    MS,
    NS,
    SECOND,
    US,
    format_ns,
    parse_duration,
)

"""Durations and clock times as integer nanoseconds: an alias of :mod:`abmm.schema.timing`,
their home (kept so ``from abmm.market.timeutil import parse_duration`` keeps working)."""

from abmm.schema.timing import *  # noqa: F403
from abmm.schema.timing import __all__  # noqa: F401

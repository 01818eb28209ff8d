"""Deprecated alias of :mod:`abmm.schema.timing`, the home of durations and clock times (kept
for one release so ``from abmm.market.timeutil import parse_duration`` keeps working)."""

import warnings

from abmm.schema.timing import *  # noqa: F403
from abmm.schema.timing import __all__  # noqa: F401

warnings.warn("abmm.market.timeutil is deprecated: import from abmm.schema.timing (or abmm.schema)",
              DeprecationWarning, stacklevel=2)

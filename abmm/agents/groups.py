"""Deprecated alias of :mod:`abmm.schema`, the home of the schema pieces every agent group
shares (kept for one release)."""

import warnings

from abmm.schema.base import Duration, Strict
from abmm.schema.groups import GroupBase, Latency, LatencyCfg, WakeCfg

__all__ = ["Duration", "Strict", "GroupBase", "Latency", "LatencyCfg", "WakeCfg"]

warnings.warn("abmm.agents.groups is deprecated: import from abmm.schema", DeprecationWarning,
              stacklevel=2)

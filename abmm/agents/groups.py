"""Schema pieces shared by every agent group: aliases of their home, :mod:`abmm.schema`."""

from abmm.schema.base import Duration, Strict
from abmm.schema.groups import GroupBase, Latency, LatencyCfg, WakeCfg

__all__ = ["Duration", "Strict", "GroupBase", "Latency", "LatencyCfg", "WakeCfg"]

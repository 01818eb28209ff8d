"""The bottom layer of the scenario schema: shared field types (durations, latency and wake
configs), the strict base model and the time units. Every layer above may import it; it imports
nothing from abmm but :mod:`abmm.errors`."""

from abmm.schema.base import Duration, Strict
from abmm.schema.groups import GroupBase, Latency, LatencyCfg, WakeCfg
from abmm.schema.timing import DAY, HOUR, MINUTE, MS, NS, SECOND, US, format_ns, parse_duration

__all__ = ["Duration", "Strict", "GroupBase", "Latency", "LatencyCfg", "WakeCfg", "NS", "US",
           "MS", "SECOND", "MINUTE", "HOUR", "DAY", "parse_duration", "format_ns"]

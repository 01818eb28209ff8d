"""Durations and clock times as integer nanoseconds.

``parse_duration`` accepts an int (nanoseconds), or a string: ``"250ms"``, ``"1.5s"``, ``"10min"``,
``"6.5h"``, ``"2d"``, ``"500us"``, ``"100ns"``, or a clock time ``"09:30"`` / ``"09:30:00.5"`` (time
since midnight).
"""

from __future__ import annotations

import re

__all__ = ["NS", "US", "MS", "SECOND", "MINUTE", "HOUR", "DAY", "parse_duration", "format_ns",
           "sessions"]

NS = 1
US = 1_000
MS = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

_UNITS = {"ns": NS, "us": US, "ms": MS, "s": SECOND, "sec": SECOND, "min": MINUTE, "m": MINUTE,
          "h": HOUR, "hr": HOUR, "d": DAY, "day": DAY, "days": DAY}
_DUR = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]+)\s*$", re.I)
_CLOCK = re.compile(r"^\s*(\d{1,3}):(\d{2})(?::(\d{2}(?:\.\d+)?))?\s*$")


def parse_duration(value) -> int:
    """Nanoseconds from an int or a duration / clock-time string; ValueError if malformed."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as '1.5s' or '09:30', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a duration must not be negative, got {value}")
        return value
    if isinstance(value, float):
        raise ValueError(f"give a duration with its unit (e.g. '{value}s'), got the float {value}")
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as '1.5s' or '09:30', got {value!r}")
    m = _CLOCK.match(value)
    if m:
        h, mi, s = int(m.group(1)), int(m.group(2)), float(m.group(3) or 0)
        if mi >= 60 or s >= 60:
            raise ValueError(f"bad clock time {value!r}")
        return h * HOUR + mi * MINUTE + round(s * SECOND)
    m = _DUR.match(value)
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"expected a duration such as '250ms', '1.5s', '10min', '6.5h', '2d' or a "
                         f"clock time '09:30', got {value!r}")
    return round(float(m.group(1)) * _UNITS[m.group(2).lower()])


def format_ns(ns: int) -> str:
    """``HH:MM:SS.mmm`` since midnight (days added as ``Nd``)."""
    d, ns = divmod(int(ns), DAY)
    h, ns = divmod(ns, HOUR)
    m, ns = divmod(ns, MINUTE)
    s = ns / SECOND
    return f"{d}d {h:02d}:{m:02d}:{s:06.3f}" if d else f"{h:02d}:{m:02d}:{s:06.3f}"


def sessions(open_ns: int, close_ns: int, days: int = 1) -> list[tuple[int, int]]:
    """The trading sessions ``[(open, close), ...]`` (ns since midnight of the first day) of a
    market open ``open_ns``-``close_ns`` for ``days`` days: one continuous session for a 24/7
    market (open 00:00, close 24:00), else one session a day, closed overnight."""
    if open_ns == 0 and close_ns == DAY:
        return [(0, days * DAY)]
    return [(d * DAY + open_ns, d * DAY + close_ns) for d in range(days)]

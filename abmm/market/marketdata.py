"""Latency-delayed market data: the history of the top of book and the last trade price, so an
agent with latency ``L`` sees the market as it was at ``now - L``."""

from __future__ import annotations

import bisect

__all__ = ["TopHistory"]


class TopHistory:
    """Top-of-book changes ``(bid, bid_qty, ask, ask_qty)`` with the last trade price at each,
    by time, kept for ``keep_ns`` (a longer look-back sees the oldest kept).

    ``times``, ``tops`` and ``lasts`` are parallel lists (read-only outside this class)."""

    __slots__ = ("times", "tops", "lasts", "keep_ns")

    #: How far back market data is kept for latency look-ups.
    KEEP_NS = 10_000_000_000
    #: Trim when the history grows past this many entries.
    TRIM_AT = 8192

    def __init__(self, t0: int, top: tuple, last: float, keep_ns: int = KEEP_NS):
        self.times: list[int] = [t0]
        self.tops: list[tuple] = [top]
        self.lasts: list[float] = [last]
        self.keep_ns = keep_ns

    def record(self, t: int, top: tuple, last: float) -> None:
        """A new top of book at time ``t`` (``last``: the last trade price then)."""
        times = self.times
        times.append(t)
        self.tops.append(top)
        self.lasts.append(last)
        if len(times) > self.TRIM_AT:
            self.trim(t)

    def trim(self, now: int) -> None:
        """Forget what is older than ``now - keep_ns`` (keeping the state in force then)."""
        i = bisect.bisect_right(self.times, now - self.keep_ns) - 1
        if i > 0:
            del self.times[:i]
            del self.tops[:i]
            del self.lasts[:i]

    def index_at(self, t: int) -> int:
        """Index of the entry in force at time ``t``."""
        times = self.times
        if t >= times[-1]:
            return len(times) - 1
        return max(bisect.bisect_right(times, t) - 1, 0)

    def top_at(self, t: int) -> tuple:
        """Top of book ``(bid, bid_qty, ask, ask_qty)`` as it was at time ``t``."""
        return self.tops[self.index_at(t)]

    def view_at(self, t: int) -> tuple:
        """``(top of book, last trade price)`` as they were at time ``t``."""
        i = self.index_at(t)
        return self.tops[i], self.lasts[i]

    def since(self, t: int) -> list[tuple]:
        """The top-of-book states recorded after time ``t``, oldest first."""
        times = self.times
        i = len(times)
        while i > 0 and times[i - 1] > t:
            i -= 1
        return self.tops[i:]

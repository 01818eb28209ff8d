"""The event queue: (time, sequence) order on an integer-nanosecond clock.

``EventQueue`` is the C heap of ``abmm.market._cqueue`` (built from ``cython_ext/_cqueue.pyx``)
when it is importable and ``ABMM_PURE_PYTHON`` is not set, else :class:`PyEventQueue`, a plain
``heapq`` of tuples ``(t, seq, kind, payload)``. ``seq`` is unique, so ties in time keep insertion
order and payloads are never compared; the two pop the same events in the same order. The
model's hot loop calls ``pop_due(t_end)``. Measured: ~1 µs per push+pop for the ``heapq`` one,
against ~5 µs for Mesa's DEVSimulator (which also drops events whose callback is only weakly
held); the C heap is faster again (``benchmarks/bench_market.py``).
"""

from __future__ import annotations

import heapq

from abmm.engine import PURE_PYTHON

#: Event kinds.
WAKE = 0  #: payload: agent -- its strategy runs
ARRIVE = 1  #: payload: (agent, request) -- an order/cancel reaches the exchange
NOTIFY = 2  #: payload: (agent, fill tuple) -- a fill notice reaches the agent
SHOCK = 3  #: payload: shock -- an exogenous shock fires


class PyEventQueue:
    """Min-queue of events by (time, insertion order): the pure-Python one."""

    __slots__ = ("_heap", "_seq")

    def __init__(self):
        self._heap: list = []
        self._seq = 0

    def push(self, t: int, kind: int, payload) -> None:
        """Schedule ``(kind, payload)`` at time ``t`` (ns); equal times keep push order."""
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, payload))

    def pop_due(self, t_end: int):
        """The earliest event ``(t, kind, payload)`` if it is due by ``t_end``, removed from the
        queue; else None."""
        heap = self._heap
        if heap and heap[0][0] <= t_end:
            t, _, kind, payload = heapq.heappop(heap)
            return t, kind, payload
        return None

    def entries(self) -> list:
        """Every queued ``(t, seq, kind, payload)``, in heap order (not sorted)."""
        return list(self._heap)

    def shift(self, before: int, gap: int) -> None:
        """Move every event due before ``before`` by ``gap`` ns (a session break)."""
        heap = self._heap
        heap[:] = [(t + gap, seq, kind, payload) if t < before else (t, seq, kind, payload)
                   for t, seq, kind, payload in heap]
        heapq.heapify(heap)

    def remove(self, predicate) -> int:
        """Drop every event for which ``predicate(kind, payload)`` is true; returns how many."""
        heap = self._heap
        kept = [e for e in heap if not predicate(e[2], e[3])]
        n = len(heap) - len(kept)
        if n:
            heap[:] = kept
            heapq.heapify(heap)
        return n

    def peek_time(self):
        """Time of the earliest event, or None if empty."""
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)


EventQueue = PyEventQueue
if not PURE_PYTHON:
    try:
        from abmm.market._cqueue import EventQueue  # type: ignore[no-redef,assignment] # noqa: F401
    except ImportError:  # not built: the heapq one (the engine's import already warned)
        pass

"""How the cyclic garbage collector behaves during a long simulation.

A market run allocates and frees millions of small objects (orders, events, agents' records),
but almost none of them in reference cycles: reference counting frees them. Python's cyclic
collector still runs at its default thresholds (a young collection every 700 net new container
objects, a full one every 100 of those), and each full collection walks every live object --
the whole model, grown over the day. On ``scenarios/large.yaml`` with its event log written,
that was 9.5-10.3 s of a 74-84 s day (about 12 %, measured with ``gc.callbacks``).

:func:`sparse_gc` is what :meth:`MarketModel.run` runs inside: the objects alive when the run
starts (the built model, imported modules) are frozen out of collection (``gc.freeze``), and
the young threshold is raised to ``gen0`` (200,000) net new objects, so cycles are still found,
just less often. Both are undone when the run ends or fails. Nothing a run computes depends on
when the collector runs (no agent has a finalizer): the event log is the same bit for bit.
"""

from __future__ import annotations

import contextlib
import gc

__all__ = ["sparse_gc", "GEN0"]

#: The young-generation threshold during a run (net new container objects between collections).
GEN0 = 200_000


@contextlib.contextmanager
def sparse_gc(gen0: int = GEN0):
    """Within the block: freeze the objects alive now out of the collector's walks (unless the
    caller froze some already: theirs are left as they are) and collect the young generation
    every ``gen0`` net new objects at least; afterwards, the thresholds and the frozen set as
    they were."""
    old = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(max(old[0], int(gen0)), old[1], old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)
        if freeze:
            gc.unfreeze()

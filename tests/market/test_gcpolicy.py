"""The garbage-collector policy of a run (abmm.market.gcpolicy): thresholds and the frozen set
come back as they were, and reference cycles made inside are still collected."""

import gc
from pathlib import Path

import pytest

from abmm.market.gcpolicy import GEN0, sparse_gc


class _Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cyclic collector frees it


def _cycles_alive(n: int) -> int:
    import weakref

    refs = []
    for _ in range(n):
        node = _Node()
        refs.append(weakref.ref(node))
        del node
    for _ in range(GEN0 + GEN0 // 2):  # net new containers: past the young threshold
        refs.append([])  # kept alive, so they count
    return sum(r() is not None for r in refs[:n])


def test_thresholds_and_freeze_restored():
    before = gc.get_threshold(), gc.get_freeze_count()
    with sparse_gc():
        assert gc.get_threshold()[0] >= GEN0
        assert gc.get_freeze_count() > 0  # what was alive at the start is out of the walks
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_restored_after_an_error():
    before = gc.get_threshold(), gc.get_freeze_count()
    with pytest.raises(RuntimeError), sparse_gc():
        raise RuntimeError("boom")
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_a_callers_frozen_set_is_left_alone():
    gc.freeze()
    try:
        n = gc.get_freeze_count()
        with sparse_gc():
            pass
        assert gc.get_freeze_count() == n  # not unfrozen by the block
    finally:
        gc.unfreeze()


def test_cycles_made_inside_are_still_collected():
    # negative control: with the collector off, the same cycles stay alive
    gc.collect()
    gc.disable()
    try:
        assert _cycles_alive(50) == 50
    finally:
        gc.enable()
    gc.collect()
    with sparse_gc():
        assert _cycles_alive(50) == 0


def test_model_run_restores_the_collector():
    from abmm.scenario import build_model

    before = gc.get_threshold(), gc.get_freeze_count()
    path = Path(__file__).resolve().parents[2] / "scenarios" / "rmsc04_like.yaml"
    model = build_model(path, seed=3, overrides=["market.close=09:40", "logging.top_of_book=false"])
    model.run()
    assert (gc.get_threshold(), gc.get_freeze_count()) == before

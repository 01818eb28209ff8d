"""The agents' C helpers (``abmm.agents._crng``: ``Latency``, ``_Draws``, ``Uniforms``,
``Wake``, ``HorizonActivity``, ``FlowImbalance``) draw and track exactly what the Python ones in
``abmm.agents.base`` do, value for value and type for type, interleaved with other draws from
the same generator and across a pickle."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from abmm.agents import base as B

C = pytest.importorskip("abmm.agents._crng", reason="the C random-draw helpers are not built")

KINDS = [("lognormal", 20_000_000, 0.5, 2_000_000), ("lognormal", 2_000_000, 0.5, 200_000),
         ("exponential", 1_000_000, 0, 100_000), ("constant", 5_000, 0, 0),
         ("uniform", 10, 1_000, 0)]


@pytest.mark.parametrize("kind,a,b,low", KINDS)
def test_latency_same_draws(kind, a, b, low):
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    py, c = B.PyLatency(kind, a, b, low, g1), C.Latency(kind, a, b, low, g2)
    xs, ys = [py.draw() for _ in range(1_000)], [c.draw() for _ in range(1_000)]
    assert xs == ys
    assert {type(x) for x in ys} == {int}
    c2 = pickle.loads(pickle.dumps(c))  # mid-block: the rest of the block, then fresh ones
    assert [c2.draw() for _ in range(600)] == [py.draw() for _ in range(600)]
    assert (c.kind, c.a, c.b, c.low) == (kind, a, b, low)


def test_latency_negative_control():
    """Another seed draws other latencies (the comparison above can fail)."""
    a = C.Latency("lognormal", 2_000_000, 0.5, 0, np.random.default_rng(7))
    b = B.PyLatency("lognormal", 2_000_000, 0.5, 0, np.random.default_rng(8))
    assert [a.draw() for _ in range(50)] != [b.draw() for _ in range(50)]


def test_latency_unknown_kind():
    with pytest.raises(ValueError, match="unknown latency kind 'gamma'"):
        C.Latency("gamma", 1, 0, 0, None)


def test_draws_and_uniforms_interleaved():
    """Exponential blocks, uniforms and other draws from one generator stay in step."""
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    d1, d2 = B.PyDraws(g1), C._Draws(g2)
    u1, u2 = B.PyUniforms(g1), C.Uniforms(g2)
    for i in range(700):
        assert list(u1.take4()) == list(u2.take4())
        assert list(u1.take3()) == list(u2.take3())
        assert d1.next() == d2.next()
        if i % 7 == 0:
            assert g1.standard_normal() == g2.standard_normal()
        if i == 350:  # a pickle of the generator and both helpers, mid-block
            d2, u2 = pickle.loads(pickle.dumps((d2, u2)))
            assert d2.rng is u2.generator
            g2 = d2.rng


@pytest.mark.parametrize("kind,interval", [("poisson", 20_000_000_000), ("poisson", 476_726_017),
                                           ("fixed", 1_000_000_000), ("once", 0)])
def test_wake_same_times(kind, interval):
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    py, c = B.PyWake(kind, interval), C.Wake(kind, interval)
    start = 1_700_000_000_000_000_000
    end = start + 86_400_000_000_000
    assert py.first(g1, start, end) == c.first(g2, start, end)
    d1, d2 = B.PyDraws(g1), C._Draws(g2)
    now1 = now2 = start
    for _ in range(600):
        n1, n2 = py.next(d1, now1), c.next(d2, now2)
        assert n1 == n2 and type(n1) is type(n2)
        if n1 is None:
            break
        now1, now2 = n1, n2
    assert (c.kind, c.interval) == (kind, interval)
    assert pickle.loads(pickle.dumps(c)).next(d2, now2) == py.next(d1, now1)
    # a Python draws object works too (any object with next())
    assert c.next(B.PyDraws(np.random.default_rng(3)), start) == \
        py.next(B.PyDraws(np.random.default_rng(3)), start)


def test_wake_negative_control():
    """Another seed gives other wake times (the comparison above can fail)."""
    a = C.Wake("poisson", 10**9).next(C._Draws(np.random.default_rng(1)), 0)
    b = B.PyWake("poisson", 10**9).next(B.PyDraws(np.random.default_rng(2)), 0)
    assert a != b


def test_in_use_unless_pure_python():
    import os

    if os.environ.get("ABMM_PURE_PYTHON", "") not in ("", "0"):
        assert B.Latency is B.PyLatency and B.Wake is B.PyWake
    else:
        assert B.Latency is C.Latency and B.Uniforms is C.Uniforms and B._Draws is C._Draws
        assert B.Wake is C.Wake
        assert B.HorizonActivity is C.HorizonActivity and B.FlowImbalance is C.FlowImbalance


class _Market:
    """What the trackers read: the time, the mid and the taker volumes."""

    def __init__(self):
        self.now, self._mid, self.signed_volume, self.volume = 0, None, 0, 0

    def mid(self):
        return self._mid


def _walk(seed, n=4_000):
    r = np.random.default_rng(seed)
    m, mid = _Market(), 40_000.0
    for i in range(n):
        m.now += int(r.integers(0, 2_500_000_000))
        mid += float(r.standard_normal()) * 2
        m._mid = None if i % 97 == 5 else (int(mid) if i % 3 else mid)
        q = int(r.integers(0, 20))
        m.volume += q
        m.signed_volume += q if r.random() < 0.55 else -q
        yield m


def test_trackers_same_values():
    hs, ref = (30_000_000_000, 120_000_000_000, 600_000_000_000), 86_400_000_000_000
    py_h, c_h = B.PyHorizonActivity(hs, ref), C.HorizonActivity(hs, ref)
    py_f, c_f = B.PyFlowImbalance(60_000_000_000), C.FlowImbalance(60_000_000_000)
    for i, m in enumerate(_walk(3)):
        assert py_h.update(m) == c_h.update(m)
        assert py_f.update(m) == c_f.update(m)
        if i == 2_000:
            c_h, c_f = pickle.loads(pickle.dumps((c_h, c_f)))
    assert (c_f.s, c_f.v, c_f.t_last) == (py_f.s, py_f.v, py_f.t_last)


def test_trackers_negative_control():
    """Another half-life tracks other values (the comparison above can fail)."""
    a, b = C.FlowImbalance(60_000_000_000), B.PyFlowImbalance(61_000_000_000)
    assert any(a.update(m) != b.update(m) for m in _walk(4, 300))


def _random_ladder_case(rng):
    bid = None if rng.random() < 0.1 else int(rng.integers(-3, 60))
    ask = None if rng.random() < 0.1 else (bid or 0) + int(rng.integers(0, 6))
    levels, spacing = int(rng.integers(0, 12)), int(rng.integers(0, 6))
    oo = {}
    for oid in rng.choice(10_000, size=int(rng.integers(0, 25)), replace=False).tolist():
        oo[oid] = [int(rng.integers(2)), int(rng.integers(-5, 100)), 1, 0]
    return oo, bid, ask, levels, spacing


def test_ladder_plan_same_as_python():
    """The C ladder plan cancels and sends what the Python one does, in the same order: random
    ladders (repeated prices, zero spacing, prices below 1, one side missing) over random open
    orders (duplicates of a wanted price, both sides)."""
    rng = np.random.default_rng(3)
    kept = sent = 0
    for _ in range(3_000):
        oo, bid, ask, levels, spacing = _random_ladder_case(rng)
        want = B.py_ladder_plan(oo, bid, ask, levels, spacing)
        got = C.ladder_plan(oo, bid, ask, levels, spacing)
        assert got == want
        assert all(type(p) is int for _, p in got[1])
        kept += len(oo) - len(want[0])
        sent += len(want[1])
    assert kept > 1_000 and sent > 1_000  # both branches exercised


def test_ladder_plan_falls_back_for_other_numbers():
    oo = {1: [0, 100, 1, 0], 2: [1, 101, 1, 0]}
    for args in [(100.5, 101, 3, 1), (100, 101.0, 3, 1), (100, 101, 100, 1)]:
        assert C.ladder_plan(oo, *args) == B.py_ladder_plan(oo, *args)
    assert C.ladder_plan(oo, 100.5, 101, 3, 1)[0] == [1]  # 100.5 is no open order's price


def test_ladder_plan_negative_control():
    """A plan made for another bid differs (the comparison above can fail)."""
    oo = {1: [0, 100, 1, 0], 2: [1, 101, 1, 0]}
    assert C.ladder_plan(oo, 100, 101, 3, 1) != B.py_ladder_plan(oo, 99, 101, 3, 1)

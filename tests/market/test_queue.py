"""The market's event queue: the C heap (``abmm.market._cqueue``) pops exactly what the
pure-Python ``heapq`` one pops, in the same order, under any interleaving of pushes and pops,
across a pickle, ``remove`` and a session ``shift``."""

from __future__ import annotations

import pickle
import random

import pytest

from abmm.market import kernel as K

cq = pytest.importorskip("abmm.market._cqueue", reason="the C event queue is not built")


def _drain(q, t_end=10**18):
    out = []
    while (e := q.pop_due(t_end)) is not None:
        out.append(e)
    return out


def _script(seed, n=20_000):
    """Random pushes (few distinct times, so ties are common) and pops up to moving times."""
    r = random.Random(seed)
    ops, now = [], 0
    for i in range(n):
        if r.random() < 0.55:
            ops.append(("push", now + r.randrange(0, 50), r.randrange(4), ("payload", i)))
        else:
            now += r.randrange(0, 10)
            ops.append(("pop", now))
    return ops


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_order_as_heapq(seed):
    c, p = cq.EventQueue(), K.PyEventQueue()
    got_c, got_p = [], []
    for op in _script(seed):
        if op[0] == "push":
            c.push(*op[1:])
            p.push(*op[1:])
        else:
            got_c += _drain(c, op[1])
            got_p += _drain(p, op[1])
            assert len(c) == len(p)
    got_c += _drain(c)
    got_p += _drain(p)
    assert got_c == got_p
    assert len(got_c) > 10_000
    assert [e[0] for e in got_c] == sorted(e[0] for e in got_c)  # times never go back


def test_ties_keep_push_order_and_growth():
    q = cq.EventQueue()
    for i in range(5000):  # past the initial capacity, every event at one time
        q.push(7, 1, i)
    assert [e[2] for e in _drain(q)] == list(range(5000))
    assert q.pop_due(10**18) is None and len(q) == 0 and q.peek_time() is None


def test_pickle_remove_shift():
    q, p = cq.EventQueue(), K.PyEventQueue()
    r = random.Random(5)
    for i in range(3000):
        t, k = r.randrange(1000), r.randrange(4)
        q.push(t, k, i)
        p.push(t, k, i)
    q2 = pickle.loads(pickle.dumps(q))
    assert q2.peek_time() == q.peek_time() == p.peek_time()
    for x in (q, q2, p):
        assert x.remove(lambda kind, payload: payload % 3 == 0) == 1000
        x.shift(500, 10_000)  # events before 500 move by 10,000 ns
    assert _drain(q) == _drain(q2) == _drain(p)
    # pushes after a pickle keep their sequence (ties stay in push order)
    a, b = cq.EventQueue(), None
    a.push(1, 0, "x")
    b = pickle.loads(pickle.dumps(a))
    b.push(1, 0, "y")
    assert [e[2] for e in _drain(b)] == ["x", "y"]


def test_model_uses_c_queue_unless_pure_python():
    import os

    if os.environ.get("ABMM_PURE_PYTHON", "") not in ("", "0"):
        assert K.EventQueue is K.PyEventQueue
    else:
        assert K.EventQueue is cq.EventQueue

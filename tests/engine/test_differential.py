"""Differential tests: the compiled engine and the pure-Python reference (the oracle) get the
same random request streams -- every order type, cancels, reduces, modifies, bad inputs mixed
in -- and must give identical results, exceptions, events and books, with every invariant
holding after every request."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abmm.engine import CompiledOrderBook, PyOrderBook
from abmm.engine.streams import random_messages
from abmm.engine.types import MSG_DTYPE, Action, EventKind, OrderStatus

pytestmark = pytest.mark.skipif(CompiledOrderBook is None, reason="compiled engine not built")

WEIRD = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.booleans(),
    st.text(max_size=3),
    st.integers(-5, 5).map(np.int64),
    st.just(np.float64(1.0)),
    st.just([1]),
)


@st.composite
def corrupt(draw, op):
    """``op`` as drawn, or (one time in eight) with one field replaced by a malformed value."""
    op = list(draw(op))
    if draw(st.integers(0, 7)) == 0:
        i = draw(st.sampled_from([i for i in range(1, len(op)) if op[0] != "submit" or i != 5]))
        op[i] = draw(WEIRD)
    return tuple(op)


def submit_op():
    return corrupt(st.tuples(
        st.just("submit"),
        st.integers(0, 1),  # side
        st.integers(97, 103),  # price
        st.integers(1, 20),  # qty
        st.integers(0, 3),  # owner
        st.integers(0, 3),  # ts step
        st.sampled_from([0, 0, 0, 1, 2, 3, 4]),  # order_type
        st.sampled_from([0, 0, 0, 2, 5]),  # display
        st.integers(0, 3),  # stp
    ))


# Cancels and modifies name ``next_id - back``: back 1 is the newest order, back <= 0 an id not
# issued yet.
BACK = st.one_of(st.integers(1, 4), st.integers(1, 4), st.integers(-1, 12))


def cancel_op():
    return corrupt(st.tuples(st.just("cancel"), BACK,
                             st.sampled_from([0, 0, 1, 3, 50]), st.integers(0, 3)))


def modify_op():
    return corrupt(st.tuples(st.just("modify"), BACK, st.integers(97, 103),
                             st.integers(1, 20), st.integers(0, 3)))


OPS = st.lists(st.one_of(submit_op(), submit_op(), submit_op(), cancel_op(), modify_op()),
               min_size=5, max_size=80)


def target(book, back):
    return book.next_id - back if type(back) is int else back


def apply(book, op):
    """Run one request; returns ("ok", result) or ("err", exception type, message)."""
    kind = op[0]
    try:
        if kind == "submit":
            _, side, price, qty, owner, dt, otype, display, stp = op
            if otype == 1 and type(price) is int and price <= 102:  # mostly valid markets
                price = None if price == 97 else 0  # (price 103 tests the error)
            r = book.submit(side, price, qty, owner, book.clock + dt, otype, display, stp)
        elif kind == "cancel":
            _, oid, qty, dt = op
            r = book.cancel(target(book, oid), qty, book.clock + dt if type(dt) is int else dt)
        else:
            _, oid, price, qty, dt = op
            r = book.modify(target(book, oid), price, qty,
                            book.clock + dt if type(dt) is int else dt)
        return ("ok", r)
    except Exception as exc:  # noqa: BLE001 - the comparison is the point
        return ("err", type(exc), str(exc))


def snapshot(book):
    return (book.live_orders().tolist(), book.stats(), book.clock, book.next_id,
            [tuple(a.tolist()) for s in (0, 1) for a in book.depth(s)],
            [book.status(i) for i in range(1, book.next_id)])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_random_requests_identical(ops):
    c, p = CompiledOrderBook(), PyOrderBook()
    for op in ops:
        before = snapshot(p)
        rc, rp = apply(c, op), apply(p, op)
        assert rc == rp, op
        if rc[0] == "ok":
            assert c.last_events().tolist() == p.last_events().tolist(), op
            assert c.last_event_tuples() == p.last_event_tuples() == p.last_events().tolist()
            assert c.top() == p.top()
        else:
            assert snapshot(p) == before, f"{op} raised but changed the book"
        c._check()
        p._check()
        assert snapshot(c) == snapshot(p), op


def to_messages(ops):
    """Well-formed ops as a batch (malformed ones dropped)."""
    rows = []
    ts = 0
    next_id = 1
    for op in ops:
        if any(type(v) is not int or not -(2**63) <= v < 2**63 for v in op[1:]):
            continue
        if op[0] == "submit" and not all(0 <= op[i] < 256 for i in (1, 6, 8)):
            continue  # side / order_type / stp do not fit the message's uint8 fields
        if op[0] == "submit" and op[6] == 1 and op[2] <= 102:  # as in apply()
            op = op[:2] + (0,) + op[3:]
        if op[0] != "submit":
            op = (op[0], next_id - op[1]) + op[2:]
        m = np.zeros((), MSG_DTYPE)
        if op[0] == "submit":
            _, side, price, qty, owner, dt, otype, display, stp = op
            m["action"], m["side"], m["qty"], m["owner"] = Action.SUBMIT, side, qty, owner
            m["order_type"], m["display"], m["stp"], m["price"] = otype, display, stp, price
            next_id += 1
        elif op[0] == "cancel":
            _, oid, qty, dt = op
            m["action"], m["oid"], m["qty"] = Action.CANCEL, oid, qty
        else:
            _, oid, price, qty, dt = op
            m["action"], m["oid"], m["price"], m["qty"] = Action.MODIFY, oid, price, qty
        ts += dt
        m["ts"] = ts
        rows.append(m)
    return np.array(rows, MSG_DTYPE)


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_random_batches_identical(ops):
    msgs = to_messages(ops)
    c, p = CompiledOrderBook(), PyOrderBook()
    try:
        ep = p.process(msgs)
    except Exception as exc:  # noqa: BLE001
        with pytest.raises(type(exc)) as info:
            c.process(msgs)
        assert str(info.value) == str(exc)
        assert snapshot(c) == snapshot(p) == snapshot(PyOrderBook())
        return
    ec = c.process(msgs)
    assert ec.tolist() == ep.tolist()
    c._check()
    p._check()
    assert snapshot(c) == snapshot(p)


@pytest.mark.parametrize("seed", range(4))
def test_random_stream_batch_and_per_call(seed):
    """A long random stream: batch in both engines, and per-call in the compiled one, agree."""
    msgs = random_messages(20_000, seed=seed)
    c, p = CompiledOrderBook(), PyOrderBook()
    ec = c.process(msgs)
    assert ec.tolist() == p.process(msgs).tolist()
    assert c.last_event_tuples() == p.last_event_tuples() == ec.tolist()
    assert c.last_events().tolist() == ec.tolist()
    assert snapshot(c) == snapshot(p)
    # chunked batches give the same events as one batch
    c2 = CompiledOrderBook()
    chunks = [c2.process(msgs[i:i + 777]) for i in range(0, len(msgs), 777)]
    assert np.concatenate(chunks).tolist() == ec.tolist()
    c._check()
    p._check()
    kinds = np.bincount(ec["kind"], minlength=8)
    assert kinds.min() > 0, f"stream did not exercise every event kind: {kinds}"
    assert OrderStatus.RESTING in {c.status(i) for i in range(1, c.next_id)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_call_request_paths_match_the_per_call_api(seed):
    """``submit_events`` / ``cancel_events`` / ``depth_qty`` (the market's per-request calls)
    give what ``submit`` + ``last_event_tuples`` + ``remaining`` + ``top``, ``cancel`` and
    ``depth(...)[1].sum()`` give, on both engines; ``submit_effects`` / ``cancel_effects`` the
    same with only the FILL, CANCELLED and REFILL events."""
    rng = np.random.default_rng(seed)
    plain, fast, ref = CompiledOrderBook(), CompiledOrderBook(), PyOrderBook()
    fast_fx, ref_fx = CompiledOrderBook(), PyOrderBook()
    effects = {EventKind.FILL, EventKind.CANCELLED, EventKind.REFILL}
    seen = set()
    live, t = [], 0
    for _ in range(3000):
        t += int(rng.integers(0, 3))
        if live and rng.random() < 0.35:
            oid = live.pop(int(rng.integers(len(live))))
            if plain.remaining(oid) == 0:
                continue
            plain.cancel(oid, 0, t)
            want = (plain.last_event_tuples(), plain.top())
            assert fast.cancel_events(oid, t) == want
            assert ref.cancel_events(oid, t) == want
            want_fx = ([r for r in want[0] if r[8] in effects], want[1])
            assert fast_fx.cancel_effects(oid, t) == want_fx
            assert ref_fx.cancel_effects(oid, t) == want_fx
        else:
            side, price = int(rng.integers(2)), 1000 + int(rng.integers(-20, 21))
            qty, otype = int(rng.integers(1, 30)), int(rng.choice([0, 0, 0, 1, 2, 4]))
            if otype == 1:  # a market order has no price
                price = 0
            args = (side, price, qty, int(rng.integers(1, 9)), t, otype, 0, 0)
            oid = plain.submit(*args)
            want = (oid, plain.last_event_tuples(), plain.remaining(oid), plain.top())
            assert fast.submit_events(*args) == want
            assert ref.submit_events(*args) == want
            want_fx = (want[0], [r for r in want[1] if r[8] in effects], *want[2:])
            assert fast_fx.submit_effects(*args) == want_fx
            assert ref_fx.submit_effects(*args) == want_fx
            seen.update(r[8] for r in want[1])
            live.append(oid)
        for side in (0, 1):
            for n in (0, 1, 5, 50):
                d = int(plain.depth(side, n)[1].sum())
                assert fast.depth_qty(side, n) == d and ref.depth_qty(side, n) == d
    # the stream had requests with and without effects (the filter was exercised)
    assert {EventKind.ACCEPTED, EventKind.FILL} <= seen

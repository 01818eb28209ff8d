"""Fuzz the Python API with random and malformed calls (wrong types, huge numbers, NaN, None,
strings, bad ids, bad arrays): only ``abmm.errors.AbmmError`` may come out -- never a crash or
another exception -- and after each error the book is exactly as before."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abmm.engine.types import MSG_DTYPE, Action, make_messages
from abmm.errors import AbmmError, InvalidValueError

ANY = st.one_of(
    st.integers(-(2**80), 2**80),
    st.integers(-3, 110),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -0.0, 1e300]),
    st.none(),
    st.booleans(),
    st.text(max_size=4),
    st.binary(max_size=4),
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.sampled_from([np.uint64(2**64 - 1), np.float32(1.5), np.bool_(True), object(), [], {}]),
)

CALLS = {
    "submit": 8, "limit": 7, "market": 5, "cancel": 3, "modify": 4, "status": 1, "remaining": 1,
    "queue_position": 1, "depth": 2, "process": 1,
}


def state(book):
    return (book.live_orders().tolist(), book.stats(), book.clock, book.next_id)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(sorted(CALLS)), st.lists(ANY, min_size=8, max_size=8)),
                max_size=40))
def test_malformed_calls_raise_only_abmm_errors(Book, calls):
    book = Book()
    book.limit(0, 99, 10, 1)
    book.limit(1, 101, 10, 2)
    for name, args in calls:
        n = CALLS[name]
        before = state(book)
        try:
            getattr(book, name)(*args[:n])
        except AbmmError:
            assert state(book) == before, (name, args[:n])
        book._check()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(*[st.integers(-(2**63), 2**63 - 1)] * 6, *[st.integers(0, 255)] * 4),
                max_size=20))
def test_garbage_batches(Book, rows):
    """Arbitrary int64/uint8 values in every message field."""
    book = Book()
    book.limit(0, 99, 10, 1)
    msgs = np.array([(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]) for r in rows],
                    MSG_DTYPE)
    before = state(book)
    try:
        book.process(msgs)
    except AbmmError as exc:
        assert exc.index is not None
        assert state(book) == before
    book._check()


def test_bad_batch_containers(Book):
    book = Book()
    for bad in ([1, 2, 3], np.zeros(3), np.zeros((2, 2), MSG_DTYPE), "msgs", None):
        try:
            book.process(bad)
        except AbmmError:
            pass
        else:
            raise AssertionError(f"process({bad!r}) did not raise")
    # a non-contiguous view is fine
    msgs = np.zeros(4, MSG_DTYPE)
    msgs["side"], msgs["price"], msgs["qty"], msgs["ts"] = 0, 100, 1, 0
    assert len(book.process(msgs[::2])) == 4  # 2 orders: ACCEPTED + LEVEL each


@pytest.mark.parametrize("action", [Action.CANCEL, Action.MODIFY])
@pytest.mark.parametrize("owner", [2**31, -1, 2**62])
def test_batch_cancel_and_modify_check_the_owner(Book, action, owner):
    """A cancel or modify echoes its owner in a REJECTED event: an owner outside int32 is an
    error naming the field (found by hypothesis: the reference raised OverflowError, the
    compiled engine wrapped the value)."""
    book = Book()
    book.limit(0, 100, 5, owner=1, ts=1)
    before = book.live_orders().tolist()
    msgs = make_messages(action=[action], oid=[1], owner=[owner], price=[101], qty=[2], ts=[5])
    with pytest.raises(InvalidValueError, match=f"owner={owner}"):
        book.process(msgs)
    assert book.live_orders().tolist() == before

"""Pickling a book (both engines): the copy is identical and behaves identically afterwards; a
damaged state gives a clear error, never a broken book."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from abmm.engine import CompiledOrderBook
from abmm.engine.streams import random_messages
from abmm.errors import CorruptStateError


def test_pickle_round_trip_then_identical_future(Book):
    msgs = random_messages(6_000, seed=11)
    book = Book(tick=1, level_events=True)
    book.process(msgs[:4_000])
    clone = pickle.loads(pickle.dumps(book))
    clone._check()
    assert clone.stats() == book.stats() and clone.clock == book.clock
    assert clone.live_orders().tolist() == book.live_orders().tolist()
    assert [clone.status(i) for i in range(1, clone.next_id)] == [
        book.status(i) for i in range(1, book.next_id)]
    assert clone.process(msgs[4_000:]).tolist() == book.process(msgs[4_000:]).tolist()
    assert copy.deepcopy(book).live_orders().tolist() == book.live_orders().tolist()


@pytest.mark.skipif(CompiledOrderBook is None, reason="compiled engine not built")
@pytest.mark.parametrize("damage", ["status", "price", "dup", "counter", "missing", "dtype"])
def test_corrupt_state_is_refused(damage):
    book = CompiledOrderBook()
    book.process(random_messages(2_000, seed=5))
    cls, args, state = book.__reduce__()
    state = dict(state, status=state["status"].copy(), live=state["live"].copy())
    if damage == "status":
        state["status"][3] = 9
    elif damage == "price":
        state["live"]["price"][0] = -5
    elif damage == "dup":
        state["live"] = np.concatenate([state["live"], state["live"][:1]])
    elif damage == "counter":
        state["volume"] += 1
    elif damage == "missing":
        del state["live"]
    else:
        state["live"] = state["live"]["order_id"].copy()  # a plain int64 array
    fresh = cls(*args)
    with pytest.raises(CorruptStateError):
        fresh.__setstate__(state)

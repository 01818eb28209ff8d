"""The batch API refuses what it cannot read faithfully, identically in both engines: a masked
array (the compiled engine would ignore its mask) and a wrong dtype or shape, each with a
message that says what it got (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest

import abmm.engine as E
from abmm.engine import reference as R
from abmm.engine.types import MSG_DTYPE
from abmm.errors import InvalidTypeError

BOOKS = [pytest.param(R.OrderBook, id="reference")]
if E.ENGINE == "compiled":
    BOOKS.append(pytest.param(E.OrderBook, id="compiled"))

BAD = [
    (np.ma.masked_array(np.zeros(3, MSG_DTYPE), mask=[False, True, False]),
     "a masked array (shape (3,))"),
    (np.zeros(3, np.int64), "ndarray of dtype int64 and shape (3,)"),
    (np.zeros((2, 2), MSG_DTYPE), "ndarray of dtype MSG_DTYPE and shape (2, 2)"),
    ([1, 2, 3], "'list'"),
]


@pytest.mark.parametrize("cls", BOOKS)
@pytest.mark.parametrize("arr,fragment", BAD)
def test_bad_batches_are_refused_with_what_was_given(cls, arr, fragment):
    book = cls()
    before = book.stats()
    with pytest.raises(InvalidTypeError) as err:
        book.process(arr)
    assert fragment in str(err.value)
    assert book.stats() == before


def test_both_engines_say_the_same():
    if E.ENGINE != "compiled":
        pytest.skip("the compiled engine is not built")
    for arr, _ in BAD:
        msgs = []
        for cls in (R.OrderBook, E.OrderBook):
            with pytest.raises(InvalidTypeError) as err:
                cls().process(arr)
            msgs.append(str(err.value))
        assert msgs[0] == msgs[1]

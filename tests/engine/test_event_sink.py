"""The event log's C buffer (``EventSink``): a book attached to it appends each request's
events, but LEVEL updates, as ``LOG_DTYPE`` rows -- the same rows the tuples give -- on both
engines, in arrival order, with the book's symbol, in parts of whole requests."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from abmm.engine import CompiledEventSink, CompiledOrderBook, PyEventSink, PyOrderBook
from abmm.engine.types import LOG_DTYPE, EventKind

needs_compiled = pytest.mark.skipif(CompiledOrderBook is None, reason="compiled engine not built")

ENGINES = [pytest.param((PyOrderBook, PyEventSink), id="python"),
           pytest.param((CompiledOrderBook, CompiledEventSink), id="compiled",
                        marks=needs_compiled)]


def expected_rows(tuples, order_type, sym):
    """What the log must hold for one request: its events but LEVEL, ACCEPTED rows tagged."""
    return [((*r, order_type if r[8] == EventKind.ACCEPTED else -1), sym)
            for r in tuples if r[8] != EventKind.LEVEL]


def random_requests(book_cls, sink, n=2000, seed=0, books=2):
    """Drive ``books`` books attached to ``sink`` (as symbols 0, 1, ...) with a random stream of
    submits (every order type) and cancels; returns the expected rows and the number of LEVEL
    events the books emitted (which the log leaves out)."""
    rng = np.random.default_rng(seed)
    bs = [book_cls() for _ in range(books)]
    for i, b in enumerate(bs):
        b.attach_log(sink, i)
    live, t, want, levels = [], 0, [], 0
    for _ in range(n):
        t += int(rng.integers(0, 3))
        i = int(rng.integers(books))
        b = bs[i]
        if live and rng.random() < 0.35:
            j, oid = live.pop(int(rng.integers(len(live))))
            if bs[j].remaining(oid) == 0:
                continue
            rows, _ = bs[j].cancel_events(oid, t)
            want += expected_rows(rows, -1, j)
            levels += sum(r[8] == EventKind.LEVEL for r in rows)
        else:
            side, price = int(rng.integers(2)), 1000 + int(rng.integers(-20, 21))
            qty, otype = int(rng.integers(1, 30)), int(rng.choice([0, 0, 0, 1, 2, 3, 4]))
            if otype == 1:
                price = 0
            oid, rows, _, _ = b.submit_events(side, price, qty, int(rng.integers(1, 9)), t, otype,
                                              0, 0)
            want += expected_rows(rows, otype, i)
            levels += sum(r[8] == EventKind.LEVEL for r in rows)
            live.append((i, oid))
    return want, levels


def as_list(rows, syms):
    return [(tuple(int(x) for x in r), int(s)) for r, s in zip(rows.tolist(), syms, strict=True)]


@pytest.mark.parametrize("engine", ENGINES)
def test_sink_holds_the_tuples_rows(engine):
    book_cls, sink_cls = engine
    sink = sink_cls(10**9)
    want, levels = random_requests(book_cls, sink)
    rows, syms = sink.take()
    assert rows.dtype == LOG_DTYPE and syms.dtype == np.int32
    assert as_list(rows, syms) == want
    assert sink.total == len(want) and len(sink) == 0
    kinds = set(rows["kind"].tolist())
    assert {EventKind.ACCEPTED, EventKind.FILL, EventKind.CANCELLED, EventKind.EXPIRED} <= kinds
    assert EventKind.LEVEL not in kinds and levels > 0  # the books did emit them
    assert set(syms.tolist()) == {0, 1}
    assert set(rows["order_type"][rows["kind"] == EventKind.ACCEPTED].tolist()) > {0}
    assert set(rows["order_type"][rows["kind"] != EventKind.ACCEPTED].tolist()) == {-1}
    assert sink.take()[0].shape == (0,)  # taken: empty


@needs_compiled
def test_compiled_and_python_sinks_agree_on_the_bytes():
    c, p = CompiledEventSink(10**9), PyEventSink(10**9)
    random_requests(CompiledOrderBook, c, seed=5)
    random_requests(PyOrderBook, p, seed=5)
    (rc, sc), (rp, sp) = c.take(), p.take()
    assert rc.tobytes() == rp.tobytes() and np.array_equal(sc, sp)
    assert c.total == p.total > 0


def test_layout_is_packed_as_the_c_writer_assumes():
    """``EventSink`` writes fixed byte offsets; they must be LOG_DTYPE's."""
    offsets = [LOG_DTYPE.fields[n][1] for n in LOG_DTYPE.names]
    assert offsets == [0, 8, 16, 20, 28, 32, 40, 48, 56, 57, 58, 59]
    assert LOG_DTYPE.itemsize == 60
    if CompiledOrderBook is not None:
        from abmm.engine._cbook import LOG_ROW_BYTES

        assert LOG_ROW_BYTES == LOG_DTYPE.itemsize


@pytest.mark.parametrize("engine", ENGINES)
def test_parts_end_on_whole_requests(engine):
    """``on_full`` fires once ``chunk_rows`` rows are buffered, after the whole request: a
    market order's fills never straddle two parts."""
    book_cls, sink_cls = engine
    parts = []
    sink = sink_cls(5, lambda: parts.append(sink.take()[0]))
    book = book_cls()
    book.attach_log(sink)
    for i in range(4):
        book.submit_events(1, 1000 + i, 1, 1, i, 0, 0, 0)  # 4 ACCEPTED: below 5
    assert parts == [] and len(sink) == 4
    book.submit_events(0, 0, 4, 2, 9, 1, 0, 0)  # a market buy: ACCEPTED + 4 fills
    assert len(parts) == 1 and len(parts[0]) == 9 and len(sink) == 0
    assert parts[0]["kind"].tolist()[-5:] == [0, 1, 1, 1, 1]


@pytest.mark.parametrize("engine", ENGINES)
def test_count_only_detach_and_type_checks(engine):
    book_cls, sink_cls = engine
    counting = sink_cls(0, None, False)
    book = book_cls()
    book.attach_log(counting)
    book.submit_events(1, 1000, 3, 1, 0, 0, 0, 0)
    book.submit_events(0, 0, 1, 2, 1, 1, 0, 0)
    assert counting.total == 3 and len(counting) == 0  # counted, not kept
    book.attach_log(None)
    book.submit_events(0, 0, 1, 2, 2, 1, 0, 0)
    assert counting.total == 3  # detached: negative control for the counting above
    with pytest.raises(TypeError):
        book.attach_log(object())


@pytest.mark.parametrize("engine", ENGINES)
def test_a_pickled_book_leaves_its_log_behind(engine):
    book_cls, sink_cls = engine
    sink = sink_cls(10**9)
    book = book_cls()
    book.attach_log(sink)
    book.submit_events(1, 1000, 3, 1, 0, 0, 0, 0)
    copy = pickle.loads(pickle.dumps(book))
    copy.submit_events(1, 1001, 3, 1, 1, 0, 0, 0)
    assert sink.total == 1
    book.submit_events(1, 1002, 3, 1, 2, 0, 0, 0)
    assert sink.total == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_add_tuples_is_one_request(engine):
    _, sink_cls = engine
    parts = []
    sink = sink_cls(2, lambda: parts.append(sink.take()[0]))
    row = (5, 1, 7, 0, 0, 100, 2, 2, 0, 1, 0)
    level = (5, 0, 0, 0, 0, 100, 2, 1, 7, 1, 0)
    sink.add_tuples([row, level, row, row], 4, 3)
    assert len(parts) == 1 and len(parts[0]) == 3  # LEVEL dropped, one part for the request
    assert parts[0]["order_type"].tolist() == [4, 4, 4]

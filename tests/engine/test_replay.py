"""Replay the standard benchmark stream (shared/bench/gen_stream.py, the 20k-message CI stream):
each engine, through both the per-call and the batch API, must reproduce the outcome in the
stream's sidecar (fills, traded volume, live orders, levels, best prices, order checksum, L2
digest), and a stress replay checks every invariant after every message."""

from __future__ import annotations

import subprocess
import sys

import pytest

from abmm.engine.streams import bench_to_messages, load_bench_stream, outcome, random_messages


@pytest.fixture(scope="module")
def ci_stream(tmp_path_factory, bench_dir):
    GEN = bench_dir / "gen_stream.py"
    if not GEN.exists():
        pytest.skip(f"standard stream generator not found at {GEN} (set ABMM_BENCH_DIR)")
    out = tmp_path_factory.mktemp("bench") / "ci.npz"
    subprocess.run([sys.executable, str(GEN), "--n", "20000", "--seed", "1", "--max-live", "1000",
                    "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return load_bench_stream(out)


def test_stream_is_the_standard_one(ci_stream):
    (typ, *_), expected = ci_stream
    assert len(typ) == 20_000
    assert expected["fills"] > 1000 and expected["live_orders"] > 100


def test_batch_replay_matches_sidecar(Book, ci_stream):
    cols, expected = ci_stream
    book = Book()
    events = book.process(bench_to_messages(*cols))
    assert outcome(book) == expected
    assert int(events["qty"][events["kind"] == 1].sum()) == expected["volume"]
    book._check()


def test_per_call_replay_matches_sidecar(Book, ci_stream):
    (typ, side, price, qty, oid), expected = ci_stream
    book = Book()
    for t, s, p, q, o in zip(typ.tolist(), side.tolist(), price.tolist(), qty.tolist(),
                             oid.tolist(), strict=True):
        if t == 1:
            book.cancel(o)
        elif t == 2:
            assert book.market(s, q) == o  # ids are assigned 1, 2, 3, ... as in the stream
        else:
            assert book.limit(s, p, q) == o
    assert outcome(book) == expected
    book._check()


def test_invariants_after_every_message(Book):
    """Stress: a random stream of every order type; ``_check()`` after each message."""
    msgs = random_messages(3_000, seed=7)
    book = Book()
    for i in range(len(msgs)):
        book.process(msgs[i:i + 1])
        book._check()
    assert book.n_fills > 100 and len(book) > 0


def test_check_detects_corruption():
    """``_check`` is not vacuous: a corrupted reference book fails it."""
    from abmm.engine import PyOrderBook

    book = PyOrderBook()
    book.limit(0, 100, 5)
    book.limit(1, 101, 5)
    book._check()
    book._bids[100].qty += 1
    with pytest.raises(AssertionError, match="level 100 total"):
        book._check()

"""Deep and wide books against the reference: tens of thousands of live orders (the compiled
batch loop prefetches cancel targets only in a book that deep), thousands of price levels on
each side (level lookup, insertion and removal away from the touch), sweeps across many levels,
and cancels / modifies naming live, finished, unknown and nonsensical ids."""

from __future__ import annotations

import numpy as np
import pytest

from abmm.engine import CompiledOrderBook, PyOrderBook
from abmm.engine.types import MSG_DTYPE, Action, OrderType

pytestmark = pytest.mark.skipif(CompiledOrderBook is None, reason="compiled engine not built")


def deep_stream(n_build: int, n_mix: int, seed: int, spread: int = 3_000) -> np.ndarray:
    """``n_build`` resting orders spread over ``spread`` ticks a side (icebergs among them),
    then ``n_mix`` messages: cancels (a fifth partial) and modifies of random ids -- live,
    finished, not yet issued, 0, negative, huge -- and aggressive orders of every type, some
    big enough to sweep hundreds of levels."""
    rng = np.random.default_rng(seed)
    mid = 1_000_000
    build = np.zeros(n_build, MSG_DTYPE)
    side = rng.integers(0, 2, n_build)
    off = rng.integers(1, spread + 1, n_build)
    build["side"] = side
    build["price"] = np.where(side == 0, mid - off, mid + off)
    build["qty"] = rng.integers(1, 50, n_build)
    build["owner"] = rng.integers(0, 50, n_build)
    build["display"] = np.where(rng.random(n_build) < 0.05, rng.integers(1, 10, n_build), 0)

    mix = np.zeros(n_mix, MSG_DTYPE)
    u = rng.random(n_mix)
    kind = np.searchsorted([0.45, 0.55, 0.75, 0.85, 0.92, 0.96], u, side="right")
    # 0 cancel, 1 modify, 2 passive limit, 3 crossing limit, 4 market, 5 IOC, 6 FOK
    n_ids = n_build + n_mix
    target = rng.integers(1, n_ids, n_mix)
    weird = rng.random(n_mix) < 0.05
    target = np.where(weird, rng.choice([0, -1, -(2**63), 2**63 - 1, n_ids + 5], n_mix), target)
    s = rng.integers(0, 2, n_mix)
    mix["side"] = s
    mix["owner"] = rng.integers(0, 50, n_mix)
    mix["stp"] = np.where(rng.random(n_mix) < 0.3, rng.integers(1, 4, n_mix), 0)
    mix["oid"] = np.where(kind <= 1, target, 0)
    mix["action"] = np.select([kind == 0, kind == 1], [Action.CANCEL, Action.MODIFY],
                              Action.SUBMIT)
    mix["order_type"] = np.select([kind == 4, kind == 5, kind == 6],
                                  [OrderType.MARKET, OrderType.IOC, OrderType.FOK],
                                  OrderType.LIMIT)
    moff = rng.integers(1, spread + 1, n_mix)
    through = rng.geometric(0.05, n_mix)  # ticks through the touch: sweeps many levels
    passive = np.where(s == 0, mid - moff, mid + moff)
    aggressive = np.where(s == 0, mid + through, mid - through)
    price = np.select([kind == 1, kind == 2, kind == 4], [passive, passive, 0], aggressive)
    mix["price"] = np.where(kind == 0, 0, price)
    qty = np.where(rng.random(n_mix) < 0.1, rng.integers(100, 5_000, n_mix),
                   rng.integers(1, 50, n_mix))
    partial = rng.random(n_mix) < 0.2
    mix["qty"] = np.where(kind == 0, np.where(partial, rng.integers(1, 30, n_mix), 0), qty)
    msgs = np.zeros(n_build + n_mix, MSG_DTYPE)
    msgs[:n_build], msgs[n_build:] = build, mix
    msgs["ts"] = np.arange(len(msgs)) * 10
    return msgs


@pytest.mark.parametrize("level_events", [True, False])
def test_deep_book_batches_match_reference(level_events):
    msgs = deep_stream(24_000, 16_000, seed=3)
    c = CompiledOrderBook(level_events=level_events)
    p = PyOrderBook(level_events=level_events)
    for i in range(0, len(msgs), 5_000):  # several batches: prefetch state spans calls
        ec, ep = c.process(msgs[i:i + 5_000]), p.process(msgs[i:i + 5_000])
        assert ec.tolist() == ep.tolist(), f"batch at {i}"
    assert len(c) > 16_384 or c.stats()["fills"] > 0
    assert c.live_orders().tolist() == p.live_orders().tolist()
    assert c.stats() == p.stats()
    for side in (0, 1):
        assert [a.tolist() for a in c.depth(side)] == [a.tolist() for a in p.depth(side)]
    assert [c.status(i) for i in range(1, c.next_id)] == [p.status(i) for i in range(1, p.next_id)]
    c._check()


def test_deep_book_is_deep():
    """The stream above does reach the depth at which the batch loop prefetches."""
    c = CompiledOrderBook()
    msgs = deep_stream(24_000, 16_000, seed=3)
    c.process(msgs[:24_000])
    assert len(c) == 24_000 and len(c.depth(0)[0]) > 2_000 and len(c.depth(1)[0]) > 2_000
    c.process(msgs[24_000:])
    assert len(c) > 16_384
    c._check()


def test_one_call_equals_chunks_and_per_call_api():
    msgs = deep_stream(20_000, 10_000, seed=4)
    one = CompiledOrderBook()
    ev = one.process(msgs)
    chunked = CompiledOrderBook()
    parts = [chunked.process(msgs[i:i + 1_000]) for i in range(0, len(msgs), 1_000)]
    assert np.concatenate(parts).tolist() == ev.tolist()
    assert one.live_orders().tolist() == chunked.live_orders().tolist()
    one._check()


def test_book_made_without_init():
    """``__new__`` without ``__init__``: the defaults, not garbage (tick 0 would divide by 0)."""
    b = CompiledOrderBook.__new__(CompiledOrderBook)
    assert b.tick == 1 and b.level_events
    assert b.limit(0, 100, 5) == 1 and b.market(1, 2) == 2 and b.remaining(1) == 3
    msgs = np.zeros(2, MSG_DTYPE)
    msgs["side"], msgs["price"], msgs["qty"] = 1, 101, 4
    assert len(b.process(msgs)) == 4
    b._check()


def test_init_again_keeps_the_book_sound():
    b = CompiledOrderBook()
    b.limit(0, 100, 5)
    b.__init__()
    assert b.cancel(1) == 5
    b._check()


def test_batch_blocks_are_reused_only_when_free():
    """A batch writes into a pool block that no earlier result still views: the loop that
    keeps only the previous result alternates between two warm blocks, and nothing a caller
    holds is overwritten."""
    def chunk(first_id):  # 50 passive orders, then cancels of them: 2 events a message
        m = np.zeros(100, MSG_DTYPE)
        m["side"][:50], m["price"][:50], m["qty"][:50] = 0, np.arange(100, 150), 5
        m["action"][50:], m["oid"][50:] = Action.CANCEL, np.arange(first_id, first_id + 50)
        return m
    b = CompiledOrderBook()
    addr, prev = [], None
    for _ in range(6):
        ev = b.process(chunk(b.next_id))
        addr.append(ev.__array_interface__["data"][0])
        if prev is not None:
            assert addr[-1] != prev.__array_interface__["data"][0]
        prev = ev
    assert len(set(addr)) == 2
    held = [b.process(chunk(b.next_id)) for _ in range(6)]
    copies = [h.copy() for h in held]
    assert len({h.__array_interface__["data"][0] for h in held}) == len(held)
    b.process(chunk(b.next_id))
    assert all(h.tolist() == c.tolist() for h, c in zip(held, copies, strict=True))
    b._check()


@pytest.mark.parametrize("tick", [5, 7])
def test_tick_batches_match_reference(tick):
    """A book with tick > 1 (the batch fast check then tests divisibility; the level cache
    hashes multiples of the tick): identical events, and the same error for an off-tick
    price at the same index."""
    from abmm.engine.streams import random_messages

    msgs = random_messages(20_000, seed=tick)
    msgs["price"] *= tick
    c, p = CompiledOrderBook(tick=tick), PyOrderBook(tick=tick)
    for i in range(0, len(msgs), 3_000):
        assert c.process(msgs[i:i + 3_000]).tolist() == p.process(msgs[i:i + 3_000]).tolist()
    assert c.live_orders().tolist() == p.live_orders().tolist()
    c._check()
    bad = msgs[:100].copy()
    k = int(np.flatnonzero((bad["action"] == Action.SUBMIT) & (bad["price"] > 0))[-1])
    bad["price"][k] += 1
    bad["ts"] += c.clock
    errors = []
    for book in (c, p):
        with pytest.raises(Exception) as info:  # noqa: B017 - compared below
            book.process(bad)
        errors.append((type(info.value), str(info.value), info.value.index))
    assert errors[0] == errors[1] and errors[0][2] == k

"""Rule-by-rule tests of the matching engine against docs/matching.md.

Every test runs against both engines (the ``book`` / ``Book`` fixtures of conftest.py) and asserts
exact outcomes: fills, statuses, remaining quantities, queues, depth and events.
"""

from __future__ import annotations

import numpy as np
import pytest

from abmm.engine import Exchange, SymbolSpec
from abmm.engine.types import MAX_OWNER, MAX_PRICE, MAX_QTY, make_messages
from abmm.engine.types import EventKind as K
from abmm.engine.types import OrderStatus as S
from abmm.engine.types import OrderType as T
from abmm.engine.types import Reason as R
from abmm.engine.types import SelfTrade as STP
from abmm.errors import (
    InvalidPriceError,
    InvalidQuantityError,
    InvalidSideError,
    InvalidTimestampError,
    InvalidTypeError,
    InvalidValueError,
    OffTickError,
    OrderNotLiveError,
    UnknownOrderError,
    UnknownSymbolError,
    ValueOverflowError,
)

BUY, SELL = 0, 1


# ----------------------------------------------------------------------------- helpers
def events(book, *fields, kinds=None):
    """``last_events()`` as tuples of ``fields`` (default kind, order_id, qty), optionally only
    the events whose kind is in ``kinds``."""
    fields = fields or ("kind", "order_id", "qty")
    return [tuple(int(e[f]) for f in fields) for e in book.last_events()
            if kinds is None or e["kind"] in kinds]


def flow(book):
    """The order-level story of the last call: (kind, order_id, qty), LEVEL events left out."""
    return events(book, kinds=(K.ACCEPTED, K.FILL, K.CANCELLED, K.EXPIRED, K.REJECTED,
                               K.MODIFIED, K.REFILL))


def fills(book):
    """Fills of the last call: (maker id, maker owner, taker id, taker owner, price, qty,
    maker remaining)."""
    return events(book, "order_id", "owner", "other_id", "other_owner", "price", "qty",
                  "remaining", kinds=(K.FILL,))


def reasons(book, kind):
    """(order_id, reason) of the last call's events of ``kind``."""
    return events(book, "order_id", "reason", kinds=(kind,))


def levels(book):
    """LEVEL events of the last call: (side, price, displayed qty, order count)."""
    return events(book, "side", "price", "qty", "remaining", kinds=(K.LEVEL,))


def depth(book, side, n=None):
    """``book.depth`` as a list of (price, displayed qty, order count), best first."""
    prices, qtys, counts = book.depth(side, n)
    return list(zip(prices.tolist(), qtys.tolist(), counts.tolist(), strict=True))


def queue(book, side, price):
    """Live orders at one level in queue order: (order_id, displayed, hidden)."""
    live = book.live_orders()
    live = live[(live["side"] == side) & (live["price"] == price)]
    return live[["order_id", "qty", "hidden"]].tolist()


def snapshot(book):
    """Everything a failed or refused request must leave unchanged."""
    return {"orders": book.live_orders().tolist(), "next_id": book.next_id, "clock": book.clock,
            "stats": book.stats(), "depth": (depth(book, BUY), depth(book, SELL))}


def asks(book, *levels_):
    """Rest plain sells: each argument is (price, qty) or (price, qty, owner); returns ids."""
    return [book.limit(SELL, *lv) for lv in levels_]


def bids(book, *levels_):
    """Rest plain buys: each argument is (price, qty) or (price, qty, owner); returns ids."""
    return [book.limit(BUY, *lv) for lv in levels_]


# ----------------------------------------------------------------------------- limit (GTC)
def test_limit_rests_on_empty_book(book):
    oid = book.limit(BUY, 100, 5, owner=3)
    assert oid == 1
    assert book.status(oid) == S.RESTING
    assert book.remaining(oid) == 5
    assert book.queue_position(oid) == 0
    assert (book.best_bid(), book.best_ask()) == (100, None)
    assert depth(book, BUY) == [(100, 5, 1)]
    assert events(book, "kind", "order_id", "owner", "side", "price", "qty", "remaining") == [
        (K.ACCEPTED, 1, 3, BUY, 100, 5, 5),
        (K.LEVEL, 0, 0, BUY, 100, 5, 1),
    ]
    book._check()


def test_fifo_within_a_level(book):
    a, b, c = asks(book, (101, 5, 1), (101, 5, 2), (101, 5, 3))
    assert [book.queue_position(i) for i in (a, b, c)] == [0, 5, 10]
    taker = book.limit(BUY, 101, 7, owner=9)
    assert fills(book) == [(a, 1, taker, 9, 101, 5, 0), (b, 2, taker, 9, 101, 2, 3)]
    assert book.status(taker) == S.FILLED
    assert [book.status(i) for i in (a, b, c)] == [S.FILLED, S.RESTING, S.RESTING]
    assert [book.queue_position(i) for i in (b, c)] == [0, 3]
    assert depth(book, SELL) == [(101, 8, 2)]
    book._check()


def test_better_price_matches_first(book):
    worse, better = asks(book, (102, 5), (101, 5))
    taker = book.limit(BUY, 102, 3)
    assert fills(book) == [(better, 0, taker, 0, 101, 3, 2)]
    assert book.remaining(worse) == 5
    worse_bid, better_bid = bids(book, (98, 5), (99, 5))
    taker = book.limit(SELL, 98, 3)
    assert fills(book) == [(better_bid, 0, taker, 0, 99, 3, 2)]
    assert book.remaining(worse_bid) == 5
    book._check()


@pytest.mark.parametrize(("rest_side", "rest_price", "take_price"), [(SELL, 101, 105),
                                                                      (BUY, 100, 95)])
def test_trade_prints_at_resting_price(book, rest_side, rest_price, take_price):
    maker = book.limit(rest_side, rest_price, 5)
    taker = book.limit(1 - rest_side, take_price, 5)
    assert fills(book) == [(maker, 0, taker, 0, rest_price, 5, 0)]
    assert events(book, "side", kinds=(K.FILL,)) == [(1 - rest_side,)]  # FILL side = taker's
    book._check()


def test_partial_fill_of_the_resting_order(book):
    (maker,) = asks(book, (101, 10))
    taker = book.limit(BUY, 101, 4)
    assert fills(book) == [(maker, 0, taker, 0, 101, 4, 6)]
    assert (book.status(maker), book.remaining(maker)) == (S.RESTING, 6)
    assert (book.status(taker), book.remaining(taker)) == (S.FILLED, 0)
    assert depth(book, SELL) == [(101, 6, 1)]
    assert book.best_bid() is None
    book._check()


def test_sweep_across_levels_spec_example(book):
    o1, o2 = asks(book, (101, 5), (102, 5))
    o3 = book.limit(BUY, 102, 8)
    assert o3 == 3
    assert book.last_events()[["kind", "order_id", "other_id", "side", "price", "qty",
                               "remaining"]].tolist() == [
        (K.ACCEPTED, o3, 0, BUY, 102, 8, 8),
        (K.FILL, o1, o3, BUY, 101, 5, 0),
        (K.LEVEL, 0, 0, SELL, 101, 0, 0),
        (K.FILL, o2, o3, BUY, 102, 3, 2),
        (K.LEVEL, 0, 0, SELL, 102, 2, 1),
    ]
    assert book.status(o3) == S.FILLED
    assert (book.status(o2), book.remaining(o2)) == (S.RESTING, 2)
    assert depth(book, SELL) == [(102, 2, 1)]
    assert book.best_bid() is None
    book._check()


def test_sweep_remainder_rests_at_limit(book):
    o1, o2 = asks(book, (101, 5), (102, 5))
    o3 = book.limit(BUY, 102, 12)
    assert [f[:2] + f[4:6] for f in fills(book)] == [(o1, 0, 101, 5), (o2, 0, 102, 5)]
    assert (book.status(o3), book.remaining(o3)) == (S.RESTING, 2)
    assert (book.best_bid(), book.best_ask()) == (102, None)
    assert depth(book, BUY) == [(102, 2, 1)]
    assert levels(book)[-1] == (BUY, 102, 2, 1)
    book._check()


def test_new_order_rests_behind_existing_orders(book):
    first, second = bids(book, (100, 5), (100, 2))
    (ask,) = asks(book, (101, 2))
    late = book.limit(BUY, 100, 6)
    assert fills(book) == []
    assert queue(book, BUY, 100) == [(first, 5, 0), (second, 2, 0), (late, 6, 0)]
    assert book.queue_position(late) == 7
    assert levels(book) == [(BUY, 100, 13, 3)]
    assert book.remaining(ask) == 2
    book._check()


# ----------------------------------------------------------------------------- market
def test_market_fills_across_levels_then_expires_spec_example(book):
    o1, o2 = asks(book, (101, 5), (103, 5))
    oid = book.market(BUY, 12, owner=4)
    assert fills(book) == [(o1, 0, oid, 4, 101, 5, 0), (o2, 0, oid, 4, 103, 5, 0)]
    assert flow(book) == [(K.ACCEPTED, oid, 12), (K.FILL, o1, 5), (K.FILL, o2, 5),
                          (K.EXPIRED, oid, 2)]
    assert reasons(book, K.EXPIRED) == [(oid, R.NO_LIQUIDITY)]
    assert events(book, "price", kinds=(K.ACCEPTED,)) == [(0,)]
    assert (book.status(oid), book.remaining(oid)) == (S.EXPIRED, 0)
    assert (book.best_bid(), book.best_ask()) == (None, None)
    book._check()


def test_market_sell_hits_best_bids_first(book):
    low, high = bids(book, (99, 5), (100, 5))
    oid = book.market(SELL, 7)
    assert [f[:1] + f[4:6] for f in fills(book)] == [(high, 100, 5), (low, 99, 2)]
    assert book.status(oid) == S.FILLED
    assert depth(book, BUY) == [(99, 3, 1)]
    book._check()


def test_market_on_empty_side_expires_whole(book):
    bids(book, (100, 5))
    oid = book.market(BUY, 3)
    assert oid == 2
    assert flow(book) == [(K.ACCEPTED, oid, 3), (K.EXPIRED, oid, 3)]
    assert reasons(book, K.EXPIRED) == [(oid, R.NO_LIQUIDITY)]
    assert book.status(oid) == S.EXPIRED
    assert depth(book, BUY) == [(100, 5, 1)]
    book._check()


def test_market_never_rests(book):
    book.market(SELL, 5)
    assert len(book.live_orders()) == 0
    assert (book.best_bid(), book.best_ask()) == (None, None)
    book._check()


def test_market_price_zero_or_none(book):
    (ask,) = asks(book, (101, 10))
    a = book.submit(BUY, 0, 2, order_type=T.MARKET)
    b = book.submit(BUY, None, 3, order_type=T.MARKET)
    assert (book.status(a), book.status(b)) == (S.FILLED, S.FILLED)
    assert book.remaining(ask) == 5
    before = snapshot(book)
    with pytest.raises(InvalidPriceError) as info:
        book.submit(BUY, 101, 1, order_type=T.MARKET)
    assert (info.value.field, info.value.value) == ("price", 101)
    assert snapshot(book) == before
    book._check()


# ----------------------------------------------------------------------------- IOC
def test_ioc_fills_within_limit_and_expires_rest_spec_example(book):
    o1, o2 = asks(book, (101, 5), (102, 5))
    oid = book.submit(BUY, 101, 8, order_type=T.IOC)
    assert fills(book) == [(o1, 0, oid, 0, 101, 5, 0)]
    assert flow(book) == [(K.ACCEPTED, oid, 8), (K.FILL, o1, 5), (K.EXPIRED, oid, 3)]
    assert reasons(book, K.EXPIRED) == [(oid, R.NO_LIQUIDITY)]
    assert (book.status(oid), book.remaining(oid)) == (S.EXPIRED, 0)
    assert book.best_bid() is None  # never rests
    assert depth(book, SELL) == [(102, 5, 1)]
    book._check()


def test_ioc_fully_filled(book):
    (o1,) = asks(book, (101, 5))
    oid = book.submit(BUY, 102, 5, order_type=T.IOC)
    assert flow(book) == [(K.ACCEPTED, oid, 5), (K.FILL, o1, 5)]
    assert book.status(oid) == S.FILLED
    book._check()


def test_ioc_not_crossing_expires_and_does_not_rest(book):
    asks(book, (101, 5))
    oid = book.submit(BUY, 100, 5, order_type=T.IOC)
    assert flow(book) == [(K.ACCEPTED, oid, 5), (K.EXPIRED, oid, 5)]
    assert book.status(oid) == S.EXPIRED
    assert book.best_bid() is None
    book._check()


# ----------------------------------------------------------------------------- FOK
def fok(book, side, price, qty, owner=0, stp=STP.NONE):
    return book.submit(side, price, qty, owner, order_type=T.FOK, stp=stp)


def assert_killed(book, oid, qty, before):
    """The FOK ``oid`` expired whole (FOK_UNFILLED) and the book is exactly ``before``."""
    assert flow(book) == [(K.ACCEPTED, oid, qty), (K.EXPIRED, oid, qty)]
    assert reasons(book, K.EXPIRED) == [(oid, R.FOK_UNFILLED)]
    assert (book.status(oid), book.remaining(oid)) == (S.EXPIRED, 0)
    assert levels(book) == []
    assert book.live_orders().tolist() == before


def test_fok_killed_when_short_spec_example(book):
    asks(book, (101, 5), (102, 5))
    before = book.live_orders().tolist()
    oid = fok(book, BUY, 102, 12)
    assert_killed(book, oid, 12, before)
    book._check()


def test_fok_killed_by_its_limit(book):
    asks(book, (101, 5), (103, 5))
    before = book.live_orders().tolist()
    oid = fok(book, BUY, 102, 6)
    assert_killed(book, oid, 6, before)
    book._check()


def test_fok_fills_completely_spec_example(book):
    o1, o2 = asks(book, (101, 5), (102, 5))
    oid = fok(book, BUY, 102, 10)
    assert fills(book) == [(o1, 0, oid, 0, 101, 5, 0), (o2, 0, oid, 0, 102, 5, 0)]
    assert book.status(oid) == S.FILLED
    assert book.best_ask() is None
    book._check()


def test_fok_sell_side(book):
    b1, b2 = bids(book, (100, 5), (99, 5))
    before = book.live_orders().tolist()
    assert_killed(book, fok(book, SELL, 100, 6), 6, before)
    oid = fok(book, SELL, 99, 6)
    assert [f[:1] + f[4:6] for f in fills(book)] == [(b1, 100, 5), (b2, 99, 1)]
    assert book.status(oid) == S.FILLED
    book._check()


def test_fok_counts_iceberg_reserve(book):
    ice = book.limit(SELL, 101, 10, display=2)
    oid = fok(book, BUY, 101, 10)
    assert [f[5] for f in fills(book)] == [2, 2, 2, 2, 2]
    assert events(book, "order_id", "qty", "remaining", kinds=(K.REFILL,)) == [
        (ice, 2, 8), (ice, 2, 6), (ice, 2, 4), (ice, 2, 2)]
    assert (book.status(oid), book.status(ice)) == (S.FILLED, S.FILLED)
    book._check()


def test_fok_iceberg_reserve_plus_one_is_killed(book):
    book.limit(SELL, 101, 10, display=2)
    before = book.live_orders().tolist()
    assert_killed(book, fok(book, BUY, 101, 11), 11, before)
    book._check()


def own_behind_other(book):
    """Owner 8 sells 3 @ 101, owner 7 (the FOK's owner) 5 @ 101, owner 8 5 @ 101."""
    return asks(book, (101, 3, 8), (101, 5, 7), (101, 5, 8))


@pytest.mark.parametrize("stp", [STP.CANCEL_INCOMING, STP.CANCEL_BOTH])
def test_fok_stop_at_own_order_counts_only_quantity_ahead(book, stp):
    other, own, behind = own_behind_other(book)
    before = book.live_orders().tolist()
    assert_killed(book, fok(book, BUY, 101, 4, owner=7, stp=stp), 4, before)
    oid = fok(book, BUY, 101, 3, owner=7, stp=stp)
    assert fills(book) == [(other, 8, oid, 7, 101, 3, 0)]
    assert book.status(oid) == S.FILLED
    assert (book.status(own), book.status(behind)) == (S.RESTING, S.RESTING)
    book._check()


def test_fok_stop_at_own_order_on_a_deeper_level(book):
    """Levels before the own order's level count whole; at that level, only lots ahead."""
    (a,) = asks(book, (100, 2, 8))
    asks(book, (101, 3, 8), (101, 5, 7), (101, 5, 8))
    before = book.live_orders().tolist()
    assert_killed(book, fok(book, BUY, 101, 6, owner=7, stp=STP.CANCEL_INCOMING), 6, before)
    oid = fok(book, BUY, 101, 5, owner=7, stp=STP.CANCEL_INCOMING)
    assert [f[0] for f in fills(book)] == [a, a + 1]
    assert book.status(oid) == S.FILLED
    book._check()


def test_fok_cancel_resting_skips_own_quantity(book):
    other, own, behind = own_behind_other(book)
    before = book.live_orders().tolist()
    # 8 lots of others' orders are reachable; own 5 are not
    assert_killed(book, fok(book, BUY, 101, 9, owner=7, stp=STP.CANCEL_RESTING), 9, before)
    assert book.status(own) == S.RESTING  # a killed FOK cancels nothing
    oid = fok(book, BUY, 101, 8, owner=7, stp=STP.CANCEL_RESTING)
    assert flow(book) == [(K.ACCEPTED, oid, 8), (K.FILL, other, 3), (K.CANCELLED, own, 5),
                          (K.FILL, behind, 5)]
    assert reasons(book, K.CANCELLED) == [(own, R.SELF_TRADE)]
    assert book.status(oid) == S.FILLED
    book._check()


def test_fok_without_stp_counts_own_orders(book):
    other, own, behind = own_behind_other(book)
    oid = fok(book, BUY, 101, 13, owner=7)
    assert [f[:2] + f[2:4] for f in fills(book)] == [(other, 8, oid, 7), (own, 7, oid, 7),
                                                      (behind, 8, oid, 7)]
    assert book.status(oid) == S.FILLED
    book._check()


# ----------------------------------------------------------------------------- post-only
def post_only(book, side, price, qty, **kw):
    return book.submit(side, price, qty, order_type=T.POST_ONLY, **kw)


@pytest.mark.parametrize(("side", "price"), [(BUY, 101), (BUY, 102), (SELL, 100), (SELL, 99)])
def test_post_only_rejected_when_crossing(book, side, price):
    bids(book, (100, 5))
    asks(book, (101, 5))
    before = snapshot(book)
    oid = post_only(book, side, price, 5)
    assert flow(book) == [(K.ACCEPTED, oid, 5), (K.REJECTED, oid, 5)]
    assert reasons(book, K.REJECTED) == [(oid, R.POST_ONLY_CROSS)]
    assert (book.status(oid), book.remaining(oid)) == (S.REJECTED, 0)
    after = snapshot(book)
    assert (after["orders"], after["depth"]) == (before["orders"], before["depth"])
    assert after["next_id"] == before["next_id"] + 1  # it did get an id
    book._check()


def test_post_only_rests_when_not_crossing_spec_example(book):
    asks(book, (101, 5))
    oid = post_only(book, BUY, 100, 5)
    assert flow(book) == [(K.ACCEPTED, oid, 5)]
    assert levels(book) == [(BUY, 100, 5, 1)]
    assert book.status(oid) == S.RESTING
    assert book.best_bid() == 100
    book._check()


def test_post_only_modify_to_crossing_price_is_rejected(book):
    (ask,) = asks(book, (101, 5))
    first = book.limit(BUY, 100, 2)
    oid = post_only(book, BUY, 100, 5)
    last = book.limit(BUY, 100, 3)
    before = snapshot(book)
    assert book.modify(oid, 101, 4) == 5
    assert flow(book) == [(K.REJECTED, oid, 4)]
    assert reasons(book, K.REJECTED) == [(oid, R.POST_ONLY_CROSS)]
    assert (book.status(oid), book.remaining(oid), book.queue_position(oid)) == (S.RESTING, 5, 2)
    assert snapshot(book) == before
    assert queue(book, BUY, 100) == [(first, 2, 0), (oid, 5, 0), (last, 3, 0)]
    assert book.remaining(ask) == 5
    book._check()


def test_post_only_modify_not_crossing_moves(book):
    asks(book, (102, 5))
    oid = post_only(book, BUY, 100, 5)
    assert book.modify(oid, 101, 5) == 5
    assert depth(book, BUY) == [(101, 5, 1)]
    assert fills(book) == []
    book._check()


# ----------------------------------------------------------------------------- iceberg
def test_iceberg_shows_only_display(book):
    oid = book.limit(SELL, 101, 10, display=3)
    assert depth(book, SELL) == [(101, 3, 1)]
    assert levels(book) == [(SELL, 101, 3, 1)]
    assert book.remaining(oid) == 10
    fields = ["order_id", "side", "price", "qty", "hidden", "peak"]
    assert book.live_orders()[fields].tolist() == [(oid, SELL, 101, 3, 7, 3)]
    late = book.limit(SELL, 101, 4)
    assert book.queue_position(late) == 3  # displayed lots only
    book._check()


def test_iceberg_refill_goes_to_back_spec_example(book):
    ice = book.limit(SELL, 101, 10, display=3)
    plain = book.limit(SELL, 101, 4)
    assert depth(book, SELL) == [(101, 7, 2)]
    taker = book.market(BUY, 5)
    assert flow(book) == [(K.ACCEPTED, taker, 5), (K.FILL, ice, 3), (K.REFILL, ice, 3),
                          (K.FILL, plain, 2)]
    assert events(book, "order_id", "side", "price", "qty", "remaining", kinds=(K.REFILL,)) == [
        (ice, SELL, 101, 3, 7)]
    assert fills(book) == [(ice, 0, taker, 0, 101, 3, 7), (plain, 0, taker, 0, 101, 2, 2)]
    assert queue(book, SELL, 101) == [(plain, 2, 0), (ice, 3, 4)]
    assert (book.queue_position(plain), book.queue_position(ice)) == (0, 2)
    assert depth(book, SELL) == [(101, 5, 2)]
    book._check()


def test_aggressor_continues_through_refills(book):
    ice = book.limit(SELL, 101, 10, display=3)
    taker = book.limit(BUY, 101, 10)
    assert flow(book) == [
        (K.ACCEPTED, taker, 10),
        (K.FILL, ice, 3), (K.REFILL, ice, 3),
        (K.FILL, ice, 3), (K.REFILL, ice, 3),
        (K.FILL, ice, 3), (K.REFILL, ice, 1),
        (K.FILL, ice, 1),
    ]
    assert [f[6] for f in fills(book)] == [7, 4, 1, 0]
    assert levels(book) == [(SELL, 101, 0, 0)]
    assert (book.status(ice), book.status(taker)) == (S.FILLED, S.FILLED)
    assert book.best_ask() is None
    book._check()


def test_aggressor_alternates_iceberg_and_queue(book):
    ice = book.limit(SELL, 101, 6, display=2)
    plain = book.limit(SELL, 101, 2)
    book.limit(BUY, 101, 7)
    assert [f[0::5] for f in fills(book)] == [(ice, 2), (plain, 2), (ice, 2), (ice, 1)]
    assert queue(book, SELL, 101) == [(ice, 1, 0)]
    book._check()


def test_cancel_reduce_takes_hidden_reserve_first(book):
    ice = book.limit(SELL, 101, 10, display=3)
    behind = book.limit(SELL, 101, 4)
    assert book.cancel(ice, 5) == 5
    assert events(book, "kind", "order_id", "qty", "remaining", "reason") == [
        (K.CANCELLED, ice, 5, 5, R.USER)]  # displayed part unchanged: no LEVEL event
    assert queue(book, SELL, 101) == [(ice, 3, 2), (behind, 4, 0)]
    assert book.cancel(ice, 3) == 3
    assert queue(book, SELL, 101) == [(ice, 2, 0), (behind, 4, 0)]
    assert levels(book) == [(SELL, 101, 6, 2)]
    assert (book.remaining(ice), book.queue_position(behind)) == (2, 2)
    book._check()


def test_modify_size_down_takes_hidden_reserve_first(book):
    ice = book.limit(SELL, 101, 10, display=3)
    behind = book.limit(SELL, 101, 4)
    assert book.modify(ice, 101, 4) == 4
    assert queue(book, SELL, 101) == [(ice, 3, 1), (behind, 4, 0)]
    assert levels(book) == []
    assert book.modify(ice, 101, 2) == 2
    assert queue(book, SELL, 101) == [(ice, 2, 0), (behind, 4, 0)]
    assert levels(book) == [(SELL, 101, 6, 2)]
    book._check()


def test_post_only_iceberg(book):
    oid = post_only(book, BUY, 100, 9, display=4)
    assert depth(book, BUY) == [(100, 4, 1)]
    assert book.remaining(oid) == 9
    book._check()


# ----------------------------------------------------------------------------- cancel
def test_cancel_full(book):
    (oid,) = bids(book, (100, 5))
    assert book.cancel(oid) == 5
    assert events(book, "kind", "order_id", "side", "price", "qty", "remaining", "reason") == [
        (K.CANCELLED, oid, BUY, 100, 5, 0, R.USER),
        (K.LEVEL, 0, BUY, 100, 0, 0, 0),
    ]
    assert (book.status(oid), book.remaining(oid)) == (S.CANCELLED, 0)
    assert book.best_bid() is None
    assert len(book.live_orders()) == 0
    book._check()


def test_cancel_partial_keeps_priority_spec_example(book):
    o1, o2 = bids(book, (100, 5), (100, 5))
    assert book.cancel(o1, 3) == 3
    assert events(book, "kind", "order_id", "qty", "remaining") == [
        (K.CANCELLED, o1, 3, 2), (K.LEVEL, 0, 7, 2)]
    assert (book.status(o1), book.remaining(o1)) == (S.RESTING, 2)
    assert (book.queue_position(o1), book.queue_position(o2)) == (0, 2)
    taker = book.market(SELL, 2)
    assert fills(book) == [(o1, 0, taker, 0, 100, 2, 0)]
    assert (book.status(o1), book.remaining(o2)) == (S.FILLED, 5)
    book._check()


@pytest.mark.parametrize("qty", [5, 6, 1000])
def test_cancel_reduce_by_open_or_more_cancels_fully(book, qty):
    (oid,) = bids(book, (100, 5))
    assert book.cancel(oid, qty) == 5
    assert events(book, "kind", "order_id", "qty", "remaining", kinds=(K.CANCELLED,)) == [
        (K.CANCELLED, oid, 5, 0)]
    assert book.status(oid) == S.CANCELLED
    assert book.best_bid() is None
    book._check()


def test_cancel_unknown_id_raises_and_changes_nothing(book):
    bids(book, (100, 5))
    before = snapshot(book)
    for oid in (0, 2, 99, -1):
        with pytest.raises(UnknownOrderError) as info:
            book.cancel(oid)
        assert info.value.order_id == oid
        assert snapshot(book) == before
    book._check()


@pytest.mark.parametrize("finish", ["cancel", "fill"])
def test_cancel_finished_order_raises_and_changes_nothing(book, finish):
    (oid,) = bids(book, (100, 5))
    if finish == "cancel":
        book.cancel(oid)
    else:
        book.market(SELL, 5)
    before = snapshot(book)
    with pytest.raises(OrderNotLiveError) as info:
        book.cancel(oid, ts=7)
    assert info.value.status == (S.CANCELLED if finish == "cancel" else S.FILLED)
    with pytest.raises(OrderNotLiveError):
        book.modify(oid, 100, 1)
    with pytest.raises(UnknownOrderError):
        book.modify(99, 100, 1)
    assert snapshot(book) == before
    assert book.next_id == (3 if finish == "fill" else 2)
    book._check()


# ----------------------------------------------------------------------------- modify
def test_modify_size_down_keeps_priority_spec_example(book):
    o1, o2 = bids(book, (100, 5), (100, 5))
    assert book.modify(o1, 100, 4) == 4
    assert events(book, "kind", "order_id", "side", "price", "qty") == [
        (K.MODIFIED, o1, BUY, 100, 4), (K.LEVEL, 0, BUY, 100, 9)]
    assert queue(book, BUY, 100) == [(o1, 4, 0), (o2, 5, 0)]
    assert (book.queue_position(o1), book.queue_position(o2)) == (0, 4)
    taker = book.market(SELL, 4)
    assert fills(book) == [(o1, 0, taker, 0, 100, 4, 0)]
    book._check()


def test_modify_size_up_loses_priority_spec_example(book):
    o1, o2 = bids(book, (100, 5), (100, 5))
    assert book.modify(o1, 100, 6) == 6
    assert queue(book, BUY, 100) == [(o2, 5, 0), (o1, 6, 0)]
    assert book.queue_position(o1) == 5
    assert depth(book, BUY) == [(100, 11, 2)]
    book._check()


def test_modify_price_to_new_level_spec_example(book):
    o1, o2 = bids(book, (100, 5), (100, 5))
    assert book.modify(o1, 101, 4) == 4
    assert events(book, "kind", "order_id", "side", "price", "qty") == [
        (K.MODIFIED, o1, BUY, 101, 4), (K.LEVEL, 0, BUY, 100, 5), (K.LEVEL, 0, BUY, 101, 4)]
    assert depth(book, BUY) == [(101, 4, 1), (100, 5, 1)]
    assert (book.queue_position(o1), book.queue_position(o2)) == (0, 0)
    book._check()


def test_modify_price_loses_priority_even_back_and_forth(book):
    o1, o2 = bids(book, (100, 5), (100, 5))
    book.modify(o1, 99, 5)
    book.modify(o1, 100, 5)
    assert queue(book, BUY, 100) == [(o2, 5, 0), (o1, 5, 0)]
    book._check()


def test_modify_to_crossing_price_trades_as_aggressor(book):
    o1, _ = bids(book, (100, 5), (100, 5))
    (ask,) = asks(book, (101, 3, 6))
    assert book.modify(o1, 101, 4) == 1
    assert fills(book) == [(ask, 6, o1, 0, 101, 3, 0)]
    assert flow(book) == [(K.MODIFIED, o1, 4), (K.FILL, ask, 3)]
    assert (book.status(o1), book.remaining(o1)) == (S.RESTING, 1)
    assert depth(book, BUY) == [(101, 1, 1), (100, 5, 1)]
    assert book.best_ask() is None
    book._check()


def test_modify_to_crossing_price_fully_filled_returns_zero(book):
    (o1,) = bids(book, (100, 5))
    (ask,) = asks(book, (101, 9))
    assert book.modify(o1, 102, 4) == 0
    assert fills(book) == [(ask, 0, o1, 0, 101, 4, 5)]  # at the resting price
    assert (book.status(o1), book.remaining(o1)) == (S.FILLED, 0)
    assert book.best_bid() is None
    assert book.next_id == 3  # the id stays: no new order
    book._check()


def test_modify_iceberg_size_up_loses_priority_keeps_display(book):
    ice = book.limit(SELL, 101, 10, display=3)
    plain = book.limit(SELL, 101, 4)
    assert book.modify(ice, 101, 12) == 12
    assert queue(book, SELL, 101) == [(plain, 4, 0), (ice, 3, 9)]
    assert book.queue_position(ice) == 4
    book._check()


def test_modify_crossing_uses_the_orders_stp(book):
    (own_ask,) = asks(book, (101, 3, 7))
    oid = book.limit(BUY, 100, 5, owner=7, stp=STP.CANCEL_INCOMING)
    assert book.modify(oid, 101, 5) == 0
    assert flow(book) == [(K.MODIFIED, oid, 5), (K.CANCELLED, oid, 5)]
    assert reasons(book, K.CANCELLED) == [(oid, R.SELF_TRADE)]
    assert (book.status(oid), book.status(own_ask)) == (S.CANCELLED, S.RESTING)
    assert book.best_bid() is None
    book._check()


# ----------------------------------------------------------------------------- self-trade
@pytest.mark.parametrize(("stp", "story", "status"), [
    (STP.NONE, [(K.FILL, 1, 5), (K.FILL, 2, 1)], S.FILLED),
    (STP.CANCEL_RESTING, [(K.CANCELLED, 1, 5), (K.FILL, 2, 5), (K.EXPIRED, 3, 1)], S.EXPIRED),
    (STP.CANCEL_INCOMING, [(K.CANCELLED, 3, 6)], S.CANCELLED),
    (STP.CANCEL_BOTH, [(K.CANCELLED, 1, 5), (K.CANCELLED, 3, 6)], S.CANCELLED),
])
def test_self_trade_prevention_modes_spec_example(book, stp, story, status):
    own, other = asks(book, (101, 5, 7), (101, 5, 8))
    oid = book.market(BUY, 6, owner=7, stp=stp)
    assert flow(book) == [(K.ACCEPTED, oid, 6)] + story
    assert book.status(oid) == status
    cancelled = [(i, R.SELF_TRADE) for k, i, _ in story if k == K.CANCELLED]
    assert reasons(book, K.CANCELLED) == cancelled
    if stp == STP.NONE:
        assert fills(book)[0] == (own, 7, oid, 7, 101, 5, 0)  # a wash trade
    assert book.status(own) == (S.RESTING if stp == STP.CANCEL_INCOMING else
                                S.FILLED if stp == STP.NONE else S.CANCELLED)
    book._check()


def test_stp_cancel_incoming_limit_does_not_rest(book):
    other, own = asks(book, (101, 2, 8), (101, 5, 7))
    oid = book.limit(BUY, 101, 6, owner=7, stp=STP.CANCEL_INCOMING)
    assert flow(book) == [(K.ACCEPTED, oid, 6), (K.FILL, other, 2), (K.CANCELLED, oid, 4)]
    assert reasons(book, K.CANCELLED) == [(oid, R.SELF_TRADE)]
    assert (book.status(oid), book.remaining(oid)) == (S.CANCELLED, 0)
    assert book.best_bid() is None
    assert queue(book, SELL, 101) == [(own, 5, 0)]
    book._check()


def test_stp_cancel_resting_continues_and_rests_remainder(book):
    own, other = asks(book, (101, 5, 7), (102, 2, 8))
    oid = book.limit(BUY, 102, 4, owner=7, stp=STP.CANCEL_RESTING)
    assert flow(book) == [(K.ACCEPTED, oid, 4), (K.CANCELLED, own, 5), (K.FILL, other, 2)]
    assert (book.status(oid), book.remaining(oid)) == (S.RESTING, 2)
    assert (book.best_bid(), book.best_ask()) == (102, None)
    book._check()


def test_stp_cancel_resting_cancels_whole_iceberg(book):
    ice = book.limit(SELL, 101, 9, owner=7, display=2)
    oid = book.market(BUY, 1, owner=7, stp=STP.CANCEL_RESTING)
    assert events(book, "kind", "order_id", "qty", "remaining", kinds=(K.CANCELLED,)) == [
        (K.CANCELLED, ice, 9, 0)]
    assert book.status(oid) == S.EXPIRED
    book._check()


@pytest.mark.parametrize("stp", list(STP))
def test_stp_ignores_other_owners(book, stp):
    (maker,) = asks(book, (101, 5, 8))
    oid = book.market(BUY, 5, owner=7, stp=stp)
    assert fills(book) == [(maker, 8, oid, 7, 101, 5, 0)]
    book._check()


# ----------------------------------------------------------------------------- ids
def test_ids_are_sequential_for_every_order_kind(book):
    ids = [
        book.market(BUY, 3),  # expires on an empty book
        book.limit(SELL, 101, 5),
        post_only(book, BUY, 101, 1),  # rejected
        fok(book, BUY, 101, 9),  # killed
        book.submit(BUY, 100, 2, order_type=T.IOC),  # expires
        book.limit(BUY, 101, 5),  # filled
    ]
    assert ids == [1, 2, 3, 4, 5, 6]
    assert [book.status(i) for i in ids] == [S.EXPIRED, S.FILLED, S.REJECTED, S.EXPIRED,
                                             S.EXPIRED, S.FILLED]
    assert book.next_id == 7
    with pytest.raises(UnknownOrderError):
        book.status(7)
    book._check()


@pytest.mark.parametrize(("kwargs", "error", "field"), [
    ({"qty": 0}, InvalidQuantityError, "qty"),
    ({"side": 2}, InvalidSideError, "side"),
    ({"price": 0}, InvalidPriceError, "price"),
    ({"qty": 1.0}, InvalidTypeError, "qty"),
    ({"ts": -1}, InvalidTimestampError, "ts"),
    ({"order_type": T.IOC, "display": 1}, InvalidQuantityError, "display"),
])
def test_invalid_input_consumes_no_id(book, kwargs, error, field):
    book.limit(BUY, 100, 5)
    before = snapshot(book)
    request = {"side": SELL, "price": 101, "qty": 5, **kwargs}
    with pytest.raises(error) as info:
        book.submit(**request)
    assert info.value.field == field
    assert snapshot(book) == before
    assert book.limit(SELL, 101, 5) == 2
    book._check()


@pytest.mark.parametrize(("request_", "error", "field"), [
    ({"side": 2, "price": 0, "qty": 0}, InvalidSideError, "side"),  # side before price, qty
    ({"side": 2, "price": 1.5}, InvalidTypeError, "price"),  # types before values
    ({"price": 0, "qty": 0}, InvalidPriceError, "price"),
    ({"qty": 0, "owner": -1}, InvalidQuantityError, "qty"),
    ({"owner": -1, "stp": 9, "ts": -1}, InvalidValueError, "owner"),
    ({"stp": 9, "ts": -1}, InvalidValueError, "stp"),
    ({"order_type": 9, "side": 2}, InvalidValueError, "order_type"),
])
def test_validation_order(book, request_, error, field):
    request = {"side": BUY, "price": 100, "qty": 1, **request_}
    with pytest.raises(error) as info:
        book.submit(**request)
    assert info.value.field == field
    assert book.next_id == 1
    book._check()


def test_validation_of_cancel_runs_before_the_order_lookup(book):
    book.limit(BUY, 100, 5, ts=10)
    with pytest.raises(InvalidQuantityError):
        book.cancel(99, qty=-1)
    with pytest.raises(InvalidTimestampError):
        book.cancel(99, ts=5)
    with pytest.raises(InvalidPriceError):
        book.modify(99, 0, 5)
    with pytest.raises(UnknownOrderError):
        book.cancel(99)
    book._check()


@pytest.mark.parametrize(("field", "ok", "bad", "error"), [
    ("price", MAX_PRICE, MAX_PRICE + 1, InvalidPriceError),
    ("qty", MAX_QTY, MAX_QTY + 1, InvalidQuantityError),
    ("owner", MAX_OWNER, MAX_OWNER + 1, InvalidValueError),
    ("owner", 0, -1, InvalidValueError),
    ("qty", np.int64(3), 2**63, ValueOverflowError),
    ("price", np.int32(7), True, InvalidTypeError),
    ("qty", 1, "1", InvalidTypeError),
])
def test_limits_of_the_fields(book, field, ok, bad, error):
    request = {"side": BUY, "price": 100, "qty": 1, field: ok}
    oid = book.submit(**request)
    assert book.status(oid) == S.RESTING
    assert events(book, kinds=(K.ACCEPTED,))[0][2] == request["qty"]
    before = snapshot(book)
    with pytest.raises(error) as info:
        book.submit(**{**request, field: bad})
    assert info.value.field == field
    assert snapshot(book) == before
    book._check()


def test_queries_of_unknown_and_finished_ids(book):
    (oid,) = bids(book, (100, 5))
    book.cancel(oid)
    assert (book.status(oid), book.remaining(oid)) == (S.CANCELLED, 0)
    with pytest.raises(OrderNotLiveError):
        book.queue_position(oid)
    for query in (book.status, book.remaining, book.queue_position):
        with pytest.raises(UnknownOrderError):
            query(2)
    book._check()


def test_depth_top_n(book):
    bids(book, (98, 1), (100, 2), (99, 3), (100, 4))
    asks(book, (103, 1), (101, 2))
    assert depth(book, BUY) == [(100, 6, 2), (99, 3, 1), (98, 1, 1)]
    assert depth(book, BUY, 2) == [(100, 6, 2), (99, 3, 1)]
    assert depth(book, SELL, 1) == [(101, 2, 1)]
    assert depth(book, SELL, 0) == []
    assert book.live_orders()["order_id"].tolist() == [2, 4, 3, 1, 6, 5]
    book._check()


# ----------------------------------------------------------------------------- time
def test_ts_defaults_to_clock(book):
    a = book.limit(BUY, 100, 5, ts=100)
    assert book.clock == 100
    b = book.limit(BUY, 99, 5)
    assert book.clock == 100
    assert {e["ts"] for e in book.last_events()} == {100}
    assert book.live_orders()["ts"].tolist() == [100, 100]
    book.cancel(b)
    assert events(book, "ts") == [(100,), (100,)]
    assert book.status(a) == S.RESTING
    book._check()


def test_ts_going_backwards_raises(book):
    (oid,) = bids(book, (100, 5))
    book.limit(SELL, 105, 5, ts=50)
    before = snapshot(book)
    requests = [
        lambda: book.limit(BUY, 100, 1, ts=49),
        lambda: book.market(SELL, 1, ts=0),
        lambda: book.cancel(oid, ts=10),
        lambda: book.modify(oid, 100, 3, ts=49),
        lambda: book.limit(BUY, 100, 1, ts=-5),
    ]
    for request in requests:
        with pytest.raises(InvalidTimestampError) as info:
            request()
        assert info.value.field == "ts"
        assert snapshot(book) == before
    book.limit(BUY, 100, 1, ts=50)  # equal to the clock is fine
    assert book.clock == 50
    book._check()


def test_events_carry_the_request_ts(book):
    book.limit(SELL, 101, 6, display=2, ts=5)
    other = book.limit(SELL, 102, 5, ts=7)
    book.limit(BUY, 102, 8, ts=12)  # fills, refills, level updates
    evs = book.last_events()
    assert set(evs["kind"].tolist()) == {K.ACCEPTED, K.FILL, K.REFILL, K.LEVEL}
    assert set(evs["ts"].tolist()) == {12}
    book.cancel(other, ts=20)
    assert events(book, "ts") == [(20,), (20,)]
    book._check()


def test_priority_ts_updated_on_refill_and_move_not_on_reduce(book):
    ice = book.limit(SELL, 101, 10, display=3, ts=10)
    plain = book.limit(SELL, 101, 4, ts=11)

    def priority_ts():
        return dict(book.live_orders()[["order_id", "ts"]].tolist())

    assert priority_ts() == {ice: 10, plain: 11}
    book.market(BUY, 3, ts=20)  # refills the iceberg
    assert priority_ts() == {ice: 20, plain: 11}
    book.cancel(ice, 1, ts=30)  # a reduction keeps priority and its time
    book.modify(plain, 101, 3, ts=31)
    assert priority_ts() == {ice: 20, plain: 11}
    book.modify(plain, 102, 3, ts=40)  # a move resets it
    assert priority_ts() == {ice: 20, plain: 40}
    book._check()


# ----------------------------------------------------------------------------- LEVEL events
def test_level_event_on_add(book):
    book.limit(BUY, 100, 5)
    book.limit(BUY, 100, 3)
    assert levels(book) == [(BUY, 100, 8, 2)]
    book.limit(SELL, 103, 2)
    assert levels(book) == [(SELL, 103, 2, 1)]
    assert events(book, "order_id", "owner", "other_id", "reason", kinds=(K.LEVEL,)) == [
        (0, 0, 0, 0)]
    book._check()


def test_level_event_zero_when_emptied(book):
    asks(book, (101, 2), (101, 3), (102, 4))
    book.limit(BUY, 102, 6)
    assert levels(book) == [(SELL, 101, 0, 0), (SELL, 102, 3, 1)]
    (bid,) = bids(book, (99, 1))
    book.cancel(bid)
    assert levels(book) == [(BUY, 99, 0, 0)]
    book._check()


def test_level_events_off(Book):
    book = Book(level_events=False)
    calls = [
        lambda: book.limit(SELL, 101, 5, display=2),  # 1
        lambda: book.limit(BUY, 100, 5),  # 2
        lambda: book.limit(BUY, 101, 3),  # 3: fills and refills 1
        lambda: book.cancel(2, 1),
        lambda: book.modify(2, 99, 6),
        lambda: book.cancel(1),
        lambda: book.limit(SELL, 99, 1),  # 4
    ]
    seen = []
    for call in calls:
        call()
        assert flow(book) == events(book)  # nothing but order events
        seen += events(book, "kind")
    assert {k for (k,) in seen} == {K.ACCEPTED, K.FILL, K.REFILL, K.CANCELLED, K.MODIFIED}
    msgs = make_messages(side=[BUY, SELL], price=[50, 50], qty=[1, 1])
    assert K.LEVEL not in book.process(msgs)["kind"].tolist()
    book._check()


# ----------------------------------------------------------------------------- tick
def test_tick_size(Book):
    book = Book(tick=5)
    (oid,) = bids(book, (100, 5))
    before = snapshot(book)
    for request, price in ((lambda: book.limit(SELL, 101, 5), 101),
                           (lambda: book.modify(oid, 103, 5), 103)):
        with pytest.raises(OffTickError) as info:
            request()
        assert (info.value.field, info.value.value) == ("price", price)
        assert snapshot(book) == before
    assert book.limit(SELL, 105, 5) == 2
    assert book.modify(oid, 95, 5) == 5
    book._check()


# ----------------------------------------------------------------------------- stats
def test_stats_and_quantity_conservation(book):
    asks(book, (101, 5), (102, 5))  # accepted 10
    book.limit(SELL, 103, 10, display=2)  # 20
    book.market(BUY, 7)  # 27: trades 7
    post_only(book, BUY, 102, 4)  # 31: rejected 4
    fok(book, BUY, 103, 50)  # 81: expired 50
    book.submit(BUY, 100, 3, order_type=T.IOC)  # 84: expired 3
    book.cancel(3, 4)  # cancelled 4 (hidden)
    b = book.limit(BUY, 99, 6)  # 90
    book.modify(b, 99, 9)  # 93: +3 accepted
    book.modify(b, 99, 2)  # cancelled 7
    book.market(SELL, 5)  # 98: trades 2, expires 3
    stats = book.stats()
    assert stats == {
        "fills": 3,
        "volume": 9,
        "live_orders": 2,
        "next_id": 10,
        "accepted_qty": 98,
        "cancelled_qty": 11,
        "expired_qty": 56,
        "rejected_qty": 4,
        "resting_qty": 9,
    }
    assert stats["accepted_qty"] == (2 * stats["volume"] + stats["cancelled_qty"]
                                     + stats["expired_qty"] + stats["rejected_qty"]
                                     + stats["resting_qty"])
    assert sum(book.remaining(i) for i in range(1, book.next_id)) == stats["resting_qty"]
    book._check()


# ----------------------------------------------------------------------------- batch API
def submit_msg(side, price, qty, owner=0, ts=0, order_type=T.LIMIT, display=0, stp=STP.NONE):
    return {"action": 0, "side": side, "price": price, "qty": qty, "owner": owner, "ts": ts,
            "order_type": order_type, "display": display, "stp": stp}


def cancel_msg(oid, qty=0, ts=0):
    return {"action": 1, "oid": oid, "qty": qty, "ts": ts}


def modify_msg(oid, price, qty, ts=0):
    return {"action": 2, "oid": oid, "price": price, "qty": qty, "ts": ts}


def to_msgs(requests):
    """A list of the dicts above as a MSG_DTYPE array."""
    names = sorted({k for r in requests for k in r})
    return make_messages(**{k: [r.get(k, 0) for r in requests] for k in names})


def apply_one_by_one(book, requests):
    """The same requests through the per-call API; returns all their events."""
    out = []
    for r in requests:
        if r["action"] == 0:
            book.submit(r["side"], r["price"], r["qty"], r["owner"], r["ts"], r["order_type"],
                        r["display"], r["stp"])
        elif r["action"] == 1:
            book.cancel(r["oid"], r["qty"], r["ts"])
        else:
            book.modify(r["oid"], r["price"], r["qty"], r["ts"])
        out.append(book.last_events())
    return np.concatenate(out)


REQUESTS = [
    submit_msg(SELL, 101, 5, owner=1, ts=1),
    submit_msg(SELL, 101, 10, owner=2, ts=2, display=3),
    submit_msg(SELL, 102, 5, owner=3, ts=3),
    submit_msg(BUY, 99, 4, owner=4, ts=4),
    submit_msg(BUY, 0, 9, owner=5, ts=5, order_type=T.MARKET),
    cancel_msg(3, 2, ts=6),
    modify_msg(4, 100, 6, ts=7),
    cancel_msg(2, 2, ts=8),
    submit_msg(BUY, 102, 30, owner=2, ts=9, order_type=T.FOK),
    submit_msg(BUY, 102, 6, owner=3, ts=9, order_type=T.IOC, stp=STP.CANCEL_RESTING),
    submit_msg(SELL, 100, 2, owner=6, ts=10, order_type=T.POST_ONLY),
    submit_msg(SELL, 101, 2, owner=6, ts=10, order_type=T.POST_ONLY),
    modify_msg(4, 101, 6, ts=11),
    cancel_msg(4, 1, ts=12),
]


def test_batch_events_equal_per_call_events(Book):
    batch, per_call = Book(), Book()
    got = batch.process(to_msgs(REQUESTS))
    want = apply_one_by_one(per_call, REQUESTS)
    assert got.tolist() == want.tolist()
    assert batch.last_events().tolist() == got.tolist()
    assert snapshot(batch) == snapshot(per_call)
    assert len(got) > 20
    batch._check()
    per_call._check()


def test_batch_invalid_message_raises_with_index_and_changes_nothing(book):
    book.limit(BUY, 100, 5, ts=3)
    before = snapshot(book)
    bad = [
        ([submit_msg(SELL, 101, 5, ts=4), submit_msg(SELL, 101, 0, ts=5)], InvalidQuantityError, 1),
        ([submit_msg(SELL, 101, 5, ts=4), cancel_msg(1, ts=2)], InvalidTimestampError, 1),
        ([submit_msg(SELL, 101, 5, ts=5), submit_msg(SELL, 101, 5, ts=4)],
         InvalidTimestampError, 1),
        ([submit_msg(SELL, 101, 5, ts=1)], InvalidTimestampError, 0),
        ([cancel_msg(1, ts=4), modify_msg(1, 0, 5, ts=4)], InvalidPriceError, 1),
        ([submit_msg(SELL, 101, 5, ts=4), submit_msg(2, 101, 5, ts=4)], InvalidSideError, 1),
    ]
    for requests, error, index in bad:
        with pytest.raises(error) as info:
            book.process(to_msgs(requests))
        assert info.value.index == index
        assert snapshot(book) == before
    book._check()


def test_batch_cancel_unknown_or_finished_is_rejected_event(book):
    msgs = to_msgs([
        submit_msg(BUY, 100, 5, ts=1),
        cancel_msg(1, ts=2),
        cancel_msg(1, ts=3),
        cancel_msg(42, ts=4),
        modify_msg(1, 100, 3, ts=5),
        modify_msg(43, 100, 3, ts=6),
    ])
    out = book.process(msgs)
    rejected = out[out["kind"] == K.REJECTED][["order_id", "reason", "ts"]].tolist()
    assert rejected == [(1, R.ORDER_NOT_LIVE, 3), (42, R.UNKNOWN_ORDER, 4),
                        (1, R.ORDER_NOT_LIVE, 5), (43, R.UNKNOWN_ORDER, 6)]
    assert book.status(1) == S.CANCELLED
    assert book.next_id == 2
    assert book.clock == 6
    book._check()


def test_batch_results_are_not_overwritten_by_later_calls(book):
    first = book.process(to_msgs([submit_msg(SELL, 101, 5, ts=1), submit_msg(BUY, 99, 5, ts=2)]))
    saved = first.copy()
    qtys = book.process(to_msgs([submit_msg(SELL, 102, 1, ts=3)]))["qty"]  # only a view kept
    saved_qtys = qtys.copy()
    for i in range(5):
        oid = book.next_id
        book.process(to_msgs([submit_msg(SELL, 110 + i, 7, ts=4), cancel_msg(oid, ts=4)]))
        book.limit(BUY, 90, 3)
    big = to_msgs([submit_msg(BUY, 50 + i % 40, 1 + i, ts=5) for i in range(500)])
    book.process(big)
    assert first.tolist() == saved.tolist()
    assert qtys.tolist() == saved_qtys.tolist()
    book._check()


def test_batch_last_events_is_a_copy(book):
    out = book.process(to_msgs([submit_msg(SELL, 101, 5, ts=1)]))
    copy = book.last_events()
    copy["qty"] = 99
    assert book.last_events().tolist() == out.tolist()
    book._check()


# ----------------------------------------------------------------------------- exchange
@pytest.fixture
def exchange(Book):
    """A two-symbol exchange on the engine under test (the Book fixture skips a compiled engine
    that was not built)."""
    return Exchange(["BTC", "ETH"], engine=Book.engine)


def test_exchange_symbols_are_independent(exchange):
    btc = exchange.submit("BTC", SELL, 101, 5, owner=1)
    eth = exchange.submit("ETH", BUY, 101, 5, owner=2)
    assert (btc, eth) == (1, 1)  # ids are per symbol
    assert (exchange.best_ask("BTC"), exchange.best_bid("BTC")) == (101, None)
    assert (exchange.best_ask("ETH"), exchange.best_bid("ETH")) == (None, 101)
    assert fills(exchange.book("ETH")) == []  # no cross-symbol matching
    exchange.cancel("ETH", 1)
    assert exchange.book("BTC").status(1) == S.RESTING
    assert exchange.book("ETH").status(1) == S.CANCELLED
    for sym in exchange.symbols:
        exchange.book(sym)._check()


def test_exchange_unknown_symbol(exchange):
    for call in (lambda: exchange.submit("DOGE", BUY, 100, 1), lambda: exchange.book("DOGE"),
                 lambda: exchange.cancel("DOGE", 1), lambda: exchange.to_ticks("DOGE", 1.0)):
        with pytest.raises(UnknownSymbolError) as info:
            call()
        assert info.value.symbol == "DOGE"
        assert isinstance(info.value, KeyError)
    assert [exchange.book(s).next_id for s in exchange.symbols] == [1, 1]


def test_exchange_per_owner_default_stp(exchange):
    exchange.set_self_trade_prevention(7, STP.CANCEL_INCOMING)
    own = exchange.submit("BTC", SELL, 101, 5, owner=7)
    book = exchange.book("BTC")
    oid = exchange.submit("BTC", BUY, 101, 2, owner=7)
    assert flow(book) == [(K.ACCEPTED, oid, 2), (K.CANCELLED, oid, 2)]
    assert reasons(book, K.CANCELLED) == [(oid, R.SELF_TRADE)]
    oid = exchange.submit("BTC", BUY, 101, 2, owner=8)  # another owner: default NONE
    assert fills(book) == [(own, 7, oid, 8, 101, 2, 3)]
    oid = exchange.submit("BTC", BUY, 101, 1, owner=7, stp=STP.NONE)  # explicit mode wins
    assert fills(book) == [(own, 7, oid, 7, 101, 1, 2)]
    book._check()


def test_exchange_to_ticks(Book):
    exchange = Exchange({"BTC": SymbolSpec(tick_size=0.5)}, engine=Book.engine)
    assert exchange.to_ticks("BTC", 100.5) == 201
    assert exchange.to_price("BTC", 201) == 100.5
    with pytest.raises(OffTickError) as info:
        exchange.to_ticks("BTC", 100.25)
    assert (info.value.field, info.value.value) == ("price", 100.25)
    exchange.book("BTC")._check()

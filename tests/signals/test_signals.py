"""abmm.signals: each signal against a hand-computed example, streaming == vectorized on random
sequences, edge cases, and OFI/VPIN on a real (tiny) market run."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

import abmm.signals as S
from abmm.engine import PyOrderBook

SEC = 1_000_000_000
NAN = float("nan")


def same(a, b, rtol=1e-12):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol,
                               atol=1e-12, equal_nan=True)


def phi(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def run_stream(obj, rows, flush=True):
    """Feed rows (tuples) to a bucketed stream; all closed (start, value) pairs as Buckets."""
    pairs = []
    for r in rows:
        pairs += obj.update(*r)
    if flush:
        pairs += obj.flush()
    return pairs


def pairs_starts(pairs):
    return np.array([p[0] for p in pairs], np.int64)


def pairs_values(pairs):
    return np.array([p[1] for p in pairs], np.float64)


# ------------------------------------------------------------------------ random fixtures
def random_top(rng, n=400, empty=0.05):
    """A random top-of-book path: bid/ask random walks, sizes, occasional empty sides and
    repeated timestamps."""
    mid = 1000 + np.cumsum(rng.integers(-1, 2, n))
    half = rng.integers(1, 3, n)
    bid = mid - half
    ask = mid + half
    bq = rng.integers(1, 30, n)
    aq = rng.integers(1, 30, n)
    same_px = rng.random(n) < 0.5  # often only the sizes change
    for i in range(1, n):
        if same_px[i]:
            bid[i], ask[i] = bid[i - 1], ask[i - 1]
    eb = rng.random(n) < empty
    ea = rng.random(n) < empty
    bid[eb], bq[eb] = 0, 0
    ask[ea], aq[ea] = 0, 0
    ts = 34_200 * SEC + np.cumsum(rng.integers(0, 3 * SEC // 2, n))
    return ts.astype(np.int64), bid, bq, ask, aq


def random_trades(rng, n=600):
    ts = 34_200 * SEC + np.cumsum(rng.integers(0, 2 * SEC, n))
    price = 1000 + np.cumsum(rng.integers(-2, 3, n))
    qty = rng.integers(1, 20, n)
    side = rng.integers(0, 2, n)
    return ts.astype(np.int64), price, qty, side


# --------------------------------------------------------------------------- book signals
BIDS = [5, 3, 2]
ASKS = [1, 4]


def test_imbalance_hand():
    assert S.imbalance(BIDS, ASKS, 1) == pytest.approx(4 / 6)
    assert S.imbalance(BIDS, ASKS, 2) == pytest.approx(3 / 13)
    assert S.imbalance(BIDS, ASKS) == pytest.approx(5 / 15)
    assert S.imbalance(BIDS, [], 3) == 1.0  # no asks
    assert S.imbalance([], ASKS, 3) == -1.0
    assert math.isnan(S.imbalance([], [], 3))
    two_d = S.imbalance(np.array([[5, 3, 2], [0, 0, 0], [1, 0, 0]]),
                        np.array([[1, 4, 0], [0, 0, 0], [3, 3, 3]]), 2)
    same(two_d, [3 / 13, NAN, -5 / 7])
    with pytest.raises(ValueError):
        S.imbalance(BIDS, ASKS, 0)


def test_depth_ratio_hand():
    assert S.depth_ratio(BIDS, ASKS, 2) == pytest.approx(8 / 5)
    assert S.depth_ratio(BIDS, ASKS, 1) == pytest.approx(5.0)
    assert S.depth_ratio([], ASKS, 2) == 0.0
    assert math.isnan(S.depth_ratio(BIDS, [], 2))  # no ask depth: undefined


def test_queue_pressure_hand():
    assert S.queue_pressure(5, 1) == pytest.approx(4 / 6)
    assert S.queue_pressure(0, 7) == -1.0
    assert math.isnan(S.queue_pressure(0, 0))
    same(S.queue_pressure([5, 2, 0], [1, 2, 0]), [4 / 6, 0.0, NAN])


def test_mid_microprice_weighted_mid_hand():
    assert S.mid_price(100, 102) == 101.0
    assert math.isnan(S.mid_price(0, 102))
    # I = 3/4: the big bid queue pushes the price toward the ask
    assert S.microprice(100, 3, 102, 1) == pytest.approx(102 * 0.75 + 100 * 0.25)
    assert S.microprice(100, 1, 102, 3) == pytest.approx(100.5)
    assert S.microprice(100, 2, 102, 2) == 101.0
    assert math.isnan(S.microprice(100, 3, 0, 0)) and math.isnan(S.microprice(0, 0, 102, 1))
    # two levels: VWAP_B = (100*1 + 99*3)/4 = 99.25, VWAP_A = (101*2 + 102*2)/4 = 101.5, I = 1/2
    bp, bq, ap, aq = [100, 99], [1, 3], [101, 102], [2, 2]
    assert S.weighted_mid(bp, bq, ap, aq, 2) == pytest.approx(100.375)
    assert S.weighted_mid(bp, bq, ap, aq, 1) == S.microprice(100, 1, 101, 2)
    assert S.weighted_mid(bp, bq, ap, aq, 1) == pytest.approx(101 / 3 + 200 / 3)
    assert math.isnan(S.weighted_mid(bp, bq, [], [], 2))


def test_book_streaming_matches_vectorized_random():
    rng = np.random.default_rng(1)
    n, L = 300, 5
    bq = rng.integers(0, 20, (n, L)) * (rng.random((n, L)) < 0.8)
    aq = rng.integers(0, 20, (n, L)) * (rng.random((n, L)) < 0.8)
    bq[::17] = 0  # whole side empty now and then
    aq[::23] = 0
    bp = (1000 - np.arange(L))[None, :] * (bq > 0)
    ap = (1002 + np.arange(L))[None, :] * (aq > 0)
    for k in (1, 3, None):
        for fn, cls in ((S.imbalance, S.Imbalance), (S.depth_ratio, S.DepthRatio)):
            obj = cls(k)
            stream = [obj.update(bq[i], aq[i]) for i in range(n)]
            assert np.array_equal(np.array(stream), fn(bq, aq, k), equal_nan=True)
            assert obj.value == stream[-1] or math.isnan(obj.value)
        w = S.WeightedMid(k)
        stream = [w.update(bp[i], bq[i], ap[i], aq[i]) for i in range(n)]
        same(stream, S.weighted_mid(bp, bq, ap, aq, k))
    ts, bid, bqt, ask, aqt = random_top(rng, n, empty=0.1)
    for fn, cls, args in (
            (S.queue_pressure, S.QueuePressure, (bqt, aqt)),
            (S.mid_price, S.MidPrice, (bid, ask)),
            (S.microprice, S.Microprice, (bid, bqt, ask, aqt))):
        obj = cls()
        stream = [obj.update(bid[i], bqt[i], ask[i], aqt[i]) for i in range(n)]
        assert np.array_equal(np.array(stream), fn(*args), equal_nan=True), cls.__name__
    # a top row with None for an empty side (OrderBook.top()) reads like price 0
    assert math.isnan(S.Microprice().update(None, 0, 101, 3))


def test_snapshot_and_update_book():
    book = PyOrderBook()
    for side, price, qty in ((0, 100, 5), (0, 100, 2), (0, 99, 4), (0, 97, 1), (1, 102, 3),
                             (1, 104, 6)):
        book.limit(side, price, qty)
    bp, bq, ap, aq = S.snapshot(book, 3)
    assert bp.tolist() == [100, 99, 97] and bq.tolist() == [7, 4, 1]
    assert ap.tolist() == [102, 104, 0] and aq.tolist() == [3, 6, 0]
    assert S.Imbalance(2).update_book(book) == S.imbalance(bq, aq, 2) == pytest.approx(2 / 20)
    assert S.DepthRatio(3).update_book(book) == pytest.approx(12 / 9)
    assert S.WeightedMid(3).update_book(book) == S.weighted_mid(bp, bq, ap, aq, 3)
    assert S.Microprice().update_book(book) == S.microprice(100, 7, 102, 3)
    assert S.QueuePressure().update_book(book) == pytest.approx(4 / 10)
    assert S.Spread().update_book(book) == 2.0
    assert S.OFI().update_book(book) == 0


# -------------------------------------------------------------------------------- spread
def test_spread_and_zscore_hand():
    same(S.spread([100, 100, 0, 101], [101, 103, 102, 0]), [1, 3, NAN, NAN])
    x = [1, 1, 3, NAN, 1, 2]
    z = S.rolling_zscore(x, 3)
    # windows: [1,1,3] -> sqrt(2); NaN skipped; [1,3,1] -> -1/sqrt(2); [3,1,2] -> 0
    same(z, [NAN, NAN, math.sqrt(2), NAN, -1 / math.sqrt(2), 0.0])
    z2 = S.rolling_zscore(x, 3, min_periods=2)
    same(z2[:3], [NAN, 0.0, math.sqrt(2)])  # [1,1] is constant: z = 0
    same(S.rolling_zscore([2, 2, 2, 2], 2), [NAN, 0.0, 0.0, 0.0])
    # from bid/ask: spreads 1, 1, 3, (empty), 1, 2
    bid = [100, 100, 100, 0, 100, 100]
    ask = [101, 101, 103, 104, 101, 102]
    same(S.spread_zscore(bid, ask, 3), z)
    zs = S.SpreadZScore(3)
    same([zs.update(b, a) for b, a in zip(bid, ask, strict=True)], z)
    assert len(S.rolling_zscore([], 3)) == 0
    with pytest.raises(ValueError):
        S.RollingZScore(3, min_periods=4)


def test_spread_streaming_matches_vectorized_random():
    rng = np.random.default_rng(2)
    ts, bid, bq, ask, aq = random_top(rng, 500, empty=0.1)
    sp = S.Spread()
    assert np.array_equal([sp.update(b, a) for b, a in zip(bid, ask, strict=True)],
                          S.spread(bid, ask), equal_nan=True)
    for window, mp in ((1, None), (5, None), (20, 3), (1000, 10)):
        zs = S.SpreadZScore(window, mp)
        stream = [zs.update(b, a) for b, a in zip(bid, ask, strict=True)]
        assert np.array_equal(stream, S.spread_zscore(bid, ask, window, mp), equal_nan=True)
    x = rng.normal(0, 1, 300)
    x[rng.random(300) < 0.1] = np.nan
    rz = S.RollingZScore(30, 5)
    same([rz.update(v) for v in x], S.rolling_zscore(x, 30, 5), rtol=1e-9)


# ------------------------------------------------------------------------------------ OFI
#: (bid, bid_qty, ask, ask_qty) and the e_n of Cont, Kukanov & Stoikov (2014)
OFI_CASE = [
    ((100, 5, 102, 4), 0),     # reference state
    ((100, 7, 102, 4), 2),     # same bid, size up: +7 - 5
    ((100, 7, 102, 1), 3),     # same ask, size down: -1 + 4
    ((101, 2, 102, 1), 2),     # bid up: the new queue
    ((100, 6, 102, 1), -2),    # bid down: the old queue leaves
    ((100, 6, 101, 3), -3),    # ask down: the new ask queue
    ((100, 6, 103, 5), 3),     # ask up: the old ask queue leaves
    ((100, 4, 103, 8), -5),    # sizes on both sides: (4 - 6) - (8 - 5)
    ((0, 0, 103, 8), -4),      # the bid side empties
    ((99, 2, 0, 0), 10),       # a bid returns (+2), the ask side empties (+8)
    ((99, 2, 104, 1), -1),     # an ask returns
]


def paper_ofi(rows):
    """e_n straight from the paper's formula (empty ask = +inf, empty bid = -inf)."""
    out = [0]
    inf = float("inf")

    def px(p, side):
        return p if p > 0 else (-inf if side == 0 else inf)

    for (pb0, qb0, pa0, qa0), (pb, qb, pa, qa) in zip(rows, rows[1:], strict=False):
        pb0, pb, pa0, pa = px(pb0, 0), px(pb, 0), px(pa0, 1), px(pa, 1)
        out.append((pb >= pb0) * qb - (pb <= pb0) * qb0 - (pa <= pa0) * qa + (pa >= pa0) * qa0)
    return out


def test_ofi_paper_example():
    rows = [r for r, _ in OFI_CASE]
    expected = [e for _, e in OFI_CASE]
    assert paper_ofi(rows) == expected
    cols = np.array(rows).T
    assert S.ofi_events(*cols).tolist() == expected
    assert S.ofi(*cols) == sum(expected) == 5
    o = S.OFI()
    assert [o.update(*r) for r in rows] == expected
    assert o.value == 5
    o.reset()
    assert o.value == 0 and o.update(99, 2, 104, 1) == 0  # same book: nothing changed
    # the streaming object accepts OrderBook.top()'s None for an empty side
    o2 = S.OFI()
    o2.update(100, 5, 102, 4)
    assert o2.update(None, 0, 102, 4) == -5
    assert o2.update(None, 0, None, 0) == 4


def test_ofi_streaming_matches_vectorized_random():
    rng = np.random.default_rng(3)
    ts, bid, bq, ask, aq = random_top(rng, 600)
    e = S.ofi_events(bid, bq, ask, aq)
    rows = list(zip(bid.tolist(), bq.tolist(), ask.tolist(), aq.tolist(), strict=True))
    assert e.tolist() == paper_ofi(rows)
    o = S.OFI()
    cum = [(o.update(*r), o.value)[1] for r in rows]
    assert cum == np.cumsum(e).tolist()
    for bucket, start, end in ((10 * SEC, None, None), (SEC, 34_000 * SEC, 35_500 * SEC),
                               (60 * SEC, 34_300 * SEC, 34_600 * SEC)):
        vec = S.ofi_buckets(ts, bid, bq, ask, aq, bucket, start=start, end=end)
        pairs = run_stream(S.BucketedOFI(bucket, start=start, end=end),
                           zip(ts, bid, bq, ask, aq, strict=True))
        assert pairs_starts(pairs).tolist() == vec.start.tolist()
        assert [p[1] for p in pairs] == vec.value.tolist()
        if start is None:
            assert vec.value.sum() == e.sum()
            assert len(vec.start) == (ts[-1] // bucket - ts[0] // bucket) + 1
        else:
            assert vec.start[0] == start // bucket * bucket
            assert vec.start[-1] == (end - 1) // bucket * bucket


def test_ofi_buckets_hand():
    rows = [r for r, _ in OFI_CASE]
    ts = np.array([0, 1, 1, 2, 5, 5, 5, 6, 9, 10, 10]) * SEC // 2  # 0 .. 5 s
    b = S.ofi_buckets(ts, *np.array(rows).T, SEC)
    # times 0, .5, .5 | 1 | 2.5, 2.5, 2.5 | 3 | 4.5 | 5, 5 s: e summed per second
    assert b.start.tolist() == [0, SEC, 2 * SEC, 3 * SEC, 4 * SEC, 5 * SEC]
    assert b.value.tolist() == [5, 2, -2, -5, -4, 9]


# ---------------------------------------------------------------------- delta and trades
def test_delta_hand():
    assert S.signed_volume([3, 2, 5], [0, 1, 1]).tolist() == [3, -2, -5]
    assert S.cumulative_delta([3, 2, 5], [0, 1, 1]).tolist() == [3, 1, -4]
    cd = S.CumulativeDelta()
    assert [cd.update(q, s) for q, s in ((3, 0), (2, 1), (5, 1))] == [3, 1, -4]
    b = S.delta_buckets(np.array([0, 1, 3]) * SEC, [3, 2, 5], [0, 1, 1], 2 * SEC)
    assert b.start.tolist() == [0, 2 * SEC] and b.value.tolist() == [1, -5]


def test_trade_rate_and_size_hand():
    ts = np.array([0, 500, 1000, 2500, 5000]) * 1_000_000  # ms -> ns
    qty = [2, 4, 6, 8, 10]
    # windows (t - 1s, t]: {0}, {0,.5}, {.5,1}, {2.5}, {5}
    same(S.trade_rate(ts, SEC), [1, 2, 2, 1, 1])
    same(S.trade_rate(ts, 2 * SEC), [0.5, 1, 1.5, 1, 0.5])
    same(S.average_trade_size(ts, qty, SEC), [2, 3, 5, 8, 10])
    tb = S.trade_buckets(ts, qty, SEC)
    assert tb.start.tolist() == [0, SEC, 2 * SEC, 3 * SEC, 4 * SEC, 5 * SEC]
    assert tb.count.tolist() == [2, 1, 1, 0, 0, 1]
    assert tb.volume.tolist() == [6, 6, 8, 0, 0, 10]
    same(tb.rate, [2, 1, 1, 0, 0, 1])
    same(tb.avg_size, [3, 6, 8, NAN, NAN, 10])  # an empty bucket has no average size
    same(S.trade_buckets(ts, qty, 2 * SEC).rate, [1.5, 0.5, 0.5])


def test_flow_streaming_matches_vectorized_random():
    rng = np.random.default_rng(4)
    ts, price, qty, side = random_trades(rng)
    cd = S.CumulativeDelta()
    assert [cd.update(q, s) for q, s in zip(qty, side, strict=True)] == \
        S.cumulative_delta(qty, side).tolist()
    for w in (SEC, 7 * SEC, 60 * SEC):
        tr = S.TradeRate(w)
        assert np.array_equal([tr.update(t) for t in ts], S.trade_rate(ts, w))
        av = S.AverageTradeSize(w)
        assert np.array_equal([av.update(t, q) for t, q in zip(ts, qty, strict=True)],
                              S.average_trade_size(ts, qty, w))
    for bucket, start, end in ((5 * SEC, None, None), (SEC, 34_100 * SEC, 34_900 * SEC)):
        vec = S.delta_buckets(ts, qty, side, bucket, start=start, end=end)
        pairs = run_stream(S.BucketedDelta(bucket, start=start, end=end),
                           zip(ts, qty, side, strict=True))
        assert pairs_starts(pairs).tolist() == vec.start.tolist()
        assert [p[1] for p in pairs] == vec.value.tolist()
        vec = S.trade_buckets(ts, qty, bucket, start=start, end=end)
        pairs = run_stream(S.BucketedTrades(bucket, start=start, end=end),
                           zip(ts, qty, strict=True))
        assert pairs_starts(pairs).tolist() == vec.start.tolist()
        got = np.array([p[1] for p in pairs], np.float64)
        assert np.array_equal(got, np.column_stack(vec[1:]), equal_nan=True)


def test_buckets_streaming_range_and_order():
    # no observation, but start/end given: all buckets empty
    b = S.delta_buckets([], [], [], SEC, start=0, end=3 * SEC)
    assert b.start.tolist() == [0, SEC, 2 * SEC] and b.value.tolist() == [0, 0, 0]
    assert run_stream(S.BucketedDelta(SEC, start=0, end=3 * SEC), []) == \
        [(0, 0), (SEC, 0), (2 * SEC, 0)]
    assert len(S.delta_buckets([], [], [], SEC).start) == 0
    assert S.BucketedDelta(SEC).flush() == []
    with pytest.raises(ValueError):
        S.delta_buckets([2 * SEC, SEC], [1, 1], [0, 0], SEC)
    d = S.BucketedDelta(SEC)
    d.update(2 * SEC, 1, 0)
    with pytest.raises(ValueError):
        d.update(SEC, 1, 0)
    with pytest.raises(ValueError):
        S.BucketedDelta(0)


# ----------------------------------------------------------------------------- volatility
def test_realized_volatility_hand():
    r = math.log(1.01)
    p = [100, 101, NAN, 100, 100, 0]  # NaN and 0 are skipped
    assert S.realized_volatility(p) == pytest.approx(math.sqrt(r * r + math.log(100 / 101) ** 2))
    assert S.realized_volatility([100]) == 0.0 and S.realized_volatility([]) == 0.0
    rv = S.RealizedVolatility()
    vals = [rv.update(x) for x in p]
    same(vals[-1], S.realized_volatility(p))
    assert vals[0] == 0.0
    ts = np.array([0, 1, 2, 3, 4, 5]) * SEC
    b = S.realized_volatility_buckets(ts, p, 2 * SEC)
    # bucket [0,2s): the return 100 -> 101; [2,4): 101 -> 100 (at 3s); [4,6): 100 -> 100
    assert b.start.tolist() == [0, 2 * SEC, 4 * SEC]
    same(b.value, [abs(math.log(1.01)), abs(math.log(100 / 101)), 0.0])


def test_garman_klass_single_bar():
    o, h, lo, c = 100.0, 110.0, 95.0, 105.0
    var = 0.5 * math.log(110 / 95) ** 2 - (2 * math.log(2) - 1) * math.log(1.05) ** 2
    assert S.garman_klass_variance(o, h, lo, c) == pytest.approx(var, rel=1e-14)
    assert S.garman_klass(o, h, lo, c) == pytest.approx(math.sqrt(var), rel=1e-14)
    assert S.garman_klass(100, 100, 100, 100) == 0.0
    same(S.garman_klass([o, NAN], [h, 1], [lo, 1], [c, 1]), [math.sqrt(var), NAN])
    # the same bar from prices, next to an empty bar and a one-price bar
    ts = np.array([0, 1, 2, 3, 9, 10]) * SEC // 4
    bars = S.ohlc_bars(ts, [100, 110, 95, 105, 101, 101], SEC)
    assert bars.start.tolist() == [0, SEC, 2 * SEC]
    same(bars.open, [100, NAN, 101])
    same(bars.high, [110, NAN, 101])
    same(bars.low, [95, NAN, 101])
    same(bars.close, [105, NAN, 101])
    same(S.garman_klass_bars(ts, [100, 110, 95, 105, 101, 101], SEC).value,
         [math.sqrt(var), NAN, 0.0])


def test_volatility_streaming_matches_vectorized_random():
    rng = np.random.default_rng(5)
    ts, bid, bq, ask, aq = random_top(rng, 500)
    mid = S.mid_price(bid, ask)  # NaN where a side is empty
    rv = S.RealizedVolatility()
    stream = [rv.update(m) for m in mid]
    same(stream[-1], S.realized_volatility(mid))
    r = S.log_returns(mid)
    valid = np.flatnonzero(np.isfinite(mid))
    same(np.array(stream)[valid[1:]], np.sqrt(np.cumsum(r * r)))  # value after each return
    for bucket, start, end in ((30 * SEC, None, None), (60 * SEC, 34_000 * SEC, 35_000 * SEC)):
        vec = S.realized_volatility_buckets(ts, mid, bucket, start=start, end=end)
        pairs = run_stream(S.BucketedRealizedVolatility(bucket, start=start, end=end),
                           zip(ts, mid, strict=True))
        assert pairs_starts(pairs).tolist() == vec.start.tolist()
        same(pairs_values(pairs), vec.value)
        vec = S.garman_klass_bars(ts, mid, bucket, start=start, end=end)
        pairs = run_stream(S.GarmanKlass(bucket, start=start, end=end), zip(ts, mid, strict=True))
        assert pairs_starts(pairs).tolist() == vec.start.tolist()
        same(pairs_values(pairs), vec.value)
        bars = S.ohlc_bars(ts, mid, bucket, start=start, end=end)
        pairs = run_stream(S.OHLCBars(bucket, start=start, end=end), zip(ts, mid, strict=True))
        assert np.array_equal(np.array([p[1] for p in pairs]), np.column_stack(bars[1:]),
                              equal_nan=True)


# ----------------------------------------------------------------------------------- VPIN
#: three bars of one second (the third second is empty): (ts, price, qty)
VPIN_TRADES = [(SEC // 10, 100, 4), (SEC // 2, 101, 2),  # bar 0: V 6, dP = 101 - 100 = +1
               (12 * SEC // 10, 101, 3),                 # bar 1: V 3, dP = 0
               (35 * SEC // 10, 99, 7)]                  # bar 3: V 7, dP = -2


def test_vpin_hand_fixed_sigma():
    ts, price, qty = (np.array(c) for c in zip(*VPIN_TRADES, strict=True))
    f0, f1, f2 = phi(1.0), 0.5, phi(-2.0)
    bars = S.bvc_bars(ts, price, qty, SEC, sigma=1.0)
    assert bars.end.tolist() == [SEC, 2 * SEC, 4 * SEC]
    assert bars.volume.tolist() == [6, 3, 7]
    same(bars.dprice, [1, 0, -2])
    same(bars.buy_fraction, [f0, f1, f2])
    # buckets of V = 5: [5 of bar 0], [1 of bar 0, 3 of bar 1, 1 of bar 2], [5 of bar 2]
    # (1 lot of bar 2 is left in the open bucket)
    buy = [5 * f0, f0 + 3 * f1 + f2, 5 * f2]
    sell = [5 - b for b in buy]
    imb = [abs(s - b) for s, b in zip(sell, buy, strict=True)]
    res = S.vpin(ts, price, qty, bucket_volume=5, n_buckets=2, bar_ns=SEC, sigma=1.0)
    assert res.ts.tolist() == [SEC, 4 * SEC, 4 * SEC]
    same(res.buy, buy)
    same(res.sell, sell)
    same(res.vpin, [NAN, (imb[0] + imb[1]) / 10, (imb[1] + imb[2]) / 10])
    assert res.vpin[1] == pytest.approx(0.3685257704, abs=1e-9)
    assert res.vpin[2] == pytest.approx(0.5044308924, abs=1e-9)
    # streaming: bar 0 ends at the first trade of bar 1, the others at flush()
    v = S.VPIN(5, n_buckets=2, bar_ns=SEC, sigma=1.0)
    got = [v.update(*t) for t in VPIN_TRADES]
    assert [len(g) for g in got] == [0, 0, 1, 0]
    assert math.isnan(v.value)
    tail = v.flush()
    assert len(tail) == 2 and v.value == res.vpin[-1]
    out = got[2] + tail
    assert [b.ts for b in out] == res.ts.tolist()
    assert np.array_equal([b.vpin for b in out], res.vpin, equal_nan=True)
    assert [b.buy for b in out] == res.buy.tolist()


def test_vpin_hand_expanding_sigma():
    ts, price, qty = (np.array(c) for c in zip(*VPIN_TRADES, strict=True))
    bars = S.bvc_bars(ts, price, qty, SEC)
    # sigma over dP so far (ddof 0): {1} -> 0 (a rise: all buy), {1, 0} -> 0.5, {1, 0, -2}
    s3 = math.sqrt((1 + 0 + 4) / 3 - (1 / 3) ** 2)
    same(bars.sigma, [0.0, 0.5, s3])
    same(bars.buy_fraction, [1.0, 0.5, phi(-2 / s3)])
    res = S.vpin(ts, price, qty, 5, n_buckets=1, bar_ns=SEC)
    same(res.buy, [5.0, 1 + 1.5 + phi(-2 / s3), 5 * phi(-2 / s3)])
    same(res.vpin, np.abs(5 - 2 * res.buy) / 5)


def test_vpin_edge_cases():
    empty = S.vpin([], [], [], 10)
    assert len(empty.ts) == len(empty.vpin) == 0
    zero = S.vpin([0, SEC], [100, 101], [0, 0], 10)  # zero volume: no bucket
    assert len(zero.vpin) == 0
    short = S.vpin([0, SEC], [100, 101], [3, 4], 10)  # less than one bucket
    assert len(short.vpin) == 0
    v = S.VPIN(10)
    assert v.update(0, 100, 0) == [] and v.flush() == [] and math.isnan(v.value)
    # no price change at all: every bar is half buy, half sell -> VPIN 0
    res = S.vpin(np.arange(10) * SEC, [100] * 10, [5] * 10, 5, n_buckets=3, bar_ns=SEC)
    same(res.vpin, [NAN, NAN] + [0.0] * 8)
    # one bar filling several buckets
    res = S.vpin([0, 1], [100, 102], [1, 25], 5, n_buckets=2, bar_ns=SEC, sigma=0.0)
    assert len(res.vpin) == 5 and np.all(res.buy == 5) and np.all(res.vpin[1:] == 1.0)
    for bad in ({"bucket_volume": 0}, {"bucket_volume": 5, "n_buckets": 0},
                {"bucket_volume": 5, "sigma": -1}):
        with pytest.raises(ValueError):
            S.vpin([0], [100], [1], **bad)


def test_vpin_stream_refuses_a_trade_in_an_ended_bar():
    v = S.VPIN(10, n_buckets=1, bar_ns=SEC)
    v.update(0, 100, 4)
    v.flush()
    with pytest.raises(ValueError, match="already ended"):
        v.update(SEC // 2, 101, 3)  # same bar as the flushed one
    with pytest.raises(ValueError, match="must not decrease"):
        w = S.VPIN(10, bar_ns=SEC)
        w.update(5 * SEC, 100, 1)
        w.update(SEC, 100, 1)
    v.update(SEC, 101, 3)  # the next bar is fine


def test_ofi_refuses_fractional_and_nan_prices():
    with pytest.raises(ValueError, match=r"bid\[1\] = 100.7: expected integer ticks"):
        S.ofi_events([100.0, 100.7], [1, 1], [102, 102], [1, 1])
    with pytest.raises(ValueError, match=r"ask\[0\] = nan"):
        S.ofi_events([100, 100], [1, 1], [np.nan, 102], [1, 1])
    with pytest.raises(ValueError, match="ask_qty has 1 values but bid has 2"):
        S.ofi_events([100, 100], [1, 1], [102, 102], [1])
    # integral floats are ticks too
    assert S.ofi_events([100.0, 101.0], [1.0, 2.0], [102.0, 102.0], [1.0, 1.0]).tolist() == [0, 2]
    o = S.OFI()
    with pytest.raises(ValueError, match="bid = 100.5"):
        o.update(100.5, 1, 102, 1)
    with pytest.raises(ValueError, match="ask = nan"):
        o.update(100, 1, float("nan"), 1)


def test_vpin_streaming_matches_vectorized_random():
    rng = np.random.default_rng(6)
    ts, price, qty, _ = random_trades(rng, 2000)
    for V, n, bar, sigma in ((50, 5, 10 * SEC, None), (137, 10, 60 * SEC, None),
                             (20, 3, SEC, 2.5), (500, 1, 30 * SEC, 0.0)):
        res = S.vpin(ts, price, qty, V, n, bar, sigma=sigma)
        v = S.VPIN(V, n, bar, sigma=sigma)
        out = [b for t, p, q in zip(ts, price, qty, strict=True) for b in v.update(t, p, q)]
        out += v.flush()
        assert len(out) == len(res.ts) == qty.sum() // V
        assert [b.ts for b in out] == res.ts.tolist()
        same([b.buy for b in out], res.buy)
        same([b.sell for b in out], res.sell)
        same([b.vpin for b in out], res.vpin)
        finite = res.vpin[n - 1:]
        assert np.all((finite >= 0) & (finite <= 1))
        assert np.all((res.buy >= 0) & (res.buy <= V))
    # float prices (price units) work too
    res = S.vpin(ts, price * 0.01, qty, 50, 5, 10 * SEC)
    same(res.vpin, S.vpin(ts, price, qty, 50, 5, 10 * SEC).vpin, rtol=1e-9)


# ------------------------------------------------------------------------------ a real run
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from abmm.scenario import build_model

    out = tmp_path_factory.mktemp("signals") / "run"
    m = build_model(
        {"name": "s", "seed": 1, "market": {"open": "09:30", "close": "09:40"},
         "agents": [{"kind": "noise", "count": 50, "wake": {"kind": "poisson", "interval": "5s"}},
                    {"kind": "market_maker", "count": 1}]}, out=out)
    m.run()
    return out


def test_from_run_reads_the_log(run_dir):
    import pandas as pd

    data = S.from_run(run_dir)
    assert list(data.top.columns) == ["ts", "bid", "bid_qty", "ask", "ask_qty"]
    assert list(data.trades.columns) == ["ts", "price", "qty", "side"]
    top = pd.read_parquet(run_dir / "top")
    ev = pd.read_parquet(run_dir / "events")
    assert len(data.top) == len(top) > 100
    assert np.array_equal(data.top.to_numpy(), top[list(data.top.columns)].to_numpy())
    fills = ev[ev["kind"] == 1]
    assert len(data.trades) == len(fills) > 100
    assert data.trades["qty"].sum() == fills["qty"].sum()
    assert set(data.trades["side"].unique()) <= {0, 1}
    assert np.all(np.diff(data.trades["ts"]) >= 0) and np.all(np.diff(data.top["ts"]) >= 0)
    last = S.from_run(run_dir, last_per_ts=True).top
    assert last["ts"].is_unique and len(last) <= len(top)
    assert last.iloc[-1].tolist() == top[list(last.columns)].iloc[-1].tolist()


def test_signals_on_a_real_run(run_dir):
    data = S.from_run(run_dir)
    t = data.top_arrays()
    cols = (t["bid"], t["bid_qty"], t["ask"], t["ask_qty"])
    e = S.ofi_events(*cols)
    assert e.shape == t["ts"].shape and e[0] == 0
    o = S.OFI()
    stream = [o.update(*r) for r in zip(*(c.tolist() for c in cols), strict=True)]
    assert stream == e.tolist() and o.value == S.ofi(*cols)
    vec = S.ofi_buckets(t["ts"], *cols, 10 * SEC)
    pairs = run_stream(S.BucketedOFI(10 * SEC), zip(t["ts"], *cols, strict=True))
    assert [p[1] for p in pairs] == vec.value.tolist() and vec.value.sum() == e.sum()
    assert len(vec.start) >= 55  # about ten minutes of 10 s buckets

    tr = data.trade_arrays()
    res = S.vpin(tr["ts"], tr["price"], tr["qty"], bucket_volume=100, n_buckets=10,
                 bar_ns=10 * SEC)
    assert len(res.ts) == tr["qty"].sum() // 100 > 20
    assert np.all(np.isfinite(res.vpin[9:])) and np.all(np.isnan(res.vpin[:9]))
    assert np.all((res.vpin[9:] >= 0) & (res.vpin[9:] <= 1))
    v = S.VPIN(100, 10, 10 * SEC)
    out = [b for r in zip(tr["ts"], tr["price"], tr["qty"], strict=True) for b in v.update(*r)]
    out += v.flush()
    assert [b.ts for b in out] == res.ts.tolist()
    same([b.vpin for b in out], res.vpin)

    # the other signals run on the real log and agree too
    mid = S.mid_price(t["bid"], t["ask"])
    assert np.isfinite(S.realized_volatility(mid)) and S.realized_volatility(mid) > 0
    zs = S.spread_zscore(t["bid"], t["ask"], 50)
    z = S.SpreadZScore(50)
    assert np.array_equal([z.update(b, a) for b, a in zip(t["bid"], t["ask"], strict=True)], zs,
                          equal_nan=True)
    assert S.cumulative_delta(tr["qty"], tr["side"])[-1] == \
        tr["qty"][tr["side"] == 0].sum() - tr["qty"][tr["side"] == 1].sum()
    gk = S.garman_klass_bars(tr["ts"], tr["price"], 60 * SEC)
    assert len(gk.value) == 10 and np.all(np.isfinite(gk.value))


def test_layer_rule():
    """abmm.signals imports only abmm.engine and the run-directory reader abmm.rundir (both below
    the market) from abmm (never market, env or learn)."""
    pkg = Path(S.__file__).parent
    for path in pkg.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("abmm"):
                    assert name.startswith(("abmm.engine", "abmm.rundir", "abmm.signals")), \
                        (path.name, name)

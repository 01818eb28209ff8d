"""The Binance feed loader and the tick-level statistics (abmm.analysis.feed)."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abmm.analysis.feed import (
    STAT_NAMES,
    Feed,
    format_tick_comparison,
    read_binance_feed,
    run_tick_frames,
    tick_comparison,
    tick_comparison_records,
    tick_samples,
    tick_stats,
)

REAL_FEED = (Path(__file__).resolve().parents[2].parent / "shared" / "data"
             / "binance_usdm_btcusdt_feed_2024-08-08.gz")
MS = 1_000_000
S = 1_000_000_000
OPEN_NS = 34_200 * S  # 09:30, the fake runs' open


def _line(recv_ns: int, msg: dict) -> str:
    return f"{recv_ns} {json.dumps(msg)}"


def _trade(t_ms, p, q, m, tid, x="MARKET"):
    return {"stream": "btcusdt@trade", "data": {"e": "trade", "E": t_ms, "T": t_ms,
                                                "s": "BTCUSDT", "t": tid, "p": p, "q": q,
                                                "X": x, "m": m}}


def _ticker(t_ms, b, bq, a, aq, u):
    return {"stream": "btcusdt@bookTicker", "data": {"e": "bookTicker", "u": u, "s": "BTCUSDT",
                                                     "b": b, "B": bq, "a": a, "A": aq,
                                                     "T": t_ms, "E": t_ms}}


DEPTH = {"stream": "btcusdt@depth@0ms", "data": {"e": "depthUpdate", "E": 1, "T": 1,
                                                 "U": 5, "u": 6, "pu": 4,
                                                 "b": [["100.0", "1.0"]], "a": []}}


def _write(path: Path, lines: list[str], gz: bool = True) -> Path:
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


# ------------------------------------------------------------------------------- the loader
def test_loader_reads_trades_and_tickers_and_counts_the_rest(tmp_path):
    lines = [
        _line(10, _ticker(1000, "100.00", "1.500", "100.10", "0.250", u=1)),
        _line(11, DEPTH),
        _line(12, _trade(1001, "100.10", "0.005", False, tid=8)),  # buyer took the ask
        _line(13, _trade(1001, "100.00", "0.002", True, tid=7)),   # buyer is maker: a sell
        "this is not a message",
        "14 {not json",
        "",
        _line(15, {"lastUpdateId": 3, "bids": [], "asks": []}),    # REST snapshot
        _line(16, _trade(1002, "99.90", "1.000", True, tid=9, x="INSURANCE_FUND")),
        _line(17, _ticker(1003, "100.00", "1.000", "100.20", "0.001", u=2)),
    ]
    feed = read_binance_feed(_write(tmp_path / "f.gz", lines))
    c = feed.counts
    assert (c["trades"], c["book_tickers"], c["depth_diffs"], c["snapshots"]) == (2, 2, 1, 1)
    assert (c["malformed"], c["blank"], c["non_market_trades"]) == (2, 1, 1)
    assert c["lines"] == 10 and c["truncated"] == 0 and c["off_grid_prices"] == 0
    tr = feed.trades
    assert list(tr.columns) == ["ts", "recv_ns", "price", "qty", "side", "trade_id"]
    assert tr["trade_id"].tolist() == [7, 8]  # exchange order: by time, then trade id
    assert tr["side"].tolist() == [1, 0]
    assert tr["ts"].tolist() == [1001 * MS, 1001 * MS]
    assert tr["price"].tolist() == [100.0, 100.1] and tr["qty"].tolist() == [0.002, 0.005]
    top = feed.top
    assert top[["bid", "bid_qty", "ask", "ask_qty"]].iloc[0].tolist() == [100.0, 1.5, 100.1,
                                                                           0.25]
    assert top["ts"].tolist() == [1000 * MS, 1003 * MS] and top["recv_ns"].tolist() == [10, 17]
    assert (feed.start_ns, feed.end_ns) == (1000 * MS, 1003 * MS)
    # in ticks (0.1) and lots (0.001)
    ntop, ntr, windows = feed.tick_frames()
    assert ntop[["bid", "bid_qty", "ask", "ask_qty"]].iloc[1].tolist() == [1000, 1000, 1002, 1]
    assert ntr["price"].tolist() == [1000, 1001] and ntr["qty"].tolist() == [2, 5]
    assert "order" not in ntr.columns
    assert windows == [(1000 * MS, 1003 * MS)]


def test_loader_reads_plain_text_and_rejects_what_is_not_a_feed(tmp_path):
    lines = [_line(1, _trade(5, "10.0", "0.001", False, tid=1))]
    assert len(read_binance_feed(_write(tmp_path / "plain.txt", lines, gz=False)).trades) == 1
    csv = _write(tmp_path / "bars.csv", ["timestamp,open,high,low,close,volume"]
                 + [f"2024-01-01 00:{i:02d},1,1,1,1,1" for i in range(60)], gz=False)
    with pytest.raises(ValueError, match=r"bars\.csv is not a Binance feed.*expected"):
        read_binance_feed(csv)
    other = _write(tmp_path / "other.gz", [json.dumps({"a": i}) for i in range(300)])
    with pytest.raises(ValueError, match=r"other\.gz is not a Binance feed: none of its first"):
        read_binance_feed(other)
    only_depth = _write(tmp_path / "depth.gz", [_line(1, DEPTH)] * 3)
    with pytest.raises(ValueError, match=r"depth\.gz.*no @trade or @bookTicker"):
        read_binance_feed(only_depth)
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match=r"blob\.bin is not a Binance feed \(not text\)"):
        read_binance_feed(binary)
    with pytest.raises(FileNotFoundError):
        read_binance_feed(tmp_path / "missing.gz")


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    lines = [_line(i, _trade(i, "10.0", "0.001", i % 2 == 0, tid=i)) for i in range(2000)]
    path = _write(tmp_path / "f.gz", lines)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(path.read_bytes()[:-200])
    feed = read_binance_feed(cut)
    assert feed.counts["truncated"] == 1 and 0 < len(feed.trades) <= 2000


# ------------------------------------------------------------------------------- statistics
def _top(rows):
    return pd.DataFrame(rows, columns=["ts", "bid", "bid_qty", "ask", "ask_qty"])


def test_spread_and_depth_are_time_weighted():
    top = _top([
        (-5 * S, 50, 1, 60, 1),      # before the window: holds until 0, gets no weight
        (0, 100, 5, 101, 5),         # spread 1, depth 10 for 10 s
        (10 * S, 100, 1, 103, 1),    # spread 3, depth 2 for 30 s
        (40 * S, 100, 1, 103, 1),    # the window's end: no weight
    ])
    no_trades = pd.DataFrame({"ts": [], "qty": [], "side": []})
    st = tick_stats(top, no_trades, windows=[(0, 40 * S)])
    assert st["spread_frac_1"] == pytest.approx(0.25)
    assert st["spread_frac_3"] == pytest.approx(0.75)
    assert st["spread_frac_2"] == 0 and st["spread_frac_10plus"] == 0
    assert st["spread_mean"] == pytest.approx(2.5) and st["spread_median"] == 3
    assert st["depth_mean"] == pytest.approx((10 * 10 + 30 * 2) / 40)
    assert (st["depth_median"], st["depth_p5"], st["depth_p95"]) == (2, 2, 10)
    assert st["one_sided_frac"] == 0
    assert st["fills"] == 0 and math.isnan(st["size_mean"]) and math.isnan(st["sign_acf_1"])
    # a state that began before the window counts from the window's start
    half = tick_stats(_top([(0, 100, 1, 101, 1), (10 * S, 100, 1, 103, 1)]), no_trades,
                      windows=[(5 * S, 15 * S)])
    assert half["spread_frac_1"] == pytest.approx(0.5)
    assert half["spread_frac_3"] == pytest.approx(0.5)
    after = tick_stats(_top([(50 * S, 100, 1, 101, 1)]), no_trades, windows=[(0, 40 * S)])
    assert math.isnan(after["spread_mean"]) and math.isnan(after["spread_frac_1"])
    wide = tick_stats(_top([(0, 100, 1, 112, 1)]), no_trades, windows=[(0, S)])
    assert wide["spread_frac_10plus"] == 1


def test_trade_sizes_gaps_and_orders_by_hand():
    empty_top = _top([])
    ts = np.array([0, MS // 2, 1000 * MS, 3000 * MS])  # the first two: one millisecond
    trades = pd.DataFrame({"ts": ts, "qty": [1, 2, 3, 4], "side": [0, 0, 1, 0],
                           "price": [1000] * 4})
    st = tick_stats(empty_top, trades, windows=[(0, 3000 * MS)])
    assert st["fills"] == 4 and st["size_mean"] == 2.5 and st["size_median"] == 2.5
    # gaps at ms resolution: 0, 1 s, 2 s
    assert st["gap_mean"] == pytest.approx(1.0) and st["gap_median"] == pytest.approx(1.0)
    assert st["gap_zero_frac"] == pytest.approx(1 / 3)
    assert st["gap_cv"] == pytest.approx(math.sqrt(2 / 3))
    # no order ids: same ms and same side = one taker order
    assert st["orders"] == 3 and st["orders_ms_rule"] == 3
    assert st["fills_per_order"] == pytest.approx(4 / 3)
    assert st["order_gap_mean"] == pytest.approx(1.5)
    assert st["buy_frac"] == pytest.approx(2 / 3)
    assert st["tick_bp"] == pytest.approx(10.0)
    assert st["fill_rate"] == pytest.approx(4 / 3 * 60)
    # with order ids (a run): two orders in one millisecond stay two
    ids = tick_stats(empty_top, trades.assign(order=[1, 2, 3, 4]), windows=[(0, 3000 * MS)])
    assert ids["orders"] == 4 and ids["orders_ms_rule"] == 3
    # no gap across two windows; trades outside every window are left out
    two = tick_stats(empty_top, trades, windows=[(0, 1000 * MS), (2000 * MS, 3000 * MS)])
    assert two["fills"] == 4
    assert two["gap_mean"] == pytest.approx(0.5)  # 0 and 1 s; the 2 s gap spans the windows
    cut = tick_stats(empty_top, trades, windows=[(0, 1500 * MS)])
    assert cut["fills"] == 3


def test_alternating_signs_have_acf_minus_one_and_runs_have_memory():
    n = 1000
    ts = np.arange(n) * 10 * MS
    alt = pd.DataFrame({"ts": ts, "qty": 1, "side": np.arange(n) % 2})
    st = tick_stats(_top([]), alt)
    assert st["orders"] == n
    assert st["sign_acf_1"] == pytest.approx(-(n - 1) / n)
    assert st["sign_acf_2"] == pytest.approx((n - 2) / n)
    # long runs of one sign: the ACF decays slowly (a power law), gamma > 0
    rng = np.random.default_rng(10)  # as in test_facts: lengths Pareto(1.5), gamma ~ 0.5
    lengths = np.ceil(rng.pareto(1.5, 12000) + 1).astype(int)
    side = np.repeat(rng.choice([0, 1], len(lengths)), lengths)[:20000]
    runs = pd.DataFrame({"ts": np.arange(len(side)) * 10 * MS, "qty": 1, "side": side})
    st = tick_stats(_top([]), runs)
    assert st["sign_acf_1"] > 0.5 and st["sign_acf_100"] > 0
    assert 0.3 < st["sign_gamma"] < 0.9
    # Pareto sizes: the Hill tail exponent finds alpha
    sizes = np.ceil(rng.pareto(1.5, 20000) + 1) * 10
    hill = tick_stats(_top([]), runs.assign(qty=sizes))["size_tail"]
    assert 1.2 < hill < 1.8


def test_run_and_feed_go_through_the_same_numbers(tmp_path, fake_run, top_rows):
    """The same book and trades, written as a run and as a feed, give the same statistics."""
    rng = np.random.default_rng(5)
    k = 400
    tts = np.sort(rng.choice(np.arange(1, 60_000), k, replace=False)) * MS  # distinct ms
    side = rng.integers(0, 2, k)
    qty = rng.integers(1, 50, k)
    price = 10_000 + rng.integers(-3, 4, k)
    bts = np.r_[0, np.sort(rng.choice(np.arange(1, 60_000), 99, replace=False)), 60_000] * MS
    bid = 10_000 - rng.integers(0, 3, 101)
    ask = bid + rng.integers(1, 6, 101)
    bq, aq = rng.integers(1, 30, 101), rng.integers(1, 30, 101)
    run = fake_run(tmp_path, top=top_rows(list(zip(OPEN_NS + bts, bid, bq, ask, aq,
                                                   strict=True))),
                   fills={"ts": OPEN_NS + tts, "kind": np.ones(k), "price": price, "qty": qty,
                          "side": side, "other_id": np.arange(1, k + 1)})
    tick, lot = 0.01, 0.001
    feed = Feed(None,
                trades=pd.DataFrame({"ts": tts, "recv_ns": tts, "price": price * tick,
                                     "qty": qty * lot, "side": side, "trade_id": np.arange(k)}),
                top=pd.DataFrame({"ts": bts, "recv_ns": bts, "bid": bid * tick,
                                  "bid_qty": bq * lot, "ask": ask * tick, "ask_qty": aq * lot}),
                tick_size=tick, lot_size=lot)
    _, _, windows = run_tick_frames(run)
    assert windows == [(OPEN_NS, OPEN_NS + 60 * S)]
    table = tick_comparison(run, feed)
    assert list(table.columns) == ["key", "name", "sim", "real"]
    assert table["key"].tolist() == list(STAT_NAMES)
    np.testing.assert_allclose(table["sim"].to_numpy(float), table["real"].to_numpy(float),
                               rtol=1e-9, equal_nan=True)
    assert np.isfinite(table.set_index("key").loc["sign_acf_1", "sim"])
    records = tick_comparison_records(table)
    assert len(records) == len(STAT_NAMES) and records[0]["key"] == "tick_bp"
    json.dumps(records, allow_nan=False)  # NaN became None
    text = format_tick_comparison(table)
    assert "trade size mean (lots)" in text and "taker-order sign ACF lag 1" in text
    assert len(text.splitlines()) == len(STAT_NAMES) + 3


def test_samples_hold_the_plotted_distributions():
    top = _top([(0, 100, 5, 101, 5), (10 * S, 100, 1, 103, 1)])
    trades = pd.DataFrame({"ts": [0, 5 * S], "qty": [2, 3], "side": [0, 1]})
    s = tick_samples(top, trades, windows=[(0, 20 * S)])
    assert s.spread.tolist() == [1, 3] and s.weight.tolist() == [10 * S, 10 * S]
    assert s.sizes.tolist() == [2, 3] and s.gaps.tolist() == [5.0]
    assert s.signs.tolist() == [1.0, -1.0] and s.duration_s == 20
    assert tick_stats(s)["spread_mean"] == 2


# ------------------------------------------------------------------------------- the real feed
@pytest.mark.skipif(not REAL_FEED.exists(),
                    reason=f"the real Binance feed is not here ({REAL_FEED}): "
                           "../shared/data is absent")
def test_the_real_binance_feed():
    feed = read_binance_feed(REAL_FEED)
    c = feed.counts
    assert (c["trades"], c["book_tickers"], c["depth_diffs"]) == (21_313, 66_089, 6_551)
    assert c["malformed"] == 0 and c["off_grid_prices"] == 0
    assert 5 * 60 < (feed.end_ns - feed.start_ns) / S < 6 * 60
    st = tick_stats(*feed.tick_frames())
    assert st["spread_frac_1"] > 0.9  # BTCUSDT perpetual: one tick almost all the time
    assert st["tick_bp"] == pytest.approx(0.016, abs=0.001)
    assert st["depth_median"] > 1000  # over a BTC at the top
    assert st["gap_zero_frac"] > 0.5 and st["gap_cv"] > 1  # sweeps and bursts
    assert st["fills_per_order"] > 1 and st["orders"] == st["orders_ms_rule"]
    assert st["sign_acf_1"] > 0.1 and st["sign_gamma"] > 0  # order-flow memory

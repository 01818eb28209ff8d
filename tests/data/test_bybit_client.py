"""abmm.data.bybit against a fake V5 server on 127.0.0.1 (tests/data/fake_bybit.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fake_bybit import MINUTE, linear_instrument, spot_instrument

from abmm.data import bybit
from abmm.data.bybit import (
    BybitClient,
    fetch_klines_to_store,
    gaps,
    instrument_market_section,
    market_section_yaml,
    poll_orderbook_to_store,
    stamps_ms,
)
from abmm.data.store import klines_path, merge_ranges, read_table
from abmm.errors import DataError, FetchError

T0 = 19_676 * 1440 * MINUTE  # 2023-11-15T00:00Z
KLINE = "/v5/market/kline"
COLUMNS = ["timestamp", "open", "high", "low", "close", "volume", "turnover"]


class Sleeps(list):
    """A ``sleep`` that records instead of waiting."""

    def __call__(self, seconds):
        self.append(seconds)


def make_client(fake, **kw):
    kw.setdefault("backoff", 0.001)
    kw.setdefault("sleep", Sleeps())
    kw.setdefault("seed", 1)
    return BybitClient(base_url=fake.url, **kw)


def ms(frame):
    return stamps_ms(frame)


def minutes(a, b):
    return [T0 + i * MINUTE for i in range(a, b)]


# ------------------------------------------------------------------ klines
def test_klines_pages_overlap_and_gap(fake_bybit):
    # bars from 10 before the range to 10 after, with bars 20..24 missing
    fake_bybit.add_klines("linear", "BTCUSDT", "1",
                          [t for t in minutes(-10, 60) if not T0 + 20 * MINUTE <= t < T0 + 25 * MINUTE])
    fake_bybit.kline_overlap = 3  # every page also holds 3 bars newer than `end`
    pages = []
    with make_client(fake_bybit) as client:
        frame = client.klines("linear", "BTCUSDT", "1", T0, T0 + 50 * MINUTE, limit=10,
                              on_page=pages.append)
    assert list(frame.columns) == COLUMNS
    assert str(frame["timestamp"].dt.tz) == "UTC"
    assert all(frame[c].dtype == np.float64 for c in COLUMNS[1:])
    t = ms(frame)
    assert list(t) == [x for x in minutes(0, 50) if not T0 + 20 * MINUTE <= x < T0 + 25 * MINUTE]
    assert np.all(np.diff(t) > 0)  # ascending, no duplicates
    assert frame["open"].iloc[0] == 110.0  # the string "110.0" of the bar at T0
    assert fake_bybit.count(KLINE) >= 5 and sum(pages) == 45
    assert gaps(frame, T0, T0 + 50 * MINUTE, "1") == [(T0 + 20 * MINUTE, T0 + 25 * MINUTE)]
    # every request walked backwards with end = oldest startTime - 1, inside the range
    ends = [int(p["end"]) for path, p in fake_bybit.requests]
    assert ends[0] == T0 + 50 * MINUTE - 1 and ends == sorted(ends, reverse=True)
    assert all(int(p["start"]) == T0 for _, p in fake_bybit.requests)


def test_klines_empty_range_and_gaps_at_edges(fake_bybit):
    fake_bybit.add_klines("spot", "ETHUSDT", "5", [T0 + 5 * MINUTE])
    with make_client(fake_bybit) as client:
        frame = client.klines("spot", "ETHUSDT", "5", T0, T0 + 20 * MINUTE)
        empty = client.klines("spot", "ETHUSDT", "5", T0 + 60 * MINUTE, T0 + 70 * MINUTE)
    assert len(frame) == 1 and list(empty.columns) == COLUMNS and len(empty) == 0
    assert gaps(frame, T0, T0 + 20 * MINUTE, "5") == [(T0, T0 + 5 * MINUTE),
                                                      (T0 + 10 * MINUTE, T0 + 20 * MINUTE)]
    assert gaps(empty, T0 + 60 * MINUTE, T0 + 70 * MINUTE, "5") == [
        (T0 + 60 * MINUTE, T0 + 70 * MINUTE)]


# ------------------------------------------------------------------ the store
@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(bybit, "CHUNK_BARS", 10)


def test_fetch_twice_asks_nothing_the_second_time(fake_bybit, tmp_path, small_chunks):
    fake_bybit.add_klines("linear", "BTCUSDT", "1",
                          [t for t in minutes(0, 40) if t != T0 + 7 * MINUTE])
    with make_client(fake_bybit) as client:
        seen = []
        first = fetch_klines_to_store(client, tmp_path, "linear", "BTCUSDT", "1", T0,
                                      T0 + 30 * MINUTE, progress=lambda d, n: seen.append((d, n)))
        n = fake_bybit.count()
        again = fetch_klines_to_store(client, tmp_path, "linear", "BTCUSDT", "1", T0,
                                      T0 + 30 * MINUTE)
    assert first["bars_added"] == 29 and first["bars"] == 29
    assert first["gaps"] == [[T0 + 7 * MINUTE, T0 + 8 * MINUTE]]  # reported, not filled
    assert first["path"] == str(klines_path(tmp_path, "linear", "BTCUSDT", "1"))
    assert seen == [(0, 30), (10, 30), (20, 30), (30, 30)]
    assert fake_bybit.count() == n  # no request for covered parts
    assert again["bars_added"] == 0 and again["bars"] == 29 and again["gaps"] == first["gaps"]


def test_extended_range_fetches_only_the_new_part(fake_bybit, tmp_path, small_chunks):
    fake_bybit.add_klines("linear", "BTCUSDT", "1", minutes(-20, 40))
    with make_client(fake_bybit) as client:
        fetch_klines_to_store(client, tmp_path, "linear", "BTCUSDT", "1", T0, T0 + 20 * MINUTE)
        n = fake_bybit.count()
        out = fetch_klines_to_store(client, tmp_path, "linear", "BTCUSDT", "1",
                                    T0 - 10 * MINUTE, T0 + 35 * MINUTE)
    new = fake_bybit.requests[n:]
    assert new
    for _, p in new:  # every new request lies in [T0-10m, T0) or [T0+20m, T0+35m)
        a, b = int(p["start"]), int(p["end"])
        assert (T0 - 10 * MINUTE <= a and b < T0) or (T0 + 20 * MINUTE <= a
                                                      and b < T0 + 35 * MINUTE)
    assert out["bars_added"] == 25 and out["bars"] == 45 and out["gaps"] == []
    frame, cov = read_table(out["path"])
    assert cov == [[T0 - 10 * MINUTE, T0 + 35 * MINUTE]]
    assert list(ms(frame)) == minutes(-10, 35)


def test_the_forming_bar_is_never_stored_or_covered(fake_bybit, tmp_path, small_chunks):
    fake_bybit.add_klines("linear", "BTCUSDT", "1", minutes(0, 25))  # bar 24 is forming
    clock = [(T0 + 24 * MINUTE + 30_000) / 1000]
    with make_client(fake_bybit) as client:
        out = fetch_klines_to_store(client, tmp_path, "linear", "BTCUSDT", "1", T0,
                                    T0 + 60 * MINUTE, now=lambda: clock[0])
        assert out["bars"] == 24 and out["gaps"] == []
        assert read_table(out["path"])[1] == [[T0, T0 + 24 * MINUTE]]
        fake_bybit.add_klines("linear", "BTCUSDT", "1", minutes(24, 40), price=200.0)
        clock[0] += 20 * 60
        n = fake_bybit.count()
        out = fetch_klines_to_store(client, tmp_path, "linear", "BTCUSDT", "1", T0,
                                    T0 + 60 * MINUTE, now=lambda: clock[0])
    assert [int(p["start"]) for _, p in fake_bybit.requests[n:]] == [T0 + 24 * MINUTE,
                                                                     T0 + 34 * MINUTE]
    assert out["bars"] == 40 and out["bars_added"] == 16
    assert out["gaps"] == [[T0 + 40 * MINUTE, T0 + 44 * MINUTE]]  # closed bars the venue lacks
    frame, cov = read_table(out["path"])
    assert cov == [[T0, T0 + 44 * MINUTE]] and list(ms(frame)) == minutes(0, 40)


def _check_whole_chunks(path, data_stamps):
    frame, cov = read_table(path)
    t = ms(frame)
    assert np.all(np.diff(t) > 0)  # sorted, unique
    for a, b in cov:  # every bar the server has inside a covered range is there
        assert list(t[(t >= a) & (t < b)]) == [x for x in data_stamps if a <= x < b]
    assert all(any(a <= x < b for a, b in cov) for x in t)  # and nothing outside coverage
    return frame, cov


def test_interrupted_by_server_failure_leaves_whole_chunks(fake_bybit, tmp_path, small_chunks):
    stamps = minutes(0, 50)
    fake_bybit.add_klines("linear", "BTCUSDT", "1", stamps)
    fake_bybit.fail_after = 3  # pages of 1000: chunks 1..3 succeed, the 4th fails for good
    path = klines_path(tmp_path, "linear", "BTCUSDT", "1")
    with make_client(fake_bybit, max_retries=2) as client:
        with pytest.raises(FetchError, match="/v5/market/kline.*10016"):
            fetch_klines_to_store(client, tmp_path, "linear", "BTCUSDT", "1", T0,
                                  T0 + 50 * MINUTE)
    frame, cov = _check_whole_chunks(path, stamps)
    assert cov == [[T0, T0 + 30 * MINUTE]] and len(frame) == 30
    # the server recovers: a second fetch asks only for the rest
    fake_bybit.fail_after = None
    n = fake_bybit.count()
    with make_client(fake_bybit) as client:
        out = fetch_klines_to_store(client, tmp_path, "linear", "BTCUSDT", "1", T0,
                                    T0 + 50 * MINUTE)
    assert all(int(p["start"]) >= T0 + 30 * MINUTE for _, p in fake_bybit.requests[n:])
    assert out["bars_added"] == 20 and out["bars"] == 50
    _check_whole_chunks(path, stamps)


def test_ctrl_c_between_chunks_leaves_whole_chunks(fake_bybit, tmp_path, small_chunks):
    stamps = [t for t in minutes(0, 40) if t != T0 + 13 * MINUTE]
    fake_bybit.add_klines("linear", "BTCUSDT", "1", stamps)

    def progress(done, total):
        if done >= 20:
            raise KeyboardInterrupt

    with make_client(fake_bybit) as client, pytest.raises(KeyboardInterrupt):
        fetch_klines_to_store(client, tmp_path, "linear", "BTCUSDT", "1", T0, T0 + 40 * MINUTE,
                              progress=progress)
    frame, cov = _check_whole_chunks(klines_path(tmp_path, "linear", "BTCUSDT", "1"), stamps)
    assert cov == [[T0, T0 + 20 * MINUTE]] and len(frame) == 19


# ------------------------------------------------------------------ errors
def test_parameter_error_names_parameter_and_value(fake_bybit):
    fake_bybit.add_klines("linear", "BTCUSDT", "1", minutes(0, 5))
    fake_bybit.script(KLINE, ("code", 10001, "Invalid period!"),
                      ("code", 10001, "params error: symbol invalid"))
    with make_client(fake_bybit) as client:
        with pytest.raises(DataError) as err:
            client.klines("linear", "BTCUSDT", "1", T0, T0 + 5 * MINUTE)
        assert not isinstance(err.value, FetchError)
        msg = str(err.value)
        assert msg.startswith("bybit /v5/market/kline: parameter error (retMsg 'Invalid period!')")
        assert "interval='1'" in msg and "symbol='BTCUSDT'" in msg
        with pytest.raises(DataError, match=r"symbol invalid'\): symbol='BTCUSDT'$"):
            client.klines("linear", "BTCUSDT", "1", T0, T0 + 5 * MINUTE)
    assert fake_bybit.count() == 2  # not retried


def test_unknown_symbol_names_the_symbol(fake_bybit):
    with make_client(fake_bybit) as client, pytest.raises(DataError) as err:
        client.klines("linear", "FOO", "1", T0, T0 + MINUTE)
    assert "symbol 'FOO' is not allowed or invalid for category 'linear'" in str(err.value)
    assert not isinstance(err.value, FetchError) and fake_bybit.count() == 1


@pytest.mark.parametrize("code", [10006, 10016, 10000])
def test_retryable_codes_then_success(fake_bybit, code):
    fake_bybit.add_klines("linear", "BTCUSDT", "1", minutes(0, 3))
    fake_bybit.script(KLINE, ("code", code, "busy"), ("code", code, "busy"))
    sleeps = Sleeps()
    with make_client(fake_bybit, sleep=sleeps, rate_per_s=1e6) as client:
        frame = client.klines("linear", "BTCUSDT", "1", T0, T0 + 3 * MINUTE)
    assert len(frame) == 3 and fake_bybit.count() == 3
    assert len(sleeps) == 2 and sleeps[0] <= 0.001 and sleeps[1] <= 0.002  # full jitter


def test_10006_honours_the_reset_timestamp_capped(fake_bybit):
    fake_bybit.add_klines("linear", "BTCUSDT", "1", minutes(0, 1))
    now = 1_800_000_000.0
    fake_bybit.script(KLINE,
                      ("code", 10006, "Too many visits!",
                       {"X-Bapi-Limit-Reset-Timestamp": str(int(now * 1000) + 1500)}),
                      ("code", 10006, "Too many visits!",
                       {"X-Bapi-Limit-Reset-Timestamp": str(int(now * 1000) + 3_600_000)}))
    sleeps = Sleeps()
    with make_client(fake_bybit, sleep=sleeps, wall=lambda: now, max_backoff=4.0,
                     rate_per_s=1e6) as client:
        assert len(client.klines("linear", "BTCUSDT", "1", T0, T0 + MINUTE)) == 1
    assert sleeps == [pytest.approx(1.5), 4.0]


def test_403_is_a_ban_and_never_retried(fake_bybit):
    fake_bybit.script(KLINE, ("json", 403, {"message": "access too frequent"}))
    with make_client(fake_bybit) as client, pytest.raises(FetchError) as err:
        client.klines("linear", "BTCUSDT", "1", T0, T0 + MINUTE)
    msg = str(err.value)
    assert "banned" in msg and "10 minutes" in msg and "/v5/market/kline" in msg
    assert fake_bybit.count() == 1


def test_429_then_success(fake_bybit):
    fake_bybit.add_klines("linear", "BTCUSDT", "1", minutes(0, 2))
    fake_bybit.script(KLINE, ("json", 429, {"retCode": 10006, "retMsg": "slow down"}))
    with make_client(fake_bybit) as client:
        assert len(client.klines("linear", "BTCUSDT", "1", T0, T0 + 2 * MINUTE)) == 2
    assert fake_bybit.count() == 2


def test_slow_reply_times_out_and_is_retried(fake_bybit):
    fake_bybit.add_klines("linear", "BTCUSDT", "1", minutes(0, 2))
    fake_bybit.script(KLINE, ("slow", 0.6))
    with make_client(fake_bybit, timeout=0.2) as client:
        assert len(client.klines("linear", "BTCUSDT", "1", T0, T0 + 2 * MINUTE)) == 2
    assert fake_bybit.count() == 2


@pytest.mark.parametrize("fault", [("raw", 200, b'{"retCode": 0, "result": {"list": [['),
                                   ("raw", 200, b"<html>502 Bad Gateway</html>"),
                                   ("truncate",), ("json", 502, {"x": 1}),
                                   ("json", 200, {"retCode": 0, "result": None})])
def test_malformed_and_truncated_replies_are_retried(fake_bybit, fault):
    fake_bybit.add_klines("linear", "BTCUSDT", "1", minutes(0, 2))
    fake_bybit.script(KLINE, fault)
    with make_client(fake_bybit) as client:
        assert len(client.klines("linear", "BTCUSDT", "1", T0, T0 + 2 * MINUTE)) == 2
    assert fake_bybit.count() == 2


def test_exhausted_retries_raise_fetch_error(fake_bybit):
    fake_bybit.script(KLINE, *[("truncate",)] * 4)
    with make_client(fake_bybit, max_retries=3) as client, pytest.raises(FetchError) as err:
        client.klines("linear", "BTCUSDT", "1", T0, T0 + MINUTE)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("bybit /v5/market/kline: failed after 4 attempts")
    assert "connection failed" in msg and fake_bybit.count() == 4


def test_connection_refused_is_a_fetch_error(fake_bybit):
    url = fake_bybit.url
    fake_bybit.stop()
    with BybitClient(base_url=url, max_retries=1, backoff=0.001, sleep=Sleeps()) as client:
        with pytest.raises(FetchError, match="failed after 2 attempts.*connection failed"):
            client.get(KLINE, {"category": "linear", "symbol": "BTCUSDT", "interval": "1"})


def test_404_and_other_codes_are_data_errors(fake_bybit):
    fake_bybit.script("/v5/market/orderbook", ("code", 170001, "Internal error."),
                      ("raw", 400, b"<html>bad request</html>"))
    fake_bybit.symbols.add("BTCUSDT")
    with make_client(fake_bybit) as client:
        with pytest.raises(DataError, match="HTTP 404.*category='linear'") as err:
            client.get("/v5/market/nothing", {"category": "linear"})
        assert not isinstance(err.value, FetchError)
        with pytest.raises(DataError, match="retCode 170001.*Internal error") as err:
            client.orderbook("linear", "BTCUSDT")
        assert not isinstance(err.value, FetchError)
        with pytest.raises(DataError, match="HTTP 400") as err:
            client.orderbook("linear", "BTCUSDT")
        assert not isinstance(err.value, FetchError)
    assert fake_bybit.count() == 3


def test_client_side_validation_sends_nothing(fake_bybit, tmp_path):
    with make_client(fake_bybit) as client:
        bad = [lambda: client.klines("linear", "BTCUSDT", "7", T0, T0 + MINUTE),
               lambda: client.klines("futures", "BTCUSDT", "1", T0, T0 + MINUTE),
               lambda: client.klines("option", "BTCUSDT", "1", T0, T0 + MINUTE),
               lambda: client.klines("linear", "BTCUSDT", "1", T0, T0),
               lambda: client.klines("linear", "BTCUSDT", "1", T0, T0 + MINUTE, limit=1001),
               lambda: client.klines("linear", "BTC/USDT", "1", T0, T0 + MINUTE),
               lambda: client.orderbook("option", "BTC-30DEC22-18000-C", limit=26),
               lambda: client.orderbook("linear", "BTCUSDT", limit=1001),
               lambda: client.orderbook("linear", "BTCUSDT", limit=0),
               lambda: client.recent_trades("spot", "BTCUSDT", limit=61),
               lambda: fetch_klines_to_store(client, tmp_path, "linear", "BTCUSDT", "1m", 0, 1),
               lambda: gaps(pd.DataFrame(), T0, T0 + MINUTE, "M")]
        for call in bad:
            with pytest.raises(DataError) as err:
                call()
            assert not isinstance(err.value, FetchError)
        with pytest.raises(DataError, match=r"interval 7: expected one of 1 3 5 15 30 60 120 240 360 720 D W M"):
            client.klines("linear", "BTCUSDT", 7, T0, T0 + MINUTE)
        with pytest.raises(DataError, match="category 'futures': expected one of spot"):
            client.klines("futures", "BTCUSDT", "1", T0, T0 + MINUTE)
    assert fake_bybit.count() == 0


def test_rate_limiter_spaces_requests(fake_bybit):
    fake_bybit.add_klines("linear", "BTCUSDT", "1", minutes(0, 1))
    now = [0.0]
    sleeps = Sleeps()

    def sleep(s):
        sleeps.append(s)
        now[0] += s

    with make_client(fake_bybit, rate_per_s=2.0, sleep=sleep, clock=lambda: now[0]) as client:
        for _ in range(4):
            client.klines("linear", "BTCUSDT", "1", T0, T0 + MINUTE)
    assert sleeps == [0.5, 0.5]  # a burst of 2, then one every 1/2 s
    with BybitClient() as default:  # constructed, never used: no request leaves the host
        assert default.base_url == "https://api.bybit.com"


# ------------------------------------------------------------------ other endpoints
def test_instruments_paging_and_fields(fake_bybit):
    fake_bybit.instrument_list["linear"] = [
        linear_instrument("BTCUSDT", tick="0.10", step="0.001", funding=480),
        linear_instrument("ETHUSDT", tick="0.01", step="0.01", funding=None),
        linear_instrument("XRPUSDT", tick="0.0001", step="1", funding=240)]
    fake_bybit.instrument_list["spot"] = [spot_instrument("BTCUSDT", "0.01", "0.000001")]
    with make_client(fake_bybit) as client:
        lin = client.instruments("linear")
        assert fake_bybit.count() == 2  # two pages of 2 and 1
        spot = client.instruments("spot")
        assert fake_bybit.count() == 3
    assert list(lin.columns) == ["symbol", "category", "status", "base_coin", "quote_coin",
                                 "tick_size", "lot_size", "min_order_qty",
                                 "funding_interval_min"]
    assert list(lin["symbol"]) == ["BTCUSDT", "ETHUSDT", "XRPUSDT"]
    assert list(lin["tick_size"]) == [0.1, 0.01, 0.0001]
    assert list(lin["lot_size"]) == [0.001, 0.01, 1.0]
    assert list(lin["funding_interval_min"]) == [480, 0, 240]
    assert lin["base_coin"].iloc[0] == "BTC" and lin["category"].iloc[0] == "linear"
    assert fake_bybit.requests[1][1]["cursor"] == "2"
    assert spot["lot_size"].iloc[0] == 0.000001 and spot["tick_size"].iloc[0] == 0.01
    assert spot["funding_interval_min"].iloc[0] == 0
    assert "cursor" not in fake_bybit.requests[2][1] and "limit" not in fake_bybit.requests[2][1]


BOOK = {"s": "BTCUSDT", "b": [["65485.47", "47.081829"], ["65485", "43.4"], ["65484", "1"]],
        "a": [["65557.7", "16.606555"], ["65558", "2"]], "ts": 1716863719031,
        "u": 230704, "seq": 1432604333, "cts": 1716863718905}


def test_orderbook_conversion(fake_bybit):
    fake_bybit.books[("linear", "BTCUSDT")] = BOOK
    fake_bybit.symbols.add("BTCUSDT")
    with make_client(fake_bybit) as client:
        book = client.orderbook("linear", "BTCUSDT", limit=2)
    assert fake_bybit.requests[0][1]["limit"] == "2"
    assert list(book.columns) == ["timestamp", "side", "level", "price", "size", "update_id"]
    assert list(book["side"]) == [1, 1, -1, -1] and list(book["level"]) == [0, 1, 0, 1]
    assert list(book["price"]) == [65485.47, 65485.0, 65557.7, 65558.0]
    assert list(book["size"]) == [47.081829, 43.4, 16.606555, 2.0]
    assert (book["update_id"] == 230704).all()
    assert (book["timestamp"] == pd.Timestamp(1716863719031, unit="ms", tz="UTC")).all()


def test_recent_trades_conversion(fake_bybit):
    fake_bybit.symbols.add("BTCUSDT")
    fake_bybit.trades[("spot", "BTCUSDT")] = [
        {"execId": "2100000000007764263", "symbol": "BTCUSDT", "price": "16618.49",
         "size": "0.00012", "side": "Buy", "time": "1672052955758", "isBlockTrade": False,
         "isRPITrade": False, "seq": "123"},
        {"execId": "2100000000007764262", "symbol": "BTCUSDT", "price": "16618.5",
         "size": "0.5", "side": "Sell", "time": "1672052955001", "isBlockTrade": False,
         "isRPITrade": False, "seq": "122"}]
    with make_client(fake_bybit) as client:
        trades = client.recent_trades("spot", "BTCUSDT")
    assert fake_bybit.requests[0][1]["limit"] == "60"
    assert list(trades.columns) == ["timestamp", "price", "size", "side", "trade_id"]
    assert list(trades["trade_id"]) == ["2100000000007764262", "2100000000007764263"]
    assert list(trades["side"]) == [-1, 1] and list(trades["price"]) == [16618.5, 16618.49]
    assert trades["timestamp"].iloc[1] == pd.Timestamp(1672052955758, unit="ms", tz="UTC")


def test_poll_orderbook_to_store(fake_bybit, tmp_path):
    fake_bybit.books[("linear", "BTCUSDT")] = BOOK
    fake_bybit.symbols.add("BTCUSDT")
    now = [0.0]
    sleeps = []

    def sleep(s):
        sleeps.append(s)
        now[0] += s

    def snapshot_changes(done, total):  # a new book state on each poll
        fake_bybit.books[("linear", "BTCUSDT")] = {**BOOK, "ts": BOOK["ts"] + done * 1000,
                                                   "u": BOOK["u"] + done}

    with make_client(fake_bybit) as client:
        out = poll_orderbook_to_store(client, tmp_path, "linear", "BTCUSDT", 2, every_s=1.0,
                                      duration_s=3.0, progress=snapshot_changes,
                                      clock=lambda: now[0], sleep=sleep)
    assert out["snapshots"] == 3 and sleeps == [1.0, 1.0]
    assert out["paths"] == [str(tmp_path / "orderbook/linear/BTCUSDT/2024-05-28.parquet")]
    frame, cov = read_table(out["path"])
    assert len(frame) == 12 and sorted(set(frame["update_id"])) == [230704, 230705, 230706]
    assert merge_ranges(cov) == [[BOOK["ts"], BOOK["ts"] + 2001]]  # the span polled


def test_market_section(fake_bybit):
    fake_bybit.instrument_list["linear"] = [linear_instrument("BTCUSDT", "0.10", "0.001"),
                                            linear_instrument("ETHUSDT", "0.01", "0.01")]
    fake_bybit.add_klines("linear", "BTCUSDT", "1", minutes(0, 3), price=65000.0)
    with make_client(fake_bybit) as client:
        section = instrument_market_section(client, "linear", "BTCUSDT")
        with pytest.raises(DataError, match="'DOGEUSDT' is not listed"):
            instrument_market_section(client, "linear", "DOGEUSDT")
    assert section == {"symbol": "BTCUSDT", "tick_size": 0.1, "lot_size": 0.001,
                       "reference_price": 65003.0}  # close of the newest bar
    text = market_section_yaml(section)
    assert text == ("market:\n  symbol: BTCUSDT\n  tick_size: 0.1\n  lot_size: 0.001\n"
                    "  reference_price: 65003.0\n")
    yaml = pytest.importorskip("yaml")
    tiny = market_section_yaml({**section, "lot_size": 1e-8})
    assert yaml.safe_load(tiny)["market"]["lot_size"] == 1e-8

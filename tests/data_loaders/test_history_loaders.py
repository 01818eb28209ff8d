"""History loaders into the local Parquet store (abmm.data.loaders)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abmm.data import loaders as L
from abmm.data.store import klines_path, orderbook_path, read_table, trades_path
from abmm.errors import DataError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BOOK = DATA / "bybit_xrpusdt_ob500_2024-12-01_sample.data"
FEED = DATA / "binance_usdm_btcusdt_feed_2024-08-08.gz"
SPOT_1M = DATA / "bybit_btcusdt_spot_1m_2022-12-13.csv"
PERP_1M = DATA / "bybit_btcusdt_perp_1m_2022-12-13.csv"
FTX_1M = DATA / "ftx_btc_perp_1m_2022-01.csv"


def _need(path: Path):
    return pytest.mark.skipif(not path.exists(),
                              reason=f"{path.name} not found at {path.parent} (../shared/data)")


DERIV_HEADER = ("timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,"
                "homeNotional,foreignNotional")
DERIV_ROWS = [
    "1733011200.1234,BTCUSDT,Buy,0.01,96000.5,PlusTick,id-a,1,0.01,960.005",
    "1733011201.5,BTCUSDT,Sell,0.2,95999.5,MinusTick,id-b,1,0.2,19199.9",
    "1733097600.0001,BTCUSDT,Buy,1,96100,ZeroPlusTick,id-c,1,1,96100",  # the next UTC day
]


def _write(path: Path, lines: list[str], gz: bool = False) -> Path:
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _book_msg(kind, ts, u, b=(), a=(), s="XRPUSDT"):
    return json.dumps({"topic": f"orderbook.500.{s}", "type": kind, "ts": ts,
                       "data": {"s": s, "b": [list(x) for x in b], "a": [list(x) for x in a],
                                "u": u, "seq": u}, "cts": ts})


def _levels(frame: pd.DataFrame, ts_ms: int, side: int) -> list[tuple[float, float]]:
    t = pd.Timestamp(ts_ms, unit="ms", tz="UTC")
    rows = frame[(frame["timestamp"] == t) & (frame["side"] == side)].sort_values("level")
    assert list(rows["level"]) == list(range(len(rows)))
    return list(zip(rows["price"], rows["size"], strict=True))


# ------------------------------------------------------------------ trades CSVs
def test_derivative_trades_layout(tmp_path):
    f = _write(tmp_path / "BTCUSDT2024-12-01.csv", [DERIV_HEADER, *DERIV_ROWS])
    assert L.detect_format(f) == "bybit_trades"
    t = L.read_bybit_trades(f)
    assert list(t.columns) == ["timestamp", "price", "size", "side", "trade_id"]
    assert t["timestamp"].iloc[0] == pd.Timestamp(1733011200123400000, unit="ns", tz="UTC")
    assert list(t["side"]) == [1, -1, 1]
    assert list(t["trade_id"]) == ["id-a", "id-b", "id-c"]
    assert list(t["price"]) == [96000.5, 95999.5, 96100.0]
    assert list(t["size"]) == [0.01, 0.2, 1.0]


def test_derivative_trades_rpi_reordered_gzip(tmp_path):
    cols = DERIV_HEADER.split(",") + ["RPI"]
    order = [6, 4, 3, 2, 1, 0, 10, 5, 7, 8, 9]  # reordered, with the newer RPI column
    rows = [r.split(",") + ["0"] for r in DERIV_ROWS]
    lines = [",".join(cols[i] for i in order)] + [",".join(r[i] for i in order) for r in rows]
    f = _write(tmp_path / "BTCUSDT2024-12-01.csv.gz", lines, gz=True)
    plain = _write(tmp_path / "plain.csv", [DERIV_HEADER, *DERIV_ROWS])
    pd.testing.assert_frame_equal(L.read_bybit_trades(f), L.read_bybit_trades(plain))
    out = L.import_file(f, tmp_path / "store")
    assert (out["format"], out["venue"], out["category"], out["symbol"]) == \
        ("bybit_trades", "bybit", "linear", "BTCUSDT")
    assert out["rows"] == out["added"] == 3
    day1 = trades_path(tmp_path / "store", "bybit", "linear", "BTCUSDT", "2024-12-01")
    day2 = trades_path(tmp_path / "store", "bybit", "linear", "BTCUSDT", "2024-12-02")
    assert sorted(out["paths"]) == sorted([str(day1), str(day2)])
    t1, cov1 = read_table(day1)
    assert len(t1) == 2 and cov1 == [[1733011200123, 1733011201501]]
    t2, cov2 = read_table(day2)
    assert len(t2) == 1 and cov2 == [[1733097600000, 1733097600001]]


def test_spot_trades_layout(tmp_path):
    f = _write(tmp_path / "BTCUSDT_2024-12-01.csv",
               ["id,timestamp,price,volume,side,rpi",
                "101,1733011200123,96000.1,0.5,buy,0",
                "102,1733011200999,96000.0,0.25,sell,1"])
    reordered = _write(tmp_path / "r.csv.gz", ["side,price,timestamp,volume,id",
                                               "buy,96000.1,1733011200123,0.5,101",
                                               "sell,96000.0,1733011200999,0.25,102"], gz=True)
    assert L.detect_format(f) == L.detect_format(reordered) == "bybit_spot_trades"
    t = L.read_bybit_spot_trades(f)
    pd.testing.assert_frame_equal(t, L.read_bybit_spot_trades(reordered))
    assert list(t["trade_id"]) == ["101", "102"] and list(t["side"]) == [1, -1]
    assert t["timestamp"].iloc[1] == pd.Timestamp(1733011200999, unit="ms", tz="UTC")
    with pytest.raises(DataError, match="--symbol"):
        L.import_file(f, tmp_path / "store")
    assert not (tmp_path / "store").exists()
    out = L.import_file(f, tmp_path / "store", symbol="BTCUSDT")
    assert (out["venue"], out["category"], out["rows"], out["added"]) == \
        ("bybit", "spot", 2, 2)
    assert L.import_file(reordered, tmp_path / "store", symbol="BTCUSDT")["added"] == 0


# ------------------------------------------------------------------ errors
def test_missing_column_names_file_columns_and_layouts(tmp_path):
    f = _write(tmp_path / "bad.csv", ["timestamp,symbol,side,size,tickDirection,trdMatchID",
                                      "1733011200.1,BTCUSDT,Buy,1,PlusTick,x"])
    with pytest.raises(DataError) as e:
        L.import_file(f, tmp_path / "store")
    msg = str(e.value)
    assert "bad.csv" in msg and "line 1" in msg and "'price'" in msg
    assert "trdmatchid" in msg.lower() and "spot trades" in msg.lower()
    assert not (tmp_path / "store").exists()


def test_bad_side_and_bad_price_name_line_and_value(tmp_path):
    f = _write(tmp_path / "side.csv", [DERIV_HEADER, DERIV_ROWS[0],
                                       DERIV_ROWS[1].replace("Sell", "Short")])
    with pytest.raises(DataError, match=r"side\.csv, line 3: bad side 'Short'"):
        L.import_file(f, tmp_path / "store")
    g = _write(tmp_path / "price.csv", ["id,timestamp,price,volume,side",
                                        "1,1733011200123,96000,1,buy",
                                        "2,1733011200124,abc,1,buy"])
    with pytest.raises(DataError, match=r"price\.csv, line 3: bad price 'abc'"):
        L.import_file(g, tmp_path / "store", symbol="BTCUSDT")
    assert not (tmp_path / "store").exists()


def test_unknown_format(tmp_path):
    f = _write(tmp_path / "x.txt", ["hello world", "1 2 3"])
    with pytest.raises(DataError, match=r"x\.txt, line 1: unknown format"):
        L.import_file(f, tmp_path / "store")
    j = _write(tmp_path / "j.json", ['{"a": 1}'])
    with pytest.raises(DataError, match=r"j\.json, line 1"):
        L.detect_format(j)
    with pytest.raises(DataError, match="empty file"):
        L.detect_format(_write(tmp_path / "e.csv", [""]))


def test_delta_before_snapshot_and_not_json(tmp_path):
    f = _write(tmp_path / "ob.data", [_book_msg("delta", 1000, 1, b=[("1.0", "5")])])
    with pytest.raises(DataError, match=r"ob\.data, line 1: a delta before any snapshot"):
        L.import_file(f, tmp_path / "store", category="linear")
    g = _write(tmp_path / "ob2.data", [_book_msg("snapshot", 1000, 1, b=[("1.0", "5")]),
                                       "{not json"])
    with pytest.raises(DataError, match=r"ob2\.data, line 2: not JSON"):
        L.import_file(g, tmp_path / "store", category="linear")
    assert not (tmp_path / "store").exists()


def test_book_category_required(tmp_path):
    f = _write(tmp_path / "ob.data", [_book_msg("snapshot", 1000, 1, b=[("1.0", "5")],
                                                a=[("1.1", "2")])])
    with pytest.raises(DataError, match="--category"):
        L.import_file(f, tmp_path / "store")


# ------------------------------------------------------------------ order book
def test_book_hand_computed(tmp_path):
    t0 = 1733011200000
    f = _write(tmp_path / "ob.data", [
        _book_msg("snapshot", t0, 10, b=[("10.0", "1"), ("9.9", "2"), ("9.8", "3")],
                  a=[("10.1", "4"), ("10.2", "5")]),
        _book_msg("delta", t0 + 1, 11, b=[("9.9", "7")]),                  # updates a level
        _book_msg("delta", t0 + 2, 12, b=[("10.0", "0")], a=[("10.1", "0")]),  # deletes
        _book_msg("delta", t0 + 3, 13, b=[("9.95", "6")], a=[("10.15", "8")]),  # inserts
        _book_msg("snapshot", t0 + 4, 1, b=[("5.0", "1")], a=[("6.0", "1")]),  # resets
    ])
    b = L.read_bybit_orderbook(f, depth=2)
    assert list(b.columns) == ["timestamp", "side", "level", "price", "size", "update_id"]
    assert _levels(b, t0, 1) == [(10.0, 1), (9.9, 2)]  # depth 2 keeps two levels
    assert _levels(b, t0, -1) == [(10.1, 4), (10.2, 5)]
    assert _levels(b, t0 + 1, 1) == [(10.0, 1), (9.9, 7)]
    assert _levels(b, t0 + 2, 1) == [(9.9, 7), (9.8, 3)]
    assert _levels(b, t0 + 2, -1) == [(10.2, 5)]
    assert _levels(b, t0 + 3, 1) == [(9.95, 6), (9.9, 7)]
    assert _levels(b, t0 + 3, -1) == [(10.15, 8), (10.2, 5)]
    assert _levels(b, t0 + 4, 1) == [(5.0, 1)] and _levels(b, t0 + 4, -1) == [(6.0, 1)]
    ids = b.groupby("timestamp")["update_id"].first().tolist()
    assert ids == [10, 11, 12, 13, 1]
    full = L.read_bybit_orderbook(f)
    assert _levels(full, t0 + 3, 1) == [(9.95, 6), (9.9, 7), (9.8, 3)]


def test_book_messages_in_one_ms_keep_the_last_state(tmp_path):
    f = _write(tmp_path / "ob.data", [
        _book_msg("snapshot", 5000, 1, b=[("1.0", "1"), ("0.9", "1")], a=[("1.1", "1")]),
        _book_msg("delta", 5000, 2, b=[("0.9", "0")]),
    ])
    b = L.read_bybit_orderbook(f)
    assert _levels(b, 5000, 1) == [(1.0, 1)] and len(b) == 2


def _replay(path: Path, depth: int) -> list[tuple]:
    """An independent replay: the last message's book, as (side, level, price, size)."""
    bids, asks = {}, {}
    for line in path.read_text().splitlines():
        m = json.loads(line)
        if m["type"] == "snapshot":
            bids, asks = {}, {}
        for key, book in (("b", bids), ("a", asks)):
            for p, s in m["data"][key]:
                if float(s) == 0:
                    book.pop(float(p), None)
                else:
                    book[float(p)] = float(s)
    out = [(1, i, p, bids[p]) for i, p in enumerate(sorted(bids, reverse=True)[:depth])]
    return out + [(-1, i, p, asks[p]) for i, p in enumerate(sorted(asks)[:depth])]


@_need(BOOK)
def test_xrpusdt_book_round_trip(tmp_path):
    lines = BOOK.read_text().splitlines()
    msgs = [json.loads(x) for x in lines]
    b = L.read_bybit_orderbook(BOOK)
    assert b["timestamp"].nunique() == len({m["ts"] for m in msgs}) == 50
    first = msgs[0]["data"]
    assert _levels(b, msgs[0]["ts"], 1) == [(float(p), float(s)) for p, s in first["b"][:50]]
    assert _levels(b, msgs[0]["ts"], -1) == [(float(p), float(s)) for p, s in first["a"][:50]]
    for _ts, g in b.groupby("timestamp"):
        bid = g[g["side"] == 1].sort_values("level")["price"].to_numpy()
        ask = g[g["side"] == -1].sort_values("level")["price"].to_numpy()
        assert len(bid) == len(ask) == 50
        assert (np.diff(bid) < 0).all() and (np.diff(ask) > 0).all() and bid[0] < ask[0]
    last = b[b["timestamp"] == b["timestamp"].max()]
    got = list(last[["side", "level", "price", "size"]].itertuples(index=False, name=None))
    assert sorted(got) == sorted(_replay(BOOK, 50))
    assert last["update_id"].iloc[0] == msgs[-1]["data"]["u"]

    out = L.import_file(BOOK, tmp_path / "store", category="linear", depth=50)
    assert (out["format"], out["venue"], out["symbol"], out["rows"], out["added"]) == \
        ("bybit_orderbook", "bybit", "XRPUSDT", len(b), len(b))
    path = orderbook_path(tmp_path / "store", "linear", "XRPUSDT", "2024-12-01")
    assert out["paths"] == [str(path)]
    stored, cov = read_table(path)
    pd.testing.assert_frame_equal(stored.reset_index(drop=True),
                                  b.sort_values(["timestamp", "side", "level"])
                                  .reset_index(drop=True), check_dtype=False)
    assert cov == [[msgs[0]["ts"], msgs[-1]["ts"] + 1]]
    assert L.import_file(BOOK, tmp_path / "store", category="linear")["added"] == 0


# ------------------------------------------------------------------ Binance feed
@_need(FEED)
def test_binance_feed_round_trip(tmp_path):
    trades, book = L.read_binance_feed_frames(FEED)
    assert len(trades) == 21_313
    assert set(trades["side"]) == {1, -1}
    assert set(book["level"]) == {0} and set(book["side"]) == {1, -1}
    wide = book.pivot(index="timestamp", columns="side", values="price")
    assert (wide[1] < wide[-1]).all()
    out = L.import_file(FEED, tmp_path / "store")
    assert (out["format"], out["venue"], out["category"], out["symbol"]) == \
        ("binance_feed", "binance", "linear", "BTCUSDT")
    assert out["rows"] == out["added"] == len(trades) + len(book)
    n = 0
    for p in out["paths"]:
        frame, cov = read_table(p)
        assert frame["timestamp"].is_monotonic_increasing and len(cov) == 1
        key = ["trade_id"] if "/trades/" in p else ["timestamp", "side", "level"]
        assert not frame.duplicated(key).any()
        n += len(frame) if "/trades/" in p else 0
    assert n == 21_313
    assert L.import_file(FEED, tmp_path / "store")["added"] == 0


def test_binance_feed_taker_side(tmp_path):
    msgs = [{"stream": "ethusdt@trade", "data": {"e": "trade", "T": 1000 + i, "s": "ETHUSDT",
                                                 "t": i, "p": "2000.5", "q": "1", "m": m,
                                                 "X": "MARKET"}}
            for i, m in enumerate([True, False])]
    f = _write(tmp_path / "feed.gz", [f"{i} {json.dumps(m)}" for i, m in enumerate(msgs)],
               gz=True)
    assert L.detect_format(f) == "binance_feed"
    trades, book = L.read_binance_feed_frames(f)
    assert list(trades["side"]) == [-1, 1] and list(trades["trade_id"]) == ["0", "1"]
    assert len(book) == 0
    assert L.import_file(f, tmp_path / "s")["symbol"] == "ETHUSDT"


# ------------------------------------------------------------------ bars
@pytest.mark.parametrize("path, rows", [(SPOT_1M, 1_440), (PERP_1M, 721), (FTX_1M, 45_031)])
def test_bar_files(tmp_path, path, rows):
    if not path.exists():
        pytest.skip(f"{path.name} not found at {path.parent} (../shared/data)")
    assert L.detect_format(path) == "klines_1m"
    k = L.read_klines_csv(path)
    assert len(k) == rows and k["turnover"].isna().all()
    assert list(k.columns) == ["timestamp", "open", "high", "low", "close", "volume",
                               "turnover"]
    with pytest.raises(DataError, match="--category"):
        L.import_file(path, tmp_path / "store")
    out = L.import_file(path, tmp_path / "store", category="linear", symbol="BTCUSDT")
    assert out["rows"] == out["added"] == rows
    target = klines_path(tmp_path / "store", "linear", "BTCUSDT", "1")
    assert out["paths"] == [str(target)]
    stored, cov = read_table(target)
    assert len(stored) == rows and stored["timestamp"].is_monotonic_increasing
    assert stored["timestamp"].is_unique
    first = int(k["timestamp"].iloc[0].timestamp() * 1000)
    last = int(k["timestamp"].iloc[-1].timestamp() * 1000)
    assert cov == [[first, last + 1]]
    assert L.import_file(path, tmp_path / "store", category="linear",
                         symbol="BTCUSDT")["added"] == 0


def test_bar_turnover_and_bad_time(tmp_path):
    f = _write(tmp_path / "k.csv", ["timestamp,open,high,low,close,volume,turnover",
                                    "2024-01-01T00:01:00Z,2,3,1,2,10,20",
                                    "2024-01-01T00:00:00Z,1,2,1,2,5,7.5"])
    k = L.read_klines_csv(f)
    assert list(k["turnover"]) == [20.0, 7.5]
    L.import_file(f, tmp_path / "s", category="spot", symbol="X")
    stored, _ = read_table(klines_path(tmp_path / "s", "spot", "X", "1"))
    assert list(stored["open"]) == [1.0, 2.0]  # sorted on the way in
    g = _write(tmp_path / "g.csv", ["timestamp,open,high,low,close,volume",
                                    "yesterday,1,1,1,1,1"])
    with pytest.raises(DataError, match=r"g\.csv, line 2: bad timestamp 'yesterday'"):
        L.read_klines_csv(g)


def test_store_reads_back_sorted_and_unique(tmp_path):
    rows = list(reversed(DERIV_ROWS[:2])) + [DERIV_ROWS[0]]  # unsorted, with a repeat
    f = _write(tmp_path / "t.csv", [DERIV_HEADER, *rows])
    out = L.import_file(f, tmp_path / "store")
    assert out["rows"] == 3 and out["added"] == 2
    frame, _ = read_table(out["paths"][0])
    assert frame["timestamp"].is_monotonic_increasing
    assert frame["trade_id"].is_unique and len(frame) == 2


def test_explicit_symbol_that_contradicts_the_file(tmp_path):
    f = _write(tmp_path / "t.csv", [DERIV_HEADER, *DERIV_ROWS])
    with pytest.raises(DataError, match="'BTCUSDT', not 'ETHUSDT'"):
        L.import_file(f, tmp_path / "store", symbol="ETHUSDT")
    assert L.import_file(f, tmp_path / "store", symbol="btcusdt")["symbol"] == "BTCUSDT"


def test_failed_import_leaves_the_store_untouched_and_progress(tmp_path):
    good = _write(tmp_path / "good.csv", [DERIV_HEADER, *DERIV_ROWS[:2]])
    said: list[str] = []
    out = L.import_file(good, tmp_path / "store", progress=said.append)
    assert said and "bybit_trades" in said[0] and any("wrote" in s for s in said)
    before = {p: Path(p).read_bytes() for p in out["paths"]}
    bad = _write(tmp_path / "bad.csv.gz", [DERIV_HEADER, DERIV_ROWS[2],
                                           DERIV_ROWS[0].replace("96000.5", "x")], gz=True)
    with pytest.raises(DataError, match=r"bad\.csv\.gz, line 3: bad price 'x'"):
        L.import_file(bad, tmp_path / "store")
    assert {p: Path(p).read_bytes() for p in out["paths"]} == before
    assert len(list((tmp_path / "store").rglob("*.parquet"))) == 1


def test_gzipped_book(tmp_path):
    f = _write(tmp_path / "ob.data.gz", [
        _book_msg("snapshot", 1000, 1, b=[("1.0", "5")], a=[("1.1", "2")]),
        _book_msg("delta", 2000, 2, a=[("1.05", "3")])], gz=True)
    assert L.detect_format(f) == "bybit_orderbook"
    b = L.read_bybit_orderbook(f)
    assert _levels(b, 2000, -1) == [(1.05, 3), (1.1, 2)]

"""The local Parquet store: atomic writes, coverage, dedupe and order (abmm.data.store)."""

import os

import pandas as pd
import pytest

from abmm.data import store
from abmm.errors import DataError


def bars(ms):
    n = len(ms)
    return pd.DataFrame({"timestamp": pd.to_datetime(ms, unit="ms", utc=True),
                         "open": [1.0] * n, "high": [2.0] * n, "low": [0.5] * n,
                         "close": [float(m) for m in ms], "volume": [3.0] * n,
                         "turnover": [4.0] * n})


def test_merge_ranges_and_missing():
    assert store.merge_ranges([[5, 9], [0, 3], [3, 4], [8, 12], [20, 20]]) == [[0, 4], [5, 12]]
    assert store.missing_ranges([[0, 4], [5, 12]], 0, 15) == [[4, 5], [12, 15]]
    assert store.missing_ranges([], 2, 7) == [[2, 7]]
    assert store.missing_ranges([[0, 100]], 10, 20) == []
    assert store.missing_ranges([[10, 20]], 0, 30) == [[0, 10], [20, 30]]


def test_merge_into_dedupes_sorts_and_records_coverage(tmp_path):
    p = store.klines_path(tmp_path, "linear", "BTCUSDT", "1")
    assert store.merge_into(p, "klines", bars([120_000, 0, 60_000]), [[0, 180_000]]) == 3
    # an overlapping page with a changed value: no duplicate row, the newer value kept
    newer = bars([60_000, 180_000])
    newer.loc[0, "close"] = 99.0
    assert store.merge_into(p, "klines", newer, [[60_000, 240_000]]) == 1
    frame, cov = store.read_table(p)
    assert frame["timestamp"].is_monotonic_increasing and frame["timestamp"].is_unique
    assert len(frame) == 4 and frame.loc[1, "close"] == 99.0
    assert cov == [[0, 240_000]]
    assert str(frame["timestamp"].dt.tz) == "UTC"


def test_failed_write_leaves_old_file_whole(tmp_path, monkeypatch):
    p = store.klines_path(tmp_path, "linear", "BTCUSDT", "1")
    store.merge_into(p, "klines", bars([0, 60_000]), [[0, 120_000]])
    before = p.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    from abmm.schema import files

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(OSError):
        store.merge_into(p, "klines", bars([120_000]), [[120_000, 180_000]])
    assert p.read_bytes() == before
    assert os.listdir(p.parent) == [p.name]  # no temporary left lying


def test_bad_rows_and_bad_files_are_clear_errors(tmp_path):
    p = store.klines_path(tmp_path, "linear", "BTCUSDT", "1")
    with pytest.raises(DataError, match="lack the columns"):
        store.merge_into(p, "klines", bars([0]).drop(columns="close"), [[0, 60_000]])
    assert not p.exists()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("not parquet")
    with pytest.raises(DataError, match="not a readable Parquet"):
        store.read_table(p)


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".."])
def test_path_components_cannot_escape(tmp_path, bad):
    with pytest.raises(DataError, match="plain name"):
        store.klines_path(tmp_path, "linear", bad, "1")


def test_list_store(tmp_path):
    store.merge_into(store.klines_path(tmp_path, "spot", "ETHUSDT", "5"), "klines",
                     bars([0, 300_000]), [[0, 600_000]])
    rows = store.list_store(tmp_path)
    assert [r["path"] for r in rows] == ["klines/spot/ETHUSDT_5.parquet"]
    assert rows[0]["rows"] == 2 and rows[0]["coverage"] == [[0, 600_000]]
    with pytest.raises(DataError, match="no such data store"):
        store.list_store(tmp_path / "nope")


def _snap(ms, bid, ask):
    rows = []
    for side, price in ((1, bid), (-1, ask)):
        if price is not None:
            rows += [{"timestamp": ms, "side": side, "level": 0, "price": price, "size": 1.0,
                      "update_id": -1},
                     {"timestamp": ms, "side": side, "level": 1,
                      "price": price - 0.5 * side, "size": 2.0, "update_id": -1}]
    return rows


def test_book_spreads_from_snapshots(tmp_path):
    rows = (_snap(5_000, 100.0, 100.2) + _snap(50_000, 100.0, 100.1)   # minute 0: last 0.1
            + _snap(70_000, 100.0, None)                              # one-sided: no spread
            + _snap(200_000, 99.0, 99.3))                             # minute 3; 1-2 carry
    frame = pd.DataFrame(rows)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
    p = store.orderbook_path(tmp_path, "linear", "BTCUSDT", "1970-01-01")
    store.merge_into(p, "orderbook", frame, [[0, 240_000]])
    out = store.book_spreads(tmp_path, "linear", "BTCUSDT")
    assert list(out.columns) == ["timestamp", "spread"]
    assert out["timestamp"].dt.strftime("%H:%M").tolist() == ["00:00", "00:01", "00:02",
                                                              "00:03"]
    assert out["spread"].round(9).tolist() == [0.1, 0.1, 0.1, 0.3]
    with pytest.raises(DataError, match="no order-book snapshots of ETHUSDT"):
        store.book_spreads(tmp_path, "linear", "ETHUSDT")

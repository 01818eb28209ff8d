"""`abmm data ...` end to end against the fake V5 server on 127.0.0.1, and on the shared files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fake_bybit import MINUTE, linear_instrument

from abmm.cli import main
from abmm.data.store import read_table

T0 = 19_676 * 1440 * MINUTE  # 2023-11-15T00:00Z
DAY = "2023-11-15"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_fetch_klines_prints_bars_and_gaps_and_resumes(fake_bybit, tmp_path, capsys):
    fake_bybit.add_klines("linear", "BTCUSDT", "1",
                          [T0 + i * MINUTE for i in range(0, 120) if i != 50])
    args = ["data", "fetch-klines", "--symbol", "btcusdt", "--category", "linear",
            "--interval", "1", "--start", f"{DAY}T00:00", "--end", f"{DAY}T02:00",
            "--out", str(tmp_path), "--base-url", fake_bybit.url]
    rc, out, err = run(capsys, *args)
    assert rc == 0, err
    assert out.splitlines()[0].startswith("119 bars in ") and "1 gap" in out
    assert "2023-11-15 00:50:00+00:00" in out  # the gap, named
    frame, cov = read_table(tmp_path / "klines" / "linear" / "BTCUSDT_1.parquet")
    assert list(frame.columns) == ["timestamp", "open", "high", "low", "close", "volume",
                                   "turnover"]
    assert len(frame) == 119 and frame["timestamp"].is_monotonic_increasing
    n = fake_bybit.count()
    rc, out, _ = run(capsys, *args, "--json")
    res = json.loads(out)
    assert rc == 0 and res["bars_added"] == 0 and res["bars"] == 119
    assert fake_bybit.count() == n  # nothing asked again


def test_fetch_klines_ban_is_a_fault_and_bad_symbol_is_input(fake_bybit, tmp_path, capsys):
    base = ["data", "fetch-klines", "--category", "linear", "--interval", "1",
            "--start", DAY, "--end", "2023-11-16", "--out", str(tmp_path),
            "--base-url", fake_bybit.url]
    fake_bybit.script("/v5/market/kline", ("json", 403, {"message": "access too frequent"}))
    rc, out, err = run(capsys, *base, "--symbol", "BTCUSDT")
    assert rc == 1 and "banned" in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    rc, _, err = run(capsys, *base, "--symbol", "NOSUCH")
    assert rc == 2 and "NOSUCH" in err and len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "klines").rglob("*.parquet")) if (tmp_path / "klines").exists() \
        else True


@pytest.mark.parametrize("start,end,needle", [
    ("2024-01-08", "2024-01-01", "not after"),
    ("2024-13-01", "2024-01-02", "--start"),
    ("2024-01-01", "tomorrow-ish", "--end"),
])
def test_fetch_klines_bad_dates(tmp_path, capsys, start, end, needle):
    rc, _, err = run(capsys, "data", "fetch-klines", "--symbol", "BTCUSDT", "--category",
                     "linear", "--interval", "1", "--start", start, "--end", end,
                     "--out", str(tmp_path / "s"), "--base-url", "http://127.0.0.1:9")
    assert rc == 2 and needle in err and not (tmp_path / "s").exists()


def test_instrument_prints_a_market_section(fake_bybit, capsys):
    fake_bybit.instrument_list["linear"] = [linear_instrument("BTCUSDT", "0.10", "0.001")]
    fake_bybit.add_klines("linear", "BTCUSDT", "1", [T0, T0 + MINUTE], price=65000.0)
    rc, out, err = run(capsys, "data", "instrument", "--symbol", "BTCUSDT", "--category",
                       "linear", "--base-url", fake_bybit.url)
    assert rc == 0, err
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(out)["market"] == {"symbol": "BTCUSDT", "tick_size": 0.1,
                                             "lot_size": 0.001, "reference_price": 65002.0}


def test_orderbook_polls_into_the_store(fake_bybit, tmp_path, capsys):
    fake_bybit.books[("linear", "BTCUSDT")] = {
        "s": "BTCUSDT", "b": [["100.0", "1.5"], ["99.9", "2"]], "a": [["100.1", "3"]],
        "ts": T0, "u": 7, "seq": 1, "cts": T0}
    fake_bybit.symbols.add("BTCUSDT")
    rc, out, err = run(capsys, "data", "orderbook", "--symbol", "BTCUSDT", "--category",
                       "linear", "--depth", "2", "--every", "50ms", "--duration", "120ms",
                       "--out", str(tmp_path), "--base-url", fake_bybit.url, "--json")
    assert rc == 0, err
    assert json.loads(out)["snapshots"] >= 1
    files = list((tmp_path / "orderbook" / "linear" / "BTCUSDT").glob("*.parquet"))
    frame = pd.concat(pd.read_parquet(f) for f in files)
    assert set(frame["side"]) == {1, -1} and frame["price"].max() == 100.1


def test_import_and_list(tmp_path, capsys):
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (the shared real-data folder)")
    src = SHARED / "bybit_xrpusdt_ob500_2024-12-01_sample.data"
    rc, out, err = run(capsys, "data", "import", str(src), "--out", str(tmp_path),
                       "--category", "linear", "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert res["symbol"] == "XRPUSDT" and res["added"] == res["rows"] > 0
    rc, out, _ = run(capsys, "data", "import", str(src), "--out", str(tmp_path),
                     "--category", "linear", "--json")
    assert json.loads(out)["added"] == 0  # a second import adds nothing
    rc, out, _ = run(capsys, "data", "list", str(tmp_path), "--json")
    assert [r["path"] for r in json.loads(out)] == ["orderbook/linear/XRPUSDT/2024-12-01.parquet"]
    rc, _, err = run(capsys, "data", "import", str(SHARED / "README.md"), "--out", str(tmp_path))
    assert rc == 2 and "unknown format" in err and len(err.strip().splitlines()) == 1

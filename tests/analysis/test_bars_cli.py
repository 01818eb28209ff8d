"""OHLCV bars of a run (abmm.analysis.bars), real OHLCV files, and the ``abmm facts|report|bars``
commands on a small run directory."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from abmm.analysis.bars import COLUMNS, read_ohlcv, run_bars
from abmm.cli import main
from abmm.engine.types import EventKind
from abmm.scenario import build_model

S = 10**9
OPEN = 34_200 * S  # 09:30


# ------------------------------------------------------------------------------ hand-made runs
def _run(fake_run, top_rows, tmp_path, **market):
    top = top_rows([
        (OPEN + 0 * S, 10_000, 5, 10_002, 5),   # mid 100.01
        (OPEN + 20 * S, 10_002, 5, 10_004, 5),  # 100.03
        (OPEN + 50 * S, 9_996, 5, 9_998, 5),    # 99.97
        (OPEN + 70 * S, 10_010, 5, 0, 0),       # one-sided: no mid
        (OPEN + 100 * S, 10_000, 5, 10_001, 5),  # 100.005
    ])
    fills = {"ts": [OPEN + 10 * S, OPEN + 65 * S, OPEN + 110 * S], "price": [10_002, 9_998, 10_001],
             "qty": [3, 4, 7], "side": [0, 1, 0], "kind": [int(EventKind.FILL)] * 3}
    return fake_run(tmp_path, top=top, fills=fills,
                    market={"close": "09:33", **market})


def test_bars_close_is_the_last_mid_and_volume_the_lots(fake_run, top_rows, tmp_path):
    bars = run_bars(_run(fake_run, top_rows, tmp_path), "1min")
    assert list(bars.columns) == COLUMNS
    assert [t.strftime("%H:%M") for t in bars["timestamp"]] == ["09:30", "09:31", "09:32"]
    assert bars["open"].tolist() == [100.01, 99.97, 100.005]
    assert bars["high"].tolist() == [100.03, 100.005, 100.005]
    assert bars["low"].tolist() == [99.97, 99.97, 100.005]
    assert bars["close"].tolist() == [99.97, 100.005, 100.005]  # a bar without change repeats
    assert bars["volume"].tolist() == [3, 11, 0]


def test_spread_bars_give_the_quoted_spread_at_each_close(fake_run, top_rows, tmp_path):
    run = _run(fake_run, top_rows, tmp_path)
    bars = run_bars(run, "1min", spread=True)
    assert list(bars.columns) == COLUMNS + ["spread"]
    assert bars["close"].tolist() == [99.97, 100.005, 100.005]  # the other columns unchanged
    # 09:30 closes on the 50 s quote (2 ticks; the one-sided book at 70 s has no spread),
    # 09:31 on the 100 s quote (1 tick), 09:32 carries it
    assert bars["spread"].tolist() == [0.02, 0.01, 0.01]
    with pytest.raises(ValueError, match="spread bars need mid-price bars"):
        run_bars(run, "1min", price="trade", spread=True)
    out = tmp_path / "b.csv"
    assert main(["bars", str(run), "--spread", "--out", str(out)]) == 0
    back = read_ohlcv(out)
    assert list(back.columns) == COLUMNS + ["spread"] and back["spread"].tolist() == [0.02, 0.01,
                                                                                        0.01]


def test_trade_price_bars_and_after_warmup(fake_run, top_rows, tmp_path):
    run = _run(fake_run, top_rows, tmp_path, warmup="1min")
    trade = run_bars(run, "1min", price="trade")
    assert trade["close"].tolist() == [100.02, 100.01, 100.01]
    assert trade["open"].tolist() == [100.02, 100.02, 100.01]
    assert trade["low"].tolist() == [100.02, 99.98, 100.01]
    later = run_bars(run, "1min", after_warmup=True)
    assert [t.strftime("%H:%M") for t in later["timestamp"]] == ["09:31", "09:32"]
    with pytest.raises(ValueError, match="price must be 'mid' or 'trade'"):
        run_bars(run, "1min", price="last")
    with pytest.raises(ValueError, match="'bogus' is not a pandas frequency"):
        run_bars(run, "bogus")


def test_a_run_without_top_of_book_needs_trade_bars(fake_run, tmp_path):
    run = fake_run(tmp_path, fills={"ts": [OPEN + S], "price": [10_000], "qty": [1],
                                    "kind": [int(EventKind.FILL)]})
    with pytest.raises(ValueError, match="no top-of-book log.*price='trade'"):
        run_bars(run, "1min")
    assert run_bars(run, "1min", price="trade")["close"].tolist() == [100.0]


def test_read_ohlcv_epoch_numbers_and_bad_files(tmp_path):
    ts = pd.date_range("2022-12-13", periods=3, freq="1min")
    base = pd.DataFrame({"open": [1.0, 2, 3], "high": [1.0, 2, 3], "low": [1.0, 2, 3],
                         "close": [1.0, 2, 3], "volume": [1.0, 1, 1]})
    for unit, div in (("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1)):
        path = tmp_path / f"{unit}.csv"
        base.assign(timestamp=ts.as_unit("ns").asi8 // div).to_csv(path, index=False)
        assert (read_ohlcv(path)["timestamp"] == ts).all(), unit
    base.assign(timestamp=ts.as_unit("ns").asi8 // 10**6).iloc[::-1].to_parquet(tmp_path / "ms.parquet")
    assert (read_ohlcv(tmp_path / "ms.parquet")["timestamp"] == ts).all()  # sorted
    base.to_csv(tmp_path / "no_ts.csv", index=False)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['timestamp'\]"):
        read_ohlcv(tmp_path / "no_ts.csv")
    base.assign(timestamp=["x", "y", "z"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="cannot parse column 'timestamp'"):
        read_ohlcv(tmp_path / "bad.csv")


# ------------------------------------------------------------------------------ the commands
SCENARIO = {
    "name": "cli", "seed": 5,
    "market": {"open": "09:30", "close": "10:30", "warmup": "2min"},
    "agents": [
        {"kind": "noise", "count": 40, "wake": {"kind": "poisson", "interval": "5s"},
         "p_market": 0.2, "offset_ticks": 8, "order_ttl": "1min"},
        {"kind": "market_maker", "name": "mm", "levels": 2, "size": 10},
    ],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    build_model(SCENARIO, out=out).run()
    return out


def test_abmm_facts_prints_the_scorecard_and_json(run, capsys):
    assert main(["facts", str(run)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split()[:4] == ["fact", "measured", "expected", "pass"]
    assert "checks pass (57 returns at 1min)" in text  # 58 bars 09:32-10:30, after the warm-up
    assert main(["facts", str(run), "--json", "--freq", "30s", "--price", "trade"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["info"]["n"] == 115 and card["info"]["base"] == "30s"
    assert {r["name"] for r in card["rows"]} >= {"excess kurtosis", "tail index (Hill, top 5%)"}
    keys = [r["key"] for r in card["rows"]]
    assert len(set(keys)) == len(keys) and {"acf_r_1_20", "vr_5", "sign_gamma", "acf_r1"} <= set(keys)
    assert set(card["checks"]) <= set(keys) and "vol_level" not in card["checks"]
    bounce = next(r for r in card["rows"] if r["key"] == "acf_r1")
    assert "bounce" in bounce["name"] and bounce["passed"] is None  # --price trade


def test_abmm_facts_of_a_real_file_alone(run, tmp_path, capsys):
    real = tmp_path / "real.csv"
    run_bars(run, "1min").to_csv(real, index=False)
    assert main(["facts", "--real", str(real), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["info"]["n"] == 59 and not card["info"]["real"]
    assert "sign_gamma" not in card["checks"] and "vol_level" not in card["checks"]
    assert main(["facts", "--real", str(real)]) == 0
    assert "checks pass (59 returns at 1min)" in capsys.readouterr().out
    assert main(["facts"]) == 2
    assert "give a run directory" in capsys.readouterr().err


def test_abmm_facts_with_real_data_and_bad_input(run, tmp_path, capsys):
    real = tmp_path / "real.csv"
    run_bars(run, "1min").to_csv(real, index=False)
    assert main(["facts", str(run), "--real", str(real)]) == 0
    assert capsys.readouterr().out.splitlines()[0].split()[-1] == "real"
    assert main(["facts", str(run), "--freq", "bogus"]) == 2
    assert "not a pandas frequency" in capsys.readouterr().err
    assert main(["facts", str(run), "--real", str(tmp_path / "missing.csv")]) == 2
    assert "cannot read --real" in capsys.readouterr().err
    assert main(["facts", str(tmp_path)]) == 2
    assert "is not a run directory" in capsys.readouterr().err


def test_abmm_bars_writes_the_csv(run, tmp_path, capsys):
    out = tmp_path / "bars.csv"
    assert main(["bars", str(run), "--freq", "5min", "--out", str(out)]) == 0
    assert "12 bars (5min)" in capsys.readouterr().out
    bars = pd.read_csv(out)
    assert list(bars.columns) == COLUMNS and len(bars) == 12
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert bars["volume"].sum() == pd.read_json(run / "summary.json", typ="series")["volume_lots"]
    # ticks of 0.01: every price is a multiple of half a tick, with no float noise in the file
    assert np.allclose(bars["close"] * 200, np.round(bars["close"] * 200))
    assert all(len(str(v).split(".")[-1]) <= 3 for v in bars["close"])


def test_abmm_report_writes_html_and_refuses_a_broken_run(run, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(run), "--out", str(out)]) == 0
    assert f"report: {out}" in capsys.readouterr().out
    assert '<section id="scorecard">' in out.read_text()
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("scenario.yaml", "summary.json"):
        (broken / name).write_bytes((run / name).read_bytes())
    (broken / "events").mkdir()
    assert main(["report", str(broken)]) == 2
    assert "cannot report on" in capsys.readouterr().err

"""Stylized facts and the scorecard: known processes give the facts they should (Student-t tails,
i.i.d. Gaussian, GARCH clustering, AR(1) autocorrelation, power laws, volume/volatility), the
book and order-sign facts of a run, the real Bybit bars, and degenerate inputs."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abmm.analysis import facts as F
from abmm.analysis.bars import COLUMNS, read_ohlcv

DATA_DIR = Path(os.environ.get("ABMM_DATA_DIR",
                               Path(__file__).resolve().parents[3] / "shared" / "data"))
SPOT = DATA_DIR / "bybit_btcusdt_spot_1m_2022-12-13.csv"
PERP = DATA_DIR / "bybit_btcusdt_perp_1m_2022-12-13.csv"
needs_data = pytest.mark.skipif(
    not SPOT.exists(), reason=f"real Bybit data not found at {DATA_DIR} (set ABMM_DATA_DIR)")

N = 50_000
OPEN_NS = 34_200 * 10**9  # 09:30


def bars_from(r, volume=None, freq="1min") -> pd.DataFrame:
    """1-minute bars whose closes have log returns ``r`` (volume 1 unless given)."""
    close = 100 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    vol = np.ones(len(close)) if volume is None else np.concatenate([[1.0], volume])
    ts = pd.date_range("2024-01-01", periods=len(close), freq=freq)
    return pd.DataFrame({"timestamp": ts, "open": close, "high": close, "low": close,
                         "close": close, "volume": vol})


def garch(n, seed, a=0.1, b=0.85, nu=None) -> np.ndarray:
    """GARCH(1,1) returns, unit-variance Gaussian (or Student-t ``nu``) innovations."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, n) / math.sqrt(nu / (nu - 2)) if nu else rng.standard_normal(n)
    w, s2 = 1e-6 * (1 - a - b), 1e-6
    r = np.empty(n)
    for t in range(n):
        r[t] = math.sqrt(s2) * z[t]
        s2 = w + a * r[t] ** 2 + b * s2
    return r


def rows(card) -> dict:
    return {r.name: r for r in card.rows}


def keyed(card) -> dict:
    return {r.key: r for r in card.rows}


#: The checks of a scorecard of bars alone (sign_gamma needs a run, vol_level real data).
CHECKS = ["acf_r_1_20", "vr_5", "vr_30", "beta_abs", "hill_5", "kurt", "acf_abs_1",
          "acf_abs_mean_1_20", "agg_kurt_change", "vv_spearman"]


@pytest.fixture(scope="module")
def gauss():
    return np.random.default_rng(1).standard_normal(N) * 1e-3


@pytest.fixture(scope="module")
def garch_t():
    """GARCH(1,1) with Student-t(5) innovations and volume rising with |r|."""
    r = garch(N, 2, nu=5)
    vol = np.abs(r) * 1e5 + np.random.default_rng(2).exponential(10, N)
    return bars_from(r, vol)


# ----------------------------------------------------------------------------------- returns
def test_log_returns_and_resampling():
    r = np.random.default_rng(0).standard_normal(60) * 1e-3
    bars = bars_from(r)
    lr = F.log_returns(bars)
    assert np.allclose(lr.to_numpy(), r)
    five = F.log_returns(bars, "5min")
    # the last close of each 5-minute bin: sums of five 1-minute returns (the last bin holds
    # the final close alone)
    assert np.allclose(five.to_numpy(), [r[4 + 5 * i:9 + 5 * i].sum() for i in range(12)])
    assert F.log_returns(bars, "1D").empty


def test_log_returns_drop_nan_duplicates_and_gaps():
    bars = bars_from(np.full(9, 0.01))
    bars.loc[3, "close"] = np.nan
    bars.loc[6, "close"] = 0.0
    dup = bars.iloc[[-1]].assign(close=bars["close"].iloc[-1] * 2)
    bars = pd.concat([bars, dup], ignore_index=True)  # same timestamp: the last one counts
    lr = F.log_returns(bars)
    assert np.isfinite(lr).all()
    assert len(lr) == 9 - 4  # returns touching the NaN and the zero close are gone
    assert lr.iloc[-1] == pytest.approx(0.01 + math.log(2))
    gappy = bars_from(np.full(30, 0.01)).drop(index=range(10, 15))
    # bins 00:00 .. 00:30; 00:10 is empty, so the returns into and out of it are dropped, not
    # bridged; the last bin holds bar 30 alone
    five = F.log_returns(gappy, "5min")
    assert list(five.index.strftime("%H:%M")) == ["00:05", "00:20", "00:25", "00:30"]
    assert np.allclose(five.to_numpy(), [0.05, 0.05, 0.05, 0.01])


# -------------------------------------------------------------------------------- the facts
def test_student_t_tail_index_and_kurtosis():
    r = np.random.default_rng(7).standard_t(3, N)
    # Hill is biased a little low at 5 % for Student-t (second-order term): 2.5-2.9 at n=50k
    assert F.hill_tail_index(r, 0.05) == pytest.approx(3, abs=0.5)
    assert F.hill_tail_index(r, 0.025) == pytest.approx(3, abs=0.45)
    assert F.hill_tail_index(r, 0.01) == pytest.approx(3, abs=0.35)
    assert F.excess_kurtosis(r) > 5
    assert 0 < F.excess_kurtosis(r, drop_largest=5) < F.excess_kurtosis(r)
    card = keyed(F.scorecard(bars_from(r * 1e-3)))
    assert card["hill_5"].passed
    assert card["kurt"].passed


def test_iid_gaussian_has_no_autocorrelation_and_no_clustering(gauss):
    n = len(gauss)
    band = F.acf_band(n)
    rho = F.acf(gauss, 20)
    assert np.max(np.abs(rho[1:])) < 4 * band
    rho_abs = F.acf(np.abs(gauss), 50)
    assert np.max(np.abs(rho_abs[[1, 5, 10, 20, 50]])) < 3 * band
    assert F.excess_kurtosis(gauss) == pytest.approx(0, abs=4 * math.sqrt(24 / n))
    card = keyed(F.scorecard(bars_from(gauss)))
    assert card["acf_r_1_20"].passed and card["vr_5"].passed and card["vr_30"].passed
    assert not card["acf_abs_mean_1_20"].passed  # so volatility clustering fails
    assert not card["beta_abs"].passed  # ... and so does its long memory
    assert not card["kurt"].passed
    assert not card["hill_5"].passed  # thin tails: Hill about 6


def test_garch_clusters_and_passes_every_check_but_long_memory(garch_t):
    card = F.scorecard(garch_t)
    by = keyed(card)
    band = F.acf_band(card.info["n"])
    assert by["acf_abs_1"].value > 5 * band
    assert by["acf_abs_1"].passed and by["acf_abs_mean_1_20"].passed
    assert by["acf_abs_5"].value > by["acf_abs_50"].value > 0
    # GARCH(1,1) has short memory: ACF |r| ~ 0.95**k, steeper than the power law of real data
    assert by["beta_abs"].value > F.BETA_RANGE[1] and not by["beta_abs"].passed
    assert [k for k in CHECKS if not by[k].passed] == ["beta_abs"]
    assert card.checks == {k: k != "beta_abs" for k in CHECKS}
    assert not card.passed
    gaussian_garch = keyed(F.scorecard(bars_from(garch(N, 1))))
    assert gaussian_garch["acf_abs_1"].value > 5 * band
    assert gaussian_garch["acf_abs_mean_1_20"].passed


def test_aggregational_gaussianity(garch_t):
    t3 = np.random.default_rng(3).standard_t(3, N) * 1e-3
    scales = F.aggregation_kurtosis(bars_from(t3))
    assert list(scales) == ["1min", "5min", "15min", "30min", "1h", "4h", "1d"]
    assert scales["5min"][1] == N // 5
    k = [scales[s][0] for s in ("1min", "5min", "15min", "1h")]
    assert k == sorted(k, reverse=True)
    by = rows(F.scorecard(garch_t))
    row = keyed(F.scorecard(garch_t))["agg_kurt_change"]
    assert row.passed and row.value < 0 and "4h" in row.expected
    assert by["excess kurtosis @ 4h"].value < by["excess kurtosis @ 1min"].value
    # without timestamps: blocks of bars
    blocks = F.aggregation_kurtosis(pd.Series(100 * np.exp(np.cumsum(t3))))
    assert list(blocks)[:3] == ["bar", "x5", "x15"]
    assert blocks["x15"][0] < blocks["bar"][0]


def test_ar1_fails_the_no_autocorrelation_check():
    rng = np.random.default_rng(4)
    e = rng.standard_normal(N)
    x = np.empty(N)
    x[0] = e[0]
    for t in range(1, N):
        x[t] = 0.3 * x[t - 1] + e[t]
    rho = F.acf(x, 3)
    assert rho[1] == pytest.approx(0.3, abs=0.02) and rho[2] == pytest.approx(0.09, abs=0.02)
    card = F.scorecard(bars_from(x * 1e-3))
    row = keyed(card)["acf_r_1_20"]
    assert not row.passed and row.value > 1.3
    assert "worst lag 1" in row.expected  # lag 1 is part of the check (mid prices)
    assert rows(card)["ACF r lag 1"].passed is None  # ... and also shown on its own
    assert not keyed(card)["vr_5"].passed and keyed(card)["vr_5"].value > 1.5  # momentum
    assert not card.passed


def test_robust_acf_band_keeps_heavy_tailed_noise_from_failing():
    """i.i.d. returns with a few huge moves: the plain band would flag lags, the robust one not."""
    rng = np.random.default_rng(5)
    r = rng.standard_normal(1500)
    r[700:702] = [40.0, -35.0]  # one burst: big |ACF| at lag 1 only by construction
    r[900], r[903] = 30.0, 30.0  # ... and at lag 3
    rho = F.acf(r, 20)
    assert abs(rho[3]) > 3 * F.acf_band(len(r))
    se = F.acf_se(r, 20)
    assert se[3] > 3 / math.sqrt(len(r))
    assert np.allclose(F.acf_se(rng.standard_normal(20000), 5)[1:], 1 / math.sqrt(20000),
                       rtol=0.1)
    assert keyed(F.scorecard(bars_from(r * 1e-3)))["acf_r_1_20"].passed


def test_power_law_fit_recovers_a_known_exponent():
    lags = np.arange(1, 51)
    beta, a = F.fit_power_law(lags, 0.3 * lags ** -0.35)
    assert beta == pytest.approx(0.35, abs=1e-9) and a == pytest.approx(math.log(0.3))
    noisy = 0.3 * lags ** -0.35 * np.exp(np.random.default_rng(6).normal(0, 0.05, 50))
    noisy[[30, 41, 47]] = [-0.01, 0.0, np.nan]  # skipped
    assert F.fit_power_law(lags, noisy)[0] == pytest.approx(0.35, abs=0.05)
    assert math.isnan(F.fit_power_law(lags, -np.ones(50))[0])
    assert math.isnan(F.fit_power_law([1, 2], [0.5, 0.4])[0])  # fewer than 3 points


def test_volume_volatility_correlation():
    rng = np.random.default_rng(8)
    r = rng.standard_normal(5000) * 1e-3
    vol = 1000 * np.abs(r) / 1e-3 + rng.exponential(300, 5000)
    pearson, spearman = F.volume_volatility(bars_from(r, vol))
    assert pearson > 0.5 and spearman > 0.5
    assert keyed(F.scorecard(bars_from(r, vol)))["vv_spearman"].passed
    indep = bars_from(r, rng.exponential(300, 5000))
    p2, s2 = F.volume_volatility(indep)
    assert abs(p2) < 0.05 and abs(s2) < 0.05
    assert not keyed(F.scorecard(indep))["vv_spearman"].passed


def test_leverage_effect_on_an_asymmetric_series():
    rng = np.random.default_rng(9)
    z = rng.standard_normal(20000)
    r = z * np.concatenate([[1.0], np.where(z[:-1] < 0, 2.0, 1.0)])  # falls raise volatility
    lev = F.leverage(r)
    assert len(lev) == 10 and lev[0] < -0.2
    assert np.all(np.abs(lev[1:]) < 0.05)
    by = rows(F.scorecard(bars_from(r * 1e-3)))
    assert by["leverage corr(r_t, |r_t+1|)"].value < -0.2
    assert by["leverage corr(r_t, |r_t+1|)"].passed is None


# ------------------------------------------------------------------------ book, order signs
def test_book_facts_time_weighted(tmp_path, fake_run, top_rows):
    s = 10**9
    run = fake_run(tmp_path, top=top_rows([
        (OPEN_NS, 100, 9, 102, 9),           # superseded within the same ns
        (OPEN_NS, 100, 5, 101, 5),           # spread 1, depth 10 for 10 s
        (OPEN_NS + 10 * s, 100, 1, 103, 1),  # spread 3, depth 2 for 30 s
        (OPEN_NS + 40 * s, 0, 0, 103, 1),    # one-sided for 20 s (to the 09:31 close)
    ]))
    b = F.book_facts(run)
    assert b["rows"] == 4
    assert b["one_sided_frac"] == pytest.approx(20 / 60)
    assert b["spread_mean"] == pytest.approx((10 * 1 + 30 * 3) / 40)
    assert b["spread_median"] == 3 and b["spread_p5"] == 1 and b["spread_p95"] == 3
    assert b["depth_mean"] == pytest.approx((10 * 10 + 30 * 2) / 40)
    rows_ = F.book_facts(run, weighting="rows")
    assert rows_["spread_mean"] == pytest.approx((2 + 1 + 3) / 3)
    assert rows_["one_sided_frac"] == pytest.approx(1 / 4)
    empty = F.book_facts(tmp_path / "nothing")
    assert empty["rows"] == 0 and math.isnan(empty["spread_mean"])


def test_order_sign_facts_merge_fills_and_fit_the_decay(tmp_path, fake_run):
    rng = np.random.default_rng(10)
    # runs of equal signs with Pareto(1.5) lengths: ACF ~ lag**-(1.5 - 1)
    lengths = np.ceil(rng.pareto(1.5, 12000) + 1).astype(int)
    signs = np.repeat(rng.choice([0, 1], len(lengths)), lengths)[:20000]
    ts = OPEN_NS + np.arange(len(signs)) * 1000
    # every 10th order takes two fills (same taker id): one order, counted once
    two = np.arange(len(signs)) % 10 == 0
    taker = np.repeat(np.arange(1, len(signs) + 1), 1 + two)
    ts, side = np.repeat(ts, 1 + two), np.repeat(signs, 1 + two)
    run = fake_run(tmp_path, fills={"ts": ts, "side": side, "kind": np.ones(len(ts)),
                                    "price": np.full(len(ts), 10000), "qty": np.ones(len(ts)),
                                    "other_id": taker})
    o = F.order_sign_facts(run)
    assert o["orders"] == 20000 and o["fills"] == 22000
    assert o["acf_1"] > 0.5
    assert 0.3 < o["gamma"] < 0.9
    assert len(o["acf"]) == 101
    card = F.scorecard(bars_from(np.random.default_rng(1).standard_normal(500) * 1e-3),
                       run_dir=run)
    assert card.checks["sign_gamma"] and card.row("sign_gamma").value == o["gamma"]
    # two takers arriving in the same nanosecond on the same side stay two orders
    same = pd.DataFrame({"timestamp": pd.to_datetime([5, 5, 5]), "side": [0, 0, 0],
                         "taker_id": [7, 8, 8]})
    assert F.order_signs(same).tolist() == [1.0, 1.0]
    assert F.order_signs(same.drop(columns="taker_id")).tolist() == [1.0]  # without ids
    none = F.order_sign_facts(tmp_path / "nothing")
    assert none["orders"] == 0 and math.isnan(none["gamma"])


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory):
    from abmm.scenario import build_model

    scenario = {
        "name": "tiny", "seed": 3,
        "market": {"open": "09:30", "close": "10:30", "warmup": "1min", "step": "1s"},
        "agents": [
            {"kind": "noise", "count": 30, "wake": {"kind": "poisson", "interval": "5s"},
             "p_market": 0.2, "offset_ticks": 8, "cross_ticks": 1, "order_ttl": "1min"},
            {"kind": "market_maker", "name": "mm", "strategy": "fixed", "levels": 2,
             "size": 10},
        ],
    }
    run = tmp_path_factory.mktemp("facts_run")
    build_model(scenario, out=run).run()
    return run


def test_facts_from_a_simulated_run(sim_run):
    card = F.facts_from_run(sim_run, freq="10s")
    assert card.info["n"] == 353 and card.info["base"] == "10s"  # 09:31-10:30 after warm-up
    by = rows(card)
    for name in ("excess kurtosis", "ACF |r| lag 1", "corr(volume, |r|) Spearman"):
        assert np.isfinite(by[name].value)
    assert by["spread mean (ticks)"].value >= 1
    assert by["depth mean (bid_qty+ask_qty, lots)"].value > 0
    assert by["taker orders"].value > 100
    assert -1 <= by["order-sign ACF lag 1"].value <= 1
    assert all(r.passed is None for r in card.rows if "spread" in r.name)
    assert "sign_gamma" in card.checks  # a run's trades: the sign-memory check applies
    assert card.row("sign_acf_1").passed is None
    json.dumps(card.to_dict(), allow_nan=False)
    assert "spread median (ticks)" in F.format_scorecard(card)


# ---------------------------------------------------------------------------- the scorecard
def test_scorecard_interface(garch_t):
    card = F.scorecard(garch_t)
    assert [r.key for r in card.rows if r.passed is not None] == CHECKS
    assert list(card.checks) == CHECKS and set(CHECKS) <= set(F.CHECK_KEYS)
    assert len({r.key for r in card.rows}) == len(card.rows) and all(r.key for r in card.rows)
    frame = card.to_frame()
    assert list(frame.columns) == ["name", "value", "expected", "passed", "real"]
    assert len(frame) == len(card.rows) and frame["real"].isna().all()
    d = card.to_dict()
    assert d["passed"] is False and len(d["rows"]) == len(card.rows)
    assert [r["key"] for r in d["rows"]] == [r.key for r in card.rows]
    assert d["checks"] == card.checks
    json.dumps(d, allow_nan=False)
    text = F.format_scorecard(card)
    head = text.splitlines()[0].split()
    assert head == ["fact", "measured", "expected", "pass"]
    assert "9/10 checks pass" in text
    assert F.Scorecard([F.FactRow("x", 1.0, "info", None, None)]).passed is False


@needs_data
def test_scorecard_on_real_bybit_spot():
    spot = read_ohlcv(SPOT)
    card = F.scorecard(spot)
    by = rows(card)
    assert card.info["n"] == len(spot) - 1 and card.info["base"] == "1min"
    for key in CHECKS + ["acf_r1", "hill_2_5"]:
        assert np.isfinite(keyed(card)[key].value), key
    assert by["excess kurtosis"].value > 10 and by["ACF |r| lag 1"].value > 0.1
    assert by["corr(volume, |r|) Spearman"].value > 0.2
    print()
    print(F.format_scorecard(card))


@needs_data
def test_scorecard_side_by_side_with_real_data(garch_t):
    spot = read_ohlcv(SPOT)
    card = F.scorecard(read_ohlcv(PERP) if PERP.exists() else garch_t, real=spot)
    text = F.format_scorecard(card)
    assert text.splitlines()[0].split() == ["fact", "measured", "expected", "pass", "real"]
    kurt = rows(card)["excess kurtosis"]
    assert np.isfinite(kurt.value) and np.isfinite(kurt.real) and kurt.value != kurt.real
    line = next(ln for ln in text.splitlines() if ln.startswith("excess kurtosis "))
    assert F._num(kurt.value) in line and F._num(kurt.real) in line
    assert "real data (1439 returns)" in text
    assert card.info["real"] and card.info["real_n"] == 1439
    json.dumps(card.to_dict(), allow_nan=False)
    # a scale only one side reaches still gets its row
    sim = F.scorecard(bars_from(np.random.default_rng(0).standard_normal(200) * 1e-3),
                      real=spot)
    k30 = rows(sim)["excess kurtosis @ 30min"]
    assert math.isnan(k30.value) and np.isfinite(k30.real)


# ------------------------------------------------------------------------------- degenerate
def _check_degenerate(card, reason):
    by = keyed(card)
    for key in CHECKS:
        assert math.isnan(by[key].value) and by[key].passed is False, key
        assert reason in by[key].expected
    assert card.passed is False
    json.dumps(card.to_dict(), allow_nan=False)
    text = F.format_scorecard(card)
    assert f"0/{len(CHECKS)} checks pass" in text and reason in text


def test_constant_prices():
    bars = bars_from(np.zeros(500))
    _check_degenerate(F.scorecard(bars), "constant price")
    assert math.isnan(F.excess_kurtosis(np.zeros(100)))
    assert math.isnan(F.hill_tail_index(np.zeros(1000)))
    assert np.isnan(F.acf(np.zeros(100), 5)).all()


def test_too_few_returns_and_empty_bars():
    _check_degenerate(F.scorecard(bars_from(np.full(10, 0.01))), "only 10 returns")
    _check_degenerate(F.scorecard(pd.DataFrame(columns=COLUMNS)), "only 0 returns")
    all_nan = bars_from(np.zeros(100)).assign(close=np.nan)
    _check_degenerate(F.scorecard(all_nan), "only 0 returns")
    with pytest.raises(ValueError, match="close"):
        F.scorecard(pd.DataFrame({"price": [1.0, 2.0]}))


def test_nans_missing_volume_and_mostly_zero_returns():
    rng = np.random.default_rng(11)
    r = rng.standard_t(4, 2000) * 1e-3
    bars = bars_from(r, np.abs(r) * 1e5 + rng.exponential(50, 2000))
    bars.loc[rng.choice(2000, 50, replace=False), "close"] = np.nan
    by = keyed(F.scorecard(bars))
    assert not any(np.isnan(by[key].value) for key in CHECKS)  # beta_abs: inf (no memory)
    no_vol = keyed(F.scorecard(bars.drop(columns="volume")))
    row = no_vol["vv_spearman"]
    assert row.passed is False and "no volume column" in row.expected
    assert np.isfinite(no_vol["kurt"].value)
    sparse = np.zeros(2000)
    sparse[::50] = rng.standard_normal(40) * 1e-3  # 98 % zero returns: Hill n/a
    hill = keyed(F.scorecard(bars_from(sparse)))["hill_5"]
    assert hill.passed is False and "are 0" in hill.expected
    short = keyed(F.scorecard(bars_from(rng.standard_normal(60) * 1e-3)))
    agg = short["agg_kurt_change"]
    assert agg.passed is False and "no coarser scale" in agg.expected
    assert short["vr_30"].passed is False and "needs 120+ returns" in short["vr_30"].expected
    assert short["beta_abs"].passed is False and "needs 200+" in short["beta_abs"].expected

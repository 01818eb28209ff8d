"""Controls of every scorecard check (see the table in ``abmm.analysis.scorecard``).

Each check has a near-miss negative control that must fail it in >= 95 % of 40 seeded draws at
the number of returns the targets use (n = 1,925: five 6.5 h days of 1-minute returns; 7,200:
five 24/7 days), and a positive control that passes most draws. The real positive control is
the FTX BTC-PERP month cut into 20 consecutive pieces of one run's length (2,251 returns): it
must pass the whole scorecard, every check at once, in >= 18 pieces. Draws are vectorized across
seeds (one loop over time for the recursive processes), so the file runs in a few seconds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from abmm.analysis import facts as F
from abmm.analysis.bars import read_ohlcv

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FTX = DATA / "ftx_btc_perp_1m_2022-01.csv"
DRAWS = 40
N_DAY5 = 1925   # default scenario, 5 sessions of 6.5 h
N_247 = 7200    # btc_perp, 5 days 24/7


def bars_from(r, volume=None):
    """1-minute bars whose closes have log returns ``r`` (volume 1 unless given)."""
    import pandas as pd

    close = 100 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    vol = np.ones(len(close)) if volume is None else np.concatenate([[1.0], volume])
    ts = pd.date_range("2024-01-01", periods=len(close), freq="1min")
    return pd.DataFrame({"timestamp": ts, "open": close, "high": close, "low": close,
                         "close": close, "volume": vol})


_CACHE: dict = {}


def rate(draws, key, volume=None) -> float:
    """Fraction of the draws (rows of returns) that FAIL the check ``key`` (each set of draws
    is scored once; its cards are kept for the other checks)."""
    tag = (id(draws), None if volume is None else id(volume))
    if tag not in _CACHE:
        _CACHE[tag] = (draws, volume, [F.scorecard(bars_from(
            r * 1e-3, None if volume is None else volume[i])).checks
            for i, r in enumerate(draws)])
    return float(np.mean([not c[key] for c in _CACHE[tag][2]]))


_T4: dict = {}


def t4_draws():
    """The shared positive control: i.i.d. unit-variance Student-t(4) returns (heavy tails, no
    autocorrelation, no clustering), n = 1,925."""
    if "x" not in _T4:
        _T4["x"] = student_t(N_DAY5, 3)
    return _T4["x"]


def student_t(n, seed, nu=4):
    """i.i.d. unit-variance Student-t returns, one row per draw."""
    rng = np.random.default_rng(seed)
    return rng.standard_t(nu, (DRAWS, n)) / math.sqrt(nu / (nu - 2))


def ar1(n, phi, seed):
    """AR(1) returns with Gaussian innovations (stationary start), one row per draw."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((DRAWS, n))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0] / math.sqrt(1 - phi * phi)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


def pricing_error(n, phi, scale, seed):
    """Returns of a random walk plus a stationary AR(1) pricing error ``scale * s_t``: mean
    reversion spread over several lags, no single large ACF (a VR < 1 process)."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((DRAWS, n))
    u = rng.standard_normal((DRAWS, n + 1))
    s = np.empty_like(u)
    s[:, 0] = u[:, 0] / math.sqrt(1 - phi * phi)
    for t in range(1, n + 1):
        s[:, t] = phi * s[:, t - 1] + u[:, t]
    return e + scale * np.diff(s, axis=1)


def garch(n, a, b, seed, nu=5, burn=500):
    """GARCH(1,1) returns with unit-variance Student-t(``nu``) innovations (short memory: the
    ACF of |r| decays as (a + b)**k), one row per draw."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, (n + burn, DRAWS)) / math.sqrt(nu / (nu - 2))
    s2 = np.ones(DRAWS)
    out = np.empty((n + burn, DRAWS))
    for t in range(n + burn):
        out[t] = np.sqrt(s2) * z[t]
        s2 = (1 - a - b) + a * out[t] ** 2 + b * s2
    return out[burn:].T


# ------------------------------------------------------------------ no linear autocorrelation
def test_acf_r_1_20_fails_ar1_minus_0_1_and_passes_iid():
    assert rate(ar1(N_DAY5, -0.1, 1), "acf_r_1_20") >= 0.95
    assert rate(ar1(N_DAY5, 0.1, 2), "acf_r_1_20") >= 0.95  # momentum fails too
    assert rate(t4_draws(), "acf_r_1_20") <= 0.1


def test_variance_ratios_fail_mean_reversion_and_pass_iid():
    vr5 = pricing_error(N_DAY5, 0.5, 0.75, 4)  # VR(5) about 0.71
    assert rate(vr5, "vr_5") >= 0.95
    vr30_short = pricing_error(N_DAY5, 0.7, 0.6, 5)  # VR(30) about 0.72, VR(5) 0.84
    vr30_long = pricing_error(N_247, 0.7, 0.6, 5)
    assert np.mean([F.variance_ratio(x, 30)[0] for x in vr30_long]) == pytest.approx(0.7,
                                                                                       abs=0.05)
    # vr_30 at 1,925 returns is weak (about a third of the draws fail); at 7,200, >= 90 %
    assert rate(vr30_short, "vr_30") >= 0.15
    assert rate(vr30_long, "vr_30") >= 0.9
    assert rate(t4_draws(), "vr_5") <= 0.1 and rate(t4_draws(), "vr_30") <= 0.1


# --------------------------------------------------------------------------------- long memory
def test_beta_abs_fails_short_memory_garch():
    short = garch(N_DAY5, 0.2, 0.7, 7)  # ACF |r| ~ 0.9**k: gone by lag 50
    assert rate(short, "beta_abs") >= 0.95
    assert rate(short, "acf_abs_1") == 0  # ... though it clusters at short lags
    assert rate(t4_draws(), "beta_abs") >= 0.95  # no memory at all


def test_binned_decay_exponent_recovers_a_power_law():
    lags = np.arange(101.0)
    lags[0] = 1.0
    assert F.binned_decay_exponent(0.3 * lags ** -0.35) == pytest.approx(0.35, abs=0.002)
    rho = 0.3 * 0.9 ** lags
    rho[70] = -0.5
    assert F.binned_decay_exponent(rho) == math.inf  # a bin mean <= 0: short memory
    assert math.isnan(F.binned_decay_exponent(np.ones(50)))


def _fi_signs(n, d, seed):
    """Signs of a fractionally integrated Gaussian noise FI(d): ACF ~ k**(2d - 1)."""
    rng = np.random.default_rng(seed)
    m = 1 << 15
    j = np.arange(1, m)
    psi = np.concatenate([[1.0], np.cumprod((j - 1 + d) / j)])
    e = rng.standard_normal((DRAWS, n + m))
    size = 1 << int(n + 2 * m).bit_length()
    x = np.fft.irfft(np.fft.rfft(e, size) * np.fft.rfft(psi, size), size)[:, m:m + n]
    return np.sign(x)


def _gamma_ok(signs) -> np.ndarray:
    lo, hi = F.GAMMA_RANGE
    g = np.array([F.binned_decay_exponent(F.acf(s, 100)) for s in signs])
    return (g >= lo) & (g <= hi)


def test_sign_gamma_controls():
    n = 20_000
    rng = np.random.default_rng(9)
    assert _gamma_ok(rng.choice([-1.0, 1.0], (DRAWS, n))).mean() <= 0.05  # i.i.d. signs
    # Markov signs (repeat with probability 0.8: ACF 0.6**k, short memory)
    flips = rng.random((DRAWS, n)) < 0.2
    markov = np.where(np.cumsum(flips, axis=1) % 2 == 0, 1.0, -1.0)
    assert _gamma_ok(markov).mean() <= 0.05
    fi = _fi_signs(n, 0.25, 10)  # gamma = 1 - 2d = 0.5
    assert _gamma_ok(fi).mean() >= 0.9


# ----------------------------------------------------------------------------------- the tails
def test_tail_checks_fail_gaussian_and_pass_student_t():
    gauss = np.random.default_rng(11).standard_normal((DRAWS, N_DAY5))
    assert rate(gauss, "kurt") >= 0.95
    assert rate(gauss, "hill_5") >= 0.9  # Hill of a Gaussian at 5 %: about 6 +- 0.6
    assert rate(t4_draws(), "kurt") <= 0.1 and rate(t4_draws(), "hill_5") <= 0.1


# -------------------------------------------------------------------------------- clustering
def test_clustering_checks():
    assert rate(t4_draws(), "acf_abs_1") >= 0.95
    assert rate(t4_draws(), "acf_abs_mean_1_20") >= 0.95
    arch = garch(N_DAY5, 0.3, 0.0, 14)  # clustering at lag 1 only: ACF |r| ~ 0.3**k
    assert rate(arch, "acf_abs_1") <= 0.1
    assert rate(arch, "acf_abs_mean_1_20") >= 0.95
    g = garch(N_DAY5, 0.1, 0.85, 15)
    assert rate(g, "acf_abs_1") <= 0.1 and rate(g, "acf_abs_mean_1_20") <= 0.1


def test_aggregation_check_fails_kurtosis_that_grows_with_the_horizon():
    rng = np.random.default_rng(16)
    # +-1 at 1 minute (thin: kurtosis -2) scaled by a volatility constant over 30-minute blocks
    # (lognormal, sd 0.5): the fat tails appear only once returns are aggregated
    steps = rng.choice([-1.0, 1.0], (DRAWS, N_DAY5))
    vol = np.repeat(np.exp(0.5 * rng.standard_normal((DRAWS, N_DAY5 // 30 + 1))), 30,
                    axis=1)[:, :N_DAY5]
    assert rate(steps * vol, "agg_kurt_change") >= 0.95
    assert rate(t4_draws(), "agg_kurt_change") <= 0.1


def test_volume_volatility_check():
    rng = np.random.default_rng(18)
    r = t4_draws()
    noise = rng.exponential(1.0, r.shape)
    assert rate(r, "vv_spearman", volume=noise) >= 0.95
    assert rate(r, "vv_spearman", volume=np.abs(r) + noise) <= 0.05


def test_vol_level_check():
    r = student_t(N_DAY5, 20)[:5]
    real = bars_from(student_t(N_DAY5, 21)[0] * 1e-3)
    for x in r:
        assert F.scorecard(bars_from(x * 1e-3), real=real).checks["vol_level"]
        half = F.scorecard(bars_from(0.5 * x * 1e-3), real=real)
        assert half.checks["vol_level"] is False and half.row("vol_level").value < 0.6
    alone = F.scorecard(bars_from(r[0] * 1e-3))
    assert "vol_level" not in alone.checks and "sign_gamma" not in alone.checks
    assert "n/a" in alone.row("vol_level").expected


# ------------------------------------------------------------------------------ real: FTX month
@pytest.mark.skipif(not FTX.exists(), reason=f"FTX month not found at {FTX} (../shared/data)")
def test_ftx_month_in_20_pieces_passes_the_whole_scorecard():
    bars = read_ohlcv(FTX)
    m = (len(bars) - 1) // 20
    cards = [F.scorecard(bars.iloc[i * m:(i + 1) * m + 1]) for i in range(20)]
    assert all(c.info["n"] == m for c in cards)
    assert set(cards[0].checks) == set(F.CHECK_KEYS) - {"sign_gamma", "vol_level"}
    failed = {i: [k for k, ok in c.checks.items() if not ok] for i, c in enumerate(cards)
              if not c.passed}
    assert len(failed) <= 2, failed
    whole = F.scorecard(bars)
    assert whole.passed, whole.checks

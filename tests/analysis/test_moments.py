"""The moment vector and the joint moment test: the same process passes, a different
volatility or a mean-reverting series fails (negative controls)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abmm.analysis.moments import (
    MOMENTS,
    MOORS_GAUSSIAN,
    RETURN_MOMENTS,
    joint_test,
    moment_vector,
    real_reference,
)


def garch_t(n: int, seed: int, scale: float = 1e-3, phi: float = 0.0) -> np.ndarray:
    """GARCH(1,1) returns with Student-t(5) shocks (clustered, fat-tailed), optionally AR(1)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(5, n) / math.sqrt(5 / 3)
    h = np.empty(n)
    r = np.empty(n)
    h[0], prev = 1.0, 0.0
    for t in range(n):
        if t:
            h[t] = 0.05 + 0.1 * (r[t - 1] - phi * prev) ** 2 + 0.85 * h[t - 1]
            prev = r[t - 1]
        r[t] = phi * prev + math.sqrt(h[t]) * z[t]
    return scale * r


def test_moments_of_known_series():
    rng = np.random.default_rng(0)
    g = rng.standard_normal(200_000)
    m = moment_vector(g)
    assert list(m) == list(MOMENTS)
    assert m["sd"] == pytest.approx(1.0, abs=0.01)
    assert m["kurt_robust"] == pytest.approx(0.0, abs=0.01)  # Moors is 1.233 for a Gaussian
    assert MOORS_GAUSSIAN == pytest.approx(1.2331, abs=1e-4)
    assert abs(m["acf_1"]) < 0.01 and m["vr_5"] == pytest.approx(1.0, abs=0.02)
    ar = np.zeros(200_000)
    for t in range(1, len(ar)):
        ar[t] = -0.3 * ar[t - 1] + g[t]
    m = moment_vector(ar)
    assert m["acf_1"] == pytest.approx(-0.3, abs=0.01)
    # VR(q) = 1 + 2 sum_k (1 - k/q) rho_k with rho_k = (-0.3)^k
    vr5 = 1 + 2 * sum((1 - k / 5) * (-0.3) ** k for k in range(1, 5))
    assert m["vr_5"] == pytest.approx(vr5, abs=0.02)


@pytest.fixture(scope="module")
def references():
    """Independent 'real' series of one GARCH-t process, as pieces of the simulated length."""
    return [real_reference(garch_t(28_000, seed=1000 + i), 7_000, n_boot=150, block=1000)
            for i in range(6)]


def test_the_same_process_passes(references):
    passed = []
    for i, (pieces, boot) in enumerate(references):
        sims = [moment_vector(garch_t(7_000, seed=100 + 10 * i + s)) for s in range(4)]
        res = joint_test(sims, pieces, boot)
        # without volumes and spreads their five moments are NaN and left out
        assert res["df"] == len(MOMENTS) - 5 and res["real_pieces"] == 4
        assert "vol_acf_1" not in res["moments"]
        passed.append(res["passed"])
    assert sum(passed) >= 5, passed  # a 95 % test: at most one of six may fail by chance


@pytest.mark.parametrize("kw,moments", [({"scale": 1.25e-3}, {"sd"}),
                                        ({"phi": -0.1}, {"acf_1", "vr_5", "vr_30"})])
def test_a_different_volatility_or_mean_reversion_fails(references, kw, moments):
    """Negative controls: a 25 % higher volatility; an AR(1) with phi = -0.1."""
    for i, (pieces, boot) in enumerate(references):
        sims = [moment_vector(garch_t(7_000, seed=100 + 10 * i + s, **kw)) for s in range(4)]
        res = joint_test(sims, pieces, boot)
        assert not res["passed"], res
        worst = max(res["moments"], key=lambda k: abs(res["moments"][k]["z"]))
        assert worst in moments


def garch_volume(r: np.ndarray, seed: int, persistence: float = 0.7) -> np.ndarray:
    """Volumes that follow |r| and have their own persistent activity factor."""
    rng = np.random.default_rng(seed)
    a = np.empty(len(r))
    a[0] = 0.0
    for t in range(1, len(r)):
        a[t] = persistence * a[t - 1] + rng.standard_normal()
    return np.exp(0.5 * a) * (1 + 300 * np.abs(r))


def test_volume_moments_compare_like_with_like():
    r = garch_t(20_000, seed=7)
    m = moment_vector(r, garch_volume(r, 1))
    assert 0.3 < m["vol_acf_1"] < 0.9 and 0.1 < m["vol_abs_corr"] < 0.9
    # scale-free: volumes in other units give the same moments
    m2 = moment_vector(r, 1000 * garch_volume(r, 1))
    assert m2["vol_acf_1"] == m["vol_acf_1"] and m2["vol_abs_corr"] == m["vol_abs_corr"]
    # the same process passes the joint test with the volume moments in; volume without
    # persistence (the negative control) fails on vol_acf_1
    real = garch_t(28_000, seed=2000)
    pieces, boot = real_reference(real, 7_000, n_boot=150, block=1000,
                                  volume=garch_volume(real, 2))
    sims, flat = [], []
    for s in range(4):
        x = garch_t(7_000, seed=300 + s)
        sims.append(moment_vector(x, garch_volume(x, 400 + s)))
        flat.append(moment_vector(x, garch_volume(x, 400 + s, persistence=0.0)))
    res = joint_test(sims, pieces, boot)
    assert res["df"] == len(MOMENTS) - 3 and res["passed"], res["distance"]
    bad = joint_test(flat, pieces, boot)
    assert not bad["passed"]
    assert max(bad["moments"], key=lambda k: abs(bad["moments"][k]["z"])) == "vol_acf_1"
    # the returns' moments alone do not see the volume's missing persistence
    ret = joint_test(flat, pieces, boot, keys=RETURN_MOMENTS)
    assert ret["df"] == len(RETURN_MOMENTS) == 30 and set(ret["moments"]) == set(RETURN_MOMENTS)
    assert ret["passed"]
    with pytest.raises(ValueError, match="unknown moments"):
        joint_test(flat, pieces, boot, keys=("sd", "vol_rank"))
    with pytest.raises(ValueError, match="volume"):
        moment_vector(r, np.ones(10))


def garch_spread(r: np.ndarray, seed: int, level: float = 5.0,
                 persistence: float = 0.8) -> np.ndarray:
    """Relative spreads (bps) with their own persistent liquidity factor, wider when |r| is
    large."""
    rng = np.random.default_rng(seed)
    a = np.empty(len(r))
    a[0] = 0.0
    for t in range(1, len(r)):
        a[t] = persistence * a[t - 1] + rng.standard_normal()
    return level * np.exp(0.2 * a) * (1 + 100 * np.abs(r))


def test_spread_moments():
    r = garch_t(20_000, seed=7)
    s = garch_spread(r, 1)
    m = moment_vector(r, spread=s)
    assert m["spread_bps"] == pytest.approx(float(np.mean(s)))
    assert 0.5 < m["spread_acf_1"] < 0.95 and 0.05 < m["spread_abs_corr"] < 0.9
    assert math.isnan(m["vol_acf_1"])  # no volume given
    # rank statistics: a monotone transform of the spread keeps them, the level moves
    m2 = moment_vector(r, spread=2 * s)
    assert m2["spread_acf_1"] == m["spread_acf_1"]
    assert m2["spread_abs_corr"] == m["spread_abs_corr"]
    assert m2["spread_bps"] == pytest.approx(2 * m["spread_bps"])
    # minutes without a two-sided book (NaN) are left out, not propagated
    holes = s.copy()
    holes[::50] = np.nan
    m3 = moment_vector(r, spread=holes)
    assert math.isfinite(m3["spread_bps"]) and math.isfinite(m3["spread_acf_1"])
    assert m3["spread_bps"] == pytest.approx(float(np.nanmean(holes)))
    # too few finite spreads: NaN, and left out of a comparison
    assert math.isnan(moment_vector(r[:5], spread=[np.nan] * 5)["spread_bps"])
    with pytest.raises(ValueError, match="spread has 10 values"):
        moment_vector(r, spread=np.ones(10))


def test_spread_moments_in_the_joint_test():
    """The same process passes with the spread moments in; a 20 % wider spread and a spread
    without persistence (the negative controls) fail, each on its own moment."""
    real = garch_t(28_000, seed=2000)
    pieces, boot = real_reference(real, 7_000, n_boot=150, block=1000,
                                  spread=garch_spread(real, 2))
    same, wide, flat = [], [], []
    for s in range(4):
        x = garch_t(7_000, seed=300 + s)
        same.append(moment_vector(x, spread=garch_spread(x, 400 + s)))
        wide.append(moment_vector(x, spread=garch_spread(x, 400 + s, level=6.0)))
        flat.append(moment_vector(x, spread=garch_spread(x, 400 + s, persistence=0.0)))
    res = joint_test(same, pieces, boot)
    assert res["df"] == len(MOMENTS) - 2 and res["passed"], res["distance"]
    assert {"spread_bps", "spread_acf_1", "spread_abs_corr"} <= set(res["moments"])
    for bad, key in ((wide, "spread_bps"), (flat, "spread_acf_1")):
        out = joint_test(bad, pieces, boot)
        assert not out["passed"]
        assert max(out["moments"], key=lambda k: abs(out["moments"][k]["z"])) == key

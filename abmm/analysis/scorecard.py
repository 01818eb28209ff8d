"""The stylized-facts scorecard: every fact of a set of bars, checked against Cont (2001).

The facts are those of Cont (2001), "Empirical properties of asset returns: stylized facts and
statistical issues", Quantitative Finance 1, 223-236 (sections in brackets below), plus the
long memory of order signs (Lillo & Farmer 2004; Bouchaud, Farmer & Lillo 2009):

* heavy tails [3]: positive excess kurtosis, a tail index (Hill 1975) between 2 and 5;
* absence of linear autocorrelation [1]: the ACF of returns is insignificant at every lag from
  the first (trade prices may bounce at lag 1; mid prices do not), and variance grows linearly
  with the horizon (variance ratios of 1);
* volatility clustering and slow decay [8, 9]: the ACF of ``|r|`` and ``r**2`` is positive and
  decays slowly, roughly as a power law ``lag**-beta`` with ``beta`` in [0.2, 0.4];
* aggregational Gaussianity [4]: kurtosis falls as returns are aggregated over longer intervals;
* leverage effect [10]: ``corr(r_t, |r_{t+k}|) < 0`` (mostly in equities; informational);
* volume/volatility correlation [11]: trading volume is positively correlated with ``|r|``;
* the order-sign autocorrelation decays as ``lag**-gamma`` with ``gamma`` 0.3-0.9 (Lillo &
  Farmer), and spreads and depths of the book (informational) -- :mod:`abmm.analysis.run_facts`.

The estimators and their definitions are in :mod:`abmm.analysis.estimators`. Degenerate input
(constant prices, too few returns, NaNs) gives NaN values and failed checks, with the reason in
``expected``.

Checks of the scorecard, each with a stable snake_case key (``FactRow.key``, the rows of
``abmm facts --json``, ``Scorecard.checks``). Sizes and powers are measured on 40 seeded draws in
``tests/analysis/test_scorecard_controls.py`` at n = 1,925 one-minute returns (five 6.5 h days)
unless said otherwise; the positive control of the whole card is the FTX BTC-PERP month cut into
20 consecutive pieces of 2,251 returns: 18 of 20 pass every check at once (the design target:
joint false-fail rate <= 10 %; the checks' nominal sizes add up to about 5 %, the rest is the
real data's own departures).

``acf_r_1_20`` no linear autocorrelation, lags 1-20 (Cont's fact 1, lag 1 included: mid-price
    returns do not bounce, and 1-minute BTC trade prices barely do, +0.017 over the month):
    ``|rho(k)| <= max(z_k se(k), 0.05)`` for every k, ``se(k)`` heteroskedasticity-robust
    (``acf_se``). ``z_1 = 2.576`` (two-sided 1 %) at lag 1, where mean reversion shows, so that
    AR(1) phi = -0.1 fails (power 100 % measured; ~96 % by the normal approximation);
    ``z_k = 3.47`` at lags 2-20 (two-sided 1 % Bonferroni over 19 lags): family size <= 2 %.
    The floor 0.05 keeps economically negligible ACFs of long series from failing. The value is
    ``max_k |rho(k)| / threshold(k)`` (<= 1 passes; ``expected`` names the worst lag).
``vr_5``, ``vr_30`` variance ratios at 5 and 30 bars (Lo & MacKinlay 1988; overlapping,
    bias-corrected; ``variance_ratio``): ``|VR(q) - 1| <= 2.576 se*`` with the robust
    ``se*`` (two-sided 1 %). Near-miss control: a random walk plus an AR(1) pricing error, mean
    reversion spread over lags: VR(5) = 0.71 fails ``vr_5`` in 100 % at n = 1,925; VR(30) =
    0.72 fails ``vr_30`` in only ~20-30 % at n = 1,925 (se* about 0.14) and in ~97 % at
    n = 7,200. On a day with a crash (Bybit 2022-12-13, kurtosis 155) the robust se* is large
    and the check has little power.
``beta_abs`` long memory of volatility: the power-law exponent of ACF |r| over lags 1-100 from
    log-binned means (``binned_decay_exponent``; ``inf`` when a bin mean is <= 0) in
    ``(0, 0.7]``. Real data: 0.16 over the whole FTX month; 0.15-0.60 in 19 of the 20 pieces
    (0.84 in one): at n ~ 2,000 the sample ACF of a long-memory series is biased down at long
    lags (the piece's mean |r| absorbs the slow variation), so the bound is calibrated at the
    stated n, not at the population 0.2-0.4. Near-miss control: GARCH(1,1) with alpha = 0.2,
    beta = 0.7 (alpha + beta = 0.9, t(5) innovations), which clusters at short lags but decays
    exponentially: fails in ~95 % at n = 1,925, 100 % at 7,200; alpha + beta = 0.95 fails in
    only ~80 % (at 1,925 and at 7,200): an exponential with a 20-lag scale looks like a power law
    over lags 1-100.
``hill_5`` heavy tails: Hill tail index of the top 5 % |r| in [2, 5]. Control: Gaussian (Hill
    about 6 +- 0.6) fails in ~95 %; Student-t(4) passes.
``kurt`` heavy tails: excess kurtosis ``> max(1, 3 sqrt(24 / n))`` (clearly fat: a Student-t
    with 10 degrees of freedom has 1; and three Gaussian standard errors above 0). Gaussian
    fails in 100 %.
``acf_abs_1`` clustering: ``rho_|r|(1) > 1.96 / sqrt(n)`` (one-sided 2.5 %). i.i.d.
    Student-t(4) fails in >= 95 %.
``acf_abs_mean_1_20`` persistent clustering: ``mean_{k=1..20} rho_|r|(k) > 1.96 / sqrt(n)``, on
    average over 20 lags as large as one significant lag. Near-miss: ARCH(1) (alpha = 0.3:
    clustering at lag 1 only) passes ``acf_abs_1`` and fails this in 100 %.
``agg_kurt_change`` aggregational Gaussianity: ``kurt(T) - kurt(base) < 0`` for ``T`` the
    coarsest scale (of 5min, 15min, 30min, 1h, 4h, 1d) with >= 50 returns. Near-miss: +-1
    steps times a lognormal volatility constant over 30-minute blocks (fat tails only once
    aggregated) fails in ~97 %. A weak check: i.i.d. Gaussian returns fail it only half the
    time (kurtosis change about 0), and the coarse kurtosis rests on ~64 returns.
``vv_spearman`` volume/volatility: Spearman ``corr(volume, |r|) > 1.96 / sqrt(n)``. Volume
    independent of |r| fails in >= 95 %.
``sign_gamma`` long memory of taker signs (only with a run's trades; n/a and not counted for
    bars alone): the binned power-law exponent of the sign ACF (lags 1-100, >= 1,000 taker
    orders; ``abmm.analysis.run_facts``) in [0.3, 0.9] (Lillo & Farmer 2004). At 20,000 signs:
    i.i.d. signs fail in ~97 %, Markov signs (ACF 0.6**k) in 100 %; the signs of a fractionally
    integrated noise with exponent 0.5 pass in 100 % (estimates 0.43-0.79).
``vol_level`` (only with real data, ``--real``): ``sd(r) / sd(real r)`` in [0.75, 1.33], the
    calibration target "return sd within 25 %"; half the volatility fails. It compares levels,
    not a sampling distribution: the FTX pieces' sd against the whole month's fall in the band
    in only 10 of 20 (4.9-17.7 bp against 9.9 bp), so compare runs with a real series of a
    like period.

Informational (``passed`` None): ACF of ``r`` at lag 1 (with ``price="trade"``: the bid-ask
bounce row), the robust se* of the variance ratios, ACFs of ``|r|`` and ``r**2`` at lags 1, 5,
10, 20, 50, 100, Hill at 2.5 %, kurtosis without the 5 largest moves and at each scale, gain/loss
asymmetry (skewness, ``|q5%| / q95%``), the intraday pattern (sessioned: the first and last
30 minutes' mean ``|r|`` over the rest; 24/7: max/min of the hourly means), the leverage
correlations, the Pearson volume/volatility correlation, and the spread, depth and order-sign
facts of a run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from abmm.analysis.bars import run_bars
from abmm.analysis.estimators import (
    MIN_AGG_RETURNS,
    MIN_RETURNS,
    _base_interval,
    _label,
    acf,
    acf_band,
    acf_se,
    aggregation_kurtosis,
    binned_decay_exponent,
    excess_kurtosis,
    hill_tail_index,
    intraday_profile,
    leverage,
    log_returns,
    loss_gain_ratio,
    skewness,
    variance_ratio,
    volume_volatility,
)
from abmm.analysis.run_facts import book_facts, order_sign_facts
from abmm.rundir import open_run

__all__ = [
    "ABS_LAGS", "ACF_FLOOR", "LIN_LAGS", "Z_LAG1", "Z_BONFERRONI", "Z_VR", "VR_LAGS",
    "BETA_RANGE", "GAMMA_RANGE", "VOL_BAND", "HILL_RANGE", "KURT_MIN", "CHECK_KEYS",
    "bar_facts", "FactRow", "Scorecard", "scorecard", "facts_from_run", "format_scorecard",
]

#: Lags at which the ACFs of ``|r|`` and ``r**2`` are reported.
ABS_LAGS = (1, 5, 10, 20, 50, 100)
#: Floor of the no-autocorrelation threshold: an |ACF| below this is economically negligible.
ACF_FLOOR = 0.05
#: Lags 1..20 of the no-autocorrelation check.
LIN_LAGS = (1, 20)
#: z of lag 1 (two-sided 1 %: 2.576): AR(1) phi = -0.1 fails at n = 1,925 with ~96 % power.
Z_LAG1 = float(norm.ppf(1 - 0.01 / 2))
#: z of each of lags 2..20: two-sided 1 % Bonferroni-corrected over the 19 lags (about 3.47).
Z_BONFERRONI = float(norm.ppf(1 - 0.01 / 2 / (LIN_LAGS[1] - LIN_LAGS[0])))
#: z of the variance-ratio checks (two-sided 1 %).
Z_VR = float(norm.ppf(1 - 0.01 / 2))
#: Horizons (in bars) of the variance-ratio checks.
VR_LAGS = (5, 30)
#: Range of the binned power-law exponent of ACF |r| (lags 1-100) called long memory.
BETA_RANGE = (0.0, 0.7)
#: Range of the power-law exponent of the taker-sign ACF (Lillo & Farmer 2004: 0.3-0.9).
GAMMA_RANGE = (0.3, 0.9)
#: Band of sd(r) / sd(real r) (the calibration target: return sd within 25 %, i.e. 1/1.33-1.33).
VOL_BAND = (0.75, 1.33)
#: Range of the Hill tail index (top 5 %) called heavy-tailed like real returns.
HILL_RANGE = (2.0, 5.0)
#: Least excess kurtosis called heavy-tailed (intraday returns show 10-100; Cont 2001, table 1).
KURT_MIN = 1.0
#: The keys of the checks, in display order (stable: ``abmm facts --json`` and the benchmarks).
CHECK_KEYS = ("acf_r_1_20", "vr_5", "vr_30", "beta_abs", "hill_5", "kurt", "acf_abs_1",
              "acf_abs_mean_1_20", "agg_kurt_change", "vv_spearman", "sign_gamma", "vol_level")


# ------------------------------------------------------------------------------ bar facts
def bar_facts(bars) -> dict:
    """Every fact of a set of bars, as ``{key: value}`` (NaN where not computable), plus
    ``n`` (returns), ``base`` (the bars' interval), ``scales`` (``aggregation_kurtosis``),
    ``coarsest`` (the scale used for aggregational Gaussianity), ``sd`` (of the returns) and
    ``why`` (reasons, by key, for NaNs)."""
    r = log_returns(bars)
    x = r.to_numpy(dtype=float)
    n = len(x)
    f: dict = {"n": n, "base": _label(_base_interval(r)), "why": {}}
    nan_keys = ["hill_5", "hill_2_5", "kurt", "kurt_trim5", "acf_r1", "acf_r_max_1_20",
                "acf_r_1_20", "acf_abs_mean_1_20", "beta_abs", "agg_kurt_change",
                "vv_pearson", "vv_spearman", "lev_1", "lev_mean", "sd", "skew",
                "loss_gain_5", "intraday_open", "intraday_close", "intraday_hour_ratio"]
    nan_keys += [f"acf_abs_{k}" for k in ABS_LAGS] + [f"acf_sq_{k}" for k in ABS_LAGS]
    for q in VR_LAGS:
        nan_keys += [f"vr_{q}", f"vr_{q}_se"]
    reason = ""
    if n < MIN_RETURNS:
        reason = f"only {n} returns (< {MIN_RETURNS})"
    elif not np.any(x != 0):
        reason = "constant price (all returns 0)"
    if reason:
        f.update({k: math.nan for k in nan_keys})
        f["scales"] = {}
        f["coarsest"] = None
        f["acf_r_max_lag"] = None
        f["reason"] = reason
        return f
    f["reason"] = ""
    f["sd"] = float(np.std(x, ddof=1))
    f["hill_5"] = hill_tail_index(x, 0.05)
    f["hill_2_5"] = hill_tail_index(x, 0.025)
    for key, q in (("hill_5", 0.05), ("hill_2_5", 0.025)):
        if math.isnan(f[key]):
            f["why"][key] = ("too few returns for 10 order statistics" if q * n < 10 else
                             f"more than {100 * (1 - q):g} % of the returns are 0")
    f["kurt"] = excess_kurtosis(x)
    f["kurt_trim5"] = excess_kurtosis(x, drop_largest=5)
    f["skew"] = skewness(x)
    f["loss_gain_5"] = loss_gain_ratio(x, 0.05)
    lo, hi = LIN_LAGS
    rho = acf(x, hi)
    f["acf_r1"] = rho[1]
    lin = np.abs(rho[lo:hi + 1])
    z = np.full(hi - lo + 1, Z_BONFERRONI)
    z[0] = Z_LAG1
    thr = np.maximum(z * acf_se(x, hi)[lo:hi + 1], ACF_FLOOR)
    if np.isfinite(lin).all() and np.isfinite(thr).all():
        f["acf_r_max_1_20"] = float(lin.max())
        f["acf_r_max_lag"] = int(lo + np.argmax(lin / thr))
        f["acf_r_1_20"] = float(np.max(lin / thr))
    else:
        f["acf_r_max_1_20"] = f["acf_r_1_20"] = math.nan
        f["acf_r_max_lag"] = None
        f["why"]["acf_r_1_20"] = f"needs {hi + 1}+ returns with varying r"
    for q in VR_LAGS:
        f[f"vr_{q}"], f[f"vr_{q}_se"] = variance_ratio(x, q)
        if math.isnan(f[f"vr_{q}"]):
            f["why"][f"vr_{q}"] = f"needs {4 * q}+ returns with varying r"
    nl = max(ABS_LAGS)
    rho_abs = acf(np.abs(x), nl)
    rho_sq = acf(x * x, nl)
    for k in ABS_LAGS:
        f[f"acf_abs_{k}"] = rho_abs[k]
        f[f"acf_sq_{k}"] = rho_sq[k]
    first20 = rho_abs[1:21]
    f["acf_abs_mean_1_20"] = float(np.mean(first20)) if np.isfinite(first20).all() \
        else math.nan
    if math.isnan(f["acf_abs_mean_1_20"]):
        f["why"]["acf_abs_mean_1_20"] = "needs 21+ returns with varying |r|"
    f["beta_abs"] = binned_decay_exponent(rho_abs) if n >= 2 * nl else math.nan
    if math.isnan(f["beta_abs"]):
        f["why"]["beta_abs"] = f"needs {2 * nl}+ returns with varying |r|"
    scales = aggregation_kurtosis(bars)
    f["scales"] = scales
    labels = list(scales)
    coarse = [s for s in labels[1:] if scales[s][1] >= MIN_AGG_RETURNS]
    f["coarsest"] = coarse[-1] if coarse else None
    if coarse:
        f["agg_kurt_change"] = scales[coarse[-1]][0] - scales[labels[0]][0]
    else:
        f["agg_kurt_change"] = math.nan
        f["why"]["agg_kurt_change"] = f"no coarser scale with >= {MIN_AGG_RETURNS} returns"
    f["vv_pearson"], f["vv_spearman"] = volume_volatility(bars)
    if math.isnan(f["vv_spearman"]):
        f["why"]["vv_spearman"] = ("no volume column" if isinstance(bars, pd.Series)
                                   or "volume" not in bars.columns
                                   else "volume constant or missing")
    lev = leverage(x)
    f["lev_1"] = lev[0]
    f["lev_mean"] = float(np.nanmean(lev)) if np.isfinite(lev).any() else math.nan
    prof = intraday_profile(r)
    for k in ("open", "close", "hour_ratio"):
        f[f"intraday_{k}"] = prof.get(k, math.nan)
    return f


# ------------------------------------------------------------------------------ scorecard
@dataclass
class FactRow:
    """One fact: its measured ``value``, the ``expected`` range (or why it is n/a), whether it
    ``passed`` (None: informational, or a check that does not apply), the same fact on ``real``
    data (None: no real data) and its stable snake_case ``key``."""

    name: str
    value: float
    expected: str
    passed: bool | None
    real: float | None = None
    key: str = ""


@dataclass
class Scorecard:
    """The facts of a set of bars (and of a run's book and order flow) against Cont (2001).

    ``info`` holds the context: ``n`` returns, ``base`` interval, ``band`` (1.96/sqrt(n)),
    ``coarsest`` aggregation scale, ``reason`` (why nothing was computed), ``real`` (whether real
    data was given) and ``real_passed`` (the real data's own verdict on the same checks)."""

    rows: list[FactRow]
    info: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """All checked rows pass (False when nothing is checked)."""
        checked = [r.passed for r in self.rows if r.passed is not None]
        return bool(checked) and all(checked)

    @property
    def checks(self) -> dict[str, bool]:
        """``{key: passed}`` of the checks that apply (n/a checks and informational rows are
        left out), in display order."""
        return {r.key: bool(r.passed) for r in self.rows if r.passed is not None}

    def row(self, key: str) -> FactRow:
        """The row with this ``key`` (``KeyError`` when absent)."""
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError(key)

    def to_frame(self) -> pd.DataFrame:
        """One row per fact: ``name, value, expected, passed, real``."""
        return pd.DataFrame([asdict(r) for r in self.rows],
                            columns=["name", "value", "expected", "passed", "real"])

    def to_dict(self) -> dict:
        """JSON-serializable: ``{"passed", "checks", "info", "rows": [{key, name, value,
        expected, passed, real}, ...]}`` with NaN and infinities as None."""
        return {"passed": self.passed, "checks": self.checks, "info": _jsonable(self.info),
                "rows": [_jsonable({"key": r.key} | asdict(r)) for r in self.rows]}


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    return v


def _f(v: float) -> str:
    return f"{v:.3g}" if v == v else "nan"


def _vr_test(f: dict, q: int):
    se = f.get(f"vr_{q}_se", math.nan)
    return lambda v: abs(v - 1) <= Z_VR * se


def _checks(f: dict) -> dict:
    """``{key: (name, test(value) -> bool, expected)}`` for the checked bar facts of ``f``."""
    n = f["n"]
    band = acf_band(n)
    kmin = max(KURT_MIN, 3 * math.sqrt(24 / n)) if n else math.nan
    lo, hi = HILL_RANGE
    blo, bhi = BETA_RANGE
    coarse = f.get("coarsest") or "coarsest"
    out = {
        "acf_r_1_20": ("max |ACF r|/threshold, lags 1-20", lambda v: v <= 1,
                       f"<= 1; threshold max(z*se_k, {ACF_FLOOR:g}), se_k robust, "
                       f"z {Z_LAG1:.2f} at lag 1, {Z_BONFERRONI:.2f} at 2-20"
                       + (f"; worst lag {f['acf_r_max_lag']}" if f.get("acf_r_max_lag")
                          else "")),
    }
    for q in VR_LAGS:
        se = f.get(f"vr_{q}_se", math.nan)
        out[f"vr_{q}"] = (f"variance ratio VR({q})", _vr_test(f, q),
                          f"|VR-1| <= {Z_VR:.2f}*se* = {_f(Z_VR * se)} (robust se*)")
    out |= {
        "beta_abs": ("ACF |r| power-law decay beta (binned, lags 1-100)",
                     lambda v: blo < v <= bhi, f"({blo:g}, {bhi:g}]; inf: no memory by lag 100"),
        "hill_5": ("tail index (Hill, top 5%)", lambda v: lo <= v <= hi, f"[{lo:g}, {hi:g}]"),
        "kurt": ("excess kurtosis", lambda v: v > kmin,
                 f"> max({KURT_MIN:g}, 3*sqrt(24/n)) = {_f(kmin)}"),
        "acf_abs_1": ("ACF |r| lag 1", lambda v: v > band, f"> 1.96/sqrt(n) = {_f(band)}"),
        "acf_abs_mean_1_20": ("mean ACF |r| lags 1-20", lambda v: v > band,
                              f"> 1.96/sqrt(n) = {_f(band)}"),
        "agg_kurt_change": ("kurtosis change, base -> coarsest", lambda v: v < 0,
                            f"< 0 (kurt {coarse} - kurt {f['base']})"),
        "vv_spearman": ("corr(volume, |r|) Spearman", lambda v: v > band,
                        f"> 1.96/sqrt(n) = {_f(band)}"),
    }
    return out


def _info_rows(f: dict, price: str) -> list[tuple[str, str, str]]:
    """``(key, name, expected)`` of the informational bar facts, in display order."""
    band = acf_band(f["n"])
    if price == "trade":
        r1 = ("ACF r lag 1 (trade prices: bid-ask bounce)",
              f"informational; < 0 from bid-ask bounce, band +-{_f(band)}")
    else:
        r1 = ("ACF r lag 1", f"informational; checked in acf_r_1_20, band +-{_f(band)}")
    rows = [("n", "returns", "informational"),
            ("sd", "sd of returns", "informational"),
            ("hill_2_5", "tail index (Hill, top 2.5%)", "informational; 2-5 typical"),
            ("kurt_trim5", "excess kurtosis, 5 largest |r| removed", "informational"),
            ("skew", "skewness (gain/loss asymmetry)", "informational; < 0 in equities"),
            ("loss_gain_5", "|q5%| / q95% (gain/loss asymmetry)",
             "informational; > 1: larger losses"),
            ("acf_r1", *r1),
            ("acf_r_max_1_20", "max |ACF r| lags 1-20",
             f"informational; at lag {f['acf_r_max_lag']}, band +-{_f(band)}")]
    for q in VR_LAGS:
        rows.append((f"vr_{q}_se", f"VR({q}) robust se*", "informational"))
    rows += [(f"acf_abs_{k}", f"ACF |r| lag {k}", "informational; > 0, slow decay")
             for k in ABS_LAGS[1:]]
    rows += [(f"acf_sq_{k}", f"ACF r^2 lag {k}", "informational") for k in ABS_LAGS]
    rows += [("intraday_open", "intraday: first 30 min / rest, mean |r|",
              "informational; > 1: U shape (sessioned markets)"),
             ("intraday_close", "intraday: last 30 min / rest, mean |r|",
              "informational; > 1: U shape (sessioned markets)"),
             ("intraday_hour_ratio", "intraday: max/min hourly mean |r|",
              "informational; 24/7 markets")]
    return rows


def _bar_rows(f: dict, price: str = "mid") -> list[tuple[str, str, float, str, bool | None]]:
    """``(key, name, value, expected, passed)`` of every bar fact of ``f`` (``bar_facts``)."""
    out = []
    for key, (name, test, expected) in _checks(f).items():
        v = f[key]
        if v == v:
            out.append((key, name, float(v), expected, bool(test(v))))
        else:
            why = f["reason"] or f["why"].get(key, "not computable")
            out.append((key, name, math.nan, f"{expected} [n/a: {why}]", False))
    for key, name, expected in _info_rows(f, price):
        out.append((key, name, float(f[key]), expected, None))
    for label, (k, m) in f["scales"].items():
        if m < MIN_RETURNS:
            continue
        out.append((f"kurt_at_{label}", f"excess kurtosis @ {label}", k,
                    f"informational; {m} returns", None))
    out.append(("lev_1", "leverage corr(r_t, |r_t+1|)", f["lev_1"],
                "informational; < 0 in equities", None))
    out.append(("lev_mean", "leverage mean k=1-10", f["lev_mean"],
                "informational; < 0 in equities", None))
    out.append(("vv_pearson", "corr(volume, |r|) Pearson", f["vv_pearson"],
                "informational; > 0", None))
    return out


_BOOK_ROWS = [("spread_mean", "spread mean (ticks)"), ("spread_median", "spread median (ticks)"),
              ("spread_p5", "spread p5 (ticks)"), ("spread_p95", "spread p95 (ticks)"),
              ("depth_mean", "depth mean (bid_qty+ask_qty, lots)"),
              ("depth_median", "depth median (lots)"), ("depth_p5", "depth p5 (lots)"),
              ("depth_p95", "depth p95 (lots)"),
              ("one_sided_frac", "one-sided book, time fraction")]
_SIGN_NAME = "order-sign ACF decay gamma (binned, lags 1-100)"


def _sign_row(s: dict | None) -> FactRow:
    """The ``sign_gamma`` check: n/a (passed None) without a run's trades."""
    glo, ghi = GAMMA_RANGE
    expected = f"[{glo:g}, {ghi:g}] (Lillo-Farmer); inf: no memory by lag 100"
    if s is None:
        return FactRow(_SIGN_NAME, math.nan, f"{expected} [n/a: needs a run's trades]", None,
                       key="sign_gamma")
    g = float(s["gamma"])
    if g != g:
        why = s.get("why") or "not computable"
        return FactRow(_SIGN_NAME, g, f"{expected} [n/a: {why}]", False, key="sign_gamma")
    return FactRow(_SIGN_NAME, g, expected, bool(glo <= g <= ghi), key="sign_gamma")


def _run_rows(run_dir) -> list[FactRow]:
    rows = []
    b = book_facts(run_dir)
    for key, name in _BOOK_ROWS:
        rows.append(FactRow(name, float(b[key]), "informational; time-weighted", None, key=key))
    s = order_sign_facts(run_dir)
    rows.append(FactRow("taker orders", float(s["orders"]), "informational", None,
                        key="sign_orders"))
    rows.append(FactRow("order-sign ACF lag 1", float(s["acf_1"]), "informational; > 0", None,
                        key="sign_acf_1"))
    return [_sign_row(s)] + rows


def _vol_row(f: dict, fr: dict | None) -> FactRow:
    """The ``vol_level`` check: sd(r) / sd(real r); n/a (passed None) without real data."""
    vlo, vhi = VOL_BAND
    name = "sd(r) / sd(real r), 1 bar"
    expected = f"[{vlo:g}, {vhi:g}] (sd within 25 %)"
    if fr is None:
        return FactRow(name, math.nan, f"{expected} [n/a: needs --real]", None, key="vol_level")
    ratio = f["sd"] / fr["sd"] if fr["sd"] > 0 else math.nan
    if ratio != ratio:
        why = f["reason"] or fr["reason"] or "not computable"
        return FactRow(name, math.nan, f"{expected} [n/a: {why}]", False, math.nan,
                       key="vol_level")
    if f["base"] != fr["base"]:
        return FactRow(name, ratio, f"{expected} [n/a: bars of {f['base']} vs real "
                                    f"{fr['base']}]", False, math.nan, key="vol_level")
    return FactRow(name, ratio, expected, bool(vlo <= ratio <= vhi), 1.0, key="vol_level")


def scorecard(bars: pd.DataFrame, real: pd.DataFrame | None = None, run_dir=None,
              price: str = "mid") -> Scorecard:
    """The stylized-facts scorecard of ``bars`` (see the module docstring for every check),
    with the same facts of ``real`` bars side by side (``FactRow.real``) and the ``vol_level``
    check against them and, given a ``run_dir``, the book and order-sign facts of the run (and
    the ``sign_gamma`` check). ``price`` (``"mid"`` or ``"trade"``) names what the bars are of:
    for trade prices the lag-1 ACF row reads as the bid-ask bounce."""
    f = bar_facts(bars)
    fr = bar_facts(real) if real is not None else None
    rows = [FactRow(name, float(v), expected, passed, None if fr is None else math.nan, key)
            for key, name, v, expected, passed in _bar_rows(f, price)]
    real_failed = []
    if fr is not None:
        at = {r.key: r for r in rows}
        pos = -1
        for key, name, v, _, passed in _bar_rows(fr):
            if passed is False:
                real_failed.append(key)
            if key in at:
                at[key].real = float(v)
                pos = rows.index(at[key])
            else:  # a scale only the real data reaches: after the real row before it
                pos += 1
                rows.insert(pos, FactRow(name, math.nan, "informational", None, float(v), key))
    checked = [r for r in rows if r.passed is not None]
    extra = [_vol_row(f, fr)]
    if run_dir is not None:
        run_rows = _run_rows(run_dir)
        if fr is not None:
            for r in run_rows:
                r.real = math.nan
        extra = [run_rows[0]] + extra
        tail = run_rows[1:]
    else:
        extra = [_sign_row(None)] + extra
        if fr is not None:
            extra[0].real = math.nan
        tail = []
    k = rows.index(checked[-1]) + 1
    rows = rows[:k] + extra + rows[k:] + tail
    info = {"n": f["n"], "base": f["base"], "band": acf_band(f["n"]), "price": price,
            "coarsest": f["coarsest"], "reason": f["reason"], "real": fr is not None}
    if fr is not None:
        info.update(real_n=fr["n"], real_base=fr["base"], real_coarsest=fr["coarsest"],
                    real_reason=fr["reason"], real_passed=not real_failed,
                    real_failed=real_failed)
    return Scorecard(rows, info)


def facts_from_run(run_dir, freq: str = "1min", real: pd.DataFrame | None = None) -> Scorecard:
    """The scorecard of a run: its mid-price bars at ``freq`` after the warm-up (``run_bars``
    with ``after_warmup``: the opening minutes, while the book fills up, are not a market yet),
    plus the book and order-sign facts of its ``top/`` and trades; ``real`` bars side by side."""
    run = open_run(run_dir)
    return scorecard(run_bars(run, freq, after_warmup=True), real=real, run_dir=run)


def format_scorecard(card: Scorecard) -> str:
    """A text table: fact, measured, expected, pass/fail (``info`` for informational rows) and,
    when real data was given, its value in a ``real`` column; a summary line at the end."""
    has_real = bool(card.info.get("real")) or any(r.real is not None for r in card.rows)
    head = ["fact", "measured", "expected", "pass"] + (["real"] if has_real else [])
    body = []
    for r in card.rows:
        mark = ("n/a" if r.key in CHECK_KEYS else "info") if r.passed is None else \
            ("PASS" if r.passed else "FAIL")
        line = [r.name, _num(r.value), r.expected, mark]
        if has_real:
            line.append("" if r.real is None else _num(r.real))
        body.append(line)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    right = {1, 4}
    fmt = lambda cells: "  ".join(  # noqa: E731
        (c.rjust(w) if i in right else c.ljust(w)) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()
    lines = [fmt(head), fmt(["-" * w for w in widths])] + [fmt(b) for b in body]
    checked = [r for r in card.rows if r.passed is not None]
    ok = sum(bool(r.passed) for r in checked)
    summary = f"{ok}/{len(checked)} checks pass"
    if card.info.get("n") is not None:
        summary += f" ({card.info['n']} returns at {card.info.get('base', '?')})"
    if card.info.get("reason"):
        summary += f"; {card.info['reason']}"
    if has_real and card.info.get("real_passed") is not None:
        failed = card.info.get("real_failed") or []
        summary += (f"; real data ({card.info.get('real_n')} returns): "
                    + ("all checks pass" if card.info["real_passed"]
                       else "fails " + ", ".join(failed) if failed else "not all pass"))
    lines.append(summary)
    return "\n".join(lines)


def _num(v) -> str:
    if v is None:
        return ""
    v = float(v)
    if v != v:
        return "nan"
    if v.is_integer() and abs(v) < 1e12:
        return str(int(v))
    return f"{v:.4g}"

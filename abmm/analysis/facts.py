"""Stylized facts of returns, the book and the order flow, and a scorecard against them.

The facts are those of Cont (2001), "Empirical properties of asset returns: stylized facts and
statistical issues", Quantitative Finance 1, 223-236 (sections in brackets below), plus the
long memory of order signs (Lillo & Farmer 2004, "The long memory of the efficient market";
Bouchaud, Farmer & Lillo 2009, "How markets slowly digest changes in supply and demand"):

* heavy tails [3]: positive excess kurtosis, a tail index (Hill 1975) between 2 and 5;
* absence of linear autocorrelation [1]: the ACF of returns is insignificant beyond a few
  minutes (lag 1 may be negative from bid-ask bounce);
* volatility clustering and slow decay [8, 9]: the ACF of ``|r|`` and ``r**2`` is positive and
  decays slowly, roughly as a power law ``lag**-beta`` with ``beta`` in [0.2, 0.4];
* aggregational Gaussianity [4]: kurtosis falls as returns are aggregated over longer intervals;
* leverage effect [10]: ``corr(r_t, |r_{t+k}|) < 0`` (mostly in equities; informational);
* volume/volatility correlation [11]: trading volume is positively correlated with ``|r|``;
* spreads and depths of the book, and the order-sign autocorrelation decaying as ``lag**-gamma``
  with ``gamma`` about 0.5 (Lillo & Farmer) -- informational.

Every function takes plain data (bars or a run directory) and returns plain numbers; nothing
raises on degenerate input (constant prices, too few returns, NaNs): the values are NaN and a
scorecard marks the checks failed, with the reason in ``expected``.

Definitions used throughout (``r`` the log returns, ``n`` their number):

* sample ACF: ``rho(k) = sum_t (x_t - m)(x_{t+k} - m) / sum_t (x_t - m)**2``;
* the 95 % band of an i.i.d. series: ``+-1.96 / sqrt(n)``;
* excess kurtosis: ``m4 / m2**2 - 3`` with central sample moments (0 for a Gaussian);
* Hill estimator with the ``k = floor(q n)`` largest ``|r|``: ``alpha = 1 / mean_{i<=k}
  log(x_(i) / x_(k+1))`` where ``x_(1) >= x_(2) >= ...`` are the sorted ``|r|``;
* power-law decay fit: least squares of ``log rho(k) = a - beta log k`` over the lags where
  ``rho(k) > 0``.

Checks of the scorecard (the ``n``-dependent thresholds are printed in ``expected``):

===================================  =====================================================
heavy tails: Hill alpha, top 5 %      ``2 <= alpha <= 5``
heavy tails: excess kurtosis          ``> max(1, 3 sqrt(24 / n))``: clearly fat (a Student-t
                                      with 10 degrees of freedom has 1), and three Gaussian
                                      standard errors above 0
no linear autocorrelation             ``|rho_r(k)| <= max(z se(k), 0.05)`` at every lag
                                      ``k = 2..20``: ``z = 3.01`` the 95 % two-sided normal
                                      quantile Bonferroni-corrected for the 19 lags, ``se(k)``
                                      the heteroskedasticity-robust standard error (``acf_se``);
                                      the row's value is ``max_k |rho_r(k)| / threshold(k)``
                                      and passes when ``<= 1``
volatility clustering: lag 1          ``rho_|r|(1) > 1.96 / sqrt(n)``
volatility clustering: lags 1-20      ``mean_{k=1..20} rho_|r|(k) > 1.96 / sqrt(n)``: on
                                      average over 20 lags as large as one significant lag
                                      (the mean of 20 i.i.d. ACF estimates has a standard
                                      error of about ``1 / sqrt(20 n)``, so this is a
                                      persistence test, not only a significance test)
aggregational Gaussianity             ``kurt(T) - kurt(base) < 0`` for ``T`` the coarsest scale
                                      (of 5min, 15min, 30min, 1h, 4h, 1d) with >= 50 returns
volume/volatility correlation         Spearman ``corr(volume, |r|) > 1.96 / sqrt(n)``
===================================  =====================================================

Informational (``passed`` None): ACF of ``r`` at lag 1, ACFs of ``|r|`` and ``r**2`` at lags
1, 5, 10, 20, 50, the power-law exponent ``beta`` of the ACF of ``|r|`` (lags 1-50; GARCH-type
short memory decays exponentially, and on a day of data the fit is too noisy to check), Hill at
2.5 %, kurtosis without the 5 largest moves and at each scale, the leverage correlations, the
Pearson volume/volatility correlation, and the book and order-sign facts of a run.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

log = logging.getLogger(__name__)

#: Fewer returns than this and no fact is computed.
MIN_RETURNS = 30
#: Fewer returns than this at a scale and it is not used for aggregational Gaussianity.
MIN_AGG_RETURNS = 50
#: Lags at which the ACFs of ``|r|`` and ``r**2`` are reported.
ABS_LAGS = (1, 5, 10, 20, 50)
#: Aggregation scales (kept when coarser than, and a multiple of, the bars' own interval).
AGG_SCALES = ("5min", "15min", "30min", "1h", "4h", "1D")
#: Floor of the no-autocorrelation threshold: an |ACF| below this is economically negligible.
ACF_FLOOR = 0.05
#: Lags 2..20 of the no-autocorrelation check.
LIN_LAGS = (2, 20)
#: z of the Bonferroni-corrected 95 % band over the 19 lags 2..20 (about 3.01).
Z_BONFERRONI = float(norm.ppf(1 - 0.025 / (LIN_LAGS[1] - LIN_LAGS[0] + 1)))
HILL_RANGE = (2.0, 5.0)
#: Least excess kurtosis called heavy-tailed (intraday returns show 10-100; Cont 2001, table 1).
KURT_MIN = 1.0


# ------------------------------------------------------------------------------------ returns
def _close_series(bars) -> pd.Series:
    """The bars' close as a float Series, indexed by time when the bars carry timestamps."""
    if isinstance(bars, pd.Series):
        close = bars.astype(float)
    else:
        if "close" not in bars.columns:
            raise ValueError(f"bars need a 'close' column; got {list(bars.columns)}")
        close = pd.to_numeric(bars["close"], errors="coerce").astype(float)
        if "timestamp" in bars.columns:
            close = pd.Series(close.to_numpy(), index=pd.DatetimeIndex(
                pd.to_datetime(bars["timestamp"])), name="close")
    if isinstance(close.index, pd.DatetimeIndex):
        close = close.sort_index(kind="stable")
        close = close[~close.index.duplicated(keep="last")]  # zero-length intervals
    return close.where(close > 0)


def log_returns(bars, freq: str | None = None) -> pd.Series:
    """Log returns ``r_t = log(close_t / close_{t-1})`` of the bars' ``close``.

    ``bars``: a frame with ``close`` (and ``timestamp``, or a DatetimeIndex) or a Series of
    closes. With ``freq`` (``"5min"``, ``"1h"``, ...) the closes are first resampled to the last
    close in each interval (bins from the first timestamp); an empty interval's returns are
    dropped, not bridged. Bars at a duplicated timestamp keep the last one; non-positive or NaN
    closes and the returns touching them are dropped.
    """
    close = _close_series(bars)
    if freq is not None:
        if not isinstance(close.index, pd.DatetimeIndex):
            raise ValueError("resampling to freq needs timestamps ('timestamp' column or index)")
        if close.empty:
            return pd.Series(dtype=float, name="log_return")
        close = close.resample(freq, origin="start").last()
    r = np.log(close).diff()
    r = r[np.isfinite(r.to_numpy())]
    return r.rename("log_return")


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # einsum, not BLAS: its threads make np.dot's timing erratic on a busy machine
    return float(np.einsum("i,i->", a, b))


def _as_array(r) -> np.ndarray:
    x = np.asarray(r, dtype=float)
    return x[np.isfinite(x)]


def _base_interval(r: pd.Series) -> pd.Timedelta | None:
    if not isinstance(r.index, pd.DatetimeIndex) or len(r) < 2:
        return None
    d = np.diff(r.index.values).astype("timedelta64[ns]").astype(np.int64)
    d = d[d > 0]
    return pd.Timedelta(int(np.median(d)), "ns") if len(d) else None


def _ns_of(td: pd.Timedelta) -> int:
    return int(td // pd.Timedelta(1, "ns"))


def _label(td: pd.Timedelta | None) -> str:
    if td is None:
        return "bar"
    ns = _ns_of(td)
    for unit, size in (("d", 86_400 * 10**9), ("h", 3_600 * 10**9), ("min", 60 * 10**9),
                       ("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


# ----------------------------------------------------------------------------- single facts
def excess_kurtosis(r, drop_largest: int = 0) -> float:
    """Excess kurtosis ``m4 / m2**2 - 3`` (central sample moments), after removing the
    ``drop_largest`` largest ``|r|``; NaN with fewer than ``MIN_RETURNS`` values or no variance.
    """
    x = _as_array(r)
    if drop_largest > 0:
        x = np.delete(x, np.argsort(np.abs(x))[len(x) - drop_largest:]) \
            if len(x) > drop_largest else x[:0]
    if len(x) < MIN_RETURNS:
        return math.nan
    d = x - x.mean()
    m2 = np.mean(d * d)
    if not m2 > 0 or not np.isfinite(m2):
        return math.nan
    return float(np.mean(d**4) / m2**2 - 3.0)


def hill_tail_index(r, frac: float = 0.05) -> float:
    """Hill (1975) estimate of the tail index of ``|r|`` from its ``k = floor(frac n)`` largest
    values: ``alpha = 1 / mean_{i<=k} log(x_(i) / x_(k+1))``. NaN when ``k < 10`` or
    ``x_(k+1) = 0`` (more than ``1 - frac`` of the returns are zero)."""
    x = np.sort(np.abs(_as_array(r)))[::-1]
    k = int(math.floor(frac * len(x)))
    if k < 10 or len(x) <= k or not x[k] > 0:
        return math.nan
    s = np.mean(np.log(x[:k] / x[k]))
    return float(1.0 / s) if s > 0 else math.nan


def acf(x, nlags: int) -> np.ndarray:
    """Sample autocorrelation ``rho(0..nlags)`` (``rho(0) = 1``); lags ``>= n`` and a series
    without variance give NaN."""
    x = _as_array(x)
    out = np.full(nlags + 1, math.nan)
    n = len(x)
    if n < 2:
        return out
    d = x - x.mean()
    denom = _dot(d, d)
    if not denom > 0 or not np.isfinite(denom) or denom < 1e-300:
        return out
    # a numerically constant series (all equal up to rounding) has no meaningful ACF
    if np.max(np.abs(d)) <= 1e-12 * max(np.max(np.abs(x)), 1e-300):
        return out
    m = min(nlags, n - 1)
    nfft = 1 << int(2 * n - 1).bit_length()  # zero-padded: linear, not circular, products
    f = np.fft.rfft(d, nfft)
    out[: m + 1] = np.fft.irfft(f * np.conj(f), nfft)[: m + 1] / denom
    out[0] = 1.0
    return out


def acf_se(x, nlags: int) -> np.ndarray:
    """Heteroskedasticity-robust standard errors of the sample ACF at lags ``0..nlags``:
    ``se(k) = sqrt(sum_t d_t**2 d_{t+k}**2) / sum_t d_t**2`` with ``d = x - mean(x)`` (about
    ``1 / sqrt(n)`` for i.i.d. data, larger under volatility clustering and heavy tails, where
    the i.i.d. band rejects far too often; Taylor 1986, Lo & MacKinlay 1989, Cont 2001 sec. 5).
    NaN where not computable."""
    x = _as_array(x)
    out = np.full(nlags + 1, math.nan)
    n = len(x)
    d = x - x.mean() if n else x
    denom = _dot(d, d)
    if n < 2 or not denom > 0:
        return out
    d2 = d * d
    for k in range(1, min(nlags, n - 1) + 1):
        out[k] = math.sqrt(_dot(d2[:-k], d2[k:])) / denom
    return out


def acf_band(n: int, z: float = 1.96) -> float:
    """Half-width ``z / sqrt(n)`` of the i.i.d. confidence band of a sample ACF (NaN if n=0)."""
    return z / math.sqrt(n) if n > 0 else math.nan


def fit_power_law(lags, values, min_points: int = 3) -> tuple[float, float]:
    """Least-squares fit of ``log value = a - beta log lag`` over the lags where the value is
    positive and finite; returns ``(beta, a)``, NaNs when fewer than ``min_points`` remain."""
    lags = np.asarray(lags, dtype=float)
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v) & (v > 0) & np.isfinite(lags) & (lags > 0)
    if ok.sum() < max(min_points, 2) or np.ptp(np.log(lags[ok])) == 0:
        return math.nan, math.nan
    slope, intercept = np.polyfit(np.log(lags[ok]), np.log(v[ok]), 1)
    return float(-slope), float(intercept)


def acf_decay_exponent(x, max_lag: int = 50) -> float:
    """Power-law decay exponent ``beta`` of the ACF of ``x`` over lags ``1..max_lag``
    (``rho(k) ~ k**-beta``, fitted where ``rho > 0``; see ``fit_power_law``)."""
    rho = acf(x, max_lag)
    lags = np.arange(1, max_lag + 1)
    return fit_power_law(lags, rho[1:])[0]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if len(a) < 3:
        return math.nan
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(_dot(a, a) * _dot(b, b))
    return _dot(a, b) / den if den > 0 else math.nan


def leverage(r, lags=range(1, 11)) -> np.ndarray:
    """Leverage correlations ``corr(r_t, |r_{t+k}|)`` for each ``k`` in ``lags`` (negative in
    equities: falls raise future volatility); NaN where not computable."""
    x = _as_array(r)
    out = []
    for k in lags:
        out.append(_corr(x[:-k], np.abs(x[k:])) if 0 < k < len(x) - 2 else math.nan)
    return np.asarray(out, dtype=float)


def volume_volatility(bars) -> tuple[float, float]:
    """``(pearson, spearman)`` correlation of a bar's ``volume`` with its ``|r|`` (the return
    ending at that bar's close); NaNs without a volume column or with constant volume."""
    if isinstance(bars, pd.Series) or "volume" not in bars.columns:
        return math.nan, math.nan
    r = log_returns(bars)
    vol = pd.to_numeric(bars["volume"], errors="coerce").astype(float)
    if "timestamp" in bars.columns:
        vol = pd.Series(vol.to_numpy(), index=pd.DatetimeIndex(pd.to_datetime(bars["timestamp"])))
        vol = vol.sort_index(kind="stable")
        vol = vol[~vol.index.duplicated(keep="last")]
    v = vol.reindex(r.index).to_numpy(dtype=float)
    a = np.abs(r.to_numpy(dtype=float))
    ok = np.isfinite(v) & np.isfinite(a)
    if ok.sum() < MIN_RETURNS:
        return math.nan, math.nan
    v, a = v[ok], a[ok]
    rank = lambda z: pd.Series(z).rank().to_numpy()  # noqa: E731
    return _corr(v, a), _corr(rank(v), rank(a))


def aggregation_kurtosis(bars, scales=AGG_SCALES) -> dict[str, tuple[float, int]]:
    """Excess kurtosis of the returns at the bars' own interval and at each coarser scale that is
    a multiple of it: ``{label: (kurtosis, n_returns)}``, finest first. Without timestamps the
    scales are blocks of 5, 15, 60, 240 and 1440 bars (``"x5"``, ...)."""
    r = log_returns(bars)
    base = _base_interval(r)
    out = {_label(base): (excess_kurtosis(r), len(r))}
    if base is None:
        x = _as_array(r)
        for m in (5, 15, 60, 240, 1440):
            nb = len(x) // m
            agg = x[: nb * m].reshape(nb, m).sum(axis=1) if nb else x[:0]
            out[f"x{m}"] = (excess_kurtosis(agg), nb)
        return out
    for s in scales:
        td = pd.Timedelta(s)
        if td <= base or _ns_of(td) % _ns_of(base):
            continue
        rs = log_returns(bars, s)
        out[_label(td)] = (excess_kurtosis(rs), len(rs))
    return out


# ------------------------------------------------------------------------------ bar facts
def bar_facts(bars) -> dict:
    """Every fact of a set of bars, as ``{key: value}`` (NaN where not computable), plus
    ``n`` (returns), ``base`` (the bars' interval), ``scales`` (``aggregation_kurtosis``),
    ``coarsest`` (the scale used for aggregational Gaussianity) and ``why`` (reasons, by key,
    for NaNs)."""
    r = log_returns(bars)
    x = r.to_numpy(dtype=float)
    n = len(x)
    f: dict = {"n": n, "base": _label(_base_interval(r)), "why": {}}
    nan_keys = ["hill_5", "hill_2_5", "kurt", "kurt_trim5", "acf_r1", "acf_r_max_2_20",
                "acf_r_ratio_2_20", "acf_abs_mean_1_20", "beta_abs", "agg_kurt_change",
                "vv_pearson", "vv_spearman", "lev_1", "lev_mean"]
    nan_keys += [f"acf_abs_{k}" for k in ABS_LAGS] + [f"acf_sq_{k}" for k in ABS_LAGS]
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
    f["hill_5"] = hill_tail_index(x, 0.05)
    f["hill_2_5"] = hill_tail_index(x, 0.025)
    for key, q in (("hill_5", 0.05), ("hill_2_5", 0.025)):
        if math.isnan(f[key]):
            f["why"][key] = ("too few returns for 10 order statistics" if q * n < 10 else
                             f"more than {100 * (1 - q):g} % of the returns are 0")
    f["kurt"] = excess_kurtosis(x)
    f["kurt_trim5"] = excess_kurtosis(x, drop_largest=5)
    rho = acf(x, LIN_LAGS[1])
    f["acf_r1"] = rho[1]
    lo, hi = LIN_LAGS
    tail = np.abs(rho[lo:hi + 1])
    thr = np.maximum(Z_BONFERRONI * acf_se(x, hi)[lo:hi + 1], ACF_FLOOR)
    if np.isfinite(tail).all() and np.isfinite(thr).all():
        f["acf_r_max_2_20"] = float(tail.max())
        f["acf_r_max_lag"] = int(lo + np.argmax(tail))
        f["acf_r_ratio_2_20"] = float(np.max(tail / thr))
    else:
        f["acf_r_max_2_20"] = f["acf_r_ratio_2_20"] = math.nan
        f["acf_r_max_lag"] = None
        f["why"]["acf_r_ratio_2_20"] = f"needs {hi + 1}+ returns with varying r"
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
    f["beta_abs"] = fit_power_law(np.arange(1, nl + 1), rho_abs[1:])[0]
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
    return f


# ----------------------------------------------------------------------------- run facts
def _run_end_ns(run_dir) -> int | None:
    try:
        from abmm.analysis.bars import _ns, run_meta

        m = run_meta(run_dir)["market"]
        return _ns(m["open"]) + m.get("days", 1) * (_ns(m["close"]) - _ns(m["open"]))
    except (OSError, KeyError, TypeError, ValueError) as exc:
        log.warning("%s: session end unknown (%s); the last book state gets no weight",
                    run_dir, exc)
        return None


def _wquantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cw = np.cumsum(w)
    return float(v[min(np.searchsorted(cw, q * cw[-1]), len(v) - 1)])


def book_facts(run_dir, weighting: str = "time") -> dict:
    """Spread (ticks) and depth (``bid_qty + ask_qty``, lots) distributions of a run's ``top/``.

    With ``weighting="time"`` (default) each book state counts for the time it holds (from its
    row's ``ts`` to the next ``ts``, the last one to the session end; rows sharing a ``ts`` keep
    the last); ``"rows"`` weighs every row equally. Spread and depth are over the two-sided
    states; ``one_sided_frac`` is the weight of the states missing a side. Keys: ``spread_mean,
    spread_median, spread_p5, spread_p95, depth_mean, depth_median, depth_p5, depth_p95,
    one_sided_frac, rows``; NaN values without a readable ``top/``.
    """
    from abmm.market.eventlog import read_top

    keys = ["spread_mean", "spread_median", "spread_p5", "spread_p95", "depth_mean",
            "depth_median", "depth_p5", "depth_p95", "one_sided_frac"]
    out = {k: math.nan for k in keys} | {"rows": 0}
    try:
        top = read_top(run_dir).to_pandas()
    except (FileNotFoundError, OSError):
        return out
    out["rows"] = len(top)
    if top.empty:
        return out
    if weighting == "time":
        top = top.drop_duplicates("ts", keep="last")
        ts = top["ts"].to_numpy(dtype=np.int64)
        end = _run_end_ns(run_dir)
        last = max(end - ts[-1], 0) if end is not None else 0
        w = np.append(np.diff(ts), last).astype(float)
        if not w.sum() > 0:
            w = np.ones(len(top))
    elif weighting == "rows":
        w = np.ones(len(top))
    else:
        raise ValueError(f"weighting must be 'time' or 'rows', not {weighting!r}")
    both = ((top["bid"] > 0) & (top["ask"] > 0)).to_numpy()
    out["one_sided_frac"] = float(w[~both].sum() / w.sum())
    wb = w[both]
    if not both.any() or not wb.sum() > 0:
        return out
    spread = (top["ask"] - top["bid"]).to_numpy(dtype=float)[both]
    depth = (top["bid_qty"] + top["ask_qty"]).to_numpy(dtype=float)[both]
    for name, v in (("spread", spread), ("depth", depth)):
        out[f"{name}_mean"] = float(np.average(v, weights=wb))
        out[f"{name}_median"] = _wquantile(v, wb, 0.5)
        out[f"{name}_p5"] = _wquantile(v, wb, 0.05)
        out[f"{name}_p95"] = _wquantile(v, wb, 0.95)
    return out


def order_signs(trades: pd.DataFrame) -> np.ndarray:
    """Taker order signs (+1 buyer-initiated, -1 seller-initiated) from trades with ``side``
    (0 buy, 1 sell): consecutive fills of one incoming order count once -- the same
    ``taker_id`` when the trades have it, else the same ``timestamp`` and side."""
    if trades.empty:
        return np.zeros(0)
    side = trades["side"].to_numpy()
    new = np.ones(len(side), dtype=bool)
    if "taker_id" in trades.columns:
        tid = trades["taker_id"].to_numpy()
        new[1:] = tid[1:] != tid[:-1]
    else:
        ts = pd.to_datetime(trades["timestamp"]).to_numpy()
        new[1:] = (ts[1:] != ts[:-1]) | (side[1:] != side[:-1])
    return np.where(side[new] == 0, 1.0, -1.0)


def order_sign_facts(run_dir, max_lag: int = 100) -> dict:
    """Order-sign memory of a run: the ACF of the taker signs (``order_signs`` of
    ``abmm.analysis.bars.trades``) over lags ``1..max_lag`` and its power-law decay exponent
    ``gamma`` (``rho(k) ~ k**-gamma``, fitted where ``rho > 0``; Lillo & Farmer find
    ``gamma`` about 0.5). Keys: ``orders, fills, buy_frac, acf_1, gamma, acf`` (array, lags
    0..max_lag)."""
    from abmm.analysis.bars import trades

    out = {"orders": 0, "fills": 0, "buy_frac": math.nan, "acf_1": math.nan,
           "gamma": math.nan, "acf": np.full(max_lag + 1, math.nan)}
    try:
        tr = trades(run_dir)
    except (FileNotFoundError, OSError):
        return out
    s = order_signs(tr)
    out["fills"] = len(tr)
    out["orders"] = len(s)
    if len(s) == 0:
        return out
    out["buy_frac"] = float(np.mean(s > 0))
    if len(s) < MIN_RETURNS:
        return out
    rho = acf(s, max_lag)
    out["acf"] = rho
    out["acf_1"] = rho[1]
    out["gamma"] = fit_power_law(np.arange(1, max_lag + 1), rho[1:])[0]
    return out


# ------------------------------------------------------------------------------ scorecard
@dataclass
class FactRow:
    """One fact: its measured ``value``, the ``expected`` range (or why it is n/a), whether it
    ``passed`` (None: informational) and the same fact on ``real`` data (None: no real data)."""

    name: str
    value: float
    expected: str
    passed: bool | None
    real: float | None = None


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

    def to_frame(self) -> pd.DataFrame:
        """One row per fact: ``name, value, expected, passed, real``."""
        return pd.DataFrame([asdict(r) for r in self.rows],
                            columns=["name", "value", "expected", "passed", "real"])

    def to_dict(self) -> dict:
        """JSON-serializable: ``{"passed", "info", "rows": [{name, value, expected, passed,
        real}, ...]}`` with NaN as None."""
        return {"passed": self.passed, "info": _jsonable(self.info),
                "rows": [_jsonable(asdict(r)) for r in self.rows]}


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


def _checks(f: dict) -> dict:
    """``{key: (name, test(value) -> bool, expected)}`` for the checked facts of ``f``."""
    n = f["n"]
    band = acf_band(n)
    kmin = max(KURT_MIN, 3 * math.sqrt(24 / n)) if n else math.nan
    lo, hi = HILL_RANGE
    coarse = f.get("coarsest") or "coarsest"
    return {
        "hill_5": ("tail index (Hill, top 5%)", lambda v: lo <= v <= hi, f"[{lo:g}, {hi:g}]"),
        "kurt": ("excess kurtosis", lambda v: v > kmin, f"> max({KURT_MIN:g}, 3*sqrt(24/n)) = {_f(kmin)}"),
        "acf_r_ratio_2_20": ("max |ACF r|/threshold, lags 2-20", lambda v: v <= 1,
                             f"<= 1; threshold max({Z_BONFERRONI:.2f}*se_k, {ACF_FLOOR:g}), "
                             "se_k robust"),
        "acf_abs_1": ("ACF |r| lag 1", lambda v: v > band, f"> 1.96/sqrt(n) = {_f(band)}"),
        "acf_abs_mean_1_20": ("mean ACF |r| lags 1-20", lambda v: v > band,
                              f"> 1.96/sqrt(n) = {_f(band)}"),
        "agg_kurt_change": ("kurtosis change, base -> coarsest", lambda v: v < 0,
                            f"< 0 (kurt {coarse} - kurt {f['base']})"),
        "vv_spearman": ("corr(volume, |r|) Spearman", lambda v: v > band,
                        f"> 1.96/sqrt(n) = {_f(band)}"),
    }


def _info_rows(f: dict) -> list[tuple[str, str, str]]:
    """``(key, name, expected)`` of the informational bar facts, in display order."""
    band = acf_band(f["n"])
    rows = [("n", "returns", "informational"),
            ("hill_2_5", "tail index (Hill, top 2.5%)", "informational; 2-5 typical"),
            ("kurt_trim5", "excess kurtosis, 5 largest |r| removed", "informational"),
            ("acf_r1", "ACF r lag 1", f"informational; band +-{_f(band)}, < 0 from bid-ask "
                                      "bounce"),
            ("acf_r_max_2_20", "max |ACF r| lags 2-20",
             f"informational; at lag {f['acf_r_max_lag']}, band +-{_f(band)}")]
    rows += [(f"acf_abs_{k}", f"ACF |r| lag {k}", "informational; > 0, slow decay")
             for k in ABS_LAGS[1:]]
    rows += [(f"acf_sq_{k}", f"ACF r^2 lag {k}", "informational") for k in ABS_LAGS]
    rows += [("beta_abs", "ACF |r| power-law decay beta (lags 1-50)",
              "informational; 0.2-0.4 typical, in (0, 1)")]
    return rows


_CHECK_ORDER = ["hill_5", "kurt", "acf_r_ratio_2_20", "acf_abs_1", "acf_abs_mean_1_20",
                "agg_kurt_change", "vv_spearman"]


def _bar_rows(f: dict) -> list[tuple[str, float, str, bool | None]]:
    """``(name, value, expected, passed)`` of every bar fact of ``f`` (``bar_facts``)."""
    out = []
    checks = _checks(f)
    for key in _CHECK_ORDER:
        name, test, expected = checks[key]
        v = f[key]
        if v == v:
            out.append((name, float(v), expected, bool(test(v))))
        else:
            why = f["reason"] or f["why"].get(key, "not computable")
            out.append((name, math.nan, f"{expected} [n/a: {why}]", False))
    for key, name, expected in _info_rows(f):
        out.append((name, float(f[key]), expected, None))
    for label, (k, m) in f["scales"].items():
        if m < MIN_RETURNS:
            continue
        out.append((f"excess kurtosis @ {label}", k, f"informational; {m} returns", None))
    out.append(("leverage corr(r_t, |r_t+1|)", f["lev_1"], "informational; < 0 in equities",
                None))
    out.append(("leverage mean k=1-10", f["lev_mean"], "informational; < 0 in equities", None))
    out.append(("corr(volume, |r|) Pearson", f["vv_pearson"], "informational; > 0", None))
    return out


_BOOK_ROWS = [("spread_mean", "spread mean (ticks)"), ("spread_median", "spread median (ticks)"),
              ("spread_p5", "spread p5 (ticks)"), ("spread_p95", "spread p95 (ticks)"),
              ("depth_mean", "depth mean (bid_qty+ask_qty, lots)"),
              ("depth_median", "depth median (lots)"), ("depth_p5", "depth p5 (lots)"),
              ("depth_p95", "depth p95 (lots)"),
              ("one_sided_frac", "one-sided book, time fraction")]


def _run_rows(run_dir) -> list[FactRow]:
    rows = []
    b = book_facts(run_dir)
    for key, name in _BOOK_ROWS:
        rows.append(FactRow(name, float(b[key]), "informational; time-weighted", None))
    s = order_sign_facts(run_dir)
    rows.append(FactRow("taker orders", float(s["orders"]), "informational", None))
    rows.append(FactRow("order-sign ACF lag 1", float(s["acf_1"]), "informational; > 0", None))
    rows.append(FactRow("order-sign ACF decay gamma (lags 1-100)", float(s["gamma"]),
                        "informational; about 0.5 (Lillo-Farmer)", None))
    return rows


def scorecard(bars: pd.DataFrame, real: pd.DataFrame | None = None, run_dir=None) -> Scorecard:
    """The stylized-facts scorecard of ``bars`` (see the module docstring for every check),
    with the same facts of ``real`` bars side by side (``FactRow.real``) and, given a
    ``run_dir``, the informational book and order-sign facts of the run."""
    f = bar_facts(bars)
    fr = bar_facts(real) if real is not None else None
    rows = [FactRow(name, float(v), expected, passed, None if fr is None else math.nan)
            for name, v, expected, passed in _bar_rows(f)]
    real_failed = []
    if fr is not None:
        at = {r.name: r for r in rows}
        pos = -1
        for name, v, _, passed in _bar_rows(fr):
            if passed is False:
                real_failed.append(name)
            if name in at:
                at[name].real = float(v)
                pos = rows.index(at[name])
            else:  # a scale only the real data reaches: after the real row before it
                pos += 1
                rows.insert(pos, FactRow(name, math.nan, "informational", None, float(v)))
    if run_dir is not None:
        run_rows = _run_rows(run_dir)
        if fr is not None:
            for r in run_rows:
                r.real = math.nan
        rows += run_rows
    info = {"n": f["n"], "base": f["base"], "band": acf_band(f["n"]),
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
    from abmm.analysis.bars import run_bars

    return scorecard(run_bars(run_dir, freq, after_warmup=True), real=real, run_dir=run_dir)


def format_scorecard(card: Scorecard) -> str:
    """A text table: fact, measured, expected, pass/fail (``info`` for informational rows) and,
    when real data was given, its value in a ``real`` column; a summary line at the end."""
    has_real = bool(card.info.get("real")) or any(r.real is not None for r in card.rows)
    head = ["fact", "measured", "expected", "pass"] + (["real"] if has_real else [])
    body = []
    for r in card.rows:
        mark = "info" if r.passed is None else ("PASS" if r.passed else "FAIL")
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

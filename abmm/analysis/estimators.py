"""Estimators of the stylized facts of returns: log returns, excess kurtosis, the Hill tail
index, the sample ACF (with its robust standard errors and i.i.d. band), power-law decay fits,
leverage and volume/volatility correlations, kurtosis under aggregation.

The one home of these estimators: the scorecard (:mod:`abmm.analysis.scorecard`), the run facts
(:mod:`abmm.analysis.run_facts`) and the report (:mod:`abmm.analysis.report`) all call them, so
a report's plots and the scorecard beside them agree. Every function takes plain data and returns
plain numbers; nothing raises on degenerate input (constant prices, too few returns, NaNs): the
values are NaN.

Definitions (``r`` the log returns, ``n`` their number):

* sample ACF: ``rho(k) = sum_t (x_t - m)(x_{t+k} - m) / sum_t (x_t - m)**2``; NaN at lags
  ``k >= n`` and for a series without variance;
* the 95 % band of an i.i.d. series: ``+-1.96 / sqrt(n)``;
* excess kurtosis: ``m4 / m2**2 - 3`` with central sample moments (0 for a Gaussian);
* Hill estimator with the ``k = floor(q n)`` largest ``|r|``: ``alpha = 1 / mean_{i<=k}
  log(x_(i) / x_(k+1))`` where ``x_(1) >= x_(2) >= ...`` are the sorted ``|r|``;
* power-law decay fit: least squares of ``log rho(k) = a - beta log k`` over the lags where
  ``rho(k) > 0``;
* binned power-law decay (``binned_decay_exponent``): the ACF averaged over the log-spaced lag
  bins ``LAG_BINS`` (1, 2-3, 4-7, ..., 64-100), then the least-squares slope of ``log(bin mean)``
  on ``log(geometric mean lag of the bin)``; ``+inf`` when a bin's mean is ``<= 0`` (the ACF
  is gone before lag 100: short memory). Averaging before taking logs keeps the noise of the
  individual lags from flattening the fit (the plain fit over the positive lags turns the
  positive half of pure noise into a slow decay);
* variance ratio (Lo & MacKinlay 1988, overlapping, bias-corrected): ``VR(q) = s_q**2 /
  (q s_1**2)`` with ``s_q**2`` the variance of the overlapping ``q``-period sums; its
  heteroskedasticity-robust standard error is ``sqrt(sum_{j<q} (2 (q - j) / q)**2 se(j)**2)``
  with ``se(j)`` the robust ACF standard error (``acf_se``; Lo & MacKinlay's ``theta*``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "MIN_RETURNS", "MIN_AGG_RETURNS", "AGG_SCALES", "log_returns", "excess_kurtosis",
    "hill_tail_index", "acf", "acf_se", "acf_band", "fit_power_law", "acf_decay_exponent",
    "leverage", "volume_volatility", "aggregation_kurtosis", "LAG_BINS",
    "binned_decay_exponent", "variance_ratio", "skewness", "loss_gain_ratio", "intraday_profile",
]

#: Fewer returns than this and no fact is computed.
MIN_RETURNS = 30
#: Fewer returns than this at a scale and it is not used for aggregational Gaussianity.
MIN_AGG_RETURNS = 50
#: Aggregation scales (kept when coarser than, and a multiple of, the bars' own interval).
AGG_SCALES = ("5min", "15min", "30min", "1h", "4h", "1D")
#: Log-spaced lag bins of the binned power-law decay fit (lags 1-100).
LAG_BINS = ((1, 1), (2, 3), (4, 7), (8, 15), (16, 31), (32, 63), (64, 100))


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
    closes and the returns touching them are dropped. Bars with a ``session`` column (a
    sessioned run over several days, ``run_bars``) give no return across two sessions: the
    overnight gap is not a one-bar return.
    """
    close = _close_series(bars)
    session = None
    if freq is None and isinstance(bars, pd.DataFrame) and "session" in bars.columns:
        session = bars["session"].to_numpy()
    if freq is not None:
        if not isinstance(close.index, pd.DatetimeIndex):
            raise ValueError("resampling to freq needs timestamps ('timestamp' column or index)")
        if close.empty:
            return pd.Series(dtype=float, name="log_return")
        close = close.resample(freq, origin="start").last()
    r = np.log(close).diff()
    if session is not None and len(session) == len(r):  # no return across a night
        first = np.r_[True, session[1:] != session[:-1]]
        r[first] = np.nan
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


def binned_decay_exponent(rho, bins=LAG_BINS) -> float:
    """Power-law decay exponent of an ACF ``rho`` (indexed by lag, ``rho[0] = 1``) from its means
    over the log-spaced lag ``bins``: the least-squares slope of ``log(bin mean)`` on the log of
    the bin's geometric mean lag, negated. ``+inf`` when a bin mean is ``<= 0`` (no memory left
    at those lags); NaN when ``rho`` does not reach the last bin or holds NaNs there."""
    rho = np.asarray(rho, dtype=float)
    last = bins[-1][1]
    if len(rho) <= last or not np.isfinite(rho[1:last + 1]).all():
        return math.nan
    means = np.array([rho[a:b + 1].mean() for a, b in bins])
    if np.any(means <= 0):
        return math.inf
    centers = np.array([np.mean(np.log(np.arange(a, b + 1))) for a, b in bins])
    slope = np.polyfit(centers, np.log(means), 1)[0]
    return float(-slope)


def variance_ratio(x, q: int) -> tuple[float, float]:
    """Lo & MacKinlay (1988) overlapping variance ratio ``VR(q)`` of the returns ``x`` (1 for a
    martingale, < 1 under mean reversion, > 1 under momentum) and its heteroskedasticity-robust
    standard error (their ``theta*``, from ``acf_se``); NaNs with fewer than ``4 q`` returns or
    no variance. ``VR(q) = 1 + 2 sum_{j<q} (1 - j/q) rho(j)`` up to small-sample terms."""
    x = _as_array(x)
    n = len(x)
    if q < 2 or n < 4 * q:
        return math.nan, math.nan
    mu = x.mean()
    d = x - mu
    s1 = _dot(d, d) / (n - 1)
    if not s1 > 0:
        return math.nan, math.nan
    c = np.concatenate([[0.0], np.cumsum(x)])
    dq = c[q:] - c[:-q] - q * mu
    m = q * (n - q + 1) * (1 - q / n)
    vr = _dot(dq, dq) / m / s1
    se = acf_se(x, q - 1)[1:]
    w = (2.0 * (q - np.arange(1, q)) / q) ** 2
    return float(vr), float(math.sqrt(np.sum(w * se * se)))


def skewness(r) -> float:
    """Sample skewness ``m3 / m2**1.5`` of the returns (NaN with fewer than ``MIN_RETURNS``)."""
    x = _as_array(r)
    if len(x) < MIN_RETURNS:
        return math.nan
    d = x - x.mean()
    m2 = np.mean(d * d)
    return float(np.mean(d**3) / m2**1.5) if m2 > 0 else math.nan


def loss_gain_ratio(r, q: float = 0.05) -> float:
    """Gain/loss asymmetry: ``|quantile(r, q)| / quantile(r, 1 - q)`` (> 1: losses larger than
    gains of the same probability; Cont 2001 sec. 5); NaN when not computable."""
    x = _as_array(r)
    if len(x) < MIN_RETURNS:
        return math.nan
    lo, hi = np.quantile(x, [q, 1 - q])
    return float(-lo / hi) if hi > 0 and lo < 0 else math.nan


def intraday_profile(r: pd.Series) -> dict[str, float]:
    """Intraday pattern of the mean ``|r|`` of time-stamped returns. Sessioned markets (days
    shorter than 23 h): ``open`` and ``close``, the mean ``|r|`` of each session's first and last
    30 minutes over that of the rest (> 1 both: the U shape); 24/7 markets: ``hour_ratio``, the
    max/min over the hours of the day of the mean ``|r|`` (needs 10+ returns in every hour).
    Keys absent when not computable."""
    out: dict[str, float] = {}
    if not isinstance(r.index, pd.DatetimeIndex) or len(r) < MIN_RETURNS:
        return out
    a = np.abs(r.to_numpy(dtype=float))
    idx = r.index
    day = idx.normalize()
    tod = (idx - day).to_numpy().astype("timedelta64[ns]").astype(np.int64)
    frame = pd.DataFrame({"day": day, "tod": tod, "a": a})
    g = frame.groupby("day")["tod"]
    span = (g.transform("max") - g.transform("min")).to_numpy()
    half_hour = 30 * 60 * 10**9
    if np.median(span) >= 23 * 3600 * 10**9:
        hour = tod // (3600 * 10**9)
        prof = frame.groupby(hour)["a"].agg(["mean", "size"])
        if len(prof) == 24 and (prof["size"] >= 10).all() and prof["mean"].min() > 0:
            out["hour_ratio"] = float(prof["mean"].max() / prof["mean"].min())
        return out
    start = g.transform("min").to_numpy()
    end = g.transform("max").to_numpy()
    first = tod < start + half_hour
    last = tod > end - half_hour
    mid = ~first & ~last
    if first.sum() >= 10 and last.sum() >= 10 and mid.sum() >= 10 and a[mid].mean() > 0:
        out["open"] = float(a[first].mean() / a[mid].mean())
        out["close"] = float(a[last].mean() / a[mid].mean())
    return out


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


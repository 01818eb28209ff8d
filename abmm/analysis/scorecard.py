"""The stylized-facts scorecard: every fact of a set of bars, checked against Cont (2001).

The facts are those of Cont (2001), "Empirical properties of asset returns: stylized facts and
statistical issues", Quantitative Finance 1, 223-236 (sections in brackets below), plus the
long memory of order signs (Lillo & Farmer 2004; Bouchaud, Farmer & Lillo 2009):

* heavy tails [3]: positive excess kurtosis, a tail index (Hill 1975) between 2 and 5;
* absence of linear autocorrelation [1]: the ACF of returns is insignificant beyond a few
  minutes (lag 1 may be negative from bid-ask bounce);
* volatility clustering and slow decay [8, 9]: the ACF of ``|r|`` and ``r**2`` is positive and
  decays slowly, roughly as a power law ``lag**-beta`` with ``beta`` in [0.2, 0.4];
* aggregational Gaussianity [4]: kurtosis falls as returns are aggregated over longer intervals;
* leverage effect [10]: ``corr(r_t, |r_{t+k}|) < 0`` (mostly in equities; informational);
* volume/volatility correlation [11]: trading volume is positively correlated with ``|r|``;
* spreads and depths of the book, and the order-sign autocorrelation decaying as ``lag**-gamma``
  with ``gamma`` about 0.5 (Lillo & Farmer) -- informational (:mod:`abmm.analysis.run_facts`).

The estimators and their definitions are in :mod:`abmm.analysis.estimators`. Degenerate input
(constant prices, too few returns, NaNs) gives NaN values and failed checks, with the reason in
``expected``.

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
    excess_kurtosis,
    fit_power_law,
    hill_tail_index,
    leverage,
    log_returns,
    volume_volatility,
)
from abmm.analysis.run_facts import book_facts, order_sign_facts
from abmm.rundir import open_run

__all__ = [
    "ABS_LAGS", "ACF_FLOOR", "LIN_LAGS", "Z_BONFERRONI", "HILL_RANGE", "KURT_MIN", "bar_facts",
    "FactRow", "Scorecard", "scorecard", "facts_from_run", "format_scorecard",
]

#: Lags at which the ACFs of ``|r|`` and ``r**2`` are reported.
ABS_LAGS = (1, 5, 10, 20, 50)
#: Floor of the no-autocorrelation threshold: an |ACF| below this is economically negligible.
ACF_FLOOR = 0.05
#: Lags 2..20 of the no-autocorrelation check.
LIN_LAGS = (2, 20)
#: z of the Bonferroni-corrected 95 % band over the 19 lags 2..20 (about 3.01).
Z_BONFERRONI = float(norm.ppf(1 - 0.025 / (LIN_LAGS[1] - LIN_LAGS[0] + 1)))
#: Range of the Hill tail index (top 5 %) called heavy-tailed like real returns.
HILL_RANGE = (2.0, 5.0)
#: Least excess kurtosis called heavy-tailed (intraday returns show 10-100; Cont 2001, table 1).
KURT_MIN = 1.0


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
    run = open_run(run_dir)
    return scorecard(run_bars(run, freq, after_warmup=True), real=real, run_dir=run)


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

#!/usr/bin/env python3
"""Price formation: the 1-minute facts of a scenario over several seeds (issue 12's measurements).

Runs a scenario for each seed (2 worker processes, no event log), samples the mid every minute
after the warm-up and prints, per seed and pooled over the seeds:

* ``n`` one-minute returns, their sd in ticks (mid changes) and in bp (log returns);
* the ACF of the returns at lags 1-5, the largest ``|ACF|`` over lags 1-20 against the i.i.d.
  band ``1.96/sqrt(n)``, the variance ratios ``VR(q) = Var(q-min) / (q Var(1-min))`` for
  q = 5 and 30 (overlapping q-minute sums; a martingale gives 1);
* excess kurtosis and the Hill tail index of ``|r|`` (top 5 %);
* the ACF of ``|r|`` at lags 1/5/10/20 and the exponent ``beta`` of a power-law fit
  ``ACF|r|(k) ~ k^-beta`` over log-spaced lags 1-100 (where positive; needs n > 300);
* the taker-sign memory: every incoming order that trades contributes its side (+1 buy, -1
  sell); the ACF of that sequence and its power-law exponent ``gamma`` over log-spaced lags
  1-100 (Lillo & Farmer 2004 find gamma ~ 0.5); signs are recorded by wrapping the model's
  fill accounting (``abmm.market.model.apply_events``) in this process only;
* the Spearman correlation of the 1-minute volume with ``|r|``; events per second of wall time.

Pooled statistics concatenate the seeds' series: each ACF sums the seeds' lagged products of
their own demeaned series (no product crosses two seeds), kurtosis and Hill use all returns.

``--real FILE`` computes the same bar statistics for a real 1-minute CSV (``close`` and
``volume`` columns), e.g. ``../shared/data/ftx_btc_perp_1m_2022-01.csv``.

Examples::

    python benchmarks/price_formation.py --scenario scenarios/default.yaml --seeds 1-4
    python benchmarks/price_formation.py --scenario scenarios/crypto_24h.yaml --seeds 1-4 \
        --days 2 --set fundamental.half_life=null
    python benchmarks/price_formation.py --real ../shared/data/ftx_btc_perp_1m_2022-01.csv
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MINUTE = 60 * 10**9
SIGN_LAGS = 100
ABS_LAGS = 100


def simulate(args: tuple) -> dict:
    """One seed: per-minute mids (ticks) and volumes after the warm-up, taker signs, timing."""
    scenario, seed, overrides = args
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import abmm.market.model as mm
    from abmm.engine.types import EventKind, Side
    from abmm.scenario import build_model

    fill, buy = int(EventKind.FILL), int(Side.BUY)
    signs: list[int] = []
    orig = mm.apply_events

    def recording(model, rows, t, _orig=orig, _app=signs.append):
        for r in rows:
            if r[8] == fill:
                _app(1 if r[9] == buy else -1)
                break
        _orig(model, rows, t)

    mm.apply_events = recording
    try:
        t0 = time.perf_counter()
        m = build_model(scenario, seed=seed, overrides=list(overrides))
        n_sign0 = 0
        t_next = m.warmup_end
        mids, vols = [], []
        while m.now < m.end:
            m.step()
            if m.now >= t_next:
                if not mids:
                    n_sign0 = len(signs)
                mids.append(m.mark_price())
                vols.append(m.volume)
                t_next += MINUTE
        wall = time.perf_counter() - t0
    finally:
        mm.apply_events = orig
    return {"seed": seed, "mid": mids, "volume": vols, "signs": signs[n_sign0:],
            "wall_s": wall, "events": m.n_kernel_events, "orders": m.n_requests,
            "tick_size": m.tick_size, "sim_days": (m.end - m.start) / 86_400e9}


# ----------------------------------------------------------------------------- statistics
def _pooled_acf(series: list[np.ndarray], nlags: int) -> np.ndarray:
    num = np.zeros(nlags + 1)
    den = 0.0
    for x in series:
        d = np.asarray(x, float) - np.mean(x)
        n = len(d)
        den += float(d @ d)
        for k in range(0, min(nlags, n - 1) + 1):
            num[k] += float(d[: n - k] @ d[k:])
    out = num / den if den > 0 else np.full(nlags + 1, math.nan)
    out[0] = 1.0
    return out


def _pooled_vr(series: list[np.ndarray], q: int) -> float:
    num = den = 0.0
    nq = n1 = 0
    for x in series:
        x = np.asarray(x, float)
        if len(x) <= q:
            continue
        d = x - x.mean()
        c = np.concatenate([[0.0], np.cumsum(d)])
        s = c[q:] - c[:-q]
        num += float(s @ s)
        nq += len(s)
        den += float(d @ d)
        n1 += len(d)
    if not nq or not den:
        return math.nan
    return (num / nq) / (q * den / n1)


def _loglags(nmax: int) -> np.ndarray:
    return np.unique(np.round(np.logspace(0, math.log10(nmax), 25)).astype(int))


def _fit_exponent(rho: np.ndarray, nmax: int) -> float:
    from abmm.analysis.facts import fit_power_law
    lags = _loglags(nmax)
    lags = lags[lags < len(rho)]
    return fit_power_law(lags, rho[lags])[0]


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(spearmanr(a, b).statistic)


def stats(rets_bp: list[np.ndarray], rets_ticks: list[np.ndarray], vols: list[np.ndarray],
          signs: list[np.ndarray]) -> dict:
    from abmm.analysis.facts import excess_kurtosis, hill_tail_index
    allr = np.concatenate(rets_bp) if rets_bp else np.zeros(0)
    n = len(allr)
    out: dict = {"n": n}
    if n < 30:
        return out
    out["sd_bp"] = float(np.std(allr))
    out["sd_ticks"] = float(np.std(np.concatenate(rets_ticks))) if rets_ticks else math.nan
    rho = _pooled_acf(rets_bp, 20)
    for k in range(1, 6):
        out[f"acf_{k}"] = float(rho[k])
    out["max_abs_acf_1_20"] = float(np.nanmax(np.abs(rho[1:21])))
    out["argmax_acf"] = int(np.nanargmax(np.abs(rho[1:21])) + 1)
    out["band"] = 1.96 / math.sqrt(n)
    out["n_acf_outside_band"] = int(np.sum(np.abs(rho[1:21]) > out["band"]))
    out["vr5"] = _pooled_vr(rets_bp, 5)
    out["vr30"] = _pooled_vr(rets_bp, 30)
    out["kurtosis"] = excess_kurtosis(allr)
    out["hill"] = hill_tail_index(allr)
    a = [np.abs(x) for x in rets_bp]
    nl = min(ABS_LAGS, max(len(x) for x in a) - 1)
    ra = _pooled_acf(a, nl)
    for k in (1, 5, 10, 20, 50, 100):
        out[f"acf_abs_{k}"] = float(ra[k]) if k <= nl else math.nan
    out["abs_exponent"] = _fit_exponent(ra, nl) if nl >= 50 and n > 300 else math.nan
    if vols:
        out["vol_vol_spearman"] = _spearman(np.concatenate(vols), np.abs(allr))
    if signs and sum(len(s) for s in signs) > 10 * SIGN_LAGS:
        rs = _pooled_acf(signs, SIGN_LAGS)
        out["sign_acf_1"] = float(rs[1])
        out["sign_acf_10"] = float(rs[10])
        out["sign_acf_100"] = float(rs[100])
        out["sign_exponent"] = _fit_exponent(rs, SIGN_LAGS)
        out["n_signs"] = int(sum(len(s) for s in signs))
    return out


def series_of(res: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    mid = np.asarray(res["mid"], float)
    vol = np.diff(np.asarray(res["volume"], float))
    ok = (mid[1:] > 0) & (mid[:-1] > 0)
    r_bp = np.where(ok, 1e4 * np.log(np.where(ok, mid[1:], 1) / np.where(ok, mid[:-1], 1)), 0.0)
    return r_bp, np.diff(mid), vol, np.asarray(res["signs"], float)


FIELDS = [("n", "{:d}"), ("sd_ticks", "{:.2f}"), ("sd_bp", "{:.2f}"), ("acf_1", "{:+.3f}"),
          ("acf_2", "{:+.3f}"), ("acf_3", "{:+.3f}"), ("acf_4", "{:+.3f}"), ("acf_5", "{:+.3f}"),
          ("max_abs_acf_1_20", "{:.3f}"), ("band", "{:.3f}"), ("vr5", "{:.2f}"), ("vr30", "{:.2f}"),
          ("kurtosis", "{:.1f}"), ("hill", "{:.2f}"), ("acf_abs_1", "{:.2f}"),
          ("acf_abs_5", "{:.2f}"), ("acf_abs_10", "{:.2f}"), ("acf_abs_20", "{:.2f}"),
          ("abs_exponent", "{:.2f}"), ("sign_acf_1", "{:.2f}"), ("sign_exponent", "{:.2f}"),
          ("vol_vol_spearman", "{:.2f}"), ("events_per_s", "{:,.0f}"), ("s_per_day", "{:.1f}")]


def _fmt(d: dict) -> str:
    parts = []
    for k, f in FIELDS:
        v = d.get(k)
        if v is None:
            continue
        try:
            parts.append(f"{k}={f.format(v)}")
        except (ValueError, TypeError):
            parts.append(f"{k}={v}")
    return " ".join(parts)


def real_stats(path: str) -> dict:
    import pandas as pd
    df = pd.read_csv(path)
    c = df["close"].to_numpy(float)
    r = 1e4 * np.diff(np.log(c))
    return stats([r], [np.diff(c)], [df["volume"].to_numpy(float)[1:]], [])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="scenarios/default.yaml")
    ap.add_argument("--seeds", default="1-4", help="e.g. 1-4 or 1,2,7")
    ap.add_argument("--days", type=int, default=None, help="market.days (24/7 scenarios)")
    ap.add_argument("--hours", type=float, default=None,
                    help="shorten the session: market.close = open + HOURS (search runs)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="scenario override (repeatable)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--real", default=None, help="a real 1-minute CSV instead of a scenario")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="pooled line only")
    a = ap.parse_args(argv)

    if a.real:
        s = real_stats(a.real)
        print(json.dumps(s) if a.json else f"real {a.real}: {_fmt(s)}")
        return 0
    overrides = list(a.set)
    if a.days is not None:
        overrides.append(f"market.days={a.days}")
    if a.hours is not None:
        from abmm.scenario import load_scenario
        sc = load_scenario(a.scenario)
        open_min = sc.market.open // MINUTE
        close_min = open_min + int(round(a.hours * 60))
        overrides.append(f"market.close='{close_min // 60:02d}:{close_min % 60:02d}'")
    from abmm.learn.config import parse_seeds

    seeds = parse_seeds(a.seeds)
    jobs = [(a.scenario, s, tuple(overrides)) for s in seeds]
    t0 = time.perf_counter()
    if a.workers > 1 and len(jobs) > 1:
        with Pool(min(a.workers, len(jobs))) as pool:
            results = pool.map(simulate, jobs)
    else:
        results = [simulate(j) for j in jobs]
    wall = time.perf_counter() - t0
    per_seed = []
    pooled = ([], [], [], [])
    for res in results:
        ser = series_of(res)
        for acc, x in zip(pooled, ser, strict=True):
            acc.append(x)
        s = stats([ser[0]], [ser[1]], [ser[2]], [ser[3]])
        s["seed"] = res["seed"]
        s["events_per_s"] = res["events"] / res["wall_s"]
        s["s_per_day"] = res["wall_s"] / res["sim_days"]
        s["orders_per_day"] = res["orders"] / res["sim_days"]
        per_seed.append(s)
    pool_s = stats(*pooled)
    pool_s["events_per_s"] = float(np.mean([s["events_per_s"] for s in per_seed]))
    pool_s["s_per_day"] = float(np.mean([s["s_per_day"] for s in per_seed]))
    pool_s["orders_per_day"] = float(np.mean([s["orders_per_day"] for s in per_seed]))
    report = {"scenario": a.scenario, "overrides": overrides, "seeds": seeds,
              "wall_s": wall, "per_seed": per_seed, "pooled": pool_s}
    if a.json:
        print(json.dumps(report, default=float))
        return 0
    print(f"# {a.scenario} seeds={seeds} overrides={overrides} wall={wall:.0f}s")
    if not a.quiet:
        for s in per_seed:
            print(f"seed {s['seed']}: {_fmt(s)}")
    print(f"POOLED: {_fmt(pool_s)} orders/day={pool_s['orders_per_day']:,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

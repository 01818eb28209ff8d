#!/usr/bin/env python3
"""Metaorder impact: does a parent order of ``Q`` lots move the price by about
``Y sigma_D (Q / V_D) ** delta`` with ``delta`` near 1/2 (the square-root law; Toth et al. 2011)?

For each seed, a baseline day of the scenario without any executor gives the daily volume
``V_D`` (lots traded in the first session) and the daily volatility ``sigma_D`` (standard
deviation of the 1-minute log mid returns times the square root of the minutes in a session).
Then one executor (TWAP, market child orders every ``--slice``) trades ``Q = f V_D`` lots over
``--duration`` from one hour after the warm-up, for each fraction ``f`` of ``--fractions``
(default 0.1 % to 10 %, log-spaced) -- or, with ``--participation P``, over ``f / P`` of a
session, so every metaorder trades at the same share ``P`` of the market's average volume rate
(a participation-rate algorithm; the sizes then span durations from minutes to hours) -- buying on even seeds and selling on odd ones. Its impact is
measured *paired* against the same seed's baseline, whose other agents draw exactly the same
random numbers (each agent has its own stream): ``I = side * (m_exec(t_end) - m_base(t_end)) /
m(t_start)``, where ``t_end`` is the end of the metaorder and ``m`` the mid.

``delta`` is the slope of ``log(mean I / sigma_D)`` on ``log f`` over the fractions (ordinary
least squares on the per-fraction means over seeds); its 95 % interval comes from a bootstrap
over seeds (seeds resampled with replacement, the means and the fit recomputed; percentile
interval). ``--json`` prints ``{"delta": d, "delta_ci": [lo, hi], "points": [{"fraction",
"q_lots", "duration_min", "impact_over_sigma", "se", "n"}, ...], ...}``.

    python benchmarks/impact.py                       # scenarios/default.yaml, seeds 1-8
    python benchmarks/impact.py --participation 0.2     # 2 minutes (0.1 %) to 3.3 hours (10 %)
    python benchmarks/impact.py --scenario scenarios/btc_perp.yaml --seeds 1-6 --json
    python benchmarks/impact.py --set agents.value.qty_per_tick=0.5   # a variant of the scenario
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

from abmm.learn.config import parse_seeds  # one seed syntax: "1-20", "1,5,9-12"

ROOT = Path(__file__).resolve().parent.parent
MINUTE = 60_000_000_000


def _scenario_dict(path: str, sets=()) -> dict:
    from abmm.scenario import load_scenario

    sc = load_scenario(path, overrides=list(sets))
    data = sc.resolved()
    data["agents"] = [g for g in data["agents"] if g["kind"] != "executor"]
    return data


def _setup(data: dict, seed: int, q: int, start: int, duration: int, slice_ns: int):
    from abmm.scenario import build_model

    d = copy.deepcopy(data)
    d["shocks"] = []
    if q > 0:
        d["agents"].append({
            "kind": "executor", "name": "impact_probe", "count": 1,
            "side": "buy" if seed % 2 == 0 else "sell", "quantity": int(q), "start": start,
            "duration": duration, "algo": "twap", "child": "market",
            "wake": {"kind": "fixed", "interval": slice_ns}, "latency": "1ms"})
    return build_model(d, seed=seed)


def _baseline(args) -> dict:
    """A seed's day without executors: daily volume, daily sigma, the mid path by minute."""
    data, seed, start, ends, slice_ns = args
    m = _setup(data, seed, 0, start, 0, slice_ns)
    o, c = m.sessions[0]
    day_end = min(c, o + 86_400_000_000_000)
    t0 = o + m.warmup_end - m.start
    m.run_until(t0)
    v0 = m.volume
    mids, t = [], t0
    while t < day_end:
        t += MINUTE
        m.run_until(t)
        mids.append(m.mid() or m.mark_price())
    volume = m.volume - v0
    r = np.diff(np.log(np.asarray(mids)))
    minutes = (c - o) / MINUTE
    sigma_d = float(np.std(r) * math.sqrt(minutes))
    m.release()
    m2 = _setup(data, seed, 0, start, 0, slice_ns)  # the mids at the metaorders' end times
    m2.run_until(start)
    m_start = m2.mark_price()
    m_end = {}
    for t_end in sorted(set(ends)):
        m2.run_until(t_end)
        m_end[t_end] = m2.mark_price()
    m2.release()
    return {"seed": seed, "volume": volume * (minutes / ((day_end - t0) / MINUTE)),
            "sigma_d": sigma_d, "m_start": m_start, "m_end": m_end}


def _metaorder(args) -> dict:
    data, seed, f, q, start, duration, slice_ns = args
    m = _setup(data, seed, q, start, duration, slice_ns)
    m.run_until(start + duration)
    out = {"seed": seed, "fraction": f, "q": q, "m_end": m.mark_price(), "t_end": start + duration,
           "done": int(m.groups["impact_probe"][0].traded)}
    m.release()
    return out


def fit_delta(fractions: np.ndarray, impact: np.ndarray) -> float:
    """OLS slope of ``log impact`` on ``log fraction`` (NaN if an impact is not positive)."""
    if np.any(impact <= 0):
        return math.nan
    return float(np.polyfit(np.log(fractions), np.log(impact), 1)[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "default.yaml"))
    ap.add_argument("--seeds", default="1-8")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a scenario override (repeatable), as abmm run --set")
    ap.add_argument("--fractions", default="0.001,0.002,0.005,0.01,0.02,0.05,0.1",
                    help="parent sizes as fractions of the daily volume")
    ap.add_argument("--duration", default="30min", help="metaorder duration (every size)")
    ap.add_argument("--participation", type=float, default=None,
                    help="instead of --duration: each metaorder lasts (fraction / participation) "
                         "of a session, so it trades at this fraction of the market's average "
                         "volume rate (e.g. 0.2)")
    ap.add_argument("--slice", default="10s", help="child-order interval")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--boot", type=int, default=2000, help="bootstrap resamples")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    from abmm.schema.timing import parse_duration

    t_wall = time.perf_counter()
    data = _scenario_dict(a.scenario, a.set)
    seeds = parse_seeds(a.seeds)
    fr = np.array([float(x) for x in a.fractions.split(",")])
    slice_ns = parse_duration(a.slice)
    from abmm.scenario import load_scenario

    mk = load_scenario(data).market
    o, c = mk.sessions[0]
    start = o + mk.warmup_ns + 60 * MINUTE
    if a.participation is not None:
        if not 0 < a.participation <= 1:
            print(f"impact: --participation {a.participation} must be in (0, 1]", file=sys.stderr)
            return 2
        session = min(c - o, 86_400_000_000_000)
        durs = [max(slice_ns, int(round(f / a.participation * session / 1e9)) * 1_000_000_000)
                for f in fr]
        design = f"lasting fraction/{a.participation:g} of a session (participation)"
    else:
        durs = [parse_duration(a.duration)] * len(fr)
        design = f"of {a.duration}"
    if start + max(durs) > c:
        print(f"impact: the longest metaorder ({max(durs) / 6e10:.0f} min from "
              f"{start / 3.6e12:.2f} h) does not fit in the first session", file=sys.stderr)
        return 2
    dur_of = dict(zip(fr.tolist(), durs, strict=True))
    ctx = mp.get_context("fork")
    with ctx.Pool(a.workers) as pool:
        ends = [start + d for d in durs]
        base = pool.map(_baseline, [(data, s, start, ends, slice_ns) for s in seeds])
        by_seed = {b["seed"]: b for b in base}
        jobs = [(data, s, float(f), max(1, round(f * by_seed[s]["volume"])), start,
                 dur_of[float(f)], slice_ns) for s in seeds for f in fr]
        runs = pool.map(_metaorder, jobs)
    imp = np.full((len(seeds), len(fr)), np.nan)
    qs = np.zeros((len(seeds), len(fr)))
    for r in runs:
        b = by_seed[r["seed"]]
        side = 1 if r["seed"] % 2 == 0 else -1
        i, j = seeds.index(r["seed"]), int(np.argmin(np.abs(fr - r["fraction"])))
        imp[i, j] = side * (r["m_end"] - b["m_end"][r["t_end"]]) / b["m_start"] / b["sigma_d"]
        qs[i, j] = r["q"]
    mean = imp.mean(axis=0)
    se = imp.std(axis=0, ddof=1) / math.sqrt(len(seeds)) if len(seeds) > 1 else mean * np.nan
    delta = fit_delta(fr, mean)
    rng = np.random.default_rng(0)
    boots = []
    for _ in range(a.boot):
        pick = rng.integers(0, len(seeds), len(seeds))
        d = fit_delta(fr, imp[pick].mean(axis=0))
        if d == d:
            boots.append(d)
    lo, hi = (np.percentile(boots, [2.5, 97.5]).tolist() if len(boots) >= 0.9 * a.boot
              else [math.nan, math.nan])
    points = [{"fraction": float(f), "q_lots": float(np.mean(qs[:, j])),
               "duration_min": durs[j] / 6e10,
               "impact_over_sigma": float(mean[j]), "se": float(se[j]), "n": len(seeds)}
              for j, f in enumerate(fr)]
    out = {"scenario": a.scenario, "seeds": seeds, "design": design,
           "participation": a.participation, "delta": delta, "delta_ci": [lo, hi],
           "ci_width": hi - lo, "prefactor_Y": float(np.exp(np.polyfit(np.log(fr), np.log(
               np.clip(mean, 1e-12, None)), 1)[1])) if delta == delta else math.nan,
           "daily_volume_lots": float(np.mean([b["volume"] for b in base])),
           "sigma_daily": float(np.mean([b["sigma_d"] for b in base])),
           "boot_kept": len(boots), "points": points,
           "wall_s": round(time.perf_counter() - t_wall, 1)}
    if a.json:
        print(json.dumps(out))
        return 0
    print(f"scenario {a.scenario}; seeds {a.seeds}; metaorders {design} (TWAP, market "
          f"children every {a.slice})")
    print(f"daily volume {out['daily_volume_lots']:,.0f} lots; daily sigma "
          f"{out['sigma_daily']:.4f}")
    print(f"{'Q/V':>8} {'Q lots':>10} {'minutes':>8} {'I/sigma_D':>11} {'se':>9}")
    for p in points:
        print(f"{p['fraction']:>8.4f} {p['q_lots']:>10,.0f} {p['duration_min']:>8.1f} "
              f"{p['impact_over_sigma']:>11.4f} "
              f"{p['se']:>9.4f}")
    print(f"delta = {delta:.3f}, 95 % CI [{lo:.3f}, {hi:.3f}] (width {hi - lo:.3f}; bootstrap "
          f"over seeds, {len(boots)} of {a.boot} resamples with all means > 0); "
          f"Y = {out['prefactor_Y']:.3g}; {out['wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

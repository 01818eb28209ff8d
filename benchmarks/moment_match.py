#!/usr/bin/env python3
"""Does a scenario's 1-minute mid-price series match a real one? The joint moment test.

Runs ``--scenario`` for each seed of ``--seeds`` (parallel processes) over ``--days`` days,
samples the mid every minute after the warm-up (no event log is written), and compares the
moment vector of each seed's 1-minute log returns (``abmm.analysis.moments``: sd, robust
kurtosis, Hill index, ACF at lags 1-20, ACF of |r| at 1/5/10/20 and its decay exponent,
variance ratios at 5 and 30 minutes; and, when the real file has volumes, the persistence of the
minute volume and its rank correlation with |r|) with those of the real file's consecutive pieces of the
same length (``--real``, an OHLCV CSV; default the FTX BTC-PERP month in ../shared/data). Each
moment's z-score uses the variance of one piece (moving-block bootstrap of the real series,
one-day blocks, raised to the pooled piece and seed variance) times 1/pieces + 1/seeds; the
distance, the sum of squared z-scores, is tested against the 95 % chi-squared quantile
(``abmm.analysis.moments.joint_test``), and the same test on the returns' 30 moments alone
(``returns_only`` in ``--json``: the vector of issue 12's item 4). Also prints the ratio of the return standard
deviations (the calibration target: within 25 %), simulated days per wall-clock minute and
kernel events per second.

    python benchmarks/moment_match.py --scenario scenarios/btc_perp.yaml --seeds 1-4 --days 5
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

from abmm.learn.config import parse_seeds  # one seed syntax: "1-20", "1,5,9-12"

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "ftx_btc_perp_1m_2022-01.csv"


def simulate(args) -> dict:
    """One seed: the 1-minute log mid returns after the warm-up (none across a night) and the
    lots traded in each of those minutes."""
    scenario, seed, days, sets = args
    from abmm.calibrate.smm import minute_returns
    from abmm.scenario import build_model

    over = list(sets) + ([f"market.days={days}"] if days else [])
    t0 = time.perf_counter()
    m = build_model(scenario, seed=seed, overrides=over)
    sim_days = (m.end - m.start) / 86_400e9
    rets, vols, spreads = minute_returns(m)  # (releases the model)
    wall = time.perf_counter() - t0
    return {"seed": seed, "returns": rets, "volumes": vols, "spreads": spreads, "wall_s": wall,
            "kernel_events": m.n_kernel_events, "sim_days": sim_days}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--seeds", default="1-4")
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--real", default=str(REAL))
    ap.add_argument("--boot", type=int, default=400)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    from abmm.analysis.bars import read_ohlcv
    from abmm.analysis.moments import (
        RETURN_MOMENTS,
        bar_series,
        joint_test,
        moment_vector,
        real_reference,
    )

    if not Path(a.real).is_file():
        print(f"moment_match: --real {a.real}: no such file", file=sys.stderr)
        return 2
    real_r, real_v, real_s = bar_series(read_ohlcv(a.real))
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(a.workers) as pool:
        runs = pool.map(simulate, [(a.scenario, s, a.days, a.set) for s in parse_seeds(a.seeds)])
    length = min(len(r["returns"]) for r in runs)  # compare like with like: same length
    sims = [moment_vector(np.asarray(r["returns"][:length]), np.asarray(r["volumes"][:length]),
                          np.asarray(r["spreads"][:length])) for r in runs]
    pieces, boot = real_reference(real_r, length, n_boot=a.boot, volume=real_v, spread=real_s)
    res = joint_test(sims, pieces, boot)
    ret = joint_test(sims, pieces, boot, keys=RETURN_MOMENTS)  # prices alone (issue 12, item 4)
    res["returns_only"] = {k: ret[k] for k in ("distance", "df", "threshold", "p_value",
                                                 "passed")}
    real_sd = float(np.mean([p["sd"] for p in pieces]))
    sd_ratio = float(np.mean([s["sd"] for s in sims]) / real_sd)
    wall = sum(r["wall_s"] for r in runs)
    sim_days = sum(r["sim_days"] for r in runs)
    res.update(scenario=a.scenario, seeds=[r["seed"] for r in runs], days=a.days,
               n_sim=[len(r["returns"]) for r in runs], n_real=len(real_r),
               sd_ratio=sd_ratio, sd_within_25pct=bool(0.75 <= sd_ratio <= 1.25),
               sim_days_per_wall_minute=60 * sim_days / wall,
               kernel_events_per_s=sum(r["kernel_events"] for r in runs) / wall,
               wall_s=round(time.perf_counter() - t0, 1))
    if a.json:
        print(json.dumps(res))
        return 0
    print(f"{a.scenario}: {len(runs)} seeds x {a.days} days ({sum(res['n_sim']):,} returns) "
          f"against {a.real} ({len(real_r):,} returns)")
    print(f"{'moment':<12}{'sim':>12}{'real':>12}{'z':>8}")
    for k, m in res["moments"].items():
        print(f"{k:<12}{m['sim']:>12.5g}{m['real']:>12.5g}{m['z']:>8.2f}")
    print(f"joint distance {res['distance']:.1f} vs chi2({res['df']}) 95 % quantile "
          f"{res['threshold']:.1f}: {'PASS' if res['passed'] else 'FAIL'} "
          f"(p = {res['p_value']:.3g}); sd ratio {sd_ratio:.3f} "
          f"({'within' if res['sd_within_25pct'] else 'outside'} 25 %)")
    r = res["returns_only"]
    print(f"returns' moments alone ({r['df']}: sd to vr_30): distance {r['distance']:.1f} vs "
          f"{r['threshold']:.1f}: {'PASS' if r['passed'] else 'FAIL'} (p = {r['p_value']:.3g})")
    print(f"{res['sim_days_per_wall_minute']:.2f} simulated days per wall minute per process; "
          f"{res['kernel_events_per_s']:,.0f} kernel events/s; {res['wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

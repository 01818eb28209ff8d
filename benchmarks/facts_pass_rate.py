#!/usr/bin/env python3
"""How often a scenario passes the stylized-facts scorecard, over seeds.

Runs ``--scenario`` for each seed of ``--seeds`` in parallel processes (``--workers``), each
for ``--days`` days (``market.days``: sessioned and 24/7 markets alike), writing the event log
to a temporary folder, and scores it with ``abmm facts`` (``abmm.analysis.scorecard``:
1-minute mid bars after the warm-up, plus the run's trade signs). Prints each check's pass
rate, the whole scorecard's pass rate, the median and 5-95 % range of every statistic over the
seeds, and, with ``--real FILE`` (an OHLCV file, e.g. ../shared/data/ftx_btc_perp_1m_2022-01.csv),
the real file's value of each beside them.

``--json``: ``{"pass_rate": x, "checks": {KEY: {"pass_rate": p, "median": m, "p05": a,
"p95": b, "real": r, "mean": u}}, "stats": {KEY: {...}}, "runs": [...]}`` -- ``checks`` holds
the checked rows by their stable keys (the keys of ``abmm facts --json``), ``stats`` the
informational ones; ``mean`` is the mean over the seeds (issue 12's lag-1 ACF and variance-ratio
targets are means over seeds: ``stats.acf_r1``, ``checks.vr_5``, ``checks.vr_30``); each run
in ``runs`` carries its ``values`` by key.

    python benchmarks/facts_pass_rate.py --scenario scenarios/default.yaml --seeds 1-20 --days 5

A multi-symbol scenario is scored one symbol at a time: ``--symbol S`` (its event log's rows
of that symbol, ``abmm facts RUN --symbol S``).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from abmm.learn.config import parse_seeds  # one seed syntax: "1-20", "1,5,9-12"


def _key(row: dict) -> str:
    return row.get("key") or row["name"]


def _one(args) -> dict:
    scenario, seed, days, sets, freq, symbol = args
    from abmm.analysis.scorecard import facts_from_run
    from abmm.rundir import open_run
    from abmm.scenario import build_model

    overrides = list(sets) + ([f"market.days={days}"] if days else [])
    tmp = Path(tempfile.mkdtemp(prefix=f"abmm-facts-{seed}-"))
    try:
        t0 = time.perf_counter()
        model = build_model(scenario, seed=seed, out=tmp / "run", overrides=overrides)
        summary = model.run()
        wall = time.perf_counter() - t0
        card = facts_from_run(open_run(tmp / "run", symbol=symbol), freq=freq).to_dict()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"seed": seed, "passed": card["passed"], "rows": card["rows"], "wall_s": wall,
            "kernel_events": summary["kernel_events"], "orders": summary["orders"]}


def summarize(runs: list[dict], real: dict | None = None) -> dict:
    """Pass rates and the distribution of each statistic over the runs (see the docstring)."""
    checks: dict = {}
    stats: dict = {}
    for run in runs:
        for row in run["rows"]:
            target = stats if row["passed"] is None else checks
            e = target.setdefault(_key(row), {"name": row["name"], "values": [], "passes": []})
            e["values"].append(math.nan if row["value"] is None else row["value"])
            if row["passed"] is not None:
                e["passes"].append(bool(row["passed"]))
    for target in (checks, stats):
        for key, e in target.items():
            v = np.asarray(e.pop("values"), float)
            ok = v[np.isfinite(v)]
            e["mean"] = float(np.mean(ok)) if ok.size else None
            e["median"] = float(np.median(ok)) if ok.size else None
            e["p05"] = float(np.percentile(ok, 5)) if ok.size else None
            e["p95"] = float(np.percentile(ok, 95)) if ok.size else None
            passes = e.pop("passes")
            if target is checks:
                e["pass_rate"] = float(np.mean(passes)) if passes else None
            e["real"] = None if real is None else real.get(key)
    return {"pass_rate": float(np.mean([r["passed"] for r in runs])) if runs else None,
            "checks": checks, "stats": stats}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", required=True, help="a scenario file or a shipped name")
    ap.add_argument("--seeds", default="1-20")
    ap.add_argument("--days", type=int, default=None, help="market.days for every run")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--freq", default="1min")
    ap.add_argument("--real", help="a real OHLCV file scored beside the runs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--symbol", help="the symbol to score in a multi-symbol scenario "
                                     "(scenarios/multi_asset.yaml: A, B or IDX)")
    a = ap.parse_args(argv)
    seeds = parse_seeds(a.seeds)
    real = None
    if a.real:
        from abmm.analysis.bars import read_ohlcv
        from abmm.analysis.scorecard import scorecard

        real = {_key(r): r["value"] for r in scorecard(read_ohlcv(a.real)).to_dict()["rows"]}
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(a.workers) as pool:
        runs = pool.map(_one, [(a.scenario, s, a.days, a.set, a.freq, a.symbol) for s in seeds])
    out = summarize(runs, real)
    out.update(scenario=a.scenario, seeds=seeds, days=a.days,
               wall_s=round(time.perf_counter() - t0, 1),
               runs=[{k: r[k] for k in ("seed", "passed", "wall_s", "kernel_events", "orders")}
                     | {"failed": [_key(x) for x in r["rows"] if x["passed"] is False],
                        "values": {_key(x): x["value"] for x in r["rows"]}}
                     for r in runs])
    if a.json:
        print(json.dumps(out))
        return 0

    def f(v):
        return "" if v is None else f"{v:.4g}"

    print(f"{a.scenario}: {len(seeds)} seeds, days {a.days or 'as in the file'}; whole "
          f"scorecard passes in {out['pass_rate']:.0%} ({out['wall_s']} s)")
    print(f"{'check':<22}{'pass':>7}{'mean':>10}{'median':>10}{'p05':>10}{'p95':>10}"
          f"{'real':>10}  name")
    for key, e in out["checks"].items():
        print(f"{key:<22}{e['pass_rate']:>7.0%}{f(e['mean']):>10}{f(e['median']):>10}"
              f"{f(e['p05']):>10}{f(e['p95']):>10}{f(e['real']):>10}  {e['name']}")
    print("informational:")
    for key, e in out["stats"].items():
        print(f"{key:<22}{'':>7}{f(e['mean']):>10}{f(e['median']):>10}{f(e['p05']):>10}"
              f"{f(e['p95']):>10}{f(e['real']):>10}  {e['name']}")
    for r in out["runs"]:
        if not r["passed"]:
            print(f"seed {r['seed']}: fails {', '.join(r['failed'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

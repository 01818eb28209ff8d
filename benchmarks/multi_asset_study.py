#!/usr/bin/env python3
"""The multi-symbol market study of docs/multi_asset.md (issue 19).

Runs ``--scenario`` (default scenarios/multi_asset.yaml: an index future IDX on A and B) for each
seed of ``--seeds`` (held-out: the scenario was tuned on seed 1) in parallel processes, each for
``--days`` days, sampling every symbol's mid, the index basis and the two market makers on A
(``mm_hedged``, ``mm_unhedged``) once a minute, and scoring each symbol's event log on the
stylized-facts scorecard (``abmm facts RUN --symbol S``). With ``--ablation-days N`` every seed
also runs N days without the arbitrageur (``agents.arb.count=0``) for the basis without it.

It reports:

* **correlations** of the symbols' log mid returns at 1, 5, 30 and 60 minutes (pooled over the
  seeds, returns within a session only) against the configured ones (from ``fundamental``:
  ``correlation`` between the plain symbols, ``index_of`` for the index), each with a 95 %
  interval from a bootstrap over seeds (``sim_{H}min_ci``: a seed's returns resampled
  together, 2,000 resamples), and the fundamentals' own at the same horizons;
* **the basis** 2 IDX - A - B in bp of the basket (its mean and standard deviation per seed,
  the share of minutes beyond 10 bp), with and without the arbitrageur, and the arbitrageur's
  PnL;
* **hedged against unhedged market making** on A: the PnL of each run (price units, over the
  whole run after the warm-up), its mean, standard deviation and Sharpe ratio (mean / sd over
  the seeds), the standard deviation of the 1-minute and 30-minute PnL changes within a run
  (the risk the hedge is for; minutes across a night count as one), the mean |position
  value| (all legs), the last hedge ratio, and the paired differences -- hedged minus
  unhedged mean PnL and PnL sd over the seeds, hedged / unhedged PnL-change sd within runs --
  with 95 % intervals from a paired bootstrap over the seeds (10,000 resamples);
* **the scorecard** pass rate of each symbol.

``--json`` prints all of it as one object; ``--figure PNG`` draws the correlation by horizon
(simulated against configured), one seed's basis with and without the arbitrageur, and the two
makers' PnL. ``--quick`` is a smoke test (2 seeds, 1 day, no scorecard).

    python benchmarks/multi_asset_study.py --seeds 101-120 --days 5 --ablation-days 1 \\
        --json --figure docs/img/multi_asset.png
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from abmm.learn.config import parse_seeds

HORIZONS = (1, 5, 30, 60)  # minutes
MAKERS = ("mm_hedged", "mm_unhedged")


def configured_correlation(scenario) -> tuple[list[str], np.ndarray]:
    """The correlation of the symbols' fundamental moves implied by the scenario (relative
    moves at the reference prices): ``correlation`` between the plain symbols, an index's
    from its weights."""
    from abmm.scenario.schema import index_symbols

    m, f = scenario.market, scenario.fundamental
    names = m.symbol_names
    per = f.symbols or {}
    idx = set(index_symbols(scenario))
    plain = [n for n in names if n not in idx]
    sig = np.array([(per[n].sigma_1h if n in per and per[n].sigma_1h is not None
                     else f.sigma_1h) for n in plain])
    rho = np.asarray(f.correlation, float) if f.correlation is not None else np.eye(len(plain))
    cov_plain = rho * np.outer(sig, sig)  # price units, per hour
    w = np.zeros((len(names), len(plain)))
    for i, n in enumerate(names):
        if n in idx:
            for c, wt in per[n].index_of.items():
                w[i, plain.index(c)] = wt
        else:
            w[i, plain.index(n)] = 1.0
    cov = w @ cov_plain @ w.T
    refs = np.array([e.reference_price for e in m.symbols])
    cov = cov / np.outer(refs, refs)
    d = np.sqrt(np.diag(cov))
    return names, cov / np.outer(d, d)


def _returns(series: list[list[float]], h: int) -> np.ndarray:
    """Log returns over ``h`` minutes within each session: ``series`` is a list of sessions,
    each an array (minutes x symbols) of mids."""
    out = []
    for s in series:
        a = np.log(np.asarray(s, float))
        if len(a) > h:
            out.append(a[h::h] - a[:-h:h][: len(a[h::h])])
    return np.concatenate(out) if out else np.empty((0, 0))


def _one(args) -> dict:
    scenario, seed, days, ablation_days, score, sets = args
    from abmm.analysis.scorecard import facts_from_run
    from abmm.rundir import open_run
    from abmm.scenario import build_model
    from abmm.schema.timing import MINUTE

    def simulate(overrides, out, with_makers=True):
        m = build_model(scenario, seed=seed, out=out, overrides=overrides)
        names = m.symbols
        vi = {v.symbol: v for v in m.venues}
        makers = {g: m.groups[g][0] for g in MAKERS if with_makers and g in m.groups}
        arb = m.groups.get("arb", [None])[0]
        sessions, fund, basis = [], [], []
        pnl = {g: [] for g in makers}
        expo = {g: [] for g in makers}
        for k, (o, c) in enumerate(m.sessions):
            t = max(o, m.warmup_end) if k == 0 else o
            mids, funds = [], []
            while t <= c:
                m.run_until(t)
                row = [vi[s].mid() for s in names]
                if None not in row:
                    mids.append(row)
                    funds.append([vi[s].fundamental.value(m.now) for s in names])
                    if {"A", "B", "IDX"} <= set(names):
                        a, b, i = (vi[s].mid() for s in ("A", "B", "IDX"))
                        basis.append((2 * i - a - b) / (a + b) * 1e4)
                    for g, mk in makers.items():
                        pnl[g].append(mk.pnl_value())
                        expo[g].append(sum(leg.exposure() for leg in mk.legs.values()))
                t += MINUTE
            sessions.append(mids)
            fund.append(funds)
        summary = m.finish()
        out_d = {"names": names, "sessions": sessions, "fund": fund, "basis": basis,
                 "pnl": pnl, "expo": expo,
                 "betas": {g: mk.current_betas() for g, mk in makers.items()},
                 "arb_pnl": summary["groups"].get("arb", {}).get("pnl_after_warmup_total"),
                 "arb_baskets": None if arb is None else arb.baskets,
                 "kernel_events": summary["kernel_events"]}
        m.release()
        return out_d

    tmp = Path(tempfile.mkdtemp(prefix=f"abmm-multi-{seed}-"))
    try:
        t0 = time.perf_counter()
        main = simulate([*sets, f"market.days={days}"], tmp / "run" if score else None)
        wall = time.perf_counter() - t0
        cards = {}
        if score:
            for s in main["names"]:
                card = facts_from_run(open_run(tmp / "run", symbol=s)).to_dict()
                cards[s] = {"passed": card["passed"],
                            "fails": [r["key"] for r in card["rows"] if r["passed"] is False]}
        ablation = None
        if ablation_days:
            ab = simulate([*sets, f"market.days={ablation_days}", "agents.arb.count=0"], None,
                          False)
            ablation = {"basis": ab["basis"]}
            main["basis_short"] = main["basis"][: len(ab["basis"])]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"seed": seed, "wall_s": wall, "cards": cards, "ablation": ablation, **main}


def _pooled(rets: list[np.ndarray], n: int) -> np.ndarray:
    """The correlation matrix of the returns of several runs pooled (NaN with fewer than 10
    returns: too few to say anything)."""
    rets = [x for x in rets if x.size]
    if sum(len(x) for x in rets) < 10:
        return np.full((n, n), np.nan)
    return np.corrcoef(np.concatenate(rets).T)


def _corr(runs: list[dict], key: str, h: int) -> np.ndarray:
    """The correlation matrix of ``h``-minute returns pooled over the runs."""
    return _pooled([_returns(r[key], h) for r in runs], len(runs[0]["names"]))


def seed_bootstrap_corr(rets: list[np.ndarray], n_boot: int = 2000,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The 95 % percentile interval (two matrices: low, high) of the pooled correlation matrix
    over the runs resampled with replacement (a run's returns stay together: a pooled
    correlation over seeds is dominated by the volatile seeds, so it is less precise than its
    number of returns suggests). NaN with fewer than two runs."""
    n = rets[0].shape[1] if rets and rets[0].ndim == 2 and rets[0].size else 0
    if len(rets) < 2 or n == 0:
        return np.full((n, n), np.nan), np.full((n, n), np.nan)
    rng = np.random.default_rng(seed)
    # per run: the sums the pooled Pearson correlation needs (count, sums, cross products)
    cnt = np.array([len(x) for x in rets], float)
    s1 = np.array([x.sum(axis=0) for x in rets])
    s2 = np.array([x.T @ x for x in rets])
    idx = rng.integers(0, len(rets), (n_boot, len(rets)))
    w = np.stack([np.bincount(i, minlength=len(rets)) for i in idx]).astype(float)
    N = w @ cnt
    S1 = w @ s1
    S2 = np.einsum("br,rij->bij", w, s2)
    cov = S2 / N[:, None, None] - S1[:, :, None] * S1[:, None, :] / (N ** 2)[:, None, None]
    sd = np.sqrt(np.einsum("bii->bi", cov))
    c = cov / (sd[:, :, None] * sd[:, None, :])
    return np.nanpercentile(c, 2.5, axis=0), np.nanpercentile(c, 97.5, axis=0)


def _basis_stats(b) -> dict:
    b = np.asarray(b, float)
    return {"mean_bp": float(b.mean()), "sd_bp": float(b.std()),
            "beyond_10bp": float(np.mean(np.abs(b) > 10))}


def paired_bootstrap(a, b, stat, n: int = 10_000, seed: int = 0) -> list[float]:
    """The 95 % percentile interval of ``stat(a[i], b[i])`` over seeds resampled in pairs."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), (n, len(a)))
    vals = np.array([stat(a[i], b[i]) for i in idx])
    return [float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))]


def analyse(runs: list[dict], scenario) -> dict:
    names, conf = configured_correlation(scenario)
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    corr = {}
    for h in HORIZONS:
        sim_rets = [_returns(r["sessions"], h) for r in runs]
        sim, fund = _pooled(sim_rets, len(names)), _corr(runs, "fund", h)
        lo, hi = seed_bootstrap_corr([x for x in sim_rets if x.size])
        for i, j in pairs:
            key = f"{names[i]}-{names[j]}"
            corr.setdefault(key, {"configured": float(conf[i, j])})
            corr[key][f"sim_{h}min"] = float(sim[i, j])
            corr[key][f"sim_{h}min_ci"] = [float(lo[i, j]), float(hi[i, j])]
            corr[key][f"fundamental_{h}min"] = float(fund[i, j])
    for c in corr.values():
        c["within_0.1_at_30min"] = abs(c["sim_30min"] - c["configured"]) <= 0.1
    if not any(r["basis"] for r in runs):  # no index basket in this scenario
        basis = None
    else:
        basis = _basis(runs)
    makers = _makers(runs)
    facts = {}
    if runs[0]["cards"]:
        for s in runs[0]["cards"]:
            passed = [r["cards"][s]["passed"] for r in runs]
            fails: dict = {}
            for r in runs:
                for k in r["cards"][s]["fails"]:
                    fails[k] = fails.get(k, 0) + 1
            facts[s] = {"passed": int(sum(passed)), "of": len(passed), "fails": fails}
    return {"seeds": [r["seed"] for r in runs], "correlation": corr, "basis": basis,
            "makers": makers, "facts": facts,
            "wall_s_per_run": float(np.mean([r["wall_s"] for r in runs]))}


def _basis(runs: list[dict]) -> dict:
    """The basis with the arbitrageur (and without it, from the ablation runs)."""
    basis = {"with_arbitrageur": _basis_stats(np.concatenate([r["basis"] for r in runs]))}
    per_seed_sd = [float(np.std(r["basis"])) for r in runs]
    basis["with_arbitrageur"]["sd_bp_per_seed"] = [min(per_seed_sd), float(np.median(per_seed_sd)),
                                                    max(per_seed_sd)]
    if runs[0].get("ablation"):
        basis["without_arbitrageur"] = _basis_stats(
            np.concatenate([r["ablation"]["basis"] for r in runs]))
        basis["with_arbitrageur_same_days"] = _basis_stats(
            np.concatenate([r["basis_short"] for r in runs]))
    arb = [r["arb_pnl"] for r in runs if r["arb_pnl"] is not None]
    basis["arbitrageur_pnl"] = {"mean": float(np.mean(arb)), "sd": float(np.std(arb, ddof=1))
                                if len(arb) > 1 else float("nan")}
    return basis


def _makers(runs: list[dict]) -> dict:
    """The hedged and unhedged makers' figures and their paired comparison."""
    makers = {}
    for g in MAKERS:
        if g not in runs[0]["pnl"]:
            continue
        tot = np.array([r["pnl"][g][-1] - r["pnl"][g][0] for r in runs])
        step_sd = [float(np.std(np.diff(r["pnl"][g]))) for r in runs]
        sd30 = [float(np.std(np.diff(np.asarray(r["pnl"][g])[::30]))) for r in runs]
        expo = [float(np.mean(np.abs(r["expo"][g]))) for r in runs]
        makers[g] = {"pnl_mean": float(tot.mean()), "pnl_sd": float(tot.std(ddof=1)),
                     "sharpe": float(tot.mean() / tot.std(ddof=1)) if tot.std() > 0 else None,
                     "pnl_1min_sd": float(np.mean(step_sd)),
                     "pnl_30min_sd": float(np.mean(sd30)),
                     "abs_position_value": float(np.mean(expo)),
                     "beta_last_median": float(np.median([r["betas"][g][0] for r in runs
                                                           if r["betas"][g][0] is not None]))
                     if any(r["betas"][g][0] is not None for r in runs) else None,
                     "pnl_per_seed": tot.tolist()}
    if len(makers) == 2:
        h = np.array(makers["mm_hedged"]["pnl_per_seed"])
        u = np.array(makers["mm_unhedged"]["pnl_per_seed"])
        out = {"pnl_mean": float((h - u).mean()),
               "pnl_mean_ci95": paired_bootstrap(h, u, lambda x, y: (x - y).mean()),
               "pnl_sd": float(h.std(ddof=1) - u.std(ddof=1)),
               "pnl_sd_ci95": paired_bootstrap(h, u, lambda x, y: x.std(ddof=1) - y.std(ddof=1))}
        for lag, name in ((1, "1min"), (30, "30min")):
            s1 = np.array([float(np.std(np.diff(np.asarray(r["pnl"]["mm_hedged"])[::lag])))
                           for r in runs])
            s2 = np.array([float(np.std(np.diff(np.asarray(r["pnl"]["mm_unhedged"])[::lag])))
                           for r in runs])
            out[f"pnl_{name}_sd_ratio"] = float(np.mean(s1 / s2))
            out[f"pnl_{name}_sd_ratio_ci95"] = paired_bootstrap(
                s1, s2, lambda x, y: (x / y).mean())
        makers["hedged_minus_unhedged"] = out
    return makers


def figure(runs: list[dict], res: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    for key, c in res["correlation"].items():
        mid = np.array([c[f"sim_{h}min"] for h in HORIZONS], float)
        ci = np.array([c[f"sim_{h}min_ci"] for h in HORIZONS], float).T
        line = ax[0].errorbar(HORIZONS, mid, yerr=np.abs(ci - mid), fmt="o-", capsize=3,
                              label=key).lines[0]
        ax[0].axhline(c["configured"], color=line.get_color(), ls=":", lw=1)
    ax[0].set_xscale("log")
    ax[0].set_xticks(HORIZONS, [f"{h}m" for h in HORIZONS])
    ax[0].set_xlabel("return horizon")
    ax[0].set_ylabel("correlation of mid returns")
    ax[0].set_title("simulated (dots, 95 % over seeds) vs configured (dotted)")
    ax[0].legend(fontsize=8)
    r0 = runs[0]
    if r0.get("ablation") and r0["ablation"]["basis"]:
        ax[1].plot(r0["ablation"]["basis"], lw=0.7, label="without the arbitrageur")
    ax[1].plot(r0.get("basis_short") or r0["basis"], lw=0.7, label="with the arbitrageur")
    ax[1].set_xlabel(f"minute (seed {r0['seed']})")
    ax[1].set_ylabel("basis 2 IDX - A - B (bp)")
    ax[1].legend(fontsize=8)
    ax[1].set_title("the index basis")
    mk = res["makers"]
    if "mm_hedged" in mk:
        x = np.arange(len(runs))
        ax[2].bar(x - 0.2, mk["mm_unhedged"]["pnl_per_seed"], 0.4, label="unhedged")
        ax[2].bar(x + 0.2, mk["mm_hedged"]["pnl_per_seed"], 0.4, label="hedged with IDX")
        ax[2].set_xticks(x, [str(s) for s in res["seeds"]], fontsize=6, rotation=90)
        ax[2].set_xlabel("held-out seed")
        ax[2].set_ylabel("PnL after the warm-up (price units)")
        ax[2].set_title("market making on A")
        ax[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default="scenarios/multi_asset.yaml")
    ap.add_argument("--seeds", default="101-120")
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--ablation-days", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="processes (1: in this one)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--figure", metavar="PNG")
    ap.add_argument("--quick", action="store_true", help="2 seeds, 1 day, no scorecard")
    ap.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                    help="a scenario override (as abmm run --set), for every run")
    ap.add_argument("--no-facts", action="store_true", help="skip the scorecard")
    ap.add_argument("--save", metavar="PICKLE", help="also save the raw per-seed samples")
    a = ap.parse_args(argv)
    from abmm.scenario import load_scenario

    scenario = load_scenario(a.scenario, overrides=a.set)
    seeds = parse_seeds(a.seeds)
    days, score = a.days, not a.no_facts
    if a.quick:
        seeds, days, score = seeds[:2], 1, False
    jobs = [(a.scenario, s, days, a.ablation_days, score, a.set) for s in seeds]
    t0 = time.perf_counter()
    runs = []
    if a.workers == 1:  # in this process
        results = map(_one, jobs)
        pool = None
    else:
        pool = mp.get_context("spawn").Pool(a.workers)
        results = pool.imap(_one, jobs)
    try:
        for r in results:
            runs.append(r)
            print(f"seed {r['seed']}: {r['wall_s']:.0f} s", file=sys.stderr, flush=True)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    if a.save:
        import pickle

        Path(a.save).write_bytes(pickle.dumps(runs))
    res = analyse(runs, scenario)
    res["wall_s"] = time.perf_counter() - t0
    if a.figure:
        figure(runs, res, a.figure)
    if a.json:
        print(json.dumps(res))
    else:
        for key, c in res["correlation"].items():
            sims = "  ".join(f"{h}m {c[f'sim_{h}min']:+.2f}" for h in HORIZONS)
            lo, hi = c["sim_30min_ci"]
            print(f"corr {key}: configured {c['configured']:+.2f}; simulated {sims} "
                  f"(30m 95 % over seeds: {lo:+.2f} to {hi:+.2f})")
        if res["basis"] is not None:
            print("basis:", json.dumps(res["basis"]))
        for g, v in res["makers"].items():
            print(g, json.dumps({k: v[k] for k in v if k != "pnl_per_seed"}))
        for s, v in res["facts"].items():
            print(f"scorecard {s}: {v['passed']}/{v['of']} pass; fails {v['fails']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

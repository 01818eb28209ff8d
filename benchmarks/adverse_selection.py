#!/usr/bin/env python3
"""Adverse-selection detector and spread predictor: train from logged runs, test on held-out
seeds, and evaluate market makers that use them (issue 17, item 3; docs/adverse_selection.md).

    python benchmarks/adverse_selection.py            # 20 train, 20 test, 20 eval seeds
    python benchmarks/adverse_selection.py --quick    # 8 / 8 / 6 seeds (~1 min)
    python benchmarks/adverse_selection.py --json

1. Runs ``--scenario`` (scenarios/mm_eval.yaml) on the training seeds (< 1000) and the
   held-out test seeds (1000+), top of book logged, under ``--out``; rebuilds the features
   and targets from the run directories (``abmm.learn.adverse``).
2. Fits the logistic detector (label: the mid moves ``--threshold`` ticks against a resting
   quote within ``--horizon`` seconds) and the MLP spread predictor (target: the mean best
   spread over the next ``--horizon`` seconds); saves ``detector.npz``, ``spread.npz``.
3. Held-out: detector AUC with a 95 % interval (bootstrap over seeds), the reliability
   diagram (``calibration.png`` and JSON), a negative control (a detector fitted on labels
   shuffled within each training seed, scored against held-out labels shuffled within each
   seed: the pipeline must then give AUC 0.5); spread predictor
   MAE/RMSE against the naive forecast (the current spread) and the training mean.
4. On the eval seeds of the scenario, the group ``mm_as`` (Avellaneda-Stoikov) plays plain,
   with the detector withdrawing, with it widening, and with the spread model as its base
   spread -- the same seeds, one run each -- and the paired differences against plain AS
   (PnL, Sharpe, mean |inventory|, fills, the share of its maker fills followed by an adverse
   move, price impact per lot at 5 s) with 95 % seed-bootstrap intervals.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abmm.learn.adverse import (  # noqa: E402
    auc,
    calibration,
    collect_runs,
    detector_samples,
    fit_logistic,
    fit_spread_mlp,
    grid_dataset,
    logistic_predict,
    save_detector,
    save_spread_model,
    seed_bootstrap,
)
from abmm.policy.detect import FEATURES  # noqa: E402

MM = "mm_as"


def _seeds(s: str) -> list[int]:
    a, _, b = s.partition("-")
    return list(range(int(a), int(b or a) + 1))


def _stack(ds, key):
    return np.concatenate([d[key] for d in ds])


def _adverse_fill_share(run_dir, agent_id: int, horizon_ns: int, m: float) -> float:
    """Share of the agent's maker fills after which the mid moved >= m ticks against it within
    the horizon (the mid at the fill's time, after it, vs the mid at fill + horizon)."""
    from abmm.rundir import open_run
    from abmm.signals.run import from_run

    run = open_run(run_dir)
    f = run.fills(["ts", "owner", "side"])
    ts = f.column("ts").to_numpy()
    own = f.column("owner").to_numpy()
    side = f.column("side").to_numpy()
    k = own == agent_id
    if not k.any():
        return float("nan")
    top = from_run(run_dir).top_arrays()

    def mid(t):
        j = np.searchsorted(top["ts"], t, side="right") - 1
        b, a = top["bid"][j], top["ask"][j]
        return np.where((j >= 0) & (b > 0) & (a > 0), (b + a) / 2, np.nan)

    t = ts[k]
    d = mid(t + horizon_ns) - mid(t)
    sign = np.where(side[k] == 0, 1.0, -1.0)  # taker bought: the maker sold, a rise hurts it
    ok = np.isfinite(d)
    return float(np.mean(sign[ok] * d[ok] >= m))


def evaluate_mm(scenario: str, seeds, out: Path, variants: dict, horizon_s: float,
                m: float) -> dict:
    from abmm.analysis.metrics import group_metrics
    from abmm.scenario import build_model, yaml_load

    base = yaml_load(Path(scenario).read_text())
    res: dict = {v: [] for v in variants}
    for name, extra in variants.items():
        for seed in seeds:
            d = json.loads(json.dumps(base))
            for g in d["agents"]:
                if g.get("name") == MM:
                    g.update(extra)
            d.setdefault("logging", {})["top_of_book"] = True
            rd = out / "eval" / name / f"seed-{seed}"
            model = build_model(d, seed=seed, out=rd)
            aid = model.groups[MM][0].unique_id
            model.run()
            g = group_metrics(rd).loc[MM]
            res[name].append({
                "seed": seed, "pnl": float(g["pnl"]), "sharpe": float(g["sharpe"]),
                "mean_abs_inventory": float(g["inv_map"]), "fills": int(g["fills"]),
                "adverse_fill_share": _adverse_fill_share(rd, aid, int(horizon_s * 1e9), m),
                "price_impact_5s_ticks": float(g["adverse_selection_5s_ticks"])})
    return res


def summarize_mm(res: dict, resamples: int) -> dict:
    keys = ["pnl", "sharpe", "mean_abs_inventory", "fills", "adverse_fill_share",
            "price_impact_5s_ticks"]
    plain = res["as"]
    out = {}
    for name, rows in res.items():
        s = {"n_seeds": len(rows)}
        for k in keys:
            v = np.array([r[k] for r in rows], float)
            s[k] = float(np.nanmean(v))
            if name != "as":
                d = v - np.array([r[k] for r in plain], float)
                groups = np.arange(len(d))
                lo, hi = seed_bootstrap(lambda x: float(np.nanmean(x)), groups, [d],
                                        n=resamples)
                s[f"{k}_diff"] = [float(np.nanmean(d)), lo, hi]
        out[name] = s
    return out


def plot_calibration(cal: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    b = cal["bins"]
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    ax.plot([r["mean_pred"] for r in b], [r["observed"] for r in b], "o-", label="detector")
    for r in b:
        ax.annotate(str(r["n"]), (r["mean_pred"], r["observed"]), fontsize=6,
                    textcoords="offset points", xytext=(3, -8))
    ax.set_xlabel("predicted P(adverse move)")
    ax.set_ylabel("observed frequency")
    ax.set_title(title, fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="scenarios/mm_eval.yaml")
    ap.add_argument("--train-seeds", default="0-19")
    ap.add_argument("--test-seeds", default="1000-1019")
    ap.add_argument("--eval-seeds", default="1000-1019")
    ap.add_argument("--horizon", type=float, default=10.0, help="seconds")
    ap.add_argument("--threshold", type=float, default=2.0, help="ticks")
    ap.add_argument("--withdraw-above", type=float, default=0.5)
    ap.add_argument("--widen-above", type=float, default=0.5)
    ap.add_argument("--widen-ticks", type=int, default=2)
    ap.add_argument("--hidden", default="32,32")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--out", default="runs/adverse_selection")
    ap.add_argument("--quick", action="store_true", help="8 train, 8 test, 6 eval seeds")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(1)
    if a.quick:
        a.train_seeds, a.test_seeds, a.eval_seeds = "0-7", "1000-1007", "1000-1005"
        a.resamples = min(a.resamples, 300)
        a.epochs = min(a.epochs, 15)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    wall = {}
    tr = collect_runs(a.scenario, _seeds(a.train_seeds), out / "train")
    te = collect_runs(a.scenario, _seeds(a.test_seeds), out / "test")
    dtr = [grid_dataset(d, w, horizon_s=a.horizon) for _, d, w in tr]
    dte = [grid_dataset(d, w, horizon_s=a.horizon) for _, d, w in te]
    wall["data_s"] = time.perf_counter() - t0

    # detector
    t1 = time.perf_counter()
    m = a.threshold
    Xtr, ytr = zip(*[detector_samples(d["X"], d["dmid"], m) for d in dtr], strict=True)
    gtr = np.concatenate([np.full(len(y), s) for (s, _, _), y in zip(tr, ytr, strict=True)])
    Xte, yte = zip(*[detector_samples(d["X"], d["dmid"], m) for d in dte], strict=True)
    gte = np.concatenate([np.full(len(y), s) for (s, _, _), y in zip(te, yte, strict=True)])
    Xtr, ytr, Xte, yte = map(np.concatenate, (Xtr, ytr, Xte, yte))
    params = fit_logistic(Xtr, ytr)
    p = logistic_predict(params, Xte)
    rng = np.random.default_rng(0)
    def shuffled(y, groups):  # labels permuted within each seed
        y = y.copy()
        for s in np.unique(groups):
            k = np.flatnonzero(groups == s)
            y[k] = rng.permutation(y[k])
        return y

    pc = logistic_predict(fit_logistic(Xtr, shuffled(ytr, gtr)), Xte)
    yte_shuf = shuffled(yte, gte)
    cal = calibration(yte, p)
    spec = {"horizon_s": a.horizon, "threshold_ticks": m}
    meta = {"scenario": a.scenario, "train_seeds": a.train_seeds, **spec}
    save_detector(out / "detector.npz", params, meta=meta)
    plot_calibration(cal, out / "calibration.png",
                     f"{Path(a.scenario).stem}, seeds {a.test_seeds}: |dmid| >= {m:g} ticks "
                     f"in {a.horizon:g}s")
    det = {
        "label": f"mid moves >= {m:g} ticks against the resting quote within {a.horizon:g}s",
        "n_train": int(len(ytr)), "n_test": int(len(yte)),
        "base_rate_train": float(ytr.mean()), "base_rate_test": float(yte.mean()),
        "auc": auc(yte, p), "auc_ci95": seed_bootstrap(auc, gte, [yte, p], n=a.resamples),
        "control": "fitted on training labels shuffled within each seed, scored against the "
                   "held-out labels shuffled within each seed",
        "control_auc": auc(yte_shuf, pc),
        "control_auc_ci95": seed_bootstrap(auc, gte, [yte_shuf, pc], n=a.resamples),
        "train_auc": auc(ytr, logistic_predict(params, Xtr)),
        "coef": dict(zip(FEATURES, map(float, params["coef"]), strict=True)),
        "calibration": cal,
        "share_above_withdraw": float(np.mean(p > a.withdraw_above)),
        "share_above_widen": float(np.mean(p > a.widen_above)),
    }
    wall["detector_s"] = time.perf_counter() - t1

    # spread predictor
    t1 = time.perf_counter()
    hidden = [int(h) for h in a.hidden.split(",")]
    Str, Ste = _stack(dtr, "X"), _stack(dte, "X")
    ytr_s, yte_s = _stack(dtr, "spread_next"), _stack(dte, "spread_next")
    sp = fit_spread_mlp(Str, ytr_s, hidden=hidden, epochs=a.epochs)
    save_spread_model(out / "spread.npz", sp, hidden, meta=meta)
    from abmm.policy.detect import load_detect_model

    pred = load_detect_model(out / "spread.npz", "spread").predict(Ste)
    naive = Ste[:, 0]
    const = np.full_like(yte_s, ytr_s.mean())
    gs = np.concatenate([np.full(len(d["X"]), s) for (s, _, _), d in zip(te, dte, strict=True)])

    def err(f):
        e = f - yte_s
        return {"mae": float(np.abs(e).mean()), "rmse": float(np.sqrt((e ** 2).mean()))}

    mae_diff = seed_bootstrap(lambda y, f, n: float(np.abs(f - y).mean() - np.abs(n - y).mean()),
                              gs, [yte_s, pred, naive], n=a.resamples)
    spr = {"target": f"mean best spread (ticks, each capped at 20) over the next "
                     f"{a.horizon:g}s, sampled every second",
           "mlp": err(pred), "naive_current_spread": err(naive), "train_mean": err(const),
           "mae_mlp_minus_naive_ci95": mae_diff, "hidden": hidden, "epochs": a.epochs,
           "min_prediction": float(pred.min())}
    wall["spread_s"] = time.perf_counter() - t1

    # market makers
    t1 = time.perf_counter()
    det_path, spr_path = str((out / "detector.npz").resolve()), str((out / "spread.npz").resolve())
    variants = {"as": {},
                "as+withdraw": {"detector": det_path, "withdraw_above": a.withdraw_above},
                "as+widen": {"detector": det_path, "widen_above": a.widen_above,
                             "widen_ticks": a.widen_ticks},
                "as+spread": {"spread_model": spr_path}}
    res = evaluate_mm(a.scenario, _seeds(a.eval_seeds), out, variants, a.horizon, m)
    mm = summarize_mm(res, a.resamples)
    wall["mm_eval_s"] = time.perf_counter() - t1
    wall["total_s"] = time.perf_counter() - t0
    report = {"scenario": a.scenario, "train_seeds": a.train_seeds, "test_seeds": a.test_seeds,
              "eval_seeds": a.eval_seeds, "horizon_s": a.horizon, "threshold_ticks": m,
              "detector": det, "spread": spr, "market_makers": mm, "per_seed": res,
              "wall": {k: round(v, 1) for k, v in wall.items()}}
    (out / "report.json").write_text(json.dumps(report, indent=1))
    if a.json:
        print(json.dumps({k: v for k, v in report.items() if k != "per_seed"}, indent=1))
        return 0
    lo, hi = det["auc_ci95"]
    print(f"detector ({det['label']}): held-out AUC {det['auc']:.3f} [{lo:.3f}, {hi:.3f}], "
          f"control {det['control_auc']:.3f} {np.round(det['control_auc_ci95'], 3).tolist()}, "
          f"ECE {cal['ece']:.3f}, base rate {det['base_rate_test']:.3f}")
    for r in cal["bins"]:
        print(f"  p in [{r['lo']:.1f},{r['hi']:.1f}): n {r['n']:6d}  predicted "
              f"{r['mean_pred']:.3f}  observed {r['observed']:.3f}")
    print(f"spread: MLP MAE {spr['mlp']['mae']:.3f} RMSE {spr['mlp']['rmse']:.3f}; naive MAE "
          f"{spr['naive_current_spread']['mae']:.3f} RMSE {spr['naive_current_spread']['rmse']:.3f}"
          f"; train mean MAE {spr['train_mean']['mae']:.3f}")
    print(f"{'variant':12s} {'pnl':>8s} {'sharpe':>7s} {'|inv|':>6s} {'fills':>6s} "
          f"{'adv.share':>9s} {'impact5s':>8s}")
    for name, s in mm.items():
        print(f"{name:12s} {s['pnl']:8.2f} {s['sharpe']:7.2f} {s['mean_abs_inventory']:6.2f} "
              f"{s['fills']:6.0f} {s['adverse_fill_share']:9.3f} "
              f"{s['price_impact_5s_ticks']:8.3f}")
        if name != "as":
            print("   vs as: " + ", ".join(
                f"{k[:-5]} {v[0]:+.3f} [{v[1]:+.3f}, {v[2]:+.3f}]"
                for k, v in s.items() if k.endswith("_diff")))
    print(f"wall: {report['wall']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

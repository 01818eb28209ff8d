#!/usr/bin/env python3
"""Figures of docs/coevolution.md from a real training run and its held-out evaluation.

    python benchmarks/coevolution_figures.py runs/mm_coevolve runs/mm_coevolve/eval100.json

writes ``docs/img/coevolution_curves.png`` (per learner, over training: episode return, PnL,
mean |inventory|, quoted spread, lots traded, fraction of time quoting two-sided) and
``docs/img/coevolution_eval.png`` (held-out mean PnL, Sharpe and mean |inventory| of the learned
policy and the baselines, with 95 % confidence intervals), and prints the evaluation table.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def curves(run: Path, out: Path) -> None:
    rows = list(csv.DictReader(open(run / "curves.csv")))
    learners = sorted({k.split("/")[0] for k in rows[0] if k.endswith("/return")})
    x = [int(r["update"]) for r in rows]
    fig = Figure(figsize=(13, 7))
    panels = [("return", "episode return (reward units)"), ("pnl", "PnL (tick·lots)"),
              ("map", "mean |inventory| (lots)"), ("quoted_spread", "quoted spread (ticks)"),
              ("traded", "lots traded per episode"), ("quoting_ratio", "time quoting two-sided")]
    for i, (m, title) in enumerate(panels):
        ax = fig.add_subplot(2, 3, i + 1)
        for lrn in learners:
            y = [float(r.get(f"{lrn}/{m}") or "nan") for r in rows]
            ax.plot(x, y, label=lrn, lw=1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("update")
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=8)
    fig.suptitle(f"co-evolving market makers, {run.name}: learning curves")
    fig.tight_layout()
    fig.savefig(out / "coevolution_curves.png", dpi=90)


def evaluation(res: dict, out: Path) -> None:
    pols = res["policies"]
    names = [Path(n).stem if n.endswith(".pt") else n for n in pols]
    fig = Figure(figsize=(12, 3.8))
    for i, (key, ci, title) in enumerate((("pnl_mean", "pnl_ci", "mean PnL per hour"),
                                          ("sharpe", "sharpe_ci", "Sharpe (mean/std PnL)"),
                                          ("map", "map_ci", "mean |inventory| (lots)"))):
        ax = fig.add_subplot(1, 3, i + 1)
        vals = [pols[n][key] for n in pols]
        errs = [pols[n][ci] for n in pols]
        ax.bar(range(len(vals)), vals, yerr=errs, capsize=4,
               color=["#2a7" if "coevolve" in n or n.endswith(".pt") else "#999" for n in pols])
        ax.set_xticks(range(len(vals)), names, rotation=20, fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    lo, hi = res["seeds"]
    fig.suptitle(f"held-out seeds {lo}-{hi} of {Path(res['scenario']).name} (95 % CIs)")
    fig.tight_layout()
    fig.savefig(out / "coevolution_eval.png", dpi=90)


def main() -> int:
    run, ev = Path(sys.argv[1]), Path(sys.argv[2])
    out = ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    curves(run, out)
    res = json.loads(ev.read_text())
    evaluation(res, out)
    from abmm.learn.evaluate import format_table

    print(format_table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())

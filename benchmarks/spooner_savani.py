#!/usr/bin/env python3
"""Robust market making via adversarial RL: Spooner & Savani (IJCAI 2020) in the model-based market.

The zero-sum game of ``abmm.env.adversarial`` (dt 0.005, T 1, s0 100, sigma 2, A 140, k 1.5,
inventory within +-50, drift in [-10, 10], reward = spread captured + inventory x mid change,
liquidation at the mid at T). Trains, with ``abmm.learn.adversarial`` (batched PPO):

* ``plain``: a market maker against zero drift;
* ``adversarial``: a market maker and a drift-setting adversary simultaneously (zero-sum);

then tests both (and the Avellaneda-Stoikov maker ``as``, gamma 0.1, as a reference) on
``--paths`` held-out games per condition (common random numbers across makers):

* ``adversary``: a fresh adversary trained as a best response against each frozen maker;
* ``oracle``: the analytic best response ``-10 sign(q)``;
* ``random_drift``: a drift drawn uniformly in [-10, 10] per episode, held for the episode;
* ``drift_0``, ``drift_+D``, ``drift_-D`` for D in ``--drifts`` (2, 5, 10): a fixed drift.

Per maker: ``pnl_mean``, ``pnl_sd``, ``pnl_worst5`` (mean of the worst 5 % of episodes),
``inv_sd`` (sd of the terminal inventory), ``inv_abs_mean`` (mean |q| over the steps),
``drift_abs_mean`` (the adversary's mean |b|). Makers act greedily (most likely action).

    python benchmarks/spooner_savani.py                # full run, a few CPU minutes
    python benchmarks/spooner_savani.py --quick        # smoke run, about 20 s
    python benchmarks/spooner_savani.py --json --figure docs/img/spooner_savani.png

``--json``: ``{"conditions": {COND: {"plain": {...}, "adversarial": {...}, "as": {...}}},
"config": {...}}``; the same ``--seed`` gives the same json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import numpy as np
import torch

from abmm.env.adversarial import SS2020
from abmm.learn.adversarial import (
    MM_SKEWS,
    PPOConfig,
    as_maker,
    evaluate,
    fixed_drift,
    oracle_adversary,
    random_drift,
    train_adversarial,
    train_best_response,
    train_plain,
)

MAKERS = ("plain", "adversarial", "as")
METRICS = ("pnl_mean", "pnl_sd", "pnl_worst5", "inv_sd")


def drift_key(d: float) -> str:
    return "drift_0" if d == 0 else f"drift_{d:+g}"


def run(seed: int = 0, iters: int = 60, br_iters: int = 30, train_paths: int = 500,
        paths: int = 10_000, drifts=(2.0, 5.0, 10.0), reward: str = "expected"):
    """Train, test; returns ``(result, makers)``."""
    torch.set_num_threads(1)
    base = dict(paths=train_paths, epochs=2, minibatch=5000, lr=2e-3, reward=reward)
    cfg = PPOConfig(iters=iters, **base)
    br_cfg = PPOConfig(iters=br_iters, **base)
    plain, _ = train_plain(cfg, seed=seed)
    adversarial, _, _ = train_adversarial(cfg, seed=seed + 1)
    makers = {"plain": plain, "adversarial": adversarial, "as": as_maker(0.1)}
    dmax = SS2020["drift_max"]
    conds = {"oracle": lambda name: oracle_adversary(SS2020["q_max"], dmax),
             "random_drift": lambda name: random_drift(dmax),
             "drift_0": lambda name: fixed_drift(0.0)}
    for d in drifts:
        for sd in (d, -d):
            conds[drift_key(sd)] = (lambda b: lambda name: fixed_drift(b))(sd)
    br = {name: train_best_response(m, br_cfg, seed=seed + 10 + i)[0]
          for i, (name, m) in enumerate(makers.items())}
    conds = {"adversary": lambda name: br[name], **conds}
    out = {}
    for ci, (cond, make_adv) in enumerate(conds.items()):
        out[cond] = {name: evaluate(m, make_adv(name), paths, seed=seed + 1000 + ci)
                     for name, m in makers.items()}
    config = {"seed": seed, "iters": iters, "br_iters": br_iters, "train_paths": train_paths,
              "paths": paths, "drifts": list(drifts), "reward": reward,
              "ppo": {k: v for k, v in vars(cfg).items() if k not in ("iters", "game")},
              "game": SS2020}
    return {"conditions": out, "config": config}, makers


def figure(res: dict, makers: dict, path: str) -> None:
    """Worst-5 % PnL and terminal-inventory sd per condition; the learned skews."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    conds = list(res["conditions"])
    fig = Figure(figsize=(13, 7.5))
    axs = fig.subplots(2, 2)
    x = np.arange(len(conds))
    w = 0.27
    colours = {"plain": "tab:orange", "adversarial": "tab:blue", "as": "tab:gray"}
    for ax, metric, title in ((axs[0, 0], "pnl_worst5", "PnL, mean of the worst 5 %"),
                              (axs[0, 1], "inv_sd", "sd of the terminal inventory"),
                              (axs[1, 0], "pnl_mean", "PnL, mean")):
        for j, name in enumerate(MAKERS):
            ax.bar(x + (j - 1) * w, [res["conditions"][c][name][metric] for c in conds], w,
                   label=name, color=colours[name])
        ax.set_xticks(x, conds, rotation=45, ha="right", fontsize=8)
        ax.set_title(title)
        ax.axhline(0, color="k", lw=0.5)
    axs[0, 0].legend(fontsize=8)
    ax = axs[1, 1]
    q = np.arange(-20, 21)
    for name in ("plain", "adversarial"):
        obs = np.stack([np.full(q.shape, 0.5), q / SS2020["q_max"]], 1)
        idx = makers[name].net.act(obs, None)
        ax.plot(q, MM_SKEWS[idx[:, 0]], "o-", ms=3, label=name, color=colours[name])
    ax.set_xlabel("inventory q (t = T / 2)")
    ax.set_ylabel("quote skew (centre - mid)")
    ax.set_title("learned skew")
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(fontsize=8)
    fig.suptitle("Spooner & Savani (2020): plain vs adversarially trained market maker")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a smoke run (~20 CPU seconds)")
    ap.add_argument("--iters", type=int, default=None, help="PPO updates per training (60)")
    ap.add_argument("--br-iters", type=int, default=None,
                    help="PPO updates of each best-response adversary (iters / 2)")
    ap.add_argument("--train-paths", type=int, default=None, help="games per update (500)")
    ap.add_argument("--paths", type=int, default=None, help="test games per condition (10,000)")
    ap.add_argument("--drifts", type=float, nargs="+", default=[2.0, 5.0, 10.0])
    ap.add_argument("--reward", choices=("expected", "pnl"), default="expected",
                    help="learning reward (abmm.learn.adversarial): 'pnl' is the paper's")
    ap.add_argument("--figure", help="write the figure (png) here")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true", help="log the training")
    a = ap.parse_args(argv)
    if a.verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    iters = a.iters or (8 if a.quick else 60)
    br_iters = a.br_iters or max(4, iters // 2)
    paths = a.paths or (2000 if a.quick else 10_000)
    t0 = time.perf_counter()
    train_paths = a.train_paths or (300 if a.quick else 500)
    res, makers = run(a.seed, iters, br_iters, train_paths, paths, tuple(a.drifts), a.reward)
    wall = time.perf_counter() - t0
    if a.figure:
        figure(res, makers, a.figure)
    if a.json:
        print(json.dumps(res))
        print(f"wall time {wall:.0f} s", file=sys.stderr)
        return 0
    print(f"Spooner & Savani (2020) in the model-based market: seed {a.seed}, {iters} PPO "
          f"updates, {paths:,} test games per condition, {wall:.0f} s")
    print(f"{'condition':<13}{'maker':<12}{'pnl mean':>9}{'pnl sd':>8}{'worst 5%':>9}"
          f"{'inv sd':>8}{'mean |q|':>9}{'mean |b|':>9}")
    for cond, row in res["conditions"].items():
        for name, m in row.items():
            print(f"{cond:<13}{name:<12}{m['pnl_mean']:9.2f}{m['pnl_sd']:8.2f}"
                  f"{m['pnl_worst5']:9.2f}{m['inv_sd']:8.2f}{m['inv_abs_mean']:9.2f}"
                  f"{m['drift_abs_mean']:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

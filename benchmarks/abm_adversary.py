#!/usr/bin/env python3
"""Robust market making against an adversary in the agent-based market (issue 17, item 1).

Spooner & Savani's (2020) experiment moved from the model-based game
(``benchmarks/spooner_savani.py``) to the agent-based market. There the adversary sets the
mid's drift; here nobody sets the price, so the adversary steers *flow*: the ecology's
adversary role (``abmm.env.adversary_env``) chooses, every 10 s, which way a group of five
informed traders leans (a push of up to 80 ticks on the future fundamental they act on) and
how much they trade (0, 1 or 2 times their size), for minus the market makers' PnL. The market
is ``abmm/env/ecology.yaml`` (default's crowd, 30 minutes after a 60-minute warm-up) with its
two learnable market makers; its chartists and seller act by their own rules.

Trained with ``abmm train``'s trainer (PPO, the ecology's maker arguments):

* ``plain``: the two makers among the informed traders' own rule;
* ``robust``: the two makers and the adversary at the same time (zero-sum);

then, for each, a fresh adversary trained as a best response against the frozen makers
(played as ``kind: policy`` agents), and both makers tested on held-out seeds under:

* ``none``: the informed traders' own rule (no adversary);
* ``adversary``: the maker's own best-response adversary;
* ``oracle``: the myopic worst case, as Spooner & Savani's ``-b_max sign(q)``: the strongest
  push (double size) against the makers' mean inventory (up when they are short, down when
  they are long, the traders' own rule when they are flat);
* ``random``: a uniformly random adversary action every decision;
* ``push_up`` / ``push_down``: the strongest push (double size) one way all episode.

Per maker and condition, over both makers and every seed: ``pnl_mean``, ``pnl_sd``,
``pnl_worst5`` (mean of the worst 5 % of maker-episodes), ``inv_sd`` (sd of the inventory at
the close), ``inv_abs_mean`` (mean |q| over the decisions), ``pnl_ci`` (95 % half-width), all
PnL in price units per maker and 30-minute episode; and the paired difference robust - plain
in mean PnL with its 95 % bootstrap interval over seeds.

    python benchmarks/abm_adversary.py --out runs/abm_adversary            # about 40 min
    python benchmarks/abm_adversary.py --quick --out /tmp/abm_adv          # smoke, ~2 min
    python benchmarks/abm_adversary.py --out runs/abm_adversary --json --figure docs/img/abm_adversary.png

``--out`` keeps the trained policies; a second run with the same ``--out`` and settings
reuses them (only the evaluation is redone). ``--json``: ``{"conditions": {COND: {"plain":
{...}, "robust": {...}, "robust_minus_plain": {"pnl_diff", "ci"}}}, "training": {...},
"config": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
ECOLOGY = ROOT / "abmm" / "env" / "ecology.yaml"
#: The ecology's other learners act by their own rules here.
BASE = ["agents.trader.learnable=false", "agents.seller.learnable=false"]
ADV = BASE + ["agents.informed.learnable=true"]
MAKER_ARGS = {"offsets": [1, 2, 4, 8], "inventory_gamma": 0.02, "max_inventory": 10,
              "reward": {"spread_capture": 1.0, "adverse_selection": 1.0,
                         "inventory_cost": 1.0, "inventory_abs": 0.25, "order_cost": 0.01}}
PUSH = 80.0
DECISION = "10s"
DECISION_NS = 10 * 10 ** 9
CONDITIONS = ("none", "adversary", "oracle", "random", "push_up", "push_down")
MAKERS = ("plain", "robust")
METRICS = ("pnl_mean", "pnl_sd", "pnl_worst5", "inv_sd", "inv_abs_mean")


def _config(name: str, overrides: list[str], updates: int, episodes: int, seed: int,
            scenario: str | None = None, targets: list[str] | None = None) -> dict:
    args = {"decision_interval": DECISION, "overrides": overrides,
            "adversary": {"push_ticks": PUSH, **({"targets": targets} if targets else {})}}
    if scenario is None:
        args["maker"] = MAKER_ARGS
    else:
        args["scenario"] = scenario
    return {"name": name, "env": "ecology", "env_args": args, "algo": "ppo",
            "algo_args": {"lr": 0.001, "epochs": 8, "minibatch": 512, "ent_coef": 0.01,
                          "gamma": 0.99, "lam": 0.95, "hidden": [64, 64]},
            "sharing": "independent", "updates": updates, "episodes_per_update": episodes,
            "seed": seed, "checkpoint_every": 10, "device": "cpu"}


def _train(out: Path, cfg: dict, workers: int) -> tuple[Path, float]:
    """Train ``cfg`` into ``out/NAME`` (reused when its policy exists); the policy file and the
    wall time (0 when reused)."""
    from abmm.learn.config import load_config
    from abmm.learn.trainer import Trainer

    run = out / cfg["name"]
    policy = run / "policy.npz"
    if policy.is_file():
        return policy, 0.0
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{cfg['name']}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    c, base = load_config(path)
    t0 = time.perf_counter()
    t = Trainer(c, base, run, workers=workers, backend="pool")
    t.run()
    t.write_policy()
    return policy, time.perf_counter() - t0


def _policy_scenario(maker_policy: Path, adversary: bool) -> dict:
    """ecology.yaml with the trained makers as ``kind: policy`` agents (groups ``maker_a`` and
    ``maker_b`` playing learners ``maker_0`` and ``maker_1``) and the informed group learnable
    (an adversary) or not."""
    from abmm.scenario import load_scenario

    sc = load_scenario(ECOLOGY, overrides=ADV if adversary else BASE).resolved()
    agents = [g for g in sc["agents"] if g.get("name") != "maker"]
    for i, grp in enumerate(("maker_a", "maker_b")):
        agents.append({"kind": "policy", "name": grp, "count": 1, "latency": "1ms",
                       "checkpoint": str(maker_policy), "learner": f"maker_{i}"})
    sc["agents"] = agents
    return sc


def _episode(args) -> dict:
    """One held-out episode of one maker policy under one condition: per maker, the PnL
    (price units), the inventory at the close and the mean |inventory| over the decisions."""
    maker_policy, adv_policy, cond, seed = args
    from abmm.env import ecology_v0
    from abmm.policy.file import load_policy
    from abmm.scenario import build_model

    unit = None
    if cond == "none":
        sc = _policy_scenario(Path(maker_policy), adversary=False)
        m = build_model(sc, seed=seed)
        makers = m.groups["maker_a"] + m.groups["maker_b"]
        unit = m.tick_size * m.lot_size
        t, qs = m.warmup_end, []
        while t + DECISION_NS <= m.end:
            t += DECISION_NS
            m.run_until(t)
            qs.append([a.inventory for a in makers])
        mark = m.mark_price()
    else:
        sc = _policy_scenario(Path(maker_policy), adversary=True)
        env = ecology_v0.parallel_env(scenario=sc, decision_interval=DECISION,
                                      adversary={"push_ticks": PUSH,
                                                 "targets": ["maker_a", "maker_b"]})
        rng = np.random.default_rng(seed)
        pol = None
        if cond == "adversary":
            pol = load_policy(adv_policy)[0]["informed_0"].fork()
        fixed = {"push_up": 14, "push_down": 2}.get(cond)
        obs, _ = env.reset(seed=seed)
        m = env.model
        makers = env.roles["adversary"].makers
        unit = m.tick_size * m.lot_size
        qs = []
        while env.agents:
            if pol is not None:
                act = int(pol(obs["informed_0"][None])[0])
            elif cond == "oracle":  # obs 0: tanh of the makers' mean inventory
                q = obs["informed_0"][0]
                act = 14 if q < 0 else 2 if q > 0 else 7
            elif fixed is not None:
                act = fixed
            else:
                act = int(rng.integers(15))
            obs, _, _, _, _ = env.step({"informed_0": act})
            qs.append([a.inventory for a in makers])
        mark = m.mark_price()
    q = np.asarray(qs, float)
    out = {"seed": seed, "cond": cond,
           "pnl": [(a.cash + a.inventory * mark) * unit for a in makers],
           "q_end": [a.inventory for a in makers],
           "q_abs": np.abs(q).mean(axis=0).tolist()}
    m.release()
    return out


def _summary(rows: list[dict]) -> dict:
    pnl = np.array([p for r in rows for p in r["pnl"]], float)
    q_end = np.array([q for r in rows for q in r["q_end"]], float)
    q_abs = np.array([q for r in rows for q in r["q_abs"]], float)
    worst = np.sort(pnl)[:max(1, int(math.ceil(0.05 * len(pnl))))]
    return {"pnl_mean": float(pnl.mean()), "pnl_sd": float(pnl.std(ddof=1)),
            "pnl_ci": float(1.96 * pnl.std(ddof=1) / math.sqrt(len(pnl))),
            "pnl_worst5": float(worst.mean()), "inv_sd": float(q_end.std(ddof=1)),
            "inv_abs_mean": float(q_abs.mean()), "n": int(len(pnl))}


def _paired(a: list[dict], b: list[dict], boot: int = 5000) -> dict:
    """Mean of robust - plain per seed (both makers averaged), with a 95 % bootstrap interval
    over seeds."""
    pa = {r["seed"]: np.mean(r["pnl"]) for r in a}
    pb = {r["seed"]: np.mean(r["pnl"]) for r in b}
    d = np.array([pb[s] - pa[s] for s in sorted(pa)])
    rng = np.random.default_rng(0)
    means = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(boot)]
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"pnl_diff": float(d.mean()), "ci": [float(lo), float(hi)]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for the trained policies")
    ap.add_argument("--updates", type=int, default=60, help="PPO updates for the makers")
    ap.add_argument("--adv-updates", type=int, default=40,
                    help="PPO updates for each best-response adversary")
    ap.add_argument("--episodes", type=int, default=8, help="episodes per update")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", default="1000-1039", help="held-out seeds")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="a smoke run (tiny budgets)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--figure", default=None, help="write a PNG of PnL by condition")
    a = ap.parse_args(argv)
    from abmm.learn.config import parse_seeds

    if a.quick:
        a.updates, a.adv_updates, a.episodes, a.seeds = 1, 1, 2, "1000-1003"
    seeds = parse_seeds(a.seeds)
    out = Path(a.out)
    t_all = time.perf_counter()
    training = {}
    pol = {}
    pol["plain"], training["plain_s"] = _train(
        out, _config("plain", BASE, a.updates, a.episodes, a.seed), a.workers)
    pol["robust"], training["robust_s"] = _train(
        out, _config("robust", ADV, a.updates, a.episodes, a.seed), a.workers)
    adv = {}
    for name in MAKERS:
        scen = out / f"br_{name}_scenario.yaml"
        scen.write_text(yaml.safe_dump(_policy_scenario(pol[name].resolve(), adversary=True),
                                       sort_keys=False))
        adv[name], training[f"best_response_{name}_s"] = _train(
            out, _config(f"br_{name}", [], a.adv_updates, a.episodes, a.seed + 1,
                         scenario=str(scen.resolve()), targets=["maker_a", "maker_b"]),
            a.workers)
    import multiprocessing as mp

    keys = [(name, cond) for name in MAKERS for cond in CONDITIONS for _ in seeds]
    jobs = [(str(pol[name]), str(adv[name]), cond, s)
            for name in MAKERS for cond in CONDITIONS for s in seeds]
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(a.workers) as pool:
        rows = pool.map(_episode, jobs, chunksize=1)
    t_eval = time.perf_counter() - t0
    by = {}
    for (name, cond), r in zip(keys, rows, strict=True):
        by.setdefault(cond, {}).setdefault(name, []).append(r)
    res = {"conditions": {}, "training": {k: round(v, 1) for k, v in training.items()},
           "config": {"updates": a.updates, "adv_updates": a.adv_updates,
                      "episodes": a.episodes, "seed": a.seed, "seeds": [seeds[0], seeds[-1]],
                      "push_ticks": PUSH, "eval_s": round(t_eval, 1),
                      "wall_s": round(time.perf_counter() - t_all, 1)}}
    for cond in CONDITIONS:
        c = {name: _summary(by[cond][name]) for name in MAKERS}
        c["robust_minus_plain"] = _paired(by[cond]["plain"], by[cond]["robust"])
        res["conditions"][cond] = c
    if a.figure:
        _figure(res, a.figure)
    if a.json:
        print(json.dumps(res))
        return 0
    print(f"held-out seeds {seeds[0]}-{seeds[-1]}, 2 makers each; PnL in price units per maker "
          "and 30-minute episode")
    print(f"{'condition':<10} {'maker':<7} " + " ".join(f"{k:>12}" for k in METRICS))
    for cond, c in res["conditions"].items():
        for name in MAKERS:
            print(f"{cond:<10} {name:<7} " + " ".join(f"{c[name][k]:>12.2f}" for k in METRICS))
        d = c["robust_minus_plain"]
        print(f"{'':<10} robust - plain: {d['pnl_diff']:+.2f} [{d['ci'][0]:+.2f}, "
              f"{d['ci'][1]:+.2f}]")
    print(f"training: {res['training']}; evaluation {t_eval:.0f} s")
    return 0


def _figure(res: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = list(res["conditions"])
    x = np.arange(len(conds))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for k, (name, color) in enumerate((("plain", "tab:gray"), ("robust", "tab:blue"))):
        c = [res["conditions"][cd][name] for cd in conds]
        axes[0].bar(x + (k - 0.5) * 0.38, [v["pnl_mean"] for v in c], 0.38,
                    yerr=[v["pnl_ci"] for v in c], color=color, label=name, capsize=3)
        axes[1].bar(x + (k - 0.5) * 0.38, [v["pnl_worst5"] for v in c], 0.38, color=color,
                    label=name)
    for ax, title in zip(axes, ("mean PnL per maker-episode (95 % CI)",
                                "mean of the worst 5 % of maker-episodes"), strict=True):
        ax.set_xticks(x, conds, fontsize=9, rotation=20)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_title(title)
        ax.set_ylabel("price units")
        ax.legend()
    fig.suptitle("Market makers against a flow-steering adversary (agent-based market)")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())

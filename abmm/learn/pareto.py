"""Pareto fronts of market makers (``abmm pareto``): a weight-conditioned policy across its
weights against Avellaneda-Stoikov's and GLFT's curves over their risk aversion.

A policy trained with ``env_args.objectives`` (``abmm.env.conditioned``) takes its reward
weights as input. ``pareto`` plays it on held-out seeds of a market-making scenario at
``n_weights`` weight vectors spread over its trained ranges (for one ranged weight: evenly
spaced; for several: a scrambled Sobol sample, seeded), and plays AS and GLFT at each
``gamma`` of ``gammas`` on the same seeds. Every point is measured with ``abmm evaluate``'s
episodes: mean PnL per agent and episode (price units) and mean absolute inventory (lots), with
95 % intervals, plus the Sharpe ratio, realized spread and quoting ratio.

The front is read in the (risk = mean |inventory|, reward = mean PnL) plane. A learned point
*dominates* a baseline point when, paired over the same seeds and agents, its PnL is higher
and its mean |inventory| lower, both at 95 % (one-sided, paired bootstrap of the per-sample
differences); ``dominated`` lists, for every baseline point, the learned points that dominate
it. Writes ``OUT/pareto.csv`` (one row a point), ``OUT/pareto.json`` (the rows, the
dominance table, the settings) and ``OUT/pareto.png``.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["pareto", "DEFAULT_GAMMAS", "COLUMNS"]

#: AS and GLFT risk aversions of the baseline curves: 8 values over two decades.
DEFAULT_GAMMAS = tuple(float(f"{g:.3g}") for g in np.logspace(-2.5, -0.5, 8))
#: Columns of ``pareto.csv``.
COLUMNS = ("source", "point", "params", "pnl_mean", "pnl_lo", "pnl_hi", "map_mean", "map_lo",
           "map_hi", "sharpe", "realized_spread", "quoting_ratio", "n")


def _ci(x: np.ndarray) -> tuple[float, float, float]:
    from scipy import stats

    n = len(x)
    m = float(np.mean(x))
    if n < 2:
        return m, math.nan, math.nan
    h = float(stats.t.ppf(0.975, n - 1) * np.std(x, ddof=1) / math.sqrt(n))
    return m, m - h, m + h


def _weight_grid(objectives: dict, n: int, seed: int) -> list[dict]:
    """``n`` weight vectors over the ranged objectives (fixed ones at their value)."""
    ranged = [k for k, (lo, hi) in objectives.items() if hi > lo]
    if len(ranged) == 1:
        u = np.linspace(0.0, 1.0, n)[:, None]
    else:
        from scipy.stats import qmc

        u = qmc.Sobol(len(ranged), scramble=True, seed=seed).random(n)
    out = []
    for row in u:
        w = {k: float(lo) for k, (lo, hi) in objectives.items() if hi <= lo}
        for j, k in enumerate(ranged):
            lo, hi = objectives[k]
            w[k] = float(lo + (hi - lo) * row[j])
        out.append(w)
    return out


def _episodes(env, act, seeds) -> list[dict]:
    from abmm.learn.evaluate import _mm_episode

    samples = []
    for s in seeds:
        samples += _mm_episode(env, act, int(s))
    return samples


def _row(source: str, point: int, params: dict, samples: list[dict]) -> dict:
    pnl = np.array([s["pnl"] for s in samples], float)
    mp = np.array([s["map"] for s in samples], float)
    rs = np.array([s["realized_spread"] for s in samples], float)
    q = np.array([s["quoting_ratio"] for s in samples], float)
    pm, plo, phi = _ci(pnl)
    mm, mlo, mhi = _ci(mp)
    sd = float(np.std(pnl, ddof=1)) if len(pnl) > 1 else math.nan
    return {"source": source, "point": point, "params": json.dumps(params, sort_keys=True),
            "pnl_mean": pm, "pnl_lo": plo, "pnl_hi": phi, "map_mean": mm, "map_lo": mlo,
            "map_hi": mhi, "sharpe": pm / sd if sd > 0 else math.nan,
            "realized_spread": float(np.nanmean(rs)) if np.isfinite(rs).any() else math.nan,
            "quoting_ratio": float(np.mean(q)), "n": len(pnl),
            "_pnl": pnl, "_map": mp}


def _dominates(a: dict, b: dict, n_boot: int, rng: np.random.Generator) -> bool:
    """``a`` has higher PnL and lower mean |inventory| than ``b``, both at 95 % (one-sided
    paired bootstrap over the samples, which are the same seeds and agents)."""
    dp = a["_pnl"] - b["_pnl"]
    dm = b["_map"] - a["_map"]
    if dp.mean() <= 0 or dm.mean() <= 0:
        return False
    idx = rng.integers(0, len(dp), (n_boot, len(dp)))
    return bool(np.quantile(dp[idx].mean(axis=1), 0.05) > 0
                and np.quantile(dm[idx].mean(axis=1), 0.05) > 0)


def _conditioned_policy(path):
    """``(policy, objectives, env args)`` of a weight-conditioned policy file."""
    from abmm.learn.evaluate import POLICY_ARGS, resolve_policy
    from abmm.learn.policy import load_policies

    pols, config = load_policies(resolve_policy(str(path))[1])
    env = config.get("env") or {}
    objectives = (env.get("policy_config") or {}).get("objectives") or \
        (env.get("args") or {}).get("objectives")
    if not objectives:
        raise ValueError(f"{path}: not a weight-conditioned policy (it was not trained with "
                         "env_args.objectives; docs/robust_mm.md)")
    args = {k: v for k, v in (env.get("args") or {}).items() if k in POLICY_ARGS}
    return pols, {k: tuple(v) for k, v in objectives.items()}, args


def pareto(scenario, policy, seeds, out, n_weights: int = 8,
           gammas=DEFAULT_GAMMAS, baselines=("as", "glft"), seed: int = 0,
           n_boot: int = 2000, progress=None) -> dict:
    """Measure the front (see the module docstring); returns the ``pareto.json`` content."""
    from abmm.env import baselines as bl
    from abmm.env import market_v0
    from abmm.env.conditioned import WeightConditioned
    from abmm.learn.evaluate import _actor

    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("pareto: no seeds")
    if n_weights < 2:
        raise ValueError(f"pareto: n_weights {n_weights}: expected at least 2")
    pols, objectives, args = _conditioned_policy(policy)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = market_v0.parallel_env(scenario=scenario, vector_reward=True, **args)
    env = WeightConditioned(base, {k: list(v) for k, v in objectives.items()})
    agent = env.possible_agents[0]
    for name, pol in pols.items():
        shape = getattr(pol, "obs_dim", None)
        want = env.observation_space(agent).shape[0]
        if shape is not None and shape != want:
            raise ValueError(f"{policy}: learner {name} takes {shape} observations; the "
                             f"conditioned env gives {want}")
    rows = []
    grid = _weight_grid(objectives, n_weights, seed)
    for i, w in enumerate(grid):
        env.set_weights(w)
        act = _actor(pols, env.possible_agents)
        rows.append(_row("learned", i, w, _episodes(env, act, seeds)))
        if progress:
            progress("learned", i)
    for b in baselines:
        plain = market_v0.parallel_env(scenario=scenario, **args)
        for i, g in enumerate(gammas):
            pol = bl.make(b, plain, gamma=float(g))

            def act(obs, live, pol=pol):
                return {a: pol(obs[a], a) for a in live}
            rows.append(_row(b, i, {"gamma": float(g)}, _episodes(plain, act, seeds)))
            if progress:
                progress(b, i)
    rng = np.random.default_rng(seed)
    learned = [r for r in rows if r["source"] == "learned"]
    dominated = {}
    for r in rows:
        if r["source"] == "learned":
            continue
        key = f"{r['source']}:{json.loads(r['params'])['gamma']:g}"
        dominated[key] = [lr["point"] for lr in learned if _dominates(lr, r, n_boot, rng)]
    summary = {b: sum(1 for k, v in dominated.items() if k.startswith(b + ":") and v)
               for b in baselines}
    _write_csv(out / "pareto.csv", rows)
    res = {"scenario": str(scenario), "policy": str(policy), "seeds": [seeds[0], seeds[-1]],
           "episodes": len(seeds), "objectives": {k: list(v) for k, v in objectives.items()},
           "gammas": [float(g) for g in gammas],
           "rows": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
           "dominated": dominated, "points_dominated": summary}
    (out / "pareto.json").write_text(json.dumps(res, indent=1))
    _plot(out / "pareto.png", rows, baselines, res)
    return res


def _write_csv(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(COLUMNS), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


def _plot(path: Path, rows: list[dict], baselines, res: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 5.5))
    ax = fig.add_subplot(1, 1, 1)
    styles = {"learned": ("C0", "o"), "as": ("C1", "s"), "glft": ("C2", "^")}
    for src in ("learned", *baselines):
        pts = sorted((r for r in rows if r["source"] == src), key=lambda r: r["map_mean"])
        if not pts:
            continue
        c, m = styles.get(src, ("C3", "d"))
        x = np.array([r["map_mean"] for r in pts])
        y = np.array([r["pnl_mean"] for r in pts])
        ax.errorbar(x, y, xerr=[x - [r["map_lo"] for r in pts], [r["map_hi"] for r in pts] - x],
                    yerr=[y - [r["pnl_lo"] for r in pts], [r["pnl_hi"] for r in pts] - y],
                    color=c, marker=m, ls="-" if src != "learned" else ":", capsize=2,
                    label=("learned (across weights)" if src == "learned"
                           else f"{src.upper()} (across gamma)"))
    dom = res["points_dominated"]
    ax.set_xlabel("mean |inventory| (lots)  <- less risk")
    ax.set_ylabel("mean PnL per agent and episode  (more ->)")
    ax.set_title(f"Pareto fronts, {res['episodes']} held-out episodes; baseline points "
                 f"dominated at 95 %: " + ", ".join(f"{k.upper()} {v}" for k, v in dom.items()),
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    tmp.replace(path)

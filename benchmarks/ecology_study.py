#!/usr/bin/env python3
"""The ecology study of docs/ecology.md: how the market and each learner change as the
learners of ``scenarios/train/ecology.yaml`` co-evolve.

    python benchmarks/ecology_study.py runs/ecology [--seeds 1000-1011] [--stages 0,25,50,100]
        [--json] [--figure docs/img/ecology_study.png]

Replays, on held-out market seeds, the ecology at several stages of its training: the
untrained networks (update 0, rebuilt from the config's seed exactly as training started),
the league snapshots the run kept (one every ``snapshot_every`` updates), and -- as a reference
-- the same market with the learnable groups running their own rules instead (a fixed-spread
maker, MA-crossover chartists, a TWAP seller). Every learner acts greedily. Per stage it
measures, pooled over the seeds:

* the market: mean spread (ticks) and top-of-book depth (lots) sampled at every decision, the
  standard deviation of 10-second and 1-minute mid moves (ticks), the lag-1 autocorrelation of
  10-second mid moves (with its 95 % interval), the kurtosis of 1-minute moves;
* makers: PnL, mean |inventory|, time quoting two-sided, mean quoted spread, and the skew --
  the least-squares slope of (ask offset - bid offset) on inventory (ticks per lot; negative:
  a long maker quotes its ask closer and its bid further, as Avellaneda-Stoikov does);
* chartists: PnL, lots traded, mean |position|, the mean holding period (minutes a nonzero
  position keeps its sign), the share of decisions that set a stop, stops hit;
* the executor: implementation shortfall (bps), the mix of its decisions (wait, market,
  passive limit at or inside the touch, marketable limit), and the correlation of taking
  liquidity (market or marketable) with the book imbalance in its favour and with the spread.

``--facts N`` also plays N long sessions (10:00-16:00: five hours after the warm-up, the
policies unchanged) with the untrained networks, the last stage, the rule-based stand-ins and
two controls -- the crowd alone (the learnable groups and the inferred traders removed) and
the crowd alone without its rule-based chartists -- and scores their 1-minute mid bars (one session per seed, no return across two) on the
stylized-facts scorecard (``abmm.analysis.scorecard``; its order-sign check needs a run
directory and is left out).

``--json`` prints ``{"stages": {NAME: {"market": {...}, "maker": {...}, "chartist": {...},
"executor": {...}}}, "seeds": [...], "facts": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

RULES = {"maker": "strategy: fixed (3-tick half-spread)", "chartist": "MA crossover",
         "executor": "TWAP"}


def _seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(x) for x in text.split(",")]


def _ci(x) -> float:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(1.96 * x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan


def _acf1(r: np.ndarray) -> float:
    r = r - r.mean()
    d = float(r @ r)
    return float(r[1:] @ r[:-1] / d) if d > 0 else math.nan


def _kurt(r: np.ndarray) -> float:
    r = r - r.mean()
    v = float(np.mean(r * r))
    return float(np.mean(r ** 4) / v ** 2 - 3) if v > 0 else math.nan


def _sample(m, rec: dict) -> None:
    """The market at a decision: mid (the mark with a one-sided book), spread, depth, volume."""
    bid, bq, ask, aq = m.top
    if bid is not None and ask is not None:
        rec["mid"].append((bid + ask) / 2)
        rec["spread"].append(ask - bid)
        rec["depth"].append(bq + aq)
    else:
        rec["mid"].append(m.mark_price())
    rec["volume"].append(m.volume)


def play(env, policies: dict, seed: int) -> dict:
    """One greedy episode of ``env`` with every agent acting by ``policies`` (agent ->
    FrozenPolicy): the market's samples at each decision and every agent's steps."""
    obs, infos = env.reset(seed=seed)
    for p in policies.values():
        p.reset()
    m = env.model
    rec = {"mid": [], "spread": [], "depth": [], "volume": [],
           "steps": {a: [] for a in env.possible_agents},
           "first": {a: dict(infos[a]) for a in env.possible_agents}, "last": {}}
    maker_env = env.roles.get("maker")
    while env.agents:
        _sample(m, rec)
        acts = {a: int(policies[a](obs[a][None, :])[0]) for a in env.agents}
        before = {a: obs[a] for a in env.agents}
        obs, _, _, _, infos = env.step(acts)
        for a, act in acts.items():
            row = {"action": act, "obs": before[a], "info": infos[a]}
            if env.role(a) == "maker":
                row["quote"] = maker_env.actions.decode(a, act)
            rec["steps"][a].append(row)
            rec["last"][a] = infos[a]
    return rec


def play_rules(scenario, seed: int, decision_ns: int, overrides=None, drop=()) -> dict:
    """The same market with every learnable group on its own rules (and the groups named in
    ``drop`` removed): the market's samples."""
    from abmm.scenario import build_model, load_scenario

    sc = load_scenario(scenario, overrides=overrides)
    data = sc.resolved()
    data["agents"] = [g for g in data["agents"] if (g.get("name") or g["kind"]) not in drop]
    for g in data["agents"]:
        if g.get("learnable"):
            g["learnable"] = False
            if g["kind"] == "market_maker":
                g["strategy"], g["half_spread_ticks"] = "fixed", 3
    m = build_model(load_scenario(data), seed=seed)
    while m.now < m.warmup_end:
        m.step()
    rec = {"mid": [], "spread": [], "depth": [], "volume": []}
    sub = decision_ns // m.step_ns
    while m.now < m.end:
        _sample(m, rec)
        for _ in range(sub):
            m.step()
    m.release()
    return rec


def market_metrics(recs: list[dict], per_min: int) -> dict:
    r10, r60, spreads, depths = [], [], [], []
    for rec in recs:
        mid = np.asarray(rec["mid"], float)
        r10.append(np.diff(mid))
        r60.append(np.diff(mid[::per_min]))
        spreads.append(np.mean(rec["spread"]))
        depths.append(np.mean(rec["depth"]))
    a10 = np.concatenate(r10)
    a60 = np.concatenate(r60)
    acf = _acf1(a10)
    return {"spread_ticks": float(np.mean(spreads)), "spread_ci": _ci(spreads),
            "depth_lots": float(np.mean(depths)), "depth_ci": _ci(depths),
            "sd_10s_ticks": float(a10.std()), "sd_1min_ticks": float(a60.std()),
            "acf1_10s": acf, "acf1_10s_ci": 1.96 / math.sqrt(len(a10)),
            "kurtosis_1min": _kurt(a60), "n_10s": int(len(a10))}


def role_metrics(env, recs: list[dict], decision_s: float) -> dict:
    out = {}
    agents = env.possible_agents
    for role in ("maker", "chartist", "executor"):
        names = [a for a in agents if env.role(a) == role]
        if not names:
            continue
        per = []
        for rec in recs:
            for a in names:
                steps = rec["steps"][a]
                first, last = rec["first"][a], rec["last"][a]
                if role == "maker":
                    q = np.array([s["info"]["inventory"] for s in steps], float)
                    q0 = np.concatenate([[first["inventory"]], q[:-1]])
                    quotes = [s["quote"] for s in steps]
                    two = np.array([qt[1] > 0 and qt[3] > 0 for qt in quotes])
                    skew_x = q0[two]
                    skew_y = np.array([qt[2] - qt[0] for qt in quotes])[two]
                    per.append({"pnl": last["pnl_ticks"] - first["pnl_ticks"],
                                "abs_inventory": float(np.abs(q).mean()),
                                "quoting": float(two.mean()),
                                "quoted_spread": float(np.mean([qt[0] + qt[2] for qt, t in
                                                                zip(quotes, two, strict=True) if t]))
                                if two.any() else math.nan,
                                "skew_x": skew_x, "skew_y": skew_y})
                elif role == "chartist":
                    pos = np.array([s["info"]["position"] for s in steps], float)
                    runs, cur = [], 0
                    for i, p in enumerate(pos):
                        if p != 0 and i and np.sign(p) == np.sign(pos[i - 1]):
                            cur += 1
                        else:
                            if cur:
                                runs.append(cur)
                            cur = 1 if p != 0 else 0
                    if cur:
                        runs.append(cur)
                    stops = np.array([s["action"] % 3 != 0 for s in steps])
                    per.append({"pnl": last["pnl_ticks"] - first["pnl_ticks"],
                                "traded": last["traded"] - first["traded"],
                                "abs_position": float(np.abs(pos).mean()),
                                "holding_min": float(np.mean(runs)) * decision_s / 60
                                if runs else 0.0,
                                "stop_share": float(stops.mean()),
                                "stops_hit": last["stops_hit"] - first["stops_hit"]})
                else:
                    acts = np.array([s["action"] for s in steps])
                    imb = np.array([s["obs"][2] for s in steps])
                    spr = np.array([s["obs"][3] for s in steps])
                    # 0 wait, 1-3 market, 4-12 limit (k % 3: join, improve, cross)
                    market = (acts >= 1) & (acts <= 3)
                    lim = acts >= 4
                    cross = lim & ((acts - 4) % 3 == 2)
                    take = (market | cross).astype(float)

                    def corr(x, y):
                        return float(np.corrcoef(x, y)[0, 1]) \
                            if x.std() > 0 and y.std() > 0 else math.nan

                    per.append({"shortfall_bps": last["shortfall_bps"],
                                "wait": float((acts == 0).mean()),
                                "market": float(market.mean()),
                                "passive": float((lim & ~cross).mean()),
                                "marketable": float(cross.mean()),
                                "take_vs_imbalance": corr(take, imb),
                                "take_vs_spread": corr(take, spr)})
        res = {}
        for k in per[0]:
            if k in ("skew_x", "skew_y"):
                continue
            v = [p[k] for p in per]
            res[k] = float(np.nanmean(v))
            res[k + "_ci"] = _ci(v)
        if role == "maker":
            x = np.concatenate([p["skew_x"] for p in per])
            y = np.concatenate([p["skew_y"] for p in per])
            res["skew_ticks_per_lot"] = float(np.polyfit(x, y, 1)[0]) \
                if len(x) > 2 and x.std() > 0 else math.nan
        out[role] = res
    return out


def long_facts(recs: list[dict], per_min: int) -> dict:
    """The scorecard's checks on 1-minute mid bars of long sessions, one session per seed (no
    return across two sessions): ``{key: [value, passed]}`` and ``passed`` (all checks)."""
    import pandas as pd

    from abmm.analysis.scorecard import scorecard

    frames = []
    t = pd.Timestamp("2024-01-01")
    for i, rec in enumerate(recs):
        close = np.asarray(rec["mid"], float)[::per_min]
        vol = np.diff(np.asarray(rec["volume"], float)[::per_min], prepend=np.nan)
        idx = t + pd.to_timedelta(np.arange(len(close)), "min")
        t = idx[-1] + pd.Timedelta("1D")
        frames.append(pd.DataFrame({"close": close, "volume": vol, "session": i}, index=idx))
    bars = pd.concat(frames).dropna()
    card = scorecard(bars)
    rows = {r.key: [r.value, r.passed] for r in card.rows
            if r.key and r.passed is not None}
    return {"checks": rows, "passed": all(p for _, p in rows.values()),
            "n_returns": int(card.info["n"])}


def load_stages(run: Path, wanted: list[int] | None):
    """``{update: {agent: FrozenPolicy}}`` for update 0 and the league snapshots."""
    from abmm.learn import checkpoint as ckpt
    from abmm.learn.config import TrainConfig, encoder_of
    from abmm.learn.policy import FrozenPolicy
    from abmm.learn.trainer import build_learners, make_env

    payload = ckpt.load(run / "checkpoint.pt")
    cfg = TrainConfig(**payload["config"])
    env_args = payload["env"]["args"]
    env = make_env(cfg.env, env_args)
    learners, assign = build_learners(cfg, env, encoder_of(cfg), "cpu")
    stages = {0: {a: FrozenPolicy(learners[assign[a]].policy_state())
                  for a in env.possible_agents}}
    league = payload["league"]
    updates = sorted({s["update"] for snaps in league.values() for s in snaps})
    for u in updates:
        stages[u] = {a: FrozenPolicy(next(s["policy"] for s in league[assign[a]]
                                          if s["update"] == u)) for a in env.possible_agents}
    if wanted is not None:
        missing = [u for u in wanted if u not in stages]
        if missing:
            raise SystemExit(f"ecology_study: no snapshot at update(s) {missing}; the run has "
                             f"{sorted(stages)}")
        stages = {u: stages[u] for u in wanted}
    return env, env_args, stages


def figure(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    names = list(res["stages"])
    learned = [n for n in names if n != "rules"]
    x = [int(n.split(" ")[1]) for n in learned]
    panels = [("market", "spread_ticks", "spread (ticks)"),
              ("market", "depth_lots", "top-of-book depth (lots)"),
              ("market", "sd_1min_ticks", "sd of 1-min mid moves (ticks)"),
              ("market", "acf1_10s", "lag-1 ACF of 10-s mid moves"),
              ("maker", "skew_ticks_per_lot", "makers' skew (ticks/lot)"),
              ("maker", "abs_inventory", "makers' mean |inventory| (lots)"),
              ("chartist", "traded", "chartists' lots traded / episode"),
              ("chartist", "holding_min", "chartists' holding period (min)"),
              ("executor", "shortfall_bps", "seller's shortfall (bps)"),
              ("executor", "market", "seller: share of market orders")]
    fig = Figure(figsize=(15, 6))
    for i, (role, key, title) in enumerate(panels):
        ax = fig.add_subplot(2, 5, i + 1)
        y = [res["stages"][n].get(role, {}).get(key, math.nan) for n in learned]
        e = [res["stages"][n].get(role, {}).get(key + "_ci", 0.0) for n in learned]
        ax.errorbar(x, y, yerr=[0 if not np.isfinite(v) else v for v in e], marker="o",
                    capsize=3, lw=1)
        ref = res["stages"].get("rules", {}).get(role, {}).get(key)
        if ref is not None and np.isfinite(ref):
            ax.axhline(ref, color="#999", ls="--", lw=1, label="rule-based stand-ins")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("training update", fontsize=8)
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=7)
    fig.suptitle(f"the ecology over training (held-out seeds {res['seeds'][0]}-"
                 f"{res['seeds'][-1]}; bars: 95 % intervals over seeds)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="an abmm train output folder (env: ecology)")
    ap.add_argument("--seeds", default="1000-1011")
    ap.add_argument("--stages", default=None,
                    help="updates to replay, e.g. 0,25,50,100 (default: 0 and every snapshot)")
    ap.add_argument("--facts", type=int, default=0, metavar="N",
                    help="also score N long sessions (10:00-16:00) per stage -- the untrained "
                    "and the last stage and the rule-based stand-ins -- on the scorecard")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--figure", type=Path, default=None)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    seeds = _seeds(a.seeds)
    wanted = None if a.stages is None else [int(s) for s in a.stages.split(",")]
    env, env_args, stages = load_stages(a.run, wanted)
    if env.metadata["name"] != "abmm_ecology_v0":
        raise SystemExit(f"ecology_study: {a.run} trained {env.metadata['name']}, not the "
                         "ecology")
    decision_s = env.decision_ns / 1e9
    per_min = max(1, int(round(60 / decision_s)))
    res = {"seeds": seeds, "stages": {}}
    for u, pols in stages.items():
        recs = [play(env, pols, s) for s in seeds]
        res["stages"][f"update {u}"] = {"market": market_metrics(recs, per_min),
                                        **role_metrics(env, recs, decision_s)}
        print(f"update {u}: done", file=sys.stderr)
    from abmm.env.ecology_env import DEFAULT_SCENARIO

    scen = env_args.get("scenario") or str(DEFAULT_SCENARIO)
    rules = [play_rules(scen, s, env.decision_ns) for s in seeds]
    res["stages"]["rules"] = {"market": market_metrics(rules, per_min)}
    env.close()
    if a.facts:
        from abmm.learn.trainer import make_env

        over = list(env_args.get("overrides") or []) + ["market.close=16:00"]
        long_env = make_env("ecology", {**env_args, "overrides": over})
        fs = seeds[:a.facts] if len(seeds) >= a.facts else \
            list(range(seeds[0], seeds[0] + a.facts))
        res["facts"] = {"seeds": fs, "session": "10:00-16:00 (5 h after the warm-up)"}
        first, last = min(stages), max(stages)
        for u in sorted({first, last}):
            recs = [play(long_env, stages[u], s) for s in fs]
            res["facts"][f"update {u}"] = long_facts(recs, per_min) | {
                "market": market_metrics(recs, per_min)}
            print(f"facts, update {u}: done", file=sys.stderr)
        recs = [play_rules(scen, s, env.decision_ns, ["market.close=16:00"]) for s in fs]
        res["facts"]["rules"] = long_facts(recs, per_min) | {
            "market": market_metrics(recs, per_min)}
        # controls: the crowd alone (every learnable group and the inferred traders removed),
        # and without its rule-based chartists too
        sc = env.scenario
        gone = [g.group_name for g in sc.agents if g.learnable or g.kind == "inferred"]
        charts = [g.group_name for g in sc.agents if g.kind == "momentum"]
        for name, drop in (("crowd alone", gone), ("crowd alone, no chartists", gone + charts)):
            recs = [play_rules(scen, s, env.decision_ns, ["market.close=16:00"], drop)
                    for s in fs]
            res["facts"][name] = long_facts(recs, per_min) | {
                "market": market_metrics(recs, per_min)}
        long_env.close()
    if a.figure:
        figure(res, a.figure)
    if a.json:
        print(json.dumps(res, indent=1))
        return 0
    for name, st in res["stages"].items():
        mk = st["market"]
        line = (f"{name:>11}: spread {mk['spread_ticks']:.2f} depth {mk['depth_lots']:.0f} "
                f"sd1m {mk['sd_1min_ticks']:.1f} acf1(10s) {mk['acf1_10s']:+.3f}")
        if "maker" in st:
            mm, ch, ex = st["maker"], st["chartist"], st["executor"]
            line += (f" | makers pnl {mm['pnl']:+.0f} |q| {mm['abs_inventory']:.1f} skew "
                     f"{mm['skew_ticks_per_lot']:+.3f} | chartists pnl {ch['pnl']:+.0f} traded "
                     f"{ch['traded']:.0f} hold {ch['holding_min']:.1f}m stops "
                     f"{ch['stop_share']:.2f} | seller IS {ex['shortfall_bps']:+.1f} bps, "
                     f"market {ex['market']:.2f} passive {ex['passive']:.2f}")
        print(line)
    for name, fc in (res.get("facts") or {}).items():
        if isinstance(fc, dict) and "checks" in fc:
            bad = [k for k, (_, p) in fc["checks"].items() if not p]
            mk = fc["market"]
            print(f"long sessions, {name}: spread {mk['spread_ticks']:.2f} sd1m "
                  f"{mk['sd_1min_ticks']:.1f} acf1(10s) {mk['acf1_10s']:+.3f}")
            print(f"scorecard, {name} ({fc['n_returns']} 1-min returns): "
                  f"{'pass' if fc['passed'] else 'FAIL ' + ', '.join(bad)}; " + ", ".join(
                      f"{k} {v:.3g}" for k, (v, _) in fc["checks"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

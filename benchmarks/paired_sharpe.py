#!/usr/bin/env python3
"""Paired comparison of a learned market-making policy with a baseline on the same seeds.

    python benchmarks/paired_sharpe.py --policy policies/mm_coevolved.pt --baseline as \
        --scenario scenarios/mm_eval.yaml --seeds 1000-1099

Both play the same held-out markets (``abmm.learn.evaluate``'s episodes, the policy file's
environment arguments), so their difference is measured with common random numbers: a
bootstrap over seeds (``--resamples``, each resample keeps a seed's two agents together)
gives 95 % intervals of the Sharpe difference and of the mean-|q| difference, and the share
of resamples where the policy's Sharpe is not higher. ``--json`` prints one object.

``--baseline`` is a baseline name (``as``, ``glft``, ``fixed``) or a tuned-baseline spec
(``.yaml`` from ``abmm tune-baseline``, or a shipped one's name: ``as_tuned``), played with
the spec's own environment arguments; repeat it to compare the policy with several baselines
on the same episodes (the policy plays once). With several, ``--json`` prints ``{"policy":
{...}, "comparisons": {BASELINE: {...}}}``; with one, the single object as before.

    python benchmarks/paired_sharpe.py --policy policies/mm_coevolved.npz --baseline as \
        --baseline as_tuned --baseline glft_tuned --seeds 1000-1099
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policy", required=True)
    ap.add_argument("--baseline", action="append", default=None,
                    help="a baseline name or a tuned spec (.yaml); repeat (default as)")
    ap.add_argument("--scenario", default="scenarios/mm_eval.yaml")
    ap.add_argument("--seeds", default="1000-1099")
    ap.add_argument("--resamples", type=int, default=10_000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)

    from abmm.env import baselines, market_v0
    from abmm.learn.config import parse_seeds
    from abmm.learn.evaluate import _actor, _mm_episode, _resolved, _spec_path
    from abmm.learn.tune import load_spec

    seeds = parse_seeds(a.seeds)
    args, pols = _resolved(a.policy, a.scenario, {})  # the policy's env args and networks
    env = market_v0.parallel_env(scenario=a.scenario, **args)
    learned = _actor(pols, env.possible_agents)

    def play(env, act):
        return np.array([[(e["pnl"], e["map"]) for e in _mm_episode(env, act, s)]
                         for s in seeds])  # (seed, agent, [pnl, map])

    L = play(env, learned)
    env.close()

    def sharpe(x):
        return float(x.mean() / x.std(ddof=1))

    def compare(name):
        spec = _spec_path(name)
        if spec is not None:
            sp = load_spec(spec)
            env_b = market_v0.parallel_env(scenario=a.scenario, **sp["env_args"])
            base = baselines.make(sp["baseline"], env_b, **sp["params"])
        else:
            env_b = market_v0.parallel_env(scenario=a.scenario, **args)
            base = baselines.make(name, env_b)
        B = play(env_b, lambda obs, live: {x: base(obs[x], x) for x in live})
        env_b.close()
        rng = np.random.default_rng(0)
        d_sh, d_map = [], []
        for _ in range(a.resamples):
            i = rng.integers(0, len(seeds), len(seeds))
            d_sh.append(sharpe(L[i, :, 0]) - sharpe(B[i, :, 0]))
            d_map.append(L[i, :, 1].mean() - B[i, :, 1].mean())
        return {"seeds": [seeds[0], seeds[-1]], "sharpe_policy": sharpe(L[:, :, 0]),
                "sharpe_baseline": sharpe(B[:, :, 0]),
                "sharpe_diff": sharpe(L[:, :, 0]) - sharpe(B[:, :, 0]),
                "sharpe_diff_ci95": np.percentile(d_sh, [2.5, 97.5]).tolist(),
                "p_sharpe_not_higher": float(np.mean(np.asarray(d_sh) <= 0)),
                "map_policy": float(L[:, :, 1].mean()), "map_baseline": float(B[:, :, 1].mean()),
                "map_diff_ci95": np.percentile(d_map, [2.5, 97.5]).tolist(),
                "pnl_policy": float(L[:, :, 0].mean()), "pnl_baseline": float(B[:, :, 0].mean()),
                "seeds_policy_pnl_higher": int((L[:, :, 0].mean(1) > B[:, :, 0].mean(1)).sum())}

    names = a.baseline or ["as"]
    results = {}
    for name in names:
        results[name] = out = compare(name)
        if not a.json:
            lo, hi = out["sharpe_diff_ci95"]
            mlo, mhi = out["map_diff_ci95"]
            print(f"Sharpe   policy {out['sharpe_policy']:.3f}  {name} "
                  f"{out['sharpe_baseline']:.3f}  difference {out['sharpe_diff']:+.3f} "
                  f"[{lo:+.3f}, {hi:+.3f}]  P(not higher) {out['p_sharpe_not_higher']:.3f}")
            print(f"mean |q| policy {out['map_policy']:.3f}  {name} {out['map_baseline']:.3f}"
                  f"  difference [{mlo:+.3f}, {mhi:+.3f}]")
            print(f"mean PnL policy {out['pnl_policy']:.3f}  {name} {out['pnl_baseline']:.3f}; "
                  f"policy's higher on {out['seeds_policy_pnl_higher']} of {len(seeds)} seeds",
                  flush=True)
    if a.json:
        if len(names) == 1:
            print(json.dumps(results[names[0]]))
        else:
            print(json.dumps({"policy": a.policy, "comparisons": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""How much could a chartist predict? The predictability left in ``abmm.env.trading_v0``'s
market for a directional trader, measured from the observations a learned chartist sees.

On each seed an episode of the trading env is played with both learnable chartists flat (they
never trade, so the market is the rule-based crowd's alone). At every decision the market part of
the observation (returns over the four horizons, MA gap, MACD, its signal, RSI, volatility:
``abmm.env.trading_env.OBSERVATIONS[:9]``) is recorded with the mid and the quoted spread. The
target is the mid's move over the next ``--ahead`` decisions, in ticks. Then:

* ``r2_oos``: out-of-sample R^2 of an ordinary-least-squares forecast of that move from the
  nine features (fitted on the first half of the seeds, scored on the second half);
* ``hit_rate``: how often the forecast's sign is right on the held-out half (moves of 0 left
  out); a coin gives 0.5;
* ``edge_ticks``: the mean of ``sign(forecast) * move`` on the held-out half (ticks per lot per
  trade held for ``--ahead`` decisions: what trading on the forecast earns before costs);
* ``cost_ticks``: the mean quoted spread (ticks): what a round trip with market orders pays;
* ``single``: the same for each feature on its own (correlation with the move, hit rate) --
  the MA, MACD and RSI rules' raw material;
* ``acf_lag1``: the lag-1 autocorrelation of the per-decision mid moves.

A negative control runs alongside: the same forecast with the targets shuffled across decisions
(``r2_oos_shuffled``: about 0 or below, hit rate about 0.5).

    python benchmarks/predictability.py                 # abmm/env/trading.yaml, seeds 1-20
    python benchmarks/predictability.py --scenario scenarios/mm_train.yaml --json
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from abmm.learn.config import parse_seeds


def _episode(scenario, seed: int):
    from abmm.env import trading_v0

    env = trading_v0.parallel_env(scenario=scenario) if scenario else trading_v0.parallel_env()
    flat = env.action_index(0.0) if env.action_mode == "discrete" else np.zeros(2, np.float32)
    obs, _ = env.reset(seed=seed)
    tick = 1.0  # the env's prices are in ticks
    feats, mids, spreads = [], [], []
    while env.agents:
        a0 = env.agents[0]
        m = env.model
        bid, _, ask, _ = m.top
        feats.append(np.asarray(obs[a0][:9], float))
        mids.append(((bid + ask) / 2 if bid is not None and ask is not None
                     else m.mark_price()) / tick)
        spreads.append((ask - bid) if bid is not None and ask is not None else np.nan)
        obs, *_ = env.step({a: flat for a in env.agents})
    env.close()
    return np.array(feats), np.array(mids), np.array(spreads)


def _ols(x, y):
    X = np.column_stack([np.ones(len(x)), x])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    return beta


def _predict(beta, x):
    return np.column_stack([np.ones(len(x)), x]) @ beta


def _r2(y, f):
    return float(1 - np.sum((y - f) ** 2) / np.sum((y - y.mean()) ** 2))


def _hit(f, y):
    k = y != 0
    return float(np.mean(np.sign(f[k]) == np.sign(y[k]))) if k.any() else math.nan


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default=None, help="a trading_v0 scenario (default the env's)")
    ap.add_argument("--seeds", default="1-20")
    ap.add_argument("--ahead", type=int, default=6, help="decisions ahead (default 6 = 1 min)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    seeds = parse_seeds(a.seeds)
    if len(seeds) < 2:
        print("predictability: --seeds needs at least 2 seeds (fit on half, score on half)",
              file=sys.stderr)
        return 2
    rows = []
    for s in seeds:
        x, mid, spr = _episode(a.scenario, s)
        y = mid[a.ahead:] - mid[:-a.ahead]
        rows.append((x[:-a.ahead], y, spr, np.diff(mid)))
    half = len(rows) // 2
    xtr = np.vstack([r[0] for r in rows[:half]])
    ytr = np.concatenate([r[1] for r in rows[:half]])
    xte = np.vstack([r[0] for r in rows[half:]])
    yte = np.concatenate([r[1] for r in rows[half:]])
    beta = _ols(xtr, ytr)
    f = _predict(beta, xte)
    rng = np.random.default_rng(0)
    beta_sh = _ols(xtr, rng.permutation(ytr))
    f_sh = _predict(beta_sh, xte)
    d = np.concatenate([r[3] for r in rows])
    names = ["return_1", "return_2", "return_3", "return_4", "ma_gap", "macd", "macd_signal",
             "rsi", "volatility"]
    allx = np.vstack([r[0] for r in rows])
    ally = np.concatenate([r[1] for r in rows])
    single = {n: {"corr": float(np.corrcoef(allx[:, i], ally)[0, 1]) if allx[:, i].std() > 0
                  else math.nan,
                  "hit_rate": _hit(allx[:, i], ally) if n != "volatility" else math.nan}
              for i, n in enumerate(names)}
    out = {"scenario": a.scenario or "abmm/env/trading.yaml", "seeds": [seeds[0], seeds[-1]],
           "ahead_decisions": a.ahead, "n_train": int(len(ytr)), "n_test": int(len(yte)),
           "r2_oos": _r2(yte, f), "hit_rate": _hit(f, yte),
           "edge_ticks": float(np.mean(np.sign(f) * yte)),
           "cost_ticks": float(np.nanmean(np.concatenate([r[2] for r in rows]))),
           "move_sd_ticks": float(np.std(yte)),
           "r2_oos_shuffled": _r2(yte, f_sh), "hit_rate_shuffled": _hit(f_sh, yte),
           "acf_lag1": float(np.corrcoef(d[:-1], d[1:])[0, 1]), "single": single}
    if a.json:
        print(json.dumps(out))
        return 0
    print(f"{out['scenario']}, seeds {a.seeds}: move over the next {a.ahead} decisions "
          f"(sd {out['move_sd_ticks']:.2f} ticks); fit on {out['n_train']}, scored on "
          f"{out['n_test']}")
    print(f"  OLS on the 9 market features: R2 out of sample {out['r2_oos']:+.4f}, hit rate "
          f"{out['hit_rate']:.3f}, edge {out['edge_ticks']:+.3f} ticks per trade before costs")
    print(f"  shuffled targets (control): R2 {out['r2_oos_shuffled']:+.4f}, hit rate "
          f"{out['hit_rate_shuffled']:.3f}")
    print(f"  a round trip with market orders costs the spread: {out['cost_ticks']:.2f} ticks")
    print(f"  lag-1 autocorrelation of per-decision mid moves: {out['acf_lag1']:+.3f}")
    for n, v in single.items():
        if n != "volatility":
            print(f"  {n:>12}: corr with the move {v['corr']:+.3f}, sign hit rate "
                  f"{v['hit_rate']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Learned market making in the model-based market against the Cartea-Jaimungal optimum.

Objective (Cartea, Jaimungal & Penalva 2015, ch. 10): ``E[X_T + q_T S_T - alpha q_T^2 - phi
int_0^T q^2 dt]`` for unit quotes filled with probability ``A exp(-k delta) dt`` per step, the
Avellaneda-Stoikov parameters (s0 = 100, T = 1, sigma = 2, dt = 0.005, A = 140, k = 1.5),
phi = 0.1, alpha = 0.01 by default. Prints, over ``--paths`` common-random-number paths:

* ``analytic``: ``cartea_jaimungal_value(phi, alpha)``, the continuous-time optimum;
* ``cj_policy``: the optimal feedback quotes ``delta(t, q)`` of that solution, played in the
  (discrete-time) model-based market;
* ``as_policy``: the Avellaneda-Stoikov inventory strategy with ``gamma = 2 phi / sigma^2``;
* ``learned``: a policy file (``--policy``, e.g. from ``scenarios/train/mb_cartea_jaimungal.yaml``)
  acting deterministically in ``abmm.env.model_based_v0`` with the same objective as reward.

``--json``: ``{"analytic", "cj_policy", "as_policy", "learned", "learned_vs_analytic"}`` (means;
``*_ci`` the 95 % half-widths).
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from abmm.env.model_based_env import ModelBasedEnv
from abmm.env.model_based_sim import AS2008, ASMarket
from abmm.policy.closed_form import (
    as_offsets,
    cartea_jaimungal_h,
    cartea_jaimungal_quotes,
    cartea_jaimungal_value,
)


def objective_run(quotes, phi, alpha, paths, seed):
    mk = ASMarket(paths, 1, seed=seed, **AS2008)
    pen = np.zeros(paths)
    while not mk.done:
        db, da = quotes(mk)
        mk.step(db, da)
        pen += phi * mk.q[:, 0] ** 2 * mk.dt
    v = mk.wealth[:, 0] - alpha * mk.q[:, 0] ** 2 - pen
    return v


def cj_quotes(phi, alpha, q_max=50):
    p = AS2008
    k = p["k"]
    h = cartea_jaimungal_h(phi, alpha, p["A"], k, p["T"], p["dt"], q_max)

    def quotes(mk):
        bid, ask = cartea_jaimungal_quotes(h[mk.i], mk.q[:, 0], k)
        return bid[:, None], ask[:, None]

    return quotes


def learned_run(path, phi, alpha, paths, seed):
    from abmm.learn.policy import load_policies

    pols, payload = load_policies(path)
    pol = next(iter(pols.values()))
    args = dict(payload["env"]["args"])
    args.update(n_paths=paths, n_agents=1, inventory_gamma=phi / AS2008["sigma"] ** 2,
                terminal_penalty=alpha,
                reward={"spread_capture": 1.0, "inventory_pnl": 1.0, "inventory_cost": 1.0})
    env = ModelBasedEnv(**args)
    obs, _ = env.reset(seed=seed)
    total = np.zeros(paths)
    while env.agents:
        names = env.agents
        acts = pol(np.stack([obs[a] for a in names]))
        obs, r, *_ = env.step(dict(zip(names, list(acts), strict=True)))
        total += np.array([r[a] for a in env.possible_agents])
    return total


def ci(x):
    return float(np.mean(x)), float(1.96 * np.std(x, ddof=1) / math.sqrt(len(x)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policy", help="a policy file trained in abmm.env.model_based_v0")
    ap.add_argument("--phi", type=float, default=0.1)
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    res = {"phi": a.phi, "alpha": a.alpha, "paths": a.paths,
           "analytic": cartea_jaimungal_value(a.phi, a.alpha)}
    res["cj_policy"], res["cj_policy_ci"] = ci(objective_run(
        cj_quotes(a.phi, a.alpha), a.phi, a.alpha, a.paths, a.seed))
    gamma = 2 * a.phi / AS2008["sigma"] ** 2
    p = AS2008
    res["as_policy"], res["as_policy_ci"] = ci(objective_run(
        lambda mk: as_offsets(mk.q, gamma, p["sigma"], p["k"], max(p["T"] - mk.t, 0.0),
                              mk.s[:, None]),
        a.phi, a.alpha, a.paths, a.seed))
    if a.policy:
        res["learned"], res["learned_ci"] = ci(learned_run(a.policy, a.phi, a.alpha, a.paths,
                                                           a.seed))
        res["learned_vs_analytic"] = res["learned"] / res["analytic"]
    if a.json:
        print(json.dumps(res))
        return 0
    print(f"Cartea-Jaimungal objective, phi={a.phi}, alpha={a.alpha}, {a.paths:,} paths")
    print(f"  analytic optimum (continuous time)   {res['analytic']:8.3f}")
    for k, label in (("cj_policy", "optimal quotes, played here"),
                     ("as_policy", f"Avellaneda-Stoikov, gamma={gamma:g}"),
                     ("learned", f"learned ({a.policy})")):
        if k in res:
            print(f"  {label:<37}{res[k]:8.3f} +- {res[k + '_ci']:.3f}"
                  f"  ({res[k] / res['analytic']:.1%} of the optimum)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

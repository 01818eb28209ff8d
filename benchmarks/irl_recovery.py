"""Inverse-RL recovery benchmark (issue 16, item 3; method in docs/irl.md).

Two rule-based traders whose objectives are known are logged on training seeds; their reward is
recovered from the event logs alone (``abmm.learn.irl``); an ``inferred`` agent then acts by the
soft-optimal policy under the recovered reward. On held-out seeds it reports:

* ``action_agreement``: the recovered policy's most likely action at the original's decision
  states (rebuilt from the held-out logs) against the original's action, both mapped to the
  environment's discrete grid (market maker: the nearest ``abmm.env.market_v0`` offset pair of
  (1, 2, 3, 5, 8) ticks per side, 26 actions; executor: the nearest multiple (0, 0.5, 1, 2) of
  the adaptive TWAP slice, actions 0..3 of ``abmm.env.execution_v0``);
* ``constant_agreement``: the best constant action (the held-out logs' most frequent one);
* ``cloning_agreement``: behaviour cloning (multinomial logistic regression) on the same
  training records;
* ``recovered`` and ``true`` parameters: gamma (case ``as_mm``, an Avellaneda-Stoikov market
  maker with gamma = 0.1) and lambda (case ``ac_exec``, an Almgren-Chriss executor with urgency
  kappa T = 3; lambda = kappa^2 eta / sigma^2 with eta and sigma estimated from the training
  logs, the same for both);
* ``behaviour``: ``{metric: [inferred, original]}`` means over the held-out seeds, the original
  and the inferred agent run in the same market with the same seeds (paired), with the
  original's 95 % confidence interval of the mean (t) and whether the inferred mean is inside.
  Metrics: ``pnl`` (tick*lots, mark-to-market at the close), ``mean_abs_position`` (lots,
  time-average of |inventory| from the agent's first order to the close, 1 s grid),
  ``fill_ratio`` (lots filled / lots ordered);
* ``negative_controls``: the same held-out runs by policies whose risk parameter is 4 times
  and a quarter of the recovered one (``param_x4``, ``param_div4``: the risk weight of the
  recovered reward scaled): each must leave at least one of the original's intervals, or the
  behaviour check could not tell a wrong reward from the right one.

    PYTHONPATH=. python benchmarks/irl_recovery.py [--json] [--quick] [--train-seeds 1-6]
        [--test-seeds 101-110] [--keep DIR]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from abmm.policy.inferred import FINE_MULTIPLES

GAMMA = 0.1
URGENCY = 3.0

_MARKET = {
    "market": {"tick_size": 0.01, "reference_price": 100.0, "open": "10:00", "close": "11:00",
               "warmup": "2min", "step": "1s"},
    "fundamental": {"half_life": None, "sigma_1h": 0.3},
    "logging": {"chunk_rows": 250000, "top_of_book": True},
}
_CROWD = [
    {"kind": "noise", "count": 40, "wake": {"kind": "poisson", "interval": "10s"},
     "p_market": 0.3, "offset_ticks": 8, "cross_ticks": 1, "max_qty": 5, "order_ttl": "30s"},
    {"kind": "value", "count": 5, "wake": {"kind": "poisson", "interval": "10s"},
     "obs_noise": 0.02, "edge_ticks": 2, "aggression": 0.5, "max_qty": 5,
     "max_position": 100000},
]
MM_AGENT = {"kind": "market_maker", "name": "target", "strategy": "avellaneda_stoikov",
            "gamma": GAMMA, "k": 1.5, "horizon": "60s", "latency": "1ms", "levels": 1,
            "size": 5, "max_inventory": 50, "wake": {"kind": "fixed", "interval": "1s"}}
MM_SCENARIO = {"name": "irl_as_mm", "seed": 1, **_MARKET, "agents": [
    *_CROWD, {"kind": "market_maker", "name": "bg", "count": 1, "strategy": "fixed",
              "half_spread_ticks": 4, "levels": 3, "size": 5}, MM_AGENT]}
EXEC_AGENT = {"kind": "executor", "name": "target", "side": "sell", "quantity": 3000,
              "start": "10:10", "duration": "30min", "algo": "almgren_chriss",
              "urgency": URGENCY, "child": "market", "wake": {"kind": "fixed", "interval": "30s"},
              "latency": "1ms"}
EXEC_SCENARIO = {"name": "irl_ac_exec", "seed": 1, **_MARKET, "agents": [
    *_CROWD, {"kind": "market_maker", "name": "bg", "count": 2, "strategy": "fixed",
              "half_spread_ticks": 2, "levels": 5, "size": 40, "max_inventory": 100000},
    EXEC_AGENT]}
TAU = 60.0  # the AS risk horizon (s), a documented feature constant
TARGET = "target/0"


def _seeds(s: str) -> list[int]:
    out = []
    for part in s.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def _scaled(res, factor: float):
    """``res`` with its risk parameter (gamma or lambda) times ``factor``: the risk feature's
    weight scaled (gamma = theta_risk / theta_spread; lambda is proportional to
    theta_risk / theta_impact)."""
    import dataclasses

    theta = np.array(res.theta, float)
    theta[-1] *= factor
    return dataclasses.replace(res, theta=theta, param=res.param * factor)


def _inferred(scenario: dict, role: str, policy: Path) -> dict:
    sc = copy.deepcopy(scenario)
    orig = sc["agents"][-1]
    keep = ("size", "max_inventory", "levels", "latency", "wake") if role == "market_maker" \
        else ("side", "quantity", "start", "duration", "latency", "wake", "child", "limit_ticks")
    sc["agents"][-1] = {"kind": "inferred", "name": "target", "role": role,
                        "policy": str(policy), **{k: orig[k] for k in keep if k in orig}}
    sc["name"] += "_inferred"
    return sc


def _run(scenario: dict, seed: int, out: Path) -> Path:
    from abmm.scenario import build_model

    if not (out / "summary.json").exists():
        build_model(scenario, seed=seed, out=out).run()
    return out


def behaviour(run_dir) -> dict:
    """pnl, mean_abs_position, fill_ratio of the target agent from its run directory."""
    from abmm.rundir import open_run

    run = open_run(run_dir)
    a = run.agents()
    row = a[a["name"] == TARGET].iloc[0]
    aid = int(row["agent_id"])
    e = run.events(["ts", "owner", "other_owner", "qty", "kind", "side"]).to_pandas()
    acc = e[(e["kind"] == 0) & (e["owner"] == aid)]
    fills = e[(e["kind"] == 1) & ((e["owner"] == aid) | (e["other_owner"] == aid))]
    maker = fills["owner"] == aid
    # the taker's side: a maker's position moves against it, a taker's with it
    sgn = np.where(fills["side"] == 0, 1, -1) * np.where(maker, -1, 1)
    t0 = int(acc["ts"].iloc[0]) if len(acc) else int(run.start_ns)
    grid = np.arange(t0, int(run.now_ns), 1_000_000_000)
    pos = np.cumsum(sgn * fills["qty"].to_numpy())
    i = np.searchsorted(fills["ts"].to_numpy(), grid, side="right") - 1
    inv = np.where(i >= 0, pos[np.maximum(i, 0)], 0)
    ordered = float(acc["qty"].sum())
    return {"pnl": float(row["pnl_ticks"]),
            "mean_abs_position": float(np.abs(inv).mean()) if len(inv) else 0.0,
            "fill_ratio": float(fills["qty"].sum() / ordered) if ordered else float("nan")}


def _ci(x) -> tuple[float, float]:
    from scipy import stats

    x = np.asarray(x, float)
    m, n = x.mean(), len(x)
    h = stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n) if n > 1 else float("inf")
    return float(m - h), float(m + h)


def run_case(case: str, train: list[int], test: list[int], work: Path, progress) -> dict:
    """One case end to end (see the module docstring)."""
    from abmm.learn import irl

    mm = case == "as_mm"
    scenario = MM_SCENARIO if mm else EXEC_SCENARIO
    role = "market_maker" if mm else "executor"
    trace_fn = irl.mm_trace if mm else irl.exec_trace
    t0 = time.perf_counter()
    logs = [_run(scenario, s, work / case / f"train-{s}") for s in train]
    progress(f"{case}: logged {len(train)} training seeds")
    traces = [trace_fn(d, TARGET) for d in logs]
    tr = irl.concat(traces)
    if mm:
        res = irl.fit_mm(tr, tau=TAU)
        true = {"gamma": GAMMA}
        recovered = {"gamma": res.param, "gamma_se": res.param_se}
    else:
        costs = np.concatenate([t.costs for t in traces])
        tr.costs = costs
        tr.sigma = float(np.sqrt(np.mean([t.sigma ** 2 for t in traces])))
        eta, sigma = irl.exec_eta_sigma(tr)
        res = irl.fit_exec(tr, eta=eta, sigma=sigma, multiples=FINE_MULTIPLES)
        T = tr.n_slices * tr.dt
        # the rule's urgency is kappa times its whole duration (its first slice only looks)
        kappa = URGENCY / (T + tr.dt)
        true = {"lambda": kappa ** 2 * eta / sigma ** 2, "urgency": URGENCY}
        recovered = {"lambda": res.param, "lambda_se": res.param_se,
                     "urgency": res.extra["urgency"] * (T + tr.dt) / T}
        recovered.update({"eta": eta, "sigma": sigma})
    policy = irl.save_result(res, work / case / "policy.npz", {"case": case})
    bc = irl.fit_cloning(tr)
    progress(f"{case}: fitted ({time.perf_counter() - t0:.0f} s)")
    held = [trace_fn(_run(scenario, s, work / case / f"test-{s}"), TARGET) for s in test]
    ht = irl.concat(held)
    const, const_action = irl.constant_agreement(ht.action)
    out = {
        "action_agreement": irl.agreement(irl.predict(res, ht), ht.action),
        "constant_agreement": const, "constant_action": const_action,
        "cloning_agreement": irl.agreement(bc(ht), ht.action),
        "train_agreement": irl.agreement(irl.predict(res, tr), tr.action),
        "recovered": recovered, "true": true,
        "theta": dict(zip(res.features, map(float, res.theta), strict=True)),
        "loglik_gain_per_decision": res.gain,
        "decisions": {"train": len(tr), "test": len(ht)},
        "policy_file": str(policy),
    }
    inf_sc = _inferred(scenario, role, policy)
    b_orig, b_inf = [], []
    for s in test:
        b_orig.append(behaviour(work / case / f"test-{s}"))
        b_inf.append(behaviour(_run(inf_sc, s, work / case / f"inferred-{s}")))
    progress(f"{case}: held-out runs done ({time.perf_counter() - t0:.0f} s)")
    beh, ci, inside = {}, {}, {}
    for k in ("pnl", "mean_abs_position", "fill_ratio"):
        o = [b[k] for b in b_orig]
        i = [b[k] for b in b_inf]
        beh[k] = [float(np.mean(i)), float(np.mean(o))]
        ci[k] = _ci(o)
        inside[k] = bool(ci[k][0] <= beh[k][0] <= ci[k][1])
    out["behaviour"] = beh
    out["original_95ci"] = ci
    out["inside_95ci"] = inside
    out["per_seed"] = {"original": b_orig, "inferred": b_inf}
    controls = {}
    for label, factor in (("param_x4", 4.0), ("param_div4", 0.25)):
        pol = irl.save_result(_scaled(res, factor), work / case / f"policy-{label}.npz",
                              {"case": case, "negative_control": label})
        bc_ = [behaviour(_run(_inferred(scenario, role, pol), s, work / case / f"{label}-{s}"))
               for s in test]
        means = {k: float(np.mean([b[k] for b in bc_])) for k in ci}
        ins = {k: bool(ci[k][0] <= means[k] <= ci[k][1]) for k in ci}
        controls[label] = {"factor": factor, "behaviour": means, "inside_95ci": ins,
                           "all_inside": all(ins.values())}
    out["negative_controls"] = controls
    progress(f"{case}: negative controls done ({time.perf_counter() - t0:.0f} s)")
    name = "gamma" if mm else "lambda"
    ratio = recovered[name] / true[name]
    out["targets"] = {
        "agreement_ge_0.8": out["action_agreement"] >= 0.8,
        "agreement_minus_constant_ge_0.1": out["action_agreement"] - const >= 0.1,
        f"{name}_within_factor_2": bool(0.5 <= ratio <= 2.0),
        "behaviour_inside_95ci": all(inside.values()),
        "negative_controls_leave_95ci": not any(c["all_inside"] for c in controls.values()),
    }
    out["wall_s"] = time.perf_counter() - t0
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--quick", action="store_true", help="fewer seeds (about a minute)")
    ap.add_argument("--train-seeds", default=None, help="e.g. 1-6 (default; --quick 1-2)")
    ap.add_argument("--test-seeds", default=None, help="e.g. 101-110 (default; --quick 101-104)")
    ap.add_argument("--cases", default="as_mm,ac_exec")
    ap.add_argument("--keep", default=None, help="keep the run directories and policies here")
    args = ap.parse_args(argv)
    train = _seeds(args.train_seeds or ("1-2" if args.quick else "1-6"))
    test = _seeds(args.test_seeds or ("101-104" if args.quick else "101-110"))
    start = time.perf_counter()

    def progress(msg):
        print(f"[{time.perf_counter() - start:6.1f}s] {msg}", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        cases = {c: run_case(c, train, test, work, progress) for c in args.cases.split(",")}
    result = {"cases": cases, "seeds": {"train": train, "test": test},
              "wall_s": time.perf_counter() - start}
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    for c, r in cases.items():
        p = "gamma" if c == "as_mm" else "lambda"
        print(f"{c}: agreement {r['action_agreement']:.3f} (constant {r['constant_agreement']:.3f}, "
              f"cloning {r['cloning_agreement']:.3f}); {p} recovered {r['recovered'][p]:.4g} "
              f"true {r['true'][p]:.4g}")
        for k, (a, b) in r["behaviour"].items():
            lo, hi = r["original_95ci"][k]
            print(f"  {k:18s} inferred {a:12.4g}  original {b:12.4g}  95% CI [{lo:.4g}, {hi:.4g}]"
                  f"  {'inside' if r['inside_95ci'][k] else 'OUTSIDE'}")
        for label, c in r["negative_controls"].items():
            print(f"  control {label}: " + ", ".join(
                f"{k} {v:.4g} {'inside' if c['inside_95ci'][k] else 'OUTSIDE'}"
                for k, v in c["behaviour"].items()))
        print(f"  targets: {r['targets']}")
    print(f"wall time {result['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

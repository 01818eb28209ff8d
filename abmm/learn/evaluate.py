"""Evaluation on held-out seeds (``abmm evaluate``): every policy plays the same episodes.

A policy is a policy file (a torch-free ``.npz``, a torch ``policy.pt`` or a training
``checkpoint.pt``: its learner ``i`` drives the scenario's learnable agent ``i``, cycling), a
shipped policy's name (``mm_coevolved``; ``abmm.resources``) or a baseline name: ``as``,
``glft``, ``fixed``, ``random`` for market makers (``abmm.env.baselines``), ``twap`` and ``ac``
(Almgren-Chriss) for executors -- those run the scenario's own rule-based executor with that
schedule (market child orders) on the same seeds.

Market makers (``abmm.env.market_v0``; one sample = one learnable agent in one episode):
``pnl`` (mark-to-market at the end, price units), ``sharpe`` (mean PnL / std PnL over the
samples, the cross-episode Sharpe ratio), ``map`` (mean absolute inventory over the
decisions), ``final_inventory`` (mean ``|q_T|``), ``realized_spread`` (ticks per lot traded:
``sum x (m_end - p) / sum |x|`` over passive fills, marked at the end of each decision
interval), ``quoting_ratio`` (fraction of decisions with a bid and an ask resting),
``traded`` (lots per episode).

Executors (``abmm.env.execution_v0``): ``shortfall_bps`` (implementation shortfall of the
parent against the mid at its start, with the opportunity cost of anything left at the close),
``completion``.

Every mean comes with its 95 % confidence interval ``mean +- t_{0.975, n-1} sd / sqrt(n)``
(``*_ci`` is the half-width); the Sharpe ratio's is ``1.96 sqrt((1 + S^2 / 2) / n)`` (Lo 2002).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import stats

MM_BASELINES = ("as", "glft", "fixed", "random")
EXEC_BASELINES = ("twap", "ac")
POLICY_ARGS = ("decision_interval", "action_mode", "quote_size", "max_size", "max_inventory",
               "offsets", "max_offset", "vol_halflife", "vpin_bucket")


def _ci(x: np.ndarray) -> tuple[float, float, float]:
    n = len(x)
    m = float(np.mean(x)) if n else math.nan
    sd = float(np.std(x, ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)) if n > 1 else math.nan
    return m, sd, half


def summarize(samples: list[dict], keys: list[str]) -> dict:
    """Means with 95 % confidence half-widths (and the Sharpe ratio) of ``keys`` over samples."""
    out: dict = {"n": len(samples)}
    for k in keys:
        x = np.array([s[k] for s in samples if s.get(k) is not None and s[k] == s[k]], float)
        m, sd, half = _ci(x)
        out[f"{k}_mean" if k == "pnl" else k] = m
        if k == "pnl":
            out["pnl_std"] = sd
        out[f"{k}_ci"] = half
    if "pnl" in keys:
        s = out["pnl_mean"] / out["pnl_std"] if out["pnl_std"] and out["pnl_std"] > 0 \
            else math.nan
        out["sharpe"] = s
        out["sharpe_ci"] = 1.96 * math.sqrt((1 + s * s / 2) / len(samples)) \
            if samples and s == s else math.nan
    return out


def _scenario_kind(scenario) -> str:
    from abmm.scenario import load_scenario

    sc = load_scenario(scenario)
    kinds = {g.kind for g in sc.agents if g.learnable}
    return "execution" if kinds == {"executor"} else "market"


# ------------------------------------------------------------------------------ market makers
def _mm_episode(env, act, seed: int) -> list[dict]:
    obs, infos = env.reset(seed=seed)
    n = dict.fromkeys(env.possible_agents, 0)
    acc = {a: {"abs_inv": 0.0, "traded": 0, "realized": 0.0, "quoting": 0}
           for a in env.possible_agents}
    last = dict(infos)
    while env.agents:
        obs, _, _, _, infos = env.step(act(obs, env.agents))
        for a, info in infos.items():
            s = acc[a]
            s["abs_inv"] += abs(info["inventory"])
            s["traded"] += info["traded"]
            s["realized"] += info["realized_spread"]
            s["quoting"] += info["quoting"]
            n[a] += 1
        last.update(infos)
    unit = env.scenario.market.tick_size * env.scenario.market.lot_size
    out = []
    for a, s in acc.items():
        k = max(n[a], 1)
        out.append({"pnl": last[a]["pnl_ticks"] * unit, "map": s["abs_inv"] / k,
                    "final_inventory": abs(last[a]["inventory"]),
                    "realized_spread": s["realized"] / s["traded"] if s["traded"] else math.nan,
                    "quoting_ratio": s["quoting"] / k, "traded": s["traded"]})
    return out


def _checkpoint_actor(path: str, agents: list[str]):
    from abmm.learn.policy import load_policies

    pols, payload = load_policies(path)
    names = sorted(pols)
    mapping = {a: pols[names[i % len(names)]] for i, a in enumerate(agents)}

    def act(obs, live):
        return {a: mapping[a](obs[a])[0] for a in live}

    return act, payload


def evaluate_market_makers(scenario, policies: list[str], seeds: list[int],
                           progress=None) -> dict:
    """Market-making policies and baselines on the same seeds."""
    from abmm.env import baselines, market_v0
    from abmm.learn.policy import load_policy_file

    base_args: dict = {}
    for p in policies:  # the baseline check first: a misplaced baseline is not a missing file
        if p in EXEC_BASELINES:
            raise ValueError(f"{p!r} is an execution baseline; this scenario's learnable agents "
                             "are market makers (use as, glft, fixed, random or a checkpoint)")
    for p in policies:
        if p not in MM_BASELINES:
            base_args = {k: v for k, v in load_policy_file(p)["env"]["args"].items()
                         if k in POLICY_ARGS}
            break
    results = {}
    for p in policies:
        if p in EXEC_BASELINES:
            raise ValueError(f"{p!r} is an execution baseline; this scenario's learnable agents "
                             "are market makers (use as, glft, fixed, random or a checkpoint)")
        if p in MM_BASELINES:
            env = market_v0.parallel_env(scenario=scenario, **base_args)
            pol = baselines.make(p, env)

            def act(obs, live, pol=pol):
                return {a: pol(obs[a], a) for a in live}
            name = p
        else:
            args = {k: v for k, v in load_policy_file(p)["env"]["args"].items()
                    if k in POLICY_ARGS}
            env = market_v0.parallel_env(scenario=scenario, **args)
            act, _ = _checkpoint_actor(p, env.possible_agents)
            name = str(p)
        samples = []
        for s in seeds:
            samples += _mm_episode(env, act, s)
            if progress:
                progress(name, s)
        env.close()
        results[name] = summarize(samples, ["pnl", "map", "final_inventory", "realized_spread",
                                            "quoting_ratio", "traded"])
    return {"kind": "market_making", "scenario": str(scenario), "seeds": [seeds[0], seeds[-1]],
            "episodes": len(seeds), "policies": results}


# ------------------------------------------------------------------------------ executors
def _rule_execution(scenario, algo: str, seed: int) -> list[dict]:
    """The scenario's learnable executors run by their own rule (``algo``), same seed."""
    from abmm.scenario import build_model, load_scenario

    sc = load_scenario(scenario)
    groups = [i for i, g in enumerate(sc.agents) if g.learnable and g.kind == "executor"]
    over = []
    for i in groups:
        over += [f"agents.{i}.learnable=false", f"agents.{i}.algo={algo}",
                 f"agents.{i}.child=market"]
    sc = load_scenario(scenario, overrides=over)
    m = build_model(sc, seed=seed)
    execs = [a for i in groups for a in m.groups[sc.agents[i].group_name]]
    start = min(a.params.start for a in execs)
    while m.now < start:
        m.step()
    arrival = m.mark_price()
    logs = {a.name: m.watch_fills(a) for a in execs}
    while m.now < m.end:
        m.step()
    mark = m.mark_price()
    out = []
    for a in execs:
        side = 1 if a.params.side == "buy" else -1
        Q = a.params.quantity
        cost = sum(side * (p - arrival) * abs(x) for _, x, p, _, _ in logs[a.name])
        done = sum(abs(x) for _, x, _, _, _ in logs[a.name])
        cost += side * (mark - arrival) * max(Q - done, 0)
        out.append({"shortfall_bps": cost / (arrival * Q) * 1e4, "completion": done / Q})
    m.release()
    return out


def evaluate_executors(scenario, policies: list[str], seeds: list[int], progress=None) -> dict:
    """Execution policies and TWAP/AC baselines on the same seeds."""
    from abmm.env import execution_v0

    results = {}
    for p in policies:
        samples = []
        if p in EXEC_BASELINES:
            algo = "twap" if p == "twap" else "almgren_chriss"
            for s in seeds:
                samples += _rule_execution(scenario, algo, s)
                if progress:
                    progress(p, s)
            results[p] = summarize(samples, ["shortfall_bps", "completion"])
            continue
        if p in MM_BASELINES:
            raise ValueError(f"{p!r} is a market-making baseline; this scenario's learnable "
                             "agents are executors (use twap, ac or a checkpoint)")
        env = execution_v0.parallel_env(scenario=scenario)
        act, _ = _checkpoint_actor(p, env.possible_agents)
        for s in seeds:
            obs, _ = env.reset(seed=s)
            last = {}
            while env.agents:
                obs, _, _, _, infos = env.step(act(obs, env.agents))
                last.update(infos)
            for a in env.possible_agents:
                q = env.ex[a].params.quantity
                samples.append({"shortfall_bps": last[a]["shortfall_bps"],
                                "completion": last[a]["executed"] / q})
            if progress:
                progress(p, s)
        env.close()
        results[str(p)] = summarize(samples, ["shortfall_bps", "completion"])
    return {"kind": "execution", "scenario": str(scenario), "seeds": [seeds[0], seeds[-1]],
            "episodes": len(seeds), "policies": results}


def evaluate(scenario, policies: list[str], seeds: list[int], progress=None) -> dict:
    """Evaluate ``policies`` on ``scenario`` over ``seeds`` (see the module docstring)."""
    from abmm.resources import policy_path, shipped_policies

    for p in policies:
        if p not in MM_BASELINES + EXEC_BASELINES and not policy_path(p).is_file():
            raise ValueError(f"policy {p!r} is neither a checkpoint file nor a baseline "
                             f"({', '.join(MM_BASELINES + EXEC_BASELINES)}) nor a shipped "
                             f"policy ({', '.join(shipped_policies())})")
    if _scenario_kind(scenario) == "execution":
        return evaluate_executors(scenario, policies, seeds, progress)
    return evaluate_market_makers(scenario, policies, seeds, progress)


def format_table(res: dict) -> str:
    """A text table of ``evaluate``'s result, with 95 % confidence half-widths."""
    if res["kind"] == "execution":
        cols = [("shortfall_bps", "IS (bps)"), ("completion", "completion")]
    else:
        cols = [("pnl_mean", "mean PnL"), ("pnl_std", "std"), ("sharpe", "Sharpe"),
                ("map", "mean |q|"), ("final_inventory", "|q_T|"),
                ("realized_spread", "real. spread"), ("quoting_ratio", "quoting")]
    ci_of = {"pnl_mean": "pnl_ci", "sharpe": "sharpe_ci", "map": "map_ci",
             "final_inventory": "final_inventory_ci", "realized_spread": "realized_spread_ci",
             "quoting_ratio": "quoting_ratio_ci", "shortfall_bps": "shortfall_bps_ci",
             "completion": "completion_ci"}

    def cell(r, k):
        v = r.get(k)
        if v is None or v != v:
            return "nan"
        ci = r.get(ci_of.get(k, ""), None)
        return f"{v:.3g}" + (f" ±{ci:.2g}" if ci is not None and ci == ci else "")

    head = ["policy", *[c[1] for c in cols], "n"]
    rows = [[Path(name).name if "/" in name else name, *[cell(r, k) for k, _ in cols],
             str(r["n"])] for name, r in res["policies"].items()]
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    line = lambda c: "  ".join(x.rjust(w) if i else x.ljust(w)  # noqa: E731
                               for i, (x, w) in enumerate(zip(c, widths, strict=True)))
    lo, hi = res["seeds"]
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows),
                      f"{res['episodes']} held-out seeds {lo}-{hi} of {res['scenario']}; "
                      "± = 95 % confidence half-width"])

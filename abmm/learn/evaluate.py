"""Evaluation on held-out seeds (``abmm evaluate``): every policy plays the same episodes.

A ``--policy`` value resolves in this order (``resolve_policy``): ``sb3:PATH`` and
``torchscript:PATH`` (outside policies, converted on the fly by ``abmm.learn.importers``), a
baseline name: ``as``, ``glft``, ``fixed``, ``random`` for market makers
(``abmm.env.baselines``), ``twap`` and ``ac`` (Almgren-Chriss) for executors -- those run the
scenario's own rule-based executor with that schedule (market child orders) on the same seeds --,
a shipped policy's name (``mm_coevolved``; ``abmm.resources``), then a policy file (a torch-free
``.npz``, a torch ``policy.pt`` or a training ``checkpoint.pt``). A saved policy's learner
``i`` drives the scenario's learnable agent ``i``, cycling. ``evaluate_policy`` evaluates one
policy -- also any Python callable ``observation -> action`` -- the same way (docs/policies.md).

Market makers (``abmm.env.market_v0``; one sample = one learnable agent in one episode):
``pnl`` (mark-to-market at the end, price units), ``sharpe`` (mean PnL / std PnL over the
samples, the cross-episode Sharpe ratio), ``map`` (mean absolute inventory over the
decisions), ``final_inventory`` (mean ``|q_T|``), ``realized_spread`` (ticks per lot traded:
``sum x (m_end - p) / sum |x|`` over passive fills, marked at the end of each decision
interval), ``quoting_ratio`` (fraction of decisions with a bid and an ask resting),
``traded`` (lots per episode).

Chartists (``abmm.env.trading_v0``; a trained trading policy -- ``abmm train`` with ``env:
trading`` --, played in ``trading_v0`` with the observation and action arguments it was
trained with, the baselines ``ma``, ``macd``, ``rsi``, ``flat``, ``random`` of
``abmm.env.baselines``, or a callable through ``evaluate_policy``; one sample = one learnable
chartist in one episode): ``pnl``, ``sharpe`` (as above), ``map`` (mean absolute
position), ``final_inventory`` (mean ``|q_T|``), ``traded`` (lots per episode), ``stops``
(stop-losses hit per episode).

Executors (``abmm.env.execution_v0``): ``shortfall_bps`` (implementation shortfall of the
parent against the mid at its start, with the opportunity cost of anything left at the close),
``completion``.

The ecology (``abmm.env.ecology_v0``, a scenario whose learnable groups play more than one
role): a policy trained with ``env: ecology`` plays every learnable agent (each its own
learner, by name) with the environment arguments it was trained with; the result has one row
per role -- ``maker``, ``chartist``, ``executor`` -- with that role's metrics above (one sample
= one agent of the role in one episode). Baselines are per role and are refused here.

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
TRADE_BASELINES = ("ma", "macd", "rsi", "flat", "random")
#: The trading_v0 arguments a trained trading policy is evaluated with (what it observes and
#: how its actions decode; the scenario is the evaluation's).
TRADE_POLICY_ARGS = ("decision_interval", "action_mode", "max_position", "horizons",
                     "vol_halflife", "vol_scale", "trend_scale", "stop_horizon",
                     "min_stop_ticks", "max_stop_sigma")
POLICY_ARGS = ("decision_interval", "action_mode", "quote_size", "max_size", "max_inventory",
               "offsets", "max_offset", "vol_halflife", "vpin_bucket", "book_levels",
               "book_scale")


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
    from abmm.env.ecology_env import ROLE_OF_KIND

    roles = {ROLE_OF_KIND.get(k, k) for k in kinds}
    if len(roles) > 1 or roles == {"adversary"}:  # an adversary plays in the ecology only
        return "ecology"
    if kinds == {"momentum"}:
        return "trading"
    return "execution" if kinds == {"executor"} else "market"


# ------------------------------------------------------------------------------ chartists
def evaluate_traders(scenario, policies: list[str], seeds: list[int], progress=None) -> dict:
    """Trained trading policies (``abmm train`` with ``env: trading``: ``policy.pt``,
    ``policy.npz``, a checkpoint, or an outside policy) and the directional baselines of
    ``trading_v0`` on the same seeds."""
    from abmm.env import baselines, trading_v0
    from abmm.learn.importers import import_external, is_external
    from abmm.learn.policy import load_policies

    for p in policies:  # every value checked before any episode is played
        if p in TRADE_BASELINES:
            continue
        if p in MM_BASELINES + EXEC_BASELINES:
            raise ValueError(f"{p!r} is a {'market-making' if p in MM_BASELINES else 'execution'}"
                             f" baseline; this scenario's learnable agents are chartists "
                             f"(trading_v0): use {', '.join(TRADE_BASELINES)} or a trained "
                             "trading policy")
        resolve_policy(p)
    results = {}
    for p in policies:
        if p in TRADE_BASELINES:
            env = trading_v0.parallel_env(scenario=scenario)
            pol = baselines.make(p, env)

            def act(obs, live, pol=pol):
                return {a: pol(obs[a], a) for a in live}
        else:
            if is_external(p):
                env = trading_v0.parallel_env(scenario=scenario)
                pols = import_external(p, env=env)[0]
            else:
                pols, config = load_policies(resolve_policy(p)[1])
                env_cfg = config.get("env") or {}
                if env_cfg.get("kind") not in (None, "trading"):
                    raise ValueError(f"{p}: trained in a {env_cfg.get('kind')!r} environment; "
                                     "this scenario's learnable agents are chartists "
                                     "(trading_v0)")
                args = {k: v for k, v in (env_cfg.get("args") or {}).items()
                        if k in TRADE_POLICY_ARGS}
                env = trading_v0.parallel_env(scenario=scenario, **args)
            _check_spaces(pols, env, p)
            act = _actor(pols, env.possible_agents)
        results[str(p)] = _trade_run(env, act, seeds, progress, str(p))
    return {"kind": "trading", "scenario": str(scenario), "seeds": [seeds[0], seeds[-1]],
            "episodes": len(seeds), "policies": results}


def _trade_run(env, act, seeds, progress, name) -> dict:
    samples = []
    unit = env.scenario.market.tick_size * env.scenario.market.lot_size
    for s in seeds:
        obs, infos = env.reset(seed=s)
        _new_episode(act)
        last = dict(infos)
        abs_q = dict.fromkeys(env.possible_agents, 0.0)
        n = 0
        while env.agents:
            obs, _, _, _, infos = env.step(act(obs, env.agents))
            n += 1
            for a, info in infos.items():
                abs_q[a] += abs(info["position"])
            last.update(infos)
        for a in env.possible_agents:
            i = last[a]
            samples.append({"pnl": i["pnl_ticks"] * unit, "map": abs_q[a] / max(n, 1),
                            "final_inventory": abs(i["position"]), "traded": i["traded"],
                            "stops": i["stops_hit"]})
        if progress:
            progress(name, s)
    env.close()
    return summarize(samples, ["pnl", "map", "final_inventory", "traded", "stops"])


# ------------------------------------------------------------------------------ market makers
def _new_episode(act) -> None:
    """Empty the observation windows of an actor's sequence policies (a new episode)."""
    reset = getattr(act, "reset", None)
    if reset is not None:
        reset()


def _mm_episode(env, act, seed: int) -> list[dict]:
    obs, infos = env.reset(seed=seed)
    _new_episode(act)
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


def _resolved(p, scenario, cache: dict):
    """``(env args, policies)`` of a non-baseline ``--policy`` value (outside policies are
    converted once per call and cached in ``cache``)."""
    from abmm.learn.importers import import_external, is_external
    from abmm.learn.policy import load_policies

    if p not in cache:
        if is_external(p):
            pols, config = import_external(p, scenario=scenario)
        else:
            pols, config = load_policies(resolve_policy(p)[1])
        cache[p] = ({k: v for k, v in ((config.get("env") or {}).get("args") or {}).items()
                     if k in POLICY_ARGS}, pols)
    return cache[p]


def _actor(pols: dict, agents: list[str]):
    names = sorted(pols)
    # every agent its own copy: a sequence policy keeps one agent's observation window
    mapping = {a: _fork(pols[names[i % len(names)]]) for i, a in enumerate(agents)}

    def act(obs, live):
        return {a: mapping[a](obs[a])[0] for a in live}

    def reset():
        for pol in mapping.values():
            if hasattr(pol, "reset"):
                pol.reset()

    act.reset = reset
    return act


def _fork(pol):
    fork = getattr(pol, "fork", None)
    return pol if fork is None else fork()


def evaluate_market_makers(scenario, policies: list[str], seeds: list[int],
                           progress=None) -> dict:
    """Market-making policies and baselines on the same seeds."""
    from abmm.env import baselines, market_v0

    base_args: dict = {}
    cache: dict = {}
    for p in policies:  # the baseline check first: a misplaced baseline is not a missing file
        if p in EXEC_BASELINES:
            raise ValueError(f"{p!r} is an execution baseline; this scenario's learnable agents "
                             "are market makers (use as, glft, fixed, random or a checkpoint)")
    for p in policies:
        if p not in MM_BASELINES and _spec_path(p) is None:
            base_args = _resolved(p, scenario, cache)[0]
            break
    results = {}
    for p in policies:
        spec_path = None if p in MM_BASELINES else _spec_path(p)
        if spec_path is not None:  # a tuned baseline (abmm tune-baseline), played as tuned
            from abmm.learn.tune import load_spec

            spec = load_spec(spec_path)
            env = market_v0.parallel_env(scenario=scenario, **spec["env_args"])
            pol = baselines.make(spec["baseline"], env, **spec["params"])

            def act(obs, live, pol=pol):
                return {a: pol(obs[a], a) for a in live}
            name = str(p)
        elif p in MM_BASELINES:
            env = market_v0.parallel_env(scenario=scenario, **base_args)
            pol = baselines.make(p, env)

            def act(obs, live, pol=pol):
                return {a: pol(obs[a], a) for a in live}
            name = p
        else:
            args, pols = _resolved(p, scenario, cache)
            env = market_v0.parallel_env(scenario=scenario, **args)
            _check_spaces(pols, env, p)
            act = _actor(pols, env.possible_agents)
            name = str(p)
        results[name] = _mm_run(env, act, seeds, progress, name)
    return {"kind": "market_making", "scenario": str(scenario), "seeds": [seeds[0], seeds[-1]],
            "episodes": len(seeds), "policies": results}


def _mm_run(env, act, seeds, progress, name) -> dict:
    samples = []
    for s in seeds:
        samples += _mm_episode(env, act, s)
        if progress:
            progress(name, s)
    env.close()
    return summarize(samples, ["pnl", "map", "final_inventory", "realized_spread",
                               "quoting_ratio", "traded"])


def _check_spaces(pols: dict, env, where: str, agent: str | None = None) -> None:
    """One line naming both shapes when a policy does not fit the env's spaces (those of
    ``agent``, default the first agent's)."""
    agent = env.possible_agents[0] if agent is None else agent
    obs_shape = env.observation_space(agent).shape
    act_space = env.action_space(agent)
    for name, pol in pols.items():
        pol = getattr(pol, "policy", pol)
        obs_dim, action = getattr(pol, "obs_dim", None), getattr(pol, "action", None) or {}
        bad_obs = obs_dim is not None and (obs_dim,) != tuple(obs_shape)
        n = getattr(act_space, "n", None)
        bad_act = ("discrete" in action and action["discrete"] != n) or \
            ("box" in action and (n is not None or action["box"] != act_space.shape[0]))
        if bad_obs or bad_act:
            raise ValueError(f"{where}: learner {name!r} takes observations of shape "
                             f"({obs_dim},) and actions {action.get('discrete', action)}; the "
                             f"environment has observations of shape {tuple(obs_shape)} and "
                             f"actions {act_space}")


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
    from abmm.learn.importers import import_external, is_external
    from abmm.learn.policy import load_policies

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
        if is_external(p):
            pols = import_external(p, env=env)[0]
        else:
            pols = load_policies(resolve_policy(p)[1])[0]
        _check_spaces(pols, env, p)
        results[str(p)] = _exec_run(env, _actor(pols, env.possible_agents), seeds, progress,
                                    str(p))
    return {"kind": "execution", "scenario": str(scenario), "seeds": [seeds[0], seeds[-1]],
            "episodes": len(seeds), "policies": results}


def _exec_run(env, act, seeds, progress, name) -> dict:
    samples = []
    for s in seeds:
        obs, _ = env.reset(seed=s)
        _new_episode(act)
        last = {}
        while env.agents:
            obs, _, _, _, infos = env.step(act(obs, env.agents))
            last.update(infos)
        for a in env.possible_agents:
            q = env.ex[a].params.quantity
            samples.append({"shortfall_bps": last[a]["shortfall_bps"],
                            "completion": last[a]["executed"] / q})
        if progress:
            progress(name, s)
    env.close()
    return summarize(samples, ["shortfall_bps", "completion"])


def _looks_like_spec(p) -> bool:
    from abmm.resources import shipped_policies

    path = shipped_policies().get(str(p), Path(str(p)))
    return path.suffix in (".yaml", ".yml") and path.is_file()


def _spec_path(p) -> Path | None:
    """The file of a baseline spec ``--policy`` value (``.yaml``: a file or a shipped one)."""
    kind, what = resolve_policy(p)
    return what if kind == "spec" else None


def resolve_policy(spec) -> tuple[str, object]:
    """What a ``--policy`` value names, in this order: ``("external", spec)`` for the
    ``sb3:`` and ``torchscript:`` prefixes, ``("baseline", name)`` for a baseline,
    ``("shipped", path)`` for a shipped policy's name, ``("file", path)`` for an existing file
    (a training checkpoint, a torch policy file or a torch-free ``.npz``), ``("spec", path)``
    for a tuned-baseline spec (``.yaml``, a file or a shipped one: ``abmm.learn.tune``);
    ``ValueError``
    (one line, naming the choices) otherwise."""
    from abmm.learn.importers import is_external
    from abmm.resources import shipped_policies

    spec = str(spec)
    if is_external(spec):
        return "external", spec
    if spec in MM_BASELINES + EXEC_BASELINES:
        return "baseline", spec
    shipped = shipped_policies()
    if spec in shipped:
        path = shipped[spec]
        return ("spec" if path.suffix in (".yaml", ".yml") else "shipped"), path
    if Path(spec).is_file():
        return ("spec" if Path(spec).suffix in (".yaml", ".yml") else "file"), Path(spec)
    raise ValueError(f"policy {spec!r} is neither a checkpoint file nor a baseline "
                     f"({', '.join(MM_BASELINES + EXEC_BASELINES)}) nor a shipped policy "
                     f"({', '.join(shipped)}) nor sb3:PATH / torchscript:PATH")


def evaluate_policy(scenario, policy, seeds, *, name: str | None = None,
                    env_args: dict | None = None, progress=None) -> dict:
    """Evaluate one policy on ``scenario`` over ``seeds`` with ``abmm evaluate``'s episodes and
    metrics (the same result dict as ``evaluate``; ``format_table`` prints it).

    ``policy`` is a ``--policy`` value (see ``resolve_policy``), an ``abmm.policy.Policy``
    (acts on batches) or any callable ``policy(observation) -> action`` (one agent's
    observation, a float32 array; the action as the env takes it), which drives every learnable
    agent. ``env_args`` are the environment's arguments for a callable (e.g.
    ``{"action_mode": "continuous"}``); ``name`` labels the row (default the value, or the
    callable's name)."""
    from abmm.policy.base import Policy

    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("evaluate_policy: seeds is empty")
    if isinstance(policy, (str, Path)):
        res = evaluate(scenario, [str(policy)], seeds, progress)
        if name is not None:
            res["policies"] = {name: next(iter(res["policies"].values()))}
        return res
    if not callable(policy):
        raise ValueError(f"evaluate_policy: policy must be a --policy value or a callable "
                         f"observation -> action, not {type(policy).__name__}")
    name = name or getattr(policy, "__name__", type(policy).__name__)
    kind = _scenario_kind(scenario)
    if kind == "execution":
        from abmm.env import execution_v0 as mod
    elif kind == "trading":
        from abmm.env import trading_v0 as mod
    else:
        from abmm.env import market_v0 as mod
    env = mod.parallel_env(scenario=scenario, **(env_args or {}))
    if isinstance(policy, Policy):
        _check_spaces({name: policy}, env, name)
        act = _actor({name: policy}, env.possible_agents)
    else:
        def act(obs, live):
            return {a: policy(obs[a]) for a in live}
    run = {"execution": _exec_run, "trading": _trade_run}.get(kind, _mm_run)
    res = run(env, act, seeds, progress, name)
    return {"kind": kind if kind in ("execution", "trading") else "market_making",
            "scenario": str(scenario), "seeds": [seeds[0], seeds[-1]], "episodes": len(seeds),
            "policies": {name: res}}


# ------------------------------------------------------------------------------ the ecology
#: The ecology_v0 arguments a trained ecology policy is evaluated with.
ECOLOGY_POLICY_ARGS = ("decision_interval", "maker", "chartist", "executor", "adversary")


def evaluate_ecology(scenario, policies: list[str], seeds: list[int], progress=None) -> dict:
    """Trained ecology policies (``abmm train`` with ``env: ecology``) on the same seeds: one
    row per role (see the module docstring)."""
    from abmm.env import ecology_v0
    from abmm.learn.policy import load_policies

    loaded = []
    for p in policies:  # every value checked before any episode is played
        if p in MM_BASELINES + EXEC_BASELINES + TRADE_BASELINES:
            raise ValueError(f"{p!r} is a one-role baseline; this scenario's learnable agents "
                             "play several roles (ecology_v0): use a policy trained with "
                             "env: ecology")
        pols, config = load_policies(resolve_policy(p)[1])
        env_cfg = config.get("env") or {}
        if env_cfg.get("kind") != "ecology":
            raise ValueError(f"{p}: trained in a {env_cfg.get('kind')!r} environment; this "
                             "scenario's learnable agents play several roles (ecology_v0)")
        args = {k: v for k, v in (env_cfg.get("args") or {}).items()
                if k in ECOLOGY_POLICY_ARGS}
        env = ecology_v0.parallel_env(scenario=scenario, **args)
        missing = sorted(set(env.possible_agents) - set(pols))
        if missing:
            raise ValueError(f"{p}: no learner for {missing}; it has {sorted(pols)} (an ecology "
                             "policy drives the agents it was trained with, by name)")
        _check_spaces_by_name(pols, env, p)
        loaded.append((str(p), env, pols))
    results = {}
    for name, env, pols in loaded:
        mapping = {a: _fork(pols[a]) for a in env.possible_agents}

        def act(obs, live, mapping=mapping):
            return {a: mapping[a](obs[a])[0] for a in live}

        act.reset = lambda mapping=mapping: [pol.reset() for pol in mapping.values()
                                             if hasattr(pol, "reset")]
        results[name] = _ecology_run(env, act, seeds, progress, name)
    return {"kind": "ecology", "scenario": str(scenario), "seeds": [seeds[0], seeds[-1]],
            "episodes": len(seeds), "policies": results}


def _check_spaces_by_name(pols: dict, env, where: str) -> None:
    """``_check_spaces`` for each agent against its own learner (spaces differ by role)."""
    for a in env.possible_agents:
        _check_spaces({a: pols[a]}, env, where, agent=a)


def _ecology_run(env, act, seeds, progress, name) -> dict:
    unit = env.scenario.market.tick_size * env.scenario.market.lot_size
    samples = {"maker": [], "chartist": [], "executor": [], "adversary": []}
    for s in seeds:
        obs, infos = env.reset(seed=s)
        _new_episode(act)
        last = dict(infos)
        acc = {a: {"abs": 0.0, "n": 0, "traded": 0, "realized": 0.0, "quoting": 0}
               for a in env.possible_agents}
        while env.agents:
            obs, _, _, _, infos = env.step(act(obs, env.agents))
            for a, info in infos.items():
                c = acc[a]
                c["abs"] += abs(info.get("inventory", info.get("position", 0)))
                c["n"] += 1
                if env.role(a) == "maker":
                    c["traded"] += info["traded"]
                    c["realized"] += info["realized_spread"]
                    c["quoting"] += info["quoting"]
            last.update(infos)
        for a in env.possible_agents:
            i, c, role = last[a], acc[a], env.role(a)
            k = max(c["n"], 1)
            if role == "maker":
                samples[role].append({
                    "pnl": i["pnl_ticks"] * unit, "map": c["abs"] / k,
                    "final_inventory": abs(i["inventory"]),
                    "realized_spread": c["realized"] / c["traded"] if c["traded"] else math.nan,
                    "quoting_ratio": c["quoting"] / k, "traded": c["traded"]})
            elif role == "chartist":
                samples[role].append({"pnl": i["pnl_ticks"] * unit, "map": c["abs"] / k,
                                      "final_inventory": abs(i["position"]),
                                      "traded": i["traded"], "stops": i["stops_hit"]})
            elif role == "executor":
                samples[role].append({"shortfall_bps": i["shortfall_bps"],
                                      "completion": i["executed"] / env.learner(a)
                                      .params.quantity})
            else:  # the adversary: the target makers' mean PnL, its group's mean |position|
                samples[role].append({"makers_pnl": i["makers_pnl"] * unit,
                                      "map": c["abs"] / k})
        if progress:
            progress(name, s)
    env.close()
    keys = {"maker": ["pnl", "map", "final_inventory", "realized_spread", "quoting_ratio"],
            "chartist": ["pnl", "map", "final_inventory", "traded", "stops"],
            "executor": ["shortfall_bps", "completion"], "adversary": ["makers_pnl", "map"]}
    return {role: summarize(x, keys[role]) for role, x in samples.items() if x}


def evaluate(scenario, policies: list[str], seeds: list[int], progress=None) -> dict:
    """Evaluate ``policies`` on ``scenario`` over ``seeds`` (see the module docstring; each
    value resolves as ``resolve_policy`` says)."""
    kind = _scenario_kind(scenario)
    if kind == "ecology":
        return evaluate_ecology(scenario, policies, seeds, progress)
    for p in policies:
        if kind != "market" and _looks_like_spec(p):
            raise ValueError(f"{p}: a tuned market-making baseline; this scenario's learnable "
                             f"agents are {'directional traders' if kind == 'trading' else 'executors'}")
    if kind == "trading":
        return evaluate_traders(scenario, policies, seeds, progress)
    for p in policies:
        resolve_policy(p)
    if kind == "execution":
        return evaluate_executors(scenario, policies, seeds, progress)
    return evaluate_market_makers(scenario, policies, seeds, progress)


def format_table(res: dict) -> str:
    """A text table of ``evaluate``'s result, with 95 % confidence half-widths."""
    if res["kind"] == "ecology":  # one table per role
        kinds = {"maker": "market_making", "chartist": "trading", "executor": "execution",
                 "adversary": "adversary"}
        parts = []
        for role in ("maker", "chartist", "executor", "adversary"):
            rows = {n: r[role] for n, r in res["policies"].items() if role in r}
            if rows:
                title = "adversaries" if role == "adversary" else f"{role}s"
                parts.append(f"{title}:\n" + format_table({**res, "kind": kinds[role],
                                                           "policies": rows}))
        return "\n\n".join(parts)
    if res["kind"] == "execution":
        cols = [("shortfall_bps", "IS (bps)"), ("completion", "completion")]
    elif res["kind"] == "adversary":
        cols = [("makers_pnl", "makers' PnL"), ("map", "mean |position|")]
    elif res["kind"] == "trading":
        cols = [("pnl_mean", "mean PnL"), ("pnl_std", "std"), ("sharpe", "Sharpe"),
                ("map", "mean |q|"), ("final_inventory", "|q_T|"), ("traded", "traded"),
                ("stops", "stops")]
    else:
        cols = [("pnl_mean", "mean PnL"), ("pnl_std", "std"), ("sharpe", "Sharpe"),
                ("map", "mean |q|"), ("final_inventory", "|q_T|"),
                ("realized_spread", "real. spread"), ("quoting_ratio", "quoting")]
    ci_of = {"pnl_mean": "pnl_ci", "sharpe": "sharpe_ci", "map": "map_ci",
             "final_inventory": "final_inventory_ci", "realized_spread": "realized_spread_ci",
             "quoting_ratio": "quoting_ratio_ci", "shortfall_bps": "shortfall_bps_ci",
             "completion": "completion_ci", "traded": "traded_ci", "stops": "stops_ci",
             "makers_pnl": "makers_pnl_ci"}

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

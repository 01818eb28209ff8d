"""Tuned classical market makers: ``abmm tune-baseline`` and the baseline specs it writes.

A learned market maker should be compared with the *best* Avellaneda-Stoikov or GLFT maker
for the market, not with one whose risk aversion was picked by hand. ``tune_baseline`` grid-
searches a closed-form maker over

* ``gamma``, the risk aversion (default ``GAMMAS``: 12 values log-spaced over three decades,
  0.003 to 3), and
* ``vol_halflife``, the estimation window of the volatility the formulas use (the EWMA
  half-life, in decisions, of the env's volatility feature; default ``WINDOWS``: 5, 30 and
  120 decisions), the one quantity the closed forms estimate from the market as they go
  (``k`` and ``A`` are the env's),

on *training* seeds of a scenario, maximizing the Sharpe ratio of the per-agent, per-episode
PnL (``abmm evaluate``'s episodes and metrics), and returns the winner as a **baseline spec**:
a small YAML file that ``abmm evaluate --policy FILE`` plays::

    baseline: as                 # as | glft | fixed
    params: {gamma: 0.1}         # keyword arguments of abmm.env.baselines.make
    env_args: {vol_halflife: 30, offsets: [1, 2, 4, 8], ...}   # market_v0's, as tuned
    tuned: {scenario: ..., seeds: "1-20", sharpe: ..., grid: [...]}   # the record

``env_args`` are the market_v0 arguments the spec was tuned with (the action grid of the
policy given with ``--like``, and the window): a spec is always played exactly as tuned.
Grid cells run in ``workers`` processes (fork); every cell's episodes are the same seeds, so
the comparison between cells is paired. Held-out seeds (1000 and above by convention) must not
be among the tuning seeds: ``tune_baseline`` refuses them.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
from pathlib import Path

import numpy as np
import yaml

__all__ = ["GAMMAS", "WINDOWS", "tune_baseline", "load_spec", "is_spec", "write_spec",
           "SpecError"]

log = logging.getLogger(__name__)

#: Default risk aversions: 12 values, log-spaced from 0.003 to 3 (three decades).
GAMMAS = tuple(float(f"{g:.3g}") for g in np.logspace(math.log10(0.003), math.log10(3), 12))
#: Default volatility estimation windows (EWMA half-lives, in decisions).
WINDOWS = (5.0, 30.0, 120.0)
KINDS = ("as", "glft")
SPEC_BASELINES = ("as", "glft", "fixed")
HELD_OUT_FROM = 1000


class SpecError(ValueError):
    """A baseline spec file that cannot be used (one line: file, key, what was expected)."""


def is_spec(path) -> bool:
    """True for an existing ``.yaml``/``.yml`` file (a baseline spec candidate)."""
    p = Path(path)
    return p.suffix in (".yaml", ".yml") and p.is_file()


def load_spec(path) -> dict:
    """A baseline spec, checked: ``{"baseline", "params", "env_args", "tuned"}``."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{p}: not a readable baseline spec ({str(exc).splitlines()[0]})") \
            from None
    if not isinstance(data, dict) or "baseline" not in data:
        raise SpecError(f"{p}: not a baseline spec (expected a mapping with a 'baseline' key: "
                        f"{', '.join(SPEC_BASELINES)})")
    if data["baseline"] not in SPEC_BASELINES:
        raise SpecError(f"{p}: baseline: {data['baseline']!r}; expected one of "
                        f"{', '.join(SPEC_BASELINES)}")
    for key in ("params", "env_args"):
        if not isinstance(data.get(key) or {}, dict):
            raise SpecError(f"{p}: {key}: expected a mapping, got {data[key]!r}")
    unknown = set(data) - {"baseline", "params", "env_args", "tuned"}
    if unknown:
        raise SpecError(f"{p}: unknown key(s) {', '.join(sorted(unknown))}; expected baseline, "
                        "params, env_args, tuned")
    return {"baseline": data["baseline"], "params": dict(data.get("params") or {}),
            "env_args": dict(data.get("env_args") or {}), "tuned": data.get("tuned")}


def write_spec(spec: dict, path) -> None:
    """Write a baseline spec atomically (``abmm.schema.files.write_atomic``)."""
    from abmm.schema.files import write_atomic

    head = ("# A tuned classical market maker (abmm tune-baseline); play it with\n"
            "#   abmm evaluate --scenario SCENARIO --policy THIS_FILE\n")
    write_atomic(Path(path), (head + yaml.safe_dump(spec, sort_keys=False)).encode())


def _cell(args) -> dict:
    from abmm.env import baselines, market_v0
    from abmm.learn.evaluate import _mm_run

    scenario, kind, gamma, window, env_args, seeds = args
    env = market_v0.parallel_env(scenario=scenario, **{**env_args, "vol_halflife": window})
    pol = baselines.make(kind, env, gamma=gamma)

    def act(obs, live):
        return {a: pol(obs[a], a) for a in live}
    r = _mm_run(env, act, seeds, None, kind)
    return {"gamma": gamma, "vol_halflife": window, "sharpe": r["sharpe"],
            "pnl_mean": r["pnl_mean"], "pnl_std": r["pnl_std"], "map": r["map"],
            "quoting_ratio": r["quoting_ratio"], "n": r["n"]}


def tune_baseline(scenario, kind: str, seeds: list[int], *, gammas=GAMMAS, windows=WINDOWS,
                  env_args: dict | None = None, workers: int = 1, progress=None) -> dict:
    """Grid-search ``kind`` (``as`` or ``glft``) over ``gammas`` x ``windows`` on ``seeds`` of
    ``scenario``; the spec of the cell with the highest Sharpe (see the module docstring)."""
    from abmm.learn.evaluate import POLICY_ARGS

    if kind not in KINDS:
        raise ValueError(f"--kind {kind!r}: expected one of {', '.join(KINDS)}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("--seeds: no seeds")
    held = [s for s in seeds if s >= HELD_OUT_FROM]
    if held:
        raise ValueError(f"--seeds: {held[0]} is a held-out seed (>= {HELD_OUT_FROM}); tune on "
                         "training seeds and keep the held-out ones for evaluation")
    gammas = [float(g) for g in gammas]
    if len(gammas) < 1 or min(gammas) <= 0:
        raise ValueError(f"gammas must be positive, got {gammas}")
    env_args = {k: v for k, v in (env_args or {}).items() if k in POLICY_ARGS}
    env_args.pop("vol_halflife", None)
    jobs = [(str(scenario), kind, g, float(w), env_args, seeds) for g in gammas for w in windows]
    grid = []
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            for r in pool.imap(_cell, jobs):
                grid.append(r)
                if progress:
                    progress(r)
    else:
        for j in jobs:
            grid.append(_cell(j))
            if progress:
                progress(grid[-1])
    ok = [r for r in grid if r["sharpe"] == r["sharpe"]]
    if not ok:
        raise ValueError(f"{scenario}: no grid cell has a finite Sharpe ratio (no PnL variation)")
    best = max(ok, key=lambda r: r["sharpe"])
    log.info("tune-baseline %s: best gamma %g, window %g, Sharpe %.3f", kind, best["gamma"],
             best["vol_halflife"], best["sharpe"])
    return {"baseline": kind, "params": {"gamma": best["gamma"]},
            "env_args": {**env_args, "vol_halflife": best["vol_halflife"]},
            "tuned": {"scenario": Path(str(scenario)).name, "seeds": f"{seeds[0]}-{seeds[-1]}"
                      if seeds == list(range(seeds[0], seeds[-1] + 1)) else
                      ",".join(map(str, seeds)),
                      "objective": "Sharpe of per-agent episode PnL",
                      "sharpe": round(best["sharpe"], 6),
                      "grid": [{k: (round(v, 6) if isinstance(v, float) else v)
                                for k, v in r.items()} for r in grid]}}

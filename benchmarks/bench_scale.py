#!/usr/bin/env python3
"""How a sweep and a training run scale with workers: each with 1 worker and with 2, in one
sitting.

Runs one sweep (``abmm.sweep.run_sweep``, what ``abmm sweep`` runs) three times into fresh
folders: ``--workers 1`` (in this process), ``--workers 2`` on the default backend (Ray when it
is installed, else the process pool) and ``--workers 2`` on the process pool. Each time is the
whole call -- backend start and stop included, as a user waits for it -- and runs/s is runs /
that time. The runs' statistics must be identical across the three (checked; a mismatch exits
1). The sweep: ``--scenario`` (default: the shipped ``default``) for ``--days`` days (default
1), ``agents.noise.p_market`` in {0.06, 0.1} x ``--runs / 2`` seeds.

Training (``abmm.learn.trainer.Trainer``, what ``abmm train --workers N`` runs): ``--train``
(default the shipped ``scenarios/train/mm_coevolve.yaml``) for ``--train-updates`` updates
(default 2) of ``--train-episodes`` episodes each (default 4), once with ``workers=1`` (in this
process) and once with ``workers=2`` (rollouts on ``--train-backend``, default auto: Ray when
installed, else the process pool; the learners' updates in the driver), each into a fresh folder and timed whole (worker start-up included).
Agent-decisions/s is env steps x agents / that time. The two runs differ in their exploration
draws (``workers=1`` is the serial path), so the check here is that both play the same number
of env steps; tests/learn/test_train_workers.py checks that 2 and 3 workers train identically.

The control of the measurement, ``machine_speedup_2_processes``: a pure-Python loop in 2
processes against 1, timed right after (about 2 on a free 2-core machine; near 1 when other work
holds a core, and then no sweep can scale either).

``--json``: ``{"runs", "runs_per_s_1_worker", "runs_per_s_2_workers", "sweep_speedup_2_workers"
(default backend), "backend_2_workers", "sweep_speedup_2_workers_pool", "wall_s": {...},
"identical_results", "train_decisions_per_s_1_worker", "train_decisions_per_s_2_workers",
"train_speedup_2_workers", "train_backend_2_workers", "machine_speedup_2_processes", "cpus",
"load_avg_1min"}``.

    python benchmarks/bench_scale.py                 # about 4-5 minutes on 2 cores
    python benchmarks/bench_scale.py --no-sweep      # training only
    python benchmarks/bench_scale.py --runs 24 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def _sweep_file(folder: Path, scenario: str, days: int, runs: int) -> Path:
    from abmm.resources import scenario_path

    path = folder / "bench_sweep.yaml"
    seeds = max(1, runs // 2)
    path.write_text(yaml.safe_dump({
        "description": "bench_scale: a small sweep timed against workers",
        "scenario": str(Path(scenario_path(scenario)).resolve()),
        "set": [f"market.days={days}"],
        "seeds": f"1-{seeds}",
        "grid": {"agents.noise.p_market": [0.06, 0.1]},
    }))
    return path


def _spin(n: int) -> float:
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - t0


def machine_speedup(n: int = 20_000_000) -> float:
    """What 2 processes get here now: a pure-Python loop twice in one process against once in
    each of 2 (the control of the measurement: about 2 on a free 2-core machine, about 1 when
    other work holds a core)."""
    import multiprocessing as mp

    t0 = time.perf_counter()
    _spin(n)
    _spin(n)
    one = time.perf_counter() - t0
    with mp.get_context("forkserver").Pool(2) as pool:
        pool.map(_spin, [1000, 1000])  # started
        t0 = time.perf_counter()
        pool.map(_spin, [n, n])
        two = time.perf_counter() - t0
    return one / two


def _time(sweep, out: Path, workers: int, backend: str) -> tuple[float, object, dict]:
    from abmm.sweep import run_sweep

    t0 = time.perf_counter()
    res = run_sweep(sweep, out, workers=workers, backend=backend)
    wall = time.perf_counter() - t0
    t = pq.read_table(out / "results.parquet")
    stats = {c: t.column(c).to_pylist() for c in t.column_names if c != "wall_s"}
    return wall, res, stats


def train_timing(config: str, updates: int, episodes: int, workers: int, out: Path,
                 backend: str = "auto") -> dict:
    """Train ``config`` for ``updates`` x ``episodes`` with ``workers`` rollout workers (whole
    call timed): wall seconds, env steps, agent-decisions/s and the rollout backend."""
    from abmm.learn.config import load_config
    from abmm.learn.trainer import Trainer

    cfg, base = load_config(config)
    cfg = cfg.model_copy(update={"updates": updates, "episodes_per_update": episodes,
                                 "checkpoint_every": updates})
    t0 = time.perf_counter()
    tr = Trainer(cfg, base, out, workers=workers, backend=backend)
    kind = tr.rollout_backend
    tr.run()
    wall = time.perf_counter() - t0
    agents = len(tr.env.possible_agents)
    return {"wall_s": wall, "env_steps": tr.env_steps, "backend": kind,
            "decisions_per_s": tr.env_steps * agents / wall}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="default", help="scenario file or shipped name")
    ap.add_argument("--days", type=int, default=1, help="market.days of every run (default 1)")
    ap.add_argument("--runs", type=int, default=12, help="runs in the sweep (even; default 12)")
    ap.add_argument("--no-pool", action="store_true",
                    help="skip the process-pool timing when the default backend is Ray")
    ap.add_argument("--train", default=None,
                    help="training config (default scenarios/train/mm_coevolve.yaml)")
    ap.add_argument("--train-updates", type=int, default=2)
    ap.add_argument("--train-episodes", type=int, default=4,
                    help="episodes per update (default 4)")
    ap.add_argument("--train-backend", choices=["auto", "ray", "pool"], default="auto",
                    help="rollout workers of the 2-worker training run (default auto)")
    ap.add_argument("--no-sweep", action="store_true", help="time training only")
    ap.add_argument("--no-train", action="store_true", help="time the sweep only")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    from abmm.parallel import Executor
    from abmm.sweep import load_sweep

    tmp = Path(tempfile.mkdtemp(prefix="abmm-bench-scale-"))
    try:
        timings, stats, out, n = {}, {}, {}, 0
        if not a.no_sweep:
            sweep = load_sweep(_sweep_file(tmp, a.scenario, a.days, a.runs))
            n = len(sweep.runs)
            default_kind = Executor(2).kind
            timings = {}
            stats = {}
            plan = [("1_worker", 1, "auto"), ("2_workers", 2, "auto")]
            if default_kind != "pool" and not a.no_pool:
                plan.append(("2_workers_pool", 2, "pool"))
            for name, workers, backend in plan:
                wall, res, st = _time(sweep, tmp / name, workers, backend)
                if res.ok != n:
                    print(f"bench_scale: {name}: {n - res.ok} of {n} runs failed: "
                          f"{next(iter(res.errors.values()), '')}", file=sys.stderr)
                    return 1
                timings[name] = (wall, res.backend)
                stats[name] = st
                if not a.json:
                    print(f"{name:>15}: {n} runs in {wall:6.1f} s = {n / wall:.3f} runs/s "
                          f"({res.backend})", flush=True)
        if not a.no_train:
            cfgp = a.train or str(Path(__file__).resolve().parent.parent / "scenarios" / "train"
                                  / "mm_coevolve.yaml")
            tr = {}
            for w in (1, 2):
                tr[w] = train_timing(cfgp, a.train_updates, a.train_episodes, w,
                                     tmp / f"train_{w}", a.train_backend)
                if not a.json:
                    print(f"{'train_' + str(w):>15}: {tr[w]['env_steps']:,} env steps in "
                          f"{tr[w]['wall_s']:6.1f} s = {tr[w]['decisions_per_s']:,.0f} "
                          f"agent-decisions/s ({tr[w]['backend']})", flush=True)
            if tr[1]["env_steps"] != tr[2]["env_steps"]:
                print("bench_scale: the serial and parallel training runs played different "
                      f"numbers of env steps ({tr[1]['env_steps']} vs {tr[2]['env_steps']})",
                      file=sys.stderr)
                return 1
            out.update({"train_config": cfgp, "train_updates": a.train_updates,
                        "train_episodes_per_update": a.train_episodes,
                        "train_env_steps": tr[1]["env_steps"],
                        "train_decisions_per_s_1_worker": round(tr[1]["decisions_per_s"], 1),
                        "train_decisions_per_s_2_workers": round(tr[2]["decisions_per_s"], 1),
                        "train_speedup_2_workers": round(tr[1]["wall_s"] / tr[2]["wall_s"], 3),
                        "train_backend_2_workers": tr[2]["backend"],
                        "train_wall_s": {"1_worker": round(tr[1]["wall_s"], 2),
                                         "2_workers": round(tr[2]["wall_s"], 2)}})
        control = machine_speedup()
        same = all(s == stats["1_worker"] for s in stats.values()) if stats else True
        if timings:
            one = timings["1_worker"][0]
            out.update({"runs": n, "scenario": a.scenario, "days": a.days,
                        "runs_per_s_1_worker": round(n / one, 4),
                        "runs_per_s_2_workers": round(n / timings["2_workers"][0], 4),
                        "sweep_speedup_2_workers": round(one / timings["2_workers"][0], 3),
                        "backend_2_workers": timings["2_workers"][1],
                        "wall_s": {k: round(v[0], 2) for k, v in timings.items()},
                        "identical_results": same})
            if "2_workers_pool" in timings:
                out["sweep_speedup_2_workers_pool"] = round(one / timings["2_workers_pool"][0], 3)
                out["runs_per_s_2_workers_pool"] = round(n / timings["2_workers_pool"][0], 4)
        out.update({"machine_speedup_2_processes": round(control, 3), "cpus": os.cpu_count(),
                    "load_avg_1min": round(os.getloadavg()[0], 2)})
        if a.json:
            print(json.dumps(out))
        else:
            parts = []
            if timings:
                parts.append(f"sweep_speedup_2_workers: {out['sweep_speedup_2_workers']:.2f}x "
                             f"({out['backend_2_workers']})"
                             + (f"; process pool {out['sweep_speedup_2_workers_pool']:.2f}x"
                                if "sweep_speedup_2_workers_pool" in out else "")
                             + f"; identical results: {same}")
            if "train_speedup_2_workers" in out:
                parts.append(f"train_speedup_2_workers: {out['train_speedup_2_workers']:.2f}x "
                             f"({out['train_backend_2_workers']})")
            parts.append(f"a CPU loop in 2 processes here now: {control:.2f}x; load average "
                         f"{out['load_avg_1min']}")
            print("; ".join(parts))
        return 0 if same else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

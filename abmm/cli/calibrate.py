"""``abmm calibrate``: fit a scenario's parameters to a real bar file (simulated method of
moments; ``abmm.calibrate``; docs/calibration.md).

The study lives in ``OUT/study.db``: Ctrl-C or SIGTERM stops after the trial in flight is
recorded or dropped, and the same command again resumes, running only the trials the budget
still allows.
"""

from __future__ import annotations

import argparse
import shlex
import sys


def cmd_calibrate(a: argparse.Namespace) -> int:
    """Run (or resume) a calibration and print the best parameters and where the outputs are."""
    from tqdm import tqdm

    from abmm.calibrate import calibrate, parse_param

    params = [parse_param(p) for p in a.param]  # a malformed --param stops before anything runs
    command = "abmm calibrate " + " ".join(shlex.quote(x) for x in sys.argv[2:]) \
        if len(sys.argv) > 2 and sys.argv[1] == "calibrate" else None
    with tqdm(total=a.budget, desc="candidates", file=sys.stderr, disable=None) as bar:
        def progress(done, total, loss, best):
            bar.total = total
            bar.n = done
            if best is not None:
                bar.set_postfix(best=f"{best:.1f}", refresh=False)
            bar.refresh()

        res = calibrate(a.scenario, a.real, params, budget=a.budget,
                        seeds_per_candidate=a.seeds_per_candidate, out=a.out,
                        workers=a.workers, days=a.days, sampler=a.sampler, seed=a.seed,
                        progress=progress, command=command, address=a.address,
                        backend=a.backend)
    if a.json:
        import json

        print(json.dumps({"best_params": res.best_params, "loss": res.loss,
                          "trials": res.trials, "failed": res.failed, "wall_s": res.wall_s,
                          "paths": {k: str(v) for k, v in res.paths.items()}}))
        return 0
    print(f"best of {res.trials} candidates ({res.failed} failed), loss {res.loss:.2f}, "
          f"{res.wall_s:.0f} s:")
    for k, v in res.best_params.items():
        print(f"  {k} = {v:g}" if isinstance(v, (int, float)) else f"  {k} = {v}")
    for name in ("yaml", "csv", "png", "study"):
        if name in res.paths:
            print(f"  {res.paths[name]}")
    return 0


def add_parser(sub) -> None:
    """Add ``abmm calibrate`` to the top-level subparsers ``sub``."""
    c = sub.add_parser("calibrate", help="fit scenario parameters to real bars (simulated "
                                         "method of moments, optuna; docs/calibration.md)")
    c.add_argument("scenario", help="scenario file or shipped name")
    c.add_argument("--real", required=True,
                   help="real OHLCV bars (CSV or Parquet, e.g. from abmm data fetch-klines)")
    c.add_argument("--param", action="append", required=True, metavar="KEY=LO,HI[,log]",
                   help="a scenario key and its search range, e.g. "
                        "fundamental.sigma_1h=50,200,log (repeat for several)")
    c.add_argument("--budget", type=int, required=True, help="candidates in all (a resumed "
                                                             "study runs only the rest)")
    c.add_argument("--seeds-per-candidate", type=int, default=4, dest="seeds_per_candidate",
                   help="seeds each candidate runs (default 4)")
    c.add_argument("--workers", type=int, default=1,
                   help="parallel runs of a candidate's seeds: processes or Ray CPUs (default 1)")
    c.add_argument("--address", help="run the seeds on an existing Ray cluster: auto, HOST:PORT "
                                     "or ray://HOST:PORT (needs the distributed extra)")
    c.add_argument("--backend", choices=["auto", "ray", "pool"], default="auto",
                   help="auto (default): Ray when installed, else a local process pool "
                        "(abmm.parallel, as abmm sweep)")
    c.add_argument("--days", type=int, help="simulated days per seed (default the scenario's)")
    c.add_argument("--sampler", choices=["tpe", "cmaes", "random"], default="tpe")
    c.add_argument("--seed", type=int, default=0, help="the sampler's seed")
    c.add_argument("--out", required=True, help="output directory (study.db, calibrated.yaml, "
                                                "moments.csv, calibration.png)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_calibrate)

"""``abmm sweep SWEEP.yaml --out DIR [--workers N] [--address ADDR] [--backend B]``: a grid or
random sample of scenario overrides x seeds, each run's summary and scorecard gathered into
``DIR/results.parquet`` (``abmm.sweep``; docs/sweeps.md).

Exit status: 0 every run ok; 1 the sweep finished but some runs failed (their errors are in
``results.parquet``; the same command runs them again); 2 a bad sweep file, folder or flag
(one line, nothing written); 130 Ctrl-C, 143 SIGTERM: the finished runs are saved, the runs in
flight dropped, and the same command resumes.
"""

from __future__ import annotations

import argparse
import os
import sys


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cmd_sweep(a: argparse.Namespace) -> int:
    """Run (or resume) a sweep and print where the results are."""
    import json
    import logging
    import signal

    from tqdm import tqdm

    from abmm.sweep import SweepInterrupted, load_sweep, run_sweep

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # nothing leaves the machine
    workers = _default_workers() if a.workers is None else a.workers
    if workers < 1:
        print(f"abmm sweep: --workers {workers}: expected an integer >= 1", file=sys.stderr)
        return 2
    sweep = load_sweep(a.sweep)  # a bad file: SweepError, one line, exit 2, nothing written
    got: list[int] = []

    def _stop(signum, frame):  # Ctrl-C, SIGTERM, SIGHUP: save what finished, then stop
        got.append(signum)
        if len(got) == 1:
            raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop)
    failed = 0
    try:
        with tqdm(total=len(sweep.runs), desc="runs", unit="run", file=sys.stderr,
                  disable=None) as bar:
            def progress(done, total, row):
                nonlocal failed
                failed += row.get("status") == "error"
                bar.n = done
                if failed:
                    bar.set_postfix(failed=failed, refresh=False)
                bar.refresh()

            res = run_sweep(sweep, a.out, workers=workers, address=a.address,
                            backend=a.backend, progress=progress)
    except SweepInterrupted as exc:
        r = exc.result
        name = signal.Signals(got[0]).name if got else "SIGINT"
        if r.results is not None and r.results.exists():
            print(f"abmm sweep: stopped by {name}; {r.ok} of {r.total} runs done in "
                  f"{r.results} (the same command resumes)", file=sys.stderr)
        else:
            print(f"abmm sweep: stopped by {name} before the first run; nothing was written",
                  file=sys.stderr)
        return 143 if got and got[0] == signal.SIGTERM else 130
    if a.json:
        print(json.dumps({"results": str(res.results), "total": res.total, "ok": res.ok,
                          "failed": res.failed, "skipped": res.skipped, "ran": res.ran,
                          "wall_s": round(res.wall_s, 3), "backend": res.backend,
                          "runs_per_s": round(res.ran / res.wall_s, 4) if res.wall_s else None}))
    else:
        print(f"{res.ok} of {res.total} runs ok, {res.failed} failed ({res.ran} run now, "
              f"{res.skipped} done before; {res.wall_s:.1f} s on {res.backend})")
        print(f"results: {res.results}")
    if res.failed:
        first = next(iter(res.errors.items()))
        print(f"abmm sweep: {res.failed} of {res.total} runs failed (first: run {first[0]}: "
              f"{first[1]}); their errors are in {res.results}, and the same command runs "
              "them again", file=sys.stderr)
        return 1
    return 0


def add_parser(sub) -> None:
    """Add ``abmm sweep`` to the top-level subparsers ``sub``."""
    s = sub.add_parser("sweep", help="run a grid or random sample of scenario overrides x seeds "
                                     "into results.parquet (docs/sweeps.md)",
                       epilog="exit status: 0 every run ok; 1 some runs failed (their errors "
                              "are in results.parquet; the same command runs them again); 2 a "
                              "bad sweep file, folder or flag (nothing written); 130 Ctrl-C, "
                              "143 SIGTERM (the finished runs are saved; the same command "
                              "resumes)")
    s.add_argument("sweep", help="the sweep file (SWEEP.yaml: scenario, seeds, grid or sample)")
    s.add_argument("--out", required=True, help="results folder (results.parquet, sweep.json); "
                                                "an existing one of the same sweep resumes")
    s.add_argument("--workers", type=int, default=None,
                   help="parallel runs: processes or Ray CPUs (default: the CPUs available; "
                        "with --address the cluster's CPUs decide)")
    s.add_argument("--address", help="join an existing Ray cluster: auto, HOST:PORT or "
                                     "ray://HOST:PORT (needs the distributed extra)")
    s.add_argument("--backend", choices=["auto", "ray", "pool"], default="auto",
                   help="auto (default): Ray when installed, else a local process pool; "
                        "--workers 1 runs in this process")
    s.add_argument("--json", action="store_true", help="print the outcome as JSON")
    s.set_defaults(func=cmd_sweep)

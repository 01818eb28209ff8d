"""Running a sweep into its results folder: resumable, one row a run, on any backend.

:func:`run_sweep` checks the folder (new, empty, or a sweep of the same scenario), skips the
runs it already holds with ``status`` ``"ok"``, starts the backend (:mod:`abmm.parallel`: in
this process, a local process pool, or Ray -- local or a cluster), and records each run as it
finishes: ``results.parquet`` is rewritten atomically at most every ``flush_s`` seconds (or 20
times the last save's duration, for large tables) and at the end, also when the sweep is
stopped (Ctrl-C, SIGTERM: the runs in flight are dropped; the same call again resumes). A run
that fails is recorded with its error and the sweep goes on; runs recorded as failed are run
again by a resumed sweep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from abmm.parallel import Executor
from abmm.sweep import store
from abmm.sweep.runner import error_row, one_line, run_one
from abmm.sweep.spec import Sweep, SweepError, load_sweep

__all__ = ["SweepResult", "SweepInterrupted", "run_sweep"]

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    """What a sweep call did: ``total`` runs planned, ``skipped`` (already done), ``ran`` in
    this call, ``ok`` and ``failed`` among all planned runs, this call's ``wall_s``, the
    ``results`` file, the ``backend`` in words, and the planned runs' ``errors`` (run id ->
    error line) of those that failed."""

    total: int
    skipped: int = 0
    ran: int = 0
    ok: int = 0
    failed: int = 0
    wall_s: float = 0.0
    results: Path | None = None
    backend: str = ""
    errors: dict[str, str] = field(default_factory=dict)


class SweepInterrupted(KeyboardInterrupt):
    """The sweep was stopped (Ctrl-C, a signal turned into ``KeyboardInterrupt``) after saving
    what had finished; ``result`` says how far it got."""

    def __init__(self, result: SweepResult):
        super().__init__("sweep interrupted")
        self.result = result


def _check_out(out: Path, sweep: Sweep) -> None:
    """Refuse an ``out`` that exists and holds anything but a sweep of the same scenario."""
    if not out.exists():
        return
    if not out.is_dir():
        raise SweepError(f"--out {out}: exists and is not a directory; expected a results "
                         "folder (new, empty, or of this sweep)")
    if not any(out.iterdir()):
        return
    prior = store.read_manifest(out)
    if prior is None:
        raise SweepError(f"--out {out}: not empty and holds no sweep ({store.MANIFEST}); "
                         "expected a new or empty folder, or this sweep's (to resume)")
    if prior.get("fingerprint") != sweep.fingerprint:
        raise SweepError(f"--out {out}: holds a sweep of another scenario "
                         f"({prior.get('scenario')!r}, or the file changed); expected a new "
                         "folder, or this sweep's (to resume)")


def _count(plan_ids: list[str], rows: dict[str, dict], result: SweepResult) -> None:
    result.ok = sum(1 for i in plan_ids if rows.get(i, {}).get("status") == "ok")
    result.errors = {i: rows[i].get("error") or "" for i in plan_ids
                     if rows.get(i, {}).get("status") == "error"}
    result.failed = len(result.errors)


def run_sweep(sweep: Sweep | str | Path, out, workers: int = 1, address: str | None = None,
              backend: str = "auto", progress: Callable[[int, int, dict], None] | None = None,
              flush_s: float = 1.0) -> SweepResult:
    """Run (or resume) ``sweep`` (a :class:`Sweep` or a sweep file) into the folder ``out``.

    ``workers``, ``address``, ``backend``: the :class:`abmm.parallel.Executor`'s (``workers``
    processes or Ray CPUs; ``address`` joins a Ray cluster). ``progress(done, total, row)`` is
    called after each run with the runs done so far (skipped ones included). Returns a
    :class:`SweepResult`; raises ``SweepError`` (or ``BackendError``) before anything is
    written for a bad folder or backend, and :class:`SweepInterrupted` after saving when
    interrupted."""
    t0 = time.perf_counter()
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    out = Path(out)
    _check_out(out, sweep)
    path = out / store.RESULTS
    old_rows, old_cols = store.read_rows(path) if path.exists() else ([], [])
    rows = {r["run_id"]: r for r in old_rows}
    plan_ids = [r.run_id for r in sweep.runs]
    in_plan = set(plan_ids)
    todo = [r for r in sweep.runs if rows.get(r.run_id, {}).get("status") != "ok"]
    result = SweepResult(total=len(sweep.runs), skipped=len(sweep.runs) - len(todo),
                         results=path)
    ex = Executor(workers=workers, address=address, backend=backend,
                  preload=("abmm.scenario", "abmm.analysis.scorecard",
                           "abmm.sweep.runner"))
    result.backend = ex.describe()
    manifest = {"sweep": sweep.source, "description": sweep.description,
                "scenario": sweep.name, "scenario_file": sweep.scenario_file,
                "fingerprint": sweep.fingerprint, "mode": sweep.mode, "keys": sweep.keys,
                "seeds": len(sweep.seeds), "runs": len(sweep.runs), "backend": result.backend,
                "status": "running"}

    def save(final: str | None = None) -> None:
        ordered = [rows[i] for i in plan_ids if i in rows]
        ordered += [r for i, r in rows.items() if i not in in_plan]
        store.write_results(path, ordered, sweep.keys, old_cols)
        _count(plan_ids, rows, result)
        store.write_manifest(out, {**manifest, "status": final or "running", "ok": result.ok,
                                   "failed": result.failed,
                                   "wall_s": round(time.perf_counter() - t0, 3)})

    if not todo:
        _count(plan_ids, rows, result)
        result.wall_s = time.perf_counter() - t0
        if progress is not None:
            progress(result.total, result.total, {})
        return result
    jobs = [{"run_id": r.run_id, "seed": r.seed, "values": r.values,
             "overrides": r.overrides(), "scenario": sweep.scenario} for r in todo]
    log.info("sweep %s: %d runs (%d done before) on %s -> %s", sweep.source, len(todo),
             result.skipped, result.backend, out)
    try:
        with ex:
            if ex.kind != "serial":
                ex.start()  # a backend that cannot start fails before the folder is made
            out.mkdir(parents=True, exist_ok=True)
            save()
            last = time.monotonic()
            every = flush_s  # grows with the file: saving stays a small part of the time
            done = result.skipped
            for i, res, exc in ex.imap_unordered(run_one, jobs):
                if exc is not None:  # the worker died or Ray lost the task
                    res = error_row(jobs[i], one_line(exc))
                row = store.flat_row(res)
                if row["status"] != "ok":
                    log.info("run %s (seed %s) failed: %s", row["run_id"], row["seed"],
                             row["error"])
                rows[row["run_id"]] = row
                result.ran += 1
                done += 1
                if time.monotonic() - last >= every:
                    t = time.monotonic()
                    save()
                    last = time.monotonic()
                    every = max(flush_s, 20 * (last - t))
                if progress is not None:
                    progress(done, result.total, row)
    except KeyboardInterrupt:
        if out.exists():
            save("interrupted")
        result.wall_s = time.perf_counter() - t0
        raise SweepInterrupted(result) from None
    except BaseException:
        if out.exists():
            try:
                save("failed")
            except Exception as exc:  # noqa: BLE001 - keep the original error
                log.warning("could not save the results: %s", one_line(exc))
        raise
    save("finished")
    result.wall_s = time.perf_counter() - t0
    return result

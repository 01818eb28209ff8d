"""``abmm.parallel.Executor``: every backend runs the same tasks to the same results, in order
for ``map``; a task's own exception comes back as itself; bad arguments are refused; and the
calibration's parallel evaluation goes through it (the same results as one process)."""

from __future__ import annotations

import json
import os

import pytest

from abmm.parallel import BackendError, Executor, TaskError


def square(x):
    return x * x


def fail_on_three(x):
    if x == 3:
        raise ValueError(f"three is bad ({x})")
    return x


def die_on_two(x):
    if x == 2:
        os._exit(3)  # the worker process dies
    return x


@pytest.mark.parametrize("backend,workers", [("auto", 1), ("pool", 2)])
def test_map_keeps_order_and_imap_yields_each_index_once(backend, workers):
    with Executor(workers, backend=backend) as ex:
        assert ex.kind == ("serial" if workers == 1 else "pool")
        assert ex.map(square, list(range(7))) == [i * i for i in range(7)]
        got = sorted((i, r) for i, r, e in ex.imap_unordered(square, [5, 6, 7]))
        assert got == [(0, 25), (1, 36), (2, 49)]
        assert ex.map(square, []) == []


@pytest.mark.parametrize("backend,workers", [("auto", 1), ("pool", 2)])
def test_a_tasks_exception_comes_back_as_itself(backend, workers):
    with Executor(workers, backend=backend) as ex:
        out = {i: (r, e) for i, r, e in ex.imap_unordered(fail_on_three, [1, 3, 5])}
        assert out[0] == (1, None) and out[2] == (5, None)
        assert isinstance(out[1][1], ValueError) and "three is bad" in str(out[1][1])
        with pytest.raises(ValueError, match="three is bad"):
            ex.map(fail_on_three, [1, 3])


def test_a_dead_worker_is_a_task_error_and_the_pool_recovers():
    with Executor(2, backend="pool") as ex:
        out = {i: e for i, r, e in ex.imap_unordered(die_on_two, [2])}
        assert isinstance(out[0], TaskError) and "died" in str(out[0])
        assert ex.map(square, [1, 2, 3]) == [1, 4, 9]  # a fresh pool


def test_ray_runs_the_same_tasks(ray_tmp):
    from abmm.schema.seeds import parse_seeds

    # a library function: Ray's workers import a task's module, and this test module is not
    # importable there
    with Executor(2, backend="ray") as ex:
        assert ex.kind == "ray" and "Ray" in ex.describe()
        assert ex.map(parse_seeds, ["1-3", "5", "7,9"]) == [[1, 2, 3], [5], [7, 9]]
        out = {i: (r, e) for i, r, e in ex.imap_unordered(parse_seeds, ["x", "4"])}
        assert isinstance(out[0][1], ValueError) and "'x' is not an int" in str(out[0][1])
        assert out[1] == ([4], None)
        assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"
    import ray

    assert not ray.is_initialized()  # the local instance it started is shut down


@pytest.mark.parametrize("kw,match", [
    ({"workers": 0}, "workers"), ({"workers": 2, "backend": "dask"}, "backend"),
    ({"workers": 2, "address": "auto", "backend": "pool"}, "Ray"),
])
def test_bad_arguments_are_refused(kw, match):
    with pytest.raises(BackendError, match=match):
        Executor(**kw)


def test_without_ray_auto_falls_back_to_the_pool_and_ray_is_refused(monkeypatch):
    import abmm.parallel

    monkeypatch.setattr(abmm.parallel, "ray_available", lambda: False)
    assert Executor(2).kind == "pool"
    with pytest.raises(BackendError, match=r"abmm\[distributed\]"):
        Executor(2, address="auto")


def test_calibration_evaluates_on_the_shared_backend():
    from pathlib import Path

    from abmm.calibrate import simulate_moments

    tiny = Path(__file__).resolve().parents[1] / "calibrate" / "tiny_market.yaml"
    one = simulate_moments(tiny, [3, 4], ["fundamental.sigma_1h=0.5"], workers=1)
    two = simulate_moments(tiny, [3, 4], ["fundamental.sigma_1h=0.5"], workers=2,
                           backend="pool")
    assert json.dumps(one) == json.dumps(two)  # NaN moments included


_FINALLY_TASK = r"""
import sys, time
from abmm.parallel import _pool_worker_init
_pool_worker_init()
try:
    print("ready", flush=True)
    time.sleep(60)
finally:
    print("cleanup", flush=True)
    time.sleep(1.0)  # a second SIGTERM arrives here
    open(sys.argv[1], "w").write("done")
"""


def test_a_second_sigterm_does_not_cut_a_workers_cleanup_short(tmp_path):
    """A pool worker's first SIGTERM ends its task through SystemExit; a second one (the pool
    stopped again, the parent exiting) must not interrupt the task's finally block (a sweep run
    removing its scratch directory). Negative control: the same script with SIGTERM raising
    SystemExit every time loses its cleanup."""
    import signal
    import subprocess
    import sys

    def run(script: str) -> bool:
        marker = tmp_path / f"done-{len(script)}"
        proc = subprocess.Popen([sys.executable, "-c", script, str(marker)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        assert proc.stdout.readline().strip() == "cleanup"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        assert proc.returncode != 0  # it was stopped, not finished
        return marker.exists()

    assert run(_FINALLY_TASK)
    always_exit = _FINALLY_TASK.replace(
        "_pool_worker_init()\n",
        "_pool_worker_init()\nimport signal\n"
        "def _h(s, f):\n    raise SystemExit(128 + s)\n"
        "signal.signal(signal.SIGTERM, _h)\n")
    assert not run(always_exit)

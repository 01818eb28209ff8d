"""Independent tasks run in parallel: in this process, in a local process pool, or on Ray core.

The one execution backend of ``abmm sweep`` and ``abmm calibrate``. A task is a module-level
function and its argument (both picklable); each task's result depends on its argument only
(the simulations are seeded), so every backend gives the same results, and in the same order
where the caller asks for it (:meth:`Executor.map`).

Backends (``backend=``):

* ``"auto"`` (the default): Ray when ``address`` is given; in this process when
  ``workers == 1``; else Ray when it is installed (the ``distributed`` extra), else the pool.
* ``"ray"``: Ray core. Without ``address`` a local Ray instance with ``num_cpus=workers`` is
  started (no dashboard, workers' output not forwarded, token authentication unless
  ``RAY_AUTH_MODE`` says otherwise) and shut down on :meth:`Executor.close`; with ``address``
  (``"auto"``, ``"HOST:PORT"``, ``"ray://HOST:PORT"``) the task joins that cluster, whose
  nodes must have abmm installed. Ray's usage statistics are always off
  (``RAY_USAGE_STATS_ENABLED=0`` is set before Ray is imported): nothing leaves the machine.
* ``"pool"``: a ``concurrent.futures`` process pool of ``workers`` processes (``forkserver``,
  the start method that is safe beside threads; ``spawn`` where there is none; workers ignore
  SIGINT so that a Ctrl-C is the parent's to handle). ``workers == 1`` runs in this process.

Ray is imported only here and only when it is used; without it the package works unchanged.
This module imports nothing from abmm but :mod:`abmm.errors`.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from abmm.errors import AbmmError

__all__ = ["BACKENDS", "BackendError", "TaskError", "Executor", "ray_available",
           "INSTALL_HINT"]

log = logging.getLogger(__name__)

#: The backends an ``Executor`` takes.
BACKENDS = ("auto", "ray", "pool")
#: How to get Ray.
INSTALL_HINT = "pip install 'abmm[distributed]' (Ray)"
#: The signals whose handlers Ray must not take over.
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, n))
#: Seconds between two checks while waiting for tasks (a signal interrupts a wait at once).
_POLL_S = 0.5


class BackendError(AbmmError, ValueError):
    """The backend asked for cannot be used (Ray not installed, a cluster that cannot be
    joined, a bad combination of arguments)."""


class TaskError(AbmmError, RuntimeError):
    """A task that did not return: its worker died (killed, out of memory) or Ray lost it."""


def ray_available() -> bool:
    """Whether Ray can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def _import_ray(local: bool = False):
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before the import: nothing leaves the machine
    if local:  # token authentication, Ray's default, said explicitly: no warning on stderr
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    try:
        import ray
    except ImportError:
        raise BackendError(f"the Ray backend needs Ray: {INSTALL_HINT}") from None
    return ray


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """A ``HOST:PORT`` (or ``ray://HOST:PORT``) address answers on TCP, else ``BackendError``
    at once (Ray itself retries for minutes). ``auto`` and other forms are left to Ray."""
    import socket

    hostport = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise BackendError(f"cannot join the Ray cluster at {address}: nothing answers there "
                           f"({exc.strerror or type(exc).__name__}); start one with "
                           "`ray start --head` (docs/sweeps.md), or check the address") from None


def _worker_sigterm(signum, frame):
    # the first SIGTERM ends the task through SystemExit; later ones (the pool stopped again,
    # the parent's exit) are ignored, so the task's finally blocks -- a sweep run removing its
    # scratch directory -- run to their end instead of being cut short by a second SystemExit
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def _pool_worker_init() -> None:
    """A pool worker leaves Ctrl-C to its parent, which stops the pool; the parent's SIGTERM
    (the pool stopped with tasks in flight) exits through ``SystemExit``, so the task's
    ``finally`` blocks run (a sweep run removes its scratch directory)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_sigterm)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Executor:
    """Runs tasks ``fn(item)`` on the backend chosen from ``workers``, ``address`` and
    ``backend`` (see the module docstring); starts it on first use, stops it on
    :meth:`close` (also a context manager). ``preload``: modules the pool's fork server imports
    once, so that its workers start warm. ``kind`` says what runs the tasks: ``"serial"``,
    ``"pool"`` or ``"ray"``."""

    def __init__(self, workers: int = 1, address: str | None = None, backend: str = "auto",
                 preload: Sequence[str] = ()):
        if backend not in BACKENDS:
            raise BackendError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise BackendError(f"workers {workers!r}: expected an integer >= 1")
        if address is not None and backend == "pool":
            raise BackendError("an address is a Ray cluster's: it needs the Ray backend, not "
                               "the process pool")
        if backend == "ray" or address is not None:
            kind = "ray"
        elif workers == 1:
            kind = "serial"
        elif backend == "pool":
            kind = "pool"
        else:
            kind = "ray" if ray_available() else "pool"
        if kind == "ray" and not ray_available():
            why = f"--address {address}" if address is not None else "the Ray backend"
            raise BackendError(f"{why} needs Ray: {INSTALL_HINT}")
        self.kind = kind
        self.workers = workers
        self.address = address
        self.preload = tuple(preload)
        self._pool = None
        self._ray = None
        self._ray_started = False
        self._remote: dict[Callable, Any] = {}

    # ---------------------------------------------------------------------------- lifecycle
    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(abort=exc_type is not None)

    def describe(self) -> str:
        """What runs the tasks, in words (for logs and progress lines)."""
        if self.kind == "serial":
            return "this process"
        if self.kind == "pool":
            return f"a pool of {self.workers} processes"
        where = f"the Ray cluster at {self.address}" if self.address else \
            f"a local Ray instance ({self.workers} CPUs)"
        return where

    def close(self, abort: bool = False) -> None:
        """Stop the backend; ``abort``: do not wait for tasks in flight (their workers are
        killed). Idempotent."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            if abort:
                self._kill_pool(pool)
            else:
                pool.shutdown(wait=True, cancel_futures=True)
        if self._ray is not None:
            ray, self._ray = self._ray, None
            self._remote.clear()
            if self._ray_started:
                try:
                    ray.shutdown()
                except Exception as exc:  # noqa: BLE001 - shutting down must not mask a result
                    log.warning("ray.shutdown failed: %s", _one_line(exc))
            self._ray_started = False

    def start(self) -> None:
        """Start the backend now (it starts on first use otherwise): a pool, or Ray (a
        ``BackendError`` when Ray cannot start or the cluster cannot be joined)."""
        if self.kind == "pool":
            self._start_pool()
        elif self.kind == "ray":
            self._start_ray()

    @staticmethod
    def _kill_pool(pool) -> None:
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:  # a task in flight would otherwise run to its end
            try:
                p.terminate()
            except (OSError, AttributeError):
                pass
        for p in procs:
            try:
                p.join(timeout=5)
            except (OSError, AttributeError, AssertionError):
                pass

    def _start_pool(self):
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor

            method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
            ctx = mp.get_context(method)
            if self.preload and method == "forkserver":
                ctx.set_forkserver_preload(list(self.preload))
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx,
                                             initializer=_pool_worker_init)
        return self._pool

    def _start_ray(self):
        if self._ray is not None:
            return self._ray
        ray = _import_ray(local=self.address is None)
        if not ray.is_initialized():
            kw = dict(log_to_driver=False, logging_level=logging.ERROR)
            # ray.init replaces the SIGTERM handler (with sys.exit, and a C++ one that logs a
            # stack): the caller's handlers (abmm sweep saves its results) are put back
            import threading

            saved = {s: signal.getsignal(s) for s in _SIGNALS} \
                if threading.current_thread() is threading.main_thread() else {}
            try:
                if self.address is not None:
                    _check_reachable(self.address)
                    ray.init(address=self.address, **kw)
                else:
                    ray.init(num_cpus=self.workers, include_dashboard=False, **kw)
            except BackendError:
                raise
            except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; one line out
                where = f"join the Ray cluster at {self.address}" if self.address else \
                    "start a local Ray instance"
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                raise BackendError(f"cannot {where}: {type(exc).__name__}: {first}") from None
            finally:
                for sig, handler in saved.items():
                    if handler is not None:
                        signal.signal(sig, handler)
            self._ray_started = True
        self._ray = ray
        return ray

    def _ray_fn(self, fn):
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(fn).options(num_cpus=1, max_retries=0)
        return self._remote[fn]

    # ---------------------------------------------------------------------------- running
    def imap_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]
                       ) -> Iterator[tuple[int, Any, BaseException | None]]:
        """Run ``fn`` on every item; yield ``(index, result, None)`` or ``(index, None,
        exception)`` as each finishes (in this process: in order). A task's exception is its
        own (unwrapped from Ray's); a task whose worker died gets a ``TaskError``. Leaving the
        loop early (or an exception in it, such as Ctrl-C) cancels what has not finished."""
        if not items:
            return
        if self.kind == "serial":
            for i, item in enumerate(items):
                try:
                    res = fn(item)
                except Exception as exc:  # noqa: BLE001 - the task's failure is its result
                    yield i, None, exc
                else:
                    yield i, res, None
        elif self.kind == "pool":
            yield from self._imap_pool(fn, items)
        else:
            yield from self._imap_ray(fn, items)

    def _imap_pool(self, fn, items):
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        pool = self._start_pool()
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        pending = set(futures)
        broken = False
        try:
            while pending:
                done, pending = wait(pending, timeout=_POLL_S, return_when=FIRST_COMPLETED)
                for f in done:
                    exc = f.exception()
                    if isinstance(exc, BrokenProcessPool):
                        broken = True
                        exc = TaskError("its worker process died (killed, or out of memory)")
                    yield futures[f], (None if exc else f.result()), exc
        except BaseException:
            self._pool = None
            self._kill_pool(pool)
            raise
        if broken:  # a new pool for the next call
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)

    def _imap_ray(self, fn, items):
        ray = self._start_ray()
        from ray.exceptions import RayTaskError

        remote = self._ray_fn(fn)
        refs = {remote.remote(item): i for i, item in enumerate(items)}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1, timeout=_POLL_S)
                for ref in done:
                    try:
                        res, exc = ray.get(ref), None
                    except RayTaskError as err:  # the task's own exception
                        cause = getattr(err, "cause", None)
                        res, exc = None, cause if isinstance(cause, Exception) else \
                            TaskError(_one_line(err)[:500])
                    except Exception as err:  # noqa: BLE001 - worker crashed, object lost
                        res, exc = None, TaskError(f"Ray lost the task: {_one_line(err)[:500]}")
                    yield refs[ref], res, exc
        except BaseException:
            # a Ray this executor started (or joined) is shut down by close(), which ends the
            # job and its tasks; ray.cancel(force=True) before that can crash Ray's core worker
            if not self._ray_started:  # the caller's Ray: cancel what is left
                for ref in pending:
                    try:
                        ray.cancel(ref)
                    except Exception:  # noqa: BLE001 - best effort while stopping
                        pass
            raise

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """``[fn(item) for item in items]`` on the backend, in order; the first failed task's
        exception (by index) is raised once all have finished."""
        results: list[Any] = [None] * len(items)
        errors: dict[int, BaseException] = {}
        for i, res, exc in self.imap_unordered(fn, items):
            if exc is not None:
                errors[i] = exc
            results[i] = res
        if errors:
            raise errors[min(errors)]
        return results


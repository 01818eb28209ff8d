"""Vector environments: N independent copies of an abmm environment, each playing its own
markets from its own reproducible seed stream.

Copying one environment N times (SuperSuit's ``concat_vec_envs_v1`` cloudpickles it) gives N
copies that all start at the scenario's seed: every copy plays the same market in lockstep, and
an explicit ``reset(seed=s)`` hands overlapping seeds to the copies (``s + i`` per process and
again per copy). Here copy ``i`` of ``N`` draws its episode seeds from
``numpy.random.SeedSequence(seed).spawn(N)[i]``: distinct across copies, and the same for the
same ``seed``, ``N`` and number of processes.

``vec_env(name, num_envs, num_cpus=0, seed=None, base_class="gymnasium", **env_kwargs)``
    A flattened vector env (each learnable agent of each copy is one sub-env), built on
    SuperSuit (``pettingzoo_env_to_vec_env_v1`` + concatenation). ``base_class`` is
    ``"gymnasium"`` (Gymnasium's ``VectorEnv`` API: ``reset(seed=)`` re-seeds every copy's
    stream from ``seed``) or ``"stable_baselines3"`` (SB3's ``VecEnv``; ``seed(s)`` works and
    applies at the next ``reset()``, as SB3 expects). ``num_cpus > 1`` runs the copies in worker
    processes started with an explicit ``fork`` context where the platform has it (so a plain
    script works without an ``if __name__ == "__main__":`` guard); each worker limits torch to
    one thread.
``parallel_envs(name, num_envs, seed=None, **env_kwargs)``
    The N seeded PettingZoo parallel envs themselves (``SeedStream`` wrappers), for any other
    vectorization (RLlib, your own loop); ``env_fns(...)`` gives picklable factories of them.
``SeedStream(env, seed, index, n)``
    The wrapper: ``reset()`` plays the next seed of copy ``index``'s stream; ``reset(seed=s)``
    plays ``s``, then continues from a stream spawned from ``s``; ``reset(options={SEED_OPTION:
    s})`` re-seeds the stream (what the vector envs send every copy).

``name`` is ``market_v0`` (default), ``execution_v0``, ``trading_v0`` or ``model_based_v0``;
``seed`` defaults to the scenario's seed (0 for ``model_based_v0``). Example (PPO with Stable-Baselines3)::

    from stable_baselines3 import PPO
    from abmm.env import vector

    venv = vector.vec_env("market_v0", 4, num_cpus=2, seed=1, max_cycles=600,
                          base_class="stable_baselines3")
    model = PPO("MlpPolicy", venv, n_steps=128, seed=1).learn(10_000)
    venv.close()
"""

from __future__ import annotations

import functools
import importlib
import multiprocessing
import sys
from contextlib import contextmanager

import numpy as np
from gymnasium.vector import VectorWrapper
from pettingzoo.utils.wrappers import BaseParallelWrapper

__all__ = ["ENVS", "SEED_OPTION", "SeedStream", "episode_seeds", "make_env", "env_fns",
           "parallel_envs", "vec_env", "limit_worker_threads"]

#: The environments this module vectorizes, by name.
ENVS = {"market_v0": "abmm.env.market_v0", "execution_v0": "abmm.env.execution_v0",
        "model_based_v0": "abmm.env.model_based_v0", "trading_v0": "abmm.env.trading_v0"}
#: The reset option that re-seeds a copy's stream (the vector envs send it to every copy).
SEED_OPTION = "abmm_stream_seed"
_MAX_SEED = 2**31 - 1


def make_env(name: str = "market_v0", **env_kwargs):
    """A fresh parallel env ``name`` (one of ``ENVS``) built with ``env_kwargs``."""
    if name not in ENVS:
        raise ValueError(f"vector env: unknown environment {name!r} (expected one of "
                         f"{', '.join(ENVS)})")
    return importlib.import_module(ENVS[name]).parallel_env(**env_kwargs)


def _stream(seed: int, index: int, n: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(n)[index])


def episode_seeds(seed: int, num_envs: int, episodes: int) -> list[list[int]]:
    """The episode seeds copy ``i`` of ``num_envs`` plays without explicit seeds:
    ``[[copy 0's first ``episodes`` seeds], ...]`` (for tests and logs)."""
    return [[int(s) for s in _stream(seed, i, num_envs).integers(0, _MAX_SEED, episodes)]
            for i in range(num_envs)]


class SeedStream(BaseParallelWrapper):
    """Copy ``index`` of ``n`` of a parallel env, playing episode seeds from its own stream
    (``SeedSequence(seed).spawn(n)[index]``; see the module docstring)."""

    def __init__(self, env, seed: int, index: int = 0, n: int = 1):
        super().__init__(env)
        if not 0 <= index < n:
            raise ValueError(f"SeedStream: index {index} is not in 0..{n - 1}")
        self.index, self.n = int(index), int(n)
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Restart this copy's stream from ``seed``."""
        self.stream_seed = int(seed)
        self._rng = _stream(seed, self.index, self.n)

    def next_seed(self) -> int:
        """The next episode seed of this copy's stream."""
        return int(self._rng.integers(0, _MAX_SEED))

    def reset(self, seed=None, options=None):
        """Start an episode: on ``seed`` if given (the stream then continues from ``seed``),
        else on the stream's next seed; ``options[SEED_OPTION]`` re-seeds the stream first."""
        options = dict(options or {})
        base = options.pop(SEED_OPTION, None)
        if base is not None:
            self.reseed(base)
        if seed is None:
            seed = self.next_seed()
        else:
            self._rng = _stream(seed, self.index, self.n)
        self.episode_seed = int(seed)
        return self.env.reset(seed=int(seed), options=options or None)


def limit_worker_threads() -> None:
    """In a worker process, limit torch (if imported) to one thread: N workers on N cores
    must not each start a thread per core."""
    if multiprocessing.parent_process() is None:
        return
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _default_seed(name: str, env) -> int:
    sc = getattr(env, "scenario", None)
    return int(sc.seed) if sc is not None else 0


def _copy(name: str, env_kwargs: dict, seed: int, index: int, n: int, markov: bool):
    limit_worker_threads()
    env = SeedStream(make_env(name, **env_kwargs), seed, index, n)
    if markov:
        import supersuit as ss

        return ss.pettingzoo_env_to_vec_env_v1(env)
    return env


def _base_seed(name: str, seed, env_kwargs: dict) -> int:
    if seed is not None:
        return int(seed)
    probe = make_env(name, **env_kwargs)
    try:
        return _default_seed(name, probe)
    finally:
        probe.close()


def env_fns(name: str = "market_v0", num_envs: int = 2, seed: int | None = None,
            markov: bool = False, **env_kwargs) -> list:
    """Picklable factories of the ``num_envs`` seeded copies (``SeedStream`` envs; with
    ``markov`` each wrapped by SuperSuit's ``pettingzoo_env_to_vec_env_v1``)."""
    if int(num_envs) < 1:
        raise ValueError(f"vector env: num_envs must be >= 1, got {num_envs}")
    base = _base_seed(name, seed, env_kwargs)
    return [functools.partial(_copy, name, dict(env_kwargs), base, i, int(num_envs), markov)
            for i in range(int(num_envs))]


def parallel_envs(name: str = "market_v0", num_envs: int = 2, seed: int | None = None,
                  **env_kwargs) -> list[SeedStream]:
    """``num_envs`` independent seeded copies of the parallel env ``name``."""
    return [fn() for fn in env_fns(name, num_envs, seed, **env_kwargs)]


@contextmanager
def _fork_context():
    """SuperSuit's worker processes, started with ``fork`` where the platform has it (``import
    mesa`` or the user may have made ``spawn`` the default, which re-runs a plain script)."""
    from supersuit.vector import multiproc_vec

    if "fork" not in multiprocessing.get_all_start_methods():
        yield
        return
    saved = multiproc_vec.mp
    multiproc_vec.mp = multiprocessing.get_context("fork")
    try:
        yield
    finally:
        multiproc_vec.mp = saved


def vec_env(name: str = "market_v0", num_envs: int = 2, num_cpus: int = 0,
            seed: int | None = None, base_class: str = "gymnasium", **env_kwargs):
    """A vector env of ``num_envs`` seeded copies of ``name`` (see the module docstring)."""
    if base_class not in ("gymnasium", "stable_baselines3"):
        raise ValueError(f"vector env: base_class must be 'gymnasium' or 'stable_baselines3', "
                         f"not {base_class!r}")
    if int(num_cpus) < 0:
        raise ValueError(f"vector env: num_cpus must be >= 0, got {num_cpus}")
    from supersuit.vector import MakeCPUAsyncConstructor

    fns = env_fns(name, num_envs, seed, markov=True, **env_kwargs)
    probe = fns[0]()
    spaces = probe.observation_space, probe.action_space
    probe.close()
    with _fork_context():
        venv = MakeCPUAsyncConstructor(min(int(num_cpus), len(fns)))(fns, *spaces)
    if base_class == "gymnasium":
        return _SeededVectorEnv(venv)
    return _sb3_vec_env(venv)


class _SeededVectorEnv(VectorWrapper):
    """A SuperSuit vector env whose ``reset(seed=s)`` re-seeds every copy's stream from ``s``
    (instead of handing out overlapping ``s + i``); everything else passes through."""

    def reset(self, *, seed=None, options=None):
        """Reset every copy (``seed``: re-seed the copies' streams from it)."""
        options = dict(options or {})
        if seed is not None:
            options[SEED_OPTION] = int(seed)
        return self.env.reset(seed=None, options=options or None)


def _sb3_vec_env(venv):
    """SuperSuit's SB3 wrapper with a working ``seed()`` (SB3 calls it before ``reset()``)."""
    from supersuit.vector.sb3_vector_wrapper import SB3VecEnvWrapper

    class SeededSB3VecEnv(SB3VecEnvWrapper):
        """SB3's ``VecEnv`` over the seeded copies."""

        _pending_seed = None

        def seed(self, seed=None):
            """Re-seed every copy's stream from ``seed`` at the next ``reset()``."""
            self._pending_seed = None if seed is None else int(seed)
            return [self._pending_seed] * self.num_envs

        def reset(self, seed=None, options=None):
            """Reset every copy; SB3's vector envs return only the observations."""
            if seed is not None:
                self.seed(seed)
            opts = dict(options or {})
            if self._pending_seed is not None:
                opts[SEED_OPTION] = self._pending_seed
                self._pending_seed = None
            observations, self.reset_infos = self.venv.reset(options=opts or None)
            return observations

    return SeededSB3VecEnv(venv)

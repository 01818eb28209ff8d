"""Rollout workers of ``abmm train --workers N``: a task plays one training episode with a copy
of the learners' current policies and returns what they recorded (``Trainer._play_parallel``).

A worker process keeps its environment and learner copies between tasks of the same training
run (keyed by the config hash), so only the weights and normalizers travel with each task.
"""

from __future__ import annotations

_CACHE: dict = {}


def _setup(setup: dict):
    got = _CACHE.get(setup["hash"])
    if got is None:
        from abmm.learn.config import TrainConfig, encoder_of
        from abmm.learn.trainer import build_learners, make_env

        _CACHE.clear()
        cfg = TrainConfig.model_validate(setup["config"])
        env = make_env(cfg.env, setup["env_args"])
        learners, assign = build_learners(cfg, env, encoder_of(cfg), "cpu")
        got = _CACHE[setup["hash"]] = (env, learners, assign)
    return got


def rollout(task: dict) -> dict:
    """Play the task's episode; returns its statistics, env steps and, per learner, the
    finished trajectories and normalizer statistics (``PPO.take_rollout``)."""
    from abmm.learn.policy import FrozenPolicy
    from abmm.learn.trainer import play_episode

    env, learners, assign = _setup(task["setup"])
    for k, lr in learners.items():
        lr.load_acting_state(task["states"][k], task["act_seeds"][k])
    frozen = {a: FrozenPolicy(p) for a, p in task["frozen"].items()}
    stats, steps = play_episode(env, learners, assign, frozen, task["seed"])
    return {"stats": stats, "steps": steps,
            "learners": {k: lr.take_rollout(task["states"][k]) for k, lr in learners.items()}}

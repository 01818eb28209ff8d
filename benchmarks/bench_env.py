#!/usr/bin/env python3
"""Environment throughput: the agent-based market env and the batched model-based market.

* ``env_steps_per_s``: ``abmm.env.market_v0.parallel_env()`` -- the default market-making
  scenario (``abmm/env/market_making.yaml``: two learning market makers among 452 background
  agents, one decision per simulated second) -- stepped with uniformly random discrete actions
  for ``--steps`` decisions per episode, ``--repeat`` times (median); one ``env.step()`` for
  both learners is one env step. Resets (and their 5-minute warm-up) are not timed.
  ``env_steps_per_s_as_policy``: the same with the Avellaneda-Stoikov baseline choosing the
  actions (fewer re-quotes than random actions; the policy's time is included).
* ``model_based_agent_steps_per_s``: ``ASMarket`` with ``--paths`` trajectories and one market
  maker each (the paper's parameters), stepped with fixed quote arrays; agent-steps = paths x
  steps. Also at 100 and 100,000 paths. This is the bare simulator.
* ``model_based_env_agent_steps_per_s``: the same market *through the environment*
  (``ModelBasedEnv.step_array``, its batched interface: observations, rewards and the
  per-agent action decoding included) with the policy's inference in the loop, as mbt-gym's
  figure is: the Avellaneda-Stoikov closed form computed for every path from its observation
  (inventory, time left) and mapped to a continuous action. ``..._mlp``: the same with a
  64x64 MLP policy (the numpy forward pass every ``kind: policy`` agent uses) instead.
* ``many_learners_decisions_per_s_{2,16,64}``: ``n`` learning market makers (the env's
  ``learner`` group, ``count: n``) in market_v0's default market sharing one PPO network (fresh
  weights, greedy actions), one batched forward pass per decision time; agent-decisions/s over
  ``--steps / 3`` decisions, env step and observation included. ``many_learners_decisions_per_s``
  is the figure at 64; ``..._64_unbatched`` the same with one forward pass per learner.

References measured on this machine class: ABIDES-Gym 14-16 steps/s (daily investor) and ~25
(execution); mbt-gym's vectorized Avellaneda-Stoikov env 8.6 M trajectory-steps/s at 10,000
trajectories (1.2 M at 100). Targets: >= 5,000 env steps/s, >= 10 M model-based
agent-steps/s. ``--json``: one object with the keys above.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np


def env_rate(steps: int, repeat: int, policy: str) -> float:
    from abmm.env import baselines, market_v0

    rates = []
    for r in range(repeat):
        env = market_v0.parallel_env(max_cycles=steps)
        obs, _ = env.reset(seed=100 + r)
        rng = np.random.default_rng(r)
        pol = baselines.make("as", env) if policy == "as" else None
        n_act = env.actions.space.n
        t0 = time.perf_counter()
        n = 0
        while env.agents:
            if pol is None:
                acts = {a: int(rng.integers(n_act)) for a in env.agents}
            else:
                acts = {a: pol(obs[a], a) for a in env.agents}
            obs, *_ = env.step(acts)
            n += 1
        rates.append(n / (time.perf_counter() - t0))
        env.close()
    return statistics.median(rates)


def model_based_rate(paths: int, repeat: int = 3) -> float:
    from abmm.env.model_based_sim import AS2008, ASMarket

    rates = []
    db = np.full((paths, 1), 0.7)
    da = np.full((paths, 1), 0.8)
    for r in range(repeat):
        mk = ASMarket(paths, 1, seed=r, **AS2008)
        t0 = time.perf_counter()
        while not mk.done:
            mk.step(db, da)
        rates.append(paths * mk.n_steps / (time.perf_counter() - t0))
    return statistics.median(rates)


def _as_batch_policy(env, gamma: float = 0.1):
    """The Avellaneda-Stoikov closed form for a whole batch of observations -> actions."""
    mk = env.market
    acts = env.actions
    lo, hi = 0.5, acts.max_offset
    half_const = 1.0 / gamma * np.log1p(gamma / mk.k)
    size = np.ones(len(env.possible_agents))
    size_a = 2 * size / acts.max_size - 1  # one lot, as an action coordinate

    def policy(obs: np.ndarray) -> np.ndarray:
        q = obs[:, 0].astype(np.float64) * env.max_inventory
        tau = obs[:, 1].astype(np.float64) * mk.T
        skew = q * gamma * mk.sigma ** 2 * tau
        half = 0.5 * gamma * mk.sigma ** 2 * tau + half_const
        db = np.clip((half + skew) / env.tick, lo, hi)
        da = np.clip((half - skew) / env.tick, lo, hi)
        out = np.empty((len(obs), 4), np.float32)
        out[:, 0] = 2 * (db - lo) / (hi - lo) - 1
        out[:, 1] = 2 * (da - lo) / (hi - lo) - 1
        out[:, 2] = size_a
        out[:, 3] = size_a
        return out

    return policy


def _mlp_policy(env):
    """A 64x64 tanh MLP (PPO's default actor) in numpy, deterministic actions."""
    from abmm.learn.nets import numpy_actor_critic
    from abmm.learn.ppo import PPO

    learner = PPO(16, env.actions.space, seed=0)
    net = numpy_actor_critic(learner.net)
    return lambda obs: net.to_env(net.act(obs))


def many_learners_rate(n: int, steps: int, batched: bool = True, seed: int = 7) -> float:
    """Agent-decisions/s of ``n`` learning market makers sharing one PPO network in
    market_v0's default market: each decision time stacks the live learners' observations and
    runs one forward pass for all of them (``batched``), or one per learner."""
    from abmm.env import market_v0
    from abmm.learn.ppo import PPO

    env = market_v0.parallel_env(max_cycles=steps, overrides=[f"agents.learner.count={n}"])
    learner = PPO(16, env.action_space(env.possible_agents[0]), seed=0)
    obs, _ = env.reset(seed=seed)
    decisions = 0
    t0 = time.perf_counter()
    while env.agents:
        names = list(env.agents)
        if batched:
            acts = learner.act(np.stack([obs[a] for a in names]), explore=False)[0]
        else:
            acts = [learner.act(obs[a][None], explore=False)[0][0] for a in names]
        obs, *_ = env.step(dict(zip(names, (int(x) for x in acts), strict=True)))
        decisions += len(names)
    rate = decisions / (time.perf_counter() - t0)
    env.close()
    return rate


def model_based_env_rate(paths: int, policy: str, repeat: int = 3) -> float:
    from abmm.env.model_based_env import ModelBasedEnv

    rates = []
    for r in range(repeat):
        env = ModelBasedEnv(n_agents=1, n_paths=paths, action_mode="continuous")
        pol = _as_batch_policy(env) if policy == "as" else _mlp_policy(env)
        obs = env.reset_array(seed=r)
        n = 0
        t0 = time.perf_counter()
        while env.agents:
            obs, rew, term, trunc = env.step_array(pol(obs))
            n += 1
        rates.append(paths * n / (time.perf_counter() - t0))
    return statistics.median(rates)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=3000, help="decisions per timed episode")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    res = {
        "env_steps_per_s": round(env_rate(a.steps, a.repeat, "random"), 1),
        "env_steps_per_s_as_policy": round(env_rate(a.steps, a.repeat, "as"), 1),
        "model_based_agent_steps_per_s": round(model_based_rate(a.paths)),
        "model_based_agent_steps_per_s_100_paths": round(model_based_rate(100)),
        "model_based_agent_steps_per_s_100k_paths": round(model_based_rate(100_000)),
        "model_based_env_agent_steps_per_s": round(model_based_env_rate(a.paths, "as")),
        "model_based_env_agent_steps_per_s_mlp": round(model_based_env_rate(a.paths, "mlp")),
        "paths": a.paths,
    }
    for n in (2, 16, 64):
        res[f"many_learners_decisions_per_s_{n}"] = round(many_learners_rate(n, a.steps // 3))
    res["many_learners_decisions_per_s"] = res["many_learners_decisions_per_s_64"]
    res["many_learners_decisions_per_s_64_unbatched"] = round(
        many_learners_rate(64, a.steps // 3, batched=False))
    if a.json:
        print(json.dumps(res))
        return 0
    print(f"agent-based env (2 learners, default background), random actions: "
          f"{res['env_steps_per_s']:,.0f} steps/s (target >= 5,000; ABIDES-Gym 14-16)")
    print(f"agent-based env, Avellaneda-Stoikov baseline acting: "
          f"{res['env_steps_per_s_as_policy']:,.0f} steps/s")
    print(f"model-based market, {a.paths:,} paths: {res['model_based_agent_steps_per_s']:,} "
          f"agent-steps/s (target >= 10 M; mbt-gym 8.6 M)")
    print(f"  100 paths: {res['model_based_agent_steps_per_s_100_paths']:,}; 100,000 paths: "
          f"{res['model_based_agent_steps_per_s_100k_paths']:,} (the bare simulator)")
    print(f"  through the env (step_array, observations, rewards, decoding) with the "
          f"Avellaneda-Stoikov closed form acting: {res['model_based_env_agent_steps_per_s']:,} "
          f"agent-steps/s (target >= 10 M); with a 64x64 MLP policy: "
          f"{res['model_based_env_agent_steps_per_s_mlp']:,}")
    print("many learners sharing one network (market_v0, default market), agent-decisions/s: "
          + ", ".join(f"{n}: {res[f'many_learners_decisions_per_s_{n}']:,}" for n in (2, 16, 64))
          + f" (target >= 100,000 at 64); 64 with one forward pass per learner: "
          f"{res['many_learners_decisions_per_s_64_unbatched']:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

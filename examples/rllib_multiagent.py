"""RLlib multi-agent PPO on abmm's market_v0: one policy per learnable market maker, one tiny
training iteration.

RLlib pins its own gymnasium, so this runs in a separate venv (``.ci/run`` builds one)::

    python -m venv .venv-rllib && . .venv-rllib/bin/activate
    pip install -c constraints.txt ".[rl]" "ray[rllib]"
    RAY_USAGE_STATS_ENABLED=0 python examples/rllib_multiagent.py
"""

import os

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray  # noqa: E402
from ray.rllib.algorithms.ppo import PPOConfig  # noqa: E402
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec  # noqa: E402
from ray.rllib.core.rl_module.rl_module import RLModuleSpec  # noqa: E402
from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv  # noqa: E402
from ray.tune.registry import register_env  # noqa: E402

from abmm.env import market_v0  # noqa: E402

ENV = {"max_cycles": 40, "overrides": ["market.close=10:07"]}


def make_env(config):
    return ParallelPettingZooEnv(market_v0.parallel_env(**ENV))


register_env("abmm_market_v0", make_env)
agents = market_v0.parallel_env(**ENV).possible_agents

config = (
    PPOConfig()
    .environment("abmm_market_v0")
    .env_runners(num_env_runners=0, rollout_fragment_length=40)
    .training(train_batch_size=80, minibatch_size=40, num_epochs=1)
    .multi_agent(policies=set(agents), policy_mapping_fn=lambda agent_id, *a, **k: agent_id)
    .rl_module(rl_module_spec=MultiRLModuleSpec(
        rl_module_specs={a: RLModuleSpec(model_config={"fcnet_hiddens": [32, 32]})
                         for a in agents}))
    .debugging(seed=0)
)

ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
try:
    algo = config.build_algo()
    result = algo.train()
    runners = result.get("env_runners", {})
    print(f"rllib: one iteration, {runners.get('num_env_steps_sampled_lifetime', '?')} env steps; "
          f"episode return mean {runners.get('episode_return_mean', float('nan'))}")
    algo.stop()
finally:
    ray.shutdown()

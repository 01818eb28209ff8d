"""abmm.env.multi_asset_v0: a learning market maker quoting several symbols and hedging."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from abmm.env import multi_asset_v0
from abmm.env.multi_asset_env import DEFAULT_SCENARIO

SHORT = ["market.close=10:08"]  # 3 minutes after the warm-up: 180 decisions


def test_parallel_api():
    parallel_api_test(multi_asset_v0.parallel_env(overrides=SHORT, max_cycles=30), num_cycles=40)


def test_spaces_follow_the_quoted_symbols():
    env = multi_asset_v0.parallel_env(overrides=SHORT)
    assert env.possible_agents == ["learner_0"]
    assert env.action_space("learner_0").nvec.tolist() == [20, 3]
    assert env.observation_space("learner_0").shape == (multi_asset_v0.n_observations(1),) == (13,)
    two = multi_asset_v0.parallel_env(overrides=[*SHORT, "agents.learner.quote=[A, B]"])
    assert two.action_space("learner_0").nvec.tolist() == [20, 20, 3]
    assert two.observation_space("learner_0").shape == (19,)


def _episode(env, seed, policy):
    obs, _ = env.reset(seed=seed)
    trace, total = [], 0.0
    while env.agents:
        acts = {n: policy(obs[n]) for n in env.agents}
        obs, rew, _, _, info = env.step(acts)
        total += rew["learner_0"]
        trace.append((obs["learner_0"].tobytes(), rew["learner_0"]))
    return trace, total, info["learner_0"]


def test_same_seed_same_episode_and_the_actions_matter():
    env = multi_asset_v0.parallel_env(overrides=SHORT, max_cycles=60)
    quote = lambda o: np.array([7, 2])  # noqa: E731 - half-spread 2, no shift, hedge fully
    a, _, info_a = _episode(env, 4, quote)
    b, _, _ = _episode(env, 4, quote)
    assert a == b
    c, _, _ = _episode(env, 5, quote)
    assert c != a
    wide, _, info_w = _episode(env, 4, lambda o: np.array([19, 0]))  # 5 ticks, shifted up
    assert wide != a
    assert info_a["inventories"] != info_w["inventories"] or info_a["pnl"] != info_w["pnl"]


def test_the_discrete_mode_is_the_flattened_multi_discrete():
    flat = multi_asset_v0.parallel_env(overrides=SHORT, max_cycles=40, action_mode="discrete")
    multi = multi_asset_v0.parallel_env(overrides=SHORT, max_cycles=40)
    assert flat.action_space("learner_0").n == 60
    assert flat.decode("x", 7 * 3 + 2) == [7, 2]
    a, _, _ = _episode(multi, 3, lambda o: np.array([7, 2]))
    b, _, _ = _episode(flat, 3, lambda o: 7 * 3 + 2)
    assert a == b
    with pytest.raises(ValueError, match=r"learner_0: action 60 is not in Discrete\(60\)"):
        flat.reset(seed=1)
        flat.step({"learner_0": 60})


def test_the_hedge_action_trades_the_hedge_leg_to_its_target():
    env = multi_asset_v0.parallel_env(overrides=SHORT, max_cycles=120)
    # quote tight and lean hard so inventory builds up; hedge fully every step
    for hedge, check in ((2, "hedged"), (0, "unhedged")):
        env.reset(seed=2)
        learner = env.learner("learner_0")
        # fixed betas so the target does not wait for the estimator's warm-up
        learner.betas.beta = lambda i: 1.0
        while env.agents:
            env.step({"learner_0": np.array([4, hedge])})  # half-spread 1, shift -1
        a, h = learner.legs["A"], learner.legs["IDX"]
        assert a.inventory != 0
        if check == "hedged":
            target = -a.inventory * a.venue.mid() / h.venue.mid()
            assert h.inventory == pytest.approx(target, abs=max(3, 0.1 * abs(target)))
        else:
            assert h.inventory == 0 and h.n_orders == 0


@pytest.mark.parametrize("action, what", [
    (np.array([20, 0]), "is not in MultiDiscrete"),
    (np.array([0, 3]), "is not in MultiDiscrete"),
    (np.array([0]), "is not in MultiDiscrete"),
])
def test_bad_actions_are_one_line_errors(action, what):
    env = multi_asset_v0.parallel_env(overrides=SHORT)
    env.reset(seed=1)
    with pytest.raises(ValueError, match=what) as err:
        env.step({"learner_0": action})
    assert "\n" not in str(err.value)


def test_scenarios_without_a_learnable_hedger_are_refused():
    with pytest.raises(ValueError, match="has no learnable agents"):
        multi_asset_v0.parallel_env(overrides=["agents.learner.learnable=false"])
    with pytest.raises(ValueError, match="hedging_mm groups only"):
        multi_asset_v0.parallel_env(overrides=["agents.mm_fixed.learnable=true"])
    assert DEFAULT_SCENARIO.exists()


def test_abmm_train_drives_it_in_discrete_mode(tmp_path):
    import yaml

    from abmm.learn.config import load_config
    from abmm.learn.trainer import Trainer

    cfg = {"name": "ma", "env": "multi_asset",
           "env_args": {"overrides": ["market.close=10:06"], "action_mode": "discrete",
                        "max_cycles": 30},
           "algo": "ppo", "algo_args": {"epochs": 1, "minibatch": 16, "hidden": [16]},
           "sharing": "shared", "updates": 2, "episodes_per_update": 1, "seed": 0,
           "device": "cpu"}
    path = tmp_path / "ma.yaml"
    path.write_text(yaml.safe_dump(cfg))
    c, base = load_config(path)
    hist = Trainer(c, base, tmp_path / "out").run()
    assert len(hist) == 2
    assert any(k.endswith("/return") for k in hist[0]), sorted(hist[0])
    assert (tmp_path / "out" / "policy.npz").exists()

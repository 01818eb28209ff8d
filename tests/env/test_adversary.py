"""The ecology's adversary role (abmm.env.adversary_env): a learner steering a learnable
informed group against the market makers. Its plain action is the informed traders' own rule
(the makers see exactly the market without an adversary; other actions break that lockstep),
its reward is zero-sum against the target makers' PnL, its actions steer the flow, PettingZoo's
API holds, and bad input is a one-line error."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from abmm.env import ecology_v0
from abmm.env.adversary_env import DIRECTIONS, INTENSITIES, N_ACTIONS, PLAIN_ACTION

BASE = ["agents.trader.learnable=false", "agents.seller.learnable=false"]
ADV = BASE + ["agents.informed.learnable=true"]


def _play(env, adv_action, steps, seed=5, maker_seed=0):
    """Makers play random actions (the same stream in every call), the adversary a fixed one;
    returns the per-step makers' observations and rewards and the adversary's rewards."""
    rng = np.random.default_rng(maker_seed)
    obs, _ = env.reset(seed=seed)
    seen, adv = [], []
    for _ in range(steps):
        acts = {a: int(rng.integers(env.action_space(a).n)) for a in env.agents
                if env.role(a) == "maker"}
        if "informed_0" in env.agents:
            acts["informed_0"] = adv_action
        obs, rew, _, _, _ = env.step(acts)
        seen.append([(obs[a].copy(), rew[a]) for a in sorted(obs) if a.startswith("maker")])
        adv.append(rew.get("informed_0"))
    return seen, adv


def _same(a, b) -> int:
    n = 0
    for x, y in zip(a, b, strict=True):
        if not all(np.array_equal(p[0], q[0]) and p[1] == q[1] for p, q in zip(x, y,
                                                                          strict=True)):
            break
        n += 1
    return n


def test_plain_action_is_the_market_without_an_adversary():
    plain = ecology_v0.parallel_env(overrides=BASE, max_cycles=40)
    adv = ecology_v0.parallel_env(overrides=ADV, max_cycles=40)
    assert adv.possible_agents == ["maker_0", "maker_1", "informed_0"]
    assert adv.role("informed_0") == "adversary"
    assert DIRECTIONS[PLAIN_ACTION // len(INTENSITIES)] == 0.0
    assert INTENSITIES[PLAIN_ACTION % len(INTENSITIES)] == 1.0
    base, _ = _play(plain, None, 40)
    same, _ = _play(adv, PLAIN_ACTION, 40)
    assert _same(base, same) == 40
    # negative control: a push (buy, double size) changes what the makers see
    pushed, _ = _play(adv, N_ACTIONS - 1, 40)
    assert _same(base, pushed) < 40


def test_reward_is_zero_sum_against_the_makers():
    env = ecology_v0.parallel_env(overrides=ADV, max_cycles=60)
    scale = env.roles["adversary"].reward_scale
    _, adv = _play(env, N_ACTIONS - 1, 60)
    m = env.model
    makers = [env.learner("maker_0"), env.learner("maker_1")]
    pnl = np.mean([a.cash + a.inventory * m.mark_price() for a in makers])
    start = env.roles["adversary"]._pnl0 - sum(-r * scale for r in adv)
    # the summed reward is minus the makers' mean PnL change over the episode
    assert sum(adv) == pytest.approx(-(pnl - start) / scale)
    assert env.roles["adversary"]._pnl0 == pytest.approx(pnl)
    assert any(r != 0 for r in adv)


def test_actions_steer_the_informed_flow():
    # a push far beyond any mispricing: the direction overrides the traders' information
    env = ecology_v0.parallel_env(overrides=ADV, max_cycles=90, adversary={"push_ticks": 1000})

    def position():
        return sum(a.inventory for a in env.roles["adversary"].traders["informed_0"])

    env.reset(seed=5)
    start = position()  # what the informed traders did by their own rule in the warm-up
    positions = {}
    for name, act in (("silent", 0), ("buy", N_ACTIONS - 1), ("sell", 2)):
        _play(env, act, 90)
        positions[name] = position() - start
    # silent (intensity 0): no informed trade; a buy push buys, a sell push sells
    assert positions["silent"] == 0
    assert positions["buy"] > 0 > positions["sell"]


def test_parallel_api_with_an_adversary():
    parallel_api_test(ecology_v0.parallel_env(overrides=ADV, max_cycles=20), num_cycles=25)


def test_adversary_errors_are_one_line():
    env = ecology_v0.parallel_env(overrides=ADV, max_cycles=5)
    env.reset(seed=1)
    with pytest.raises(Exception, match=r"informed_0: action 15: expected an int in \[0, 15\)"):
        env.step({"informed_0": 15})
    cases = [({"overrides": ADV, "adversary": {"targets": ["nobody"]}}, "not groups of"),
             ({"overrides": ADV + ["agents.maker.learnable=false"]}, "name the market makers"),
             ({"overrides": ADV, "adversary": {"push_ticks": -1}}, "push_ticks must be"),
             ({"overrides": ADV, "adversary": {"max_cycles": 3}}, "ecology's own arguments")]
    for kw, msg in cases:
        with pytest.raises(ValueError, match=msg) as e:
            ecology_v0.parallel_env(**kw)
        assert "\n" not in str(e.value)
    # rule-based makers as targets: an adversary alone
    alone = ecology_v0.parallel_env(overrides=ADV + ["agents.maker.learnable=false"],
                                    adversary={"targets": ["mm_as", "mm_fixed"]}, max_cycles=3)
    assert alone.possible_agents == ["informed_0"]
    obs, _ = alone.reset(seed=2)
    assert obs["informed_0"].shape == (6,)


def test_makers_and_adversary_train_together(tmp_path):
    """``abmm train`` with env: ecology builds a learner for the adversary beside the makers
    (its own spaces) and trains them; the policy file records its role and conventions."""
    import yaml

    from abmm.learn.config import load_config
    from abmm.learn.trainer import Trainer
    from abmm.policy.file import load_policy

    cfg = {"name": "adv", "env": "ecology",
           "env_args": {"overrides": ADV, "max_cycles": 6, "adversary": {"push_ticks": 80}},
           "algo": "ppo", "algo_args": {"hidden": [8], "minibatch": 16, "epochs": 1},
           "updates": 1, "episodes_per_update": 1}
    (tmp_path / "adv.yaml").write_text(yaml.safe_dump(cfg))
    c, base = load_config(tmp_path / "adv.yaml")
    t = Trainer(c, base, tmp_path / "run")
    hist = t.run()
    assert {"informed_0/return", "maker_0/return"} <= set(hist[0])
    t.write_policy()
    policies, payload = load_policy(tmp_path / "run" / "policy.npz")
    assert set(policies) == {"maker_0", "maker_1", "informed_0"}
    pc = payload["env"]["policy_config"]
    assert pc["roles"]["informed_0"] == "adversary"
    assert pc["adversary"]["push_ticks"] == {"informed_0": 80.0}
    assert pc["adversary"]["targets"] == ["maker"]
    # abmm evaluate: the makers' table and the adversary's (the makers' PnL it leaves them)
    from abmm.learn.evaluate import evaluate, format_table

    (tmp_path / "scen.yaml").write_text(yaml.safe_dump(_adv_scenario()))
    res = evaluate(tmp_path / "scen.yaml", [str(tmp_path / "run" / "policy.npz")], [900, 901])
    row = res["policies"][str(tmp_path / "run" / "policy.npz")]
    assert set(row) == {"maker", "adversary"} and row["adversary"]["n"] == 2
    assert "adversarys:" not in format_table(res) and "makers' PnL" in format_table(res)

    # an adversary is not a kind: policy agent (it steers a group, it is not one trader)
    from abmm.scenario import load_scenario

    bad = _adv_scenario()
    bad["agents"].append({"kind": "policy", "name": "p", "learner": "informed_0",
                          "checkpoint": str(tmp_path / "run" / "policy.npz")})
    with pytest.raises(Exception, match="plays the adversary role") as e:
        load_scenario(bad)
    assert "\n" not in str(e.value).strip().splitlines()[-1]


def _adv_scenario() -> dict:
    from abmm.env.ecology_env import DEFAULT_SCENARIO
    from abmm.scenario import load_scenario

    return load_scenario(DEFAULT_SCENARIO, overrides=ADV + ["market.close=11:03"]).resolved()

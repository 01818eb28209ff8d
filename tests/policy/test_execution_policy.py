"""An execution policy (``abmm.env.execution_v0``) playing as a ``kind: policy`` executor in a
scenario: the same observations, actions and shortfall as the environment on the same seed
(``abmm.policy.execution`` is shared by both)."""

from __future__ import annotations

import numpy as np
import pytest

from abmm.agents.policy import _load
from abmm.env import execution_v0
from abmm.scenario import build_model, load_scenario

PARENT = {"side": "sell", "quantity": 20000, "start": "10:05", "duration": "60min"}


def _scenario(**group) -> dict:
    """execution_rl with its learnable seller replaced by a policy agent of the same name."""
    sc = load_scenario("execution_rl").resolved()
    sc["agents"] = [g for g in sc["agents"] if g["kind"] != "executor"]
    sc["agents"].append({"kind": "policy", "name": "seller", "checkpoint": "exec_rl",
                         **PARENT, **group})
    return sc


def _agent_run(seed: int):
    m = build_model(_scenario(), seed=seed)
    a = m.groups["seller"][0]
    seen = []
    wake = a.executor_wake

    def recording():
        before = a.decisions
        wake()
        if a.decisions > before:
            seen.append(a.last_obs.copy())
    a.executor_wake = recording
    m.run()
    return a, seen


def _env_run(seed: int):
    policy = _load("exec_rl")[0]["shared"].fork()
    env = execution_v0.parallel_env()
    obs, _ = env.reset(seed=seed)
    seen, info = [], None
    while env.agents:
        o = obs["seller_0"]
        seen.append(o.copy())
        obs, _, _, _, infos = env.step({"seller_0": int(policy(o[None])[0])})
        info = infos["seller_0"]
    return seen, info


def test_execution_policy_plays_as_in_the_environment():
    a, agent_obs = _agent_run(7)
    env_obs, info = _env_run(7)
    s = a.summary()
    assert s["completion"] == 1.0 and info["remaining"] == 0
    # every decision the agent made saw the environment's observation of that decision
    assert 100 <= len(agent_obs) <= len(env_obs)
    np.testing.assert_allclose(np.array(agent_obs), np.array(env_obs[:len(agent_obs)]),
                               atol=1e-6)
    # the same fills: the same shortfall (ticks per lot against the arrival mark; the env's in
    # bps of the arrival price)
    assert s["shortfall_ticks"] / s["arrival_price_ticks"] * 1e4 == pytest.approx(
        info["shortfall_bps"], rel=1e-9)
    # negative control: another seed's market gives other observations and another shortfall
    other, other_info = _env_run(8)
    assert not np.allclose(np.array(agent_obs[:10]), np.array(other[:10]), atol=1e-6)
    assert other_info["shortfall_bps"] != pytest.approx(info["shortfall_bps"], rel=1e-6)


def test_execution_policy_needs_its_parent_order():
    sc = _scenario()
    g = sc["agents"][-1]
    for f in ("side", "quantity", "start", "duration"):
        bad = dict(sc, agents=sc["agents"][:-1] + [{k: v for k, v in g.items() if k != f}])
        with pytest.raises(Exception, match=f"give its parent order's {f}") as e:
            load_scenario(bad)
        assert "\n" not in str(e.value).strip().splitlines()[-1]
    mm = dict(sc, agents=sc["agents"][:-1] + [{**g, "checkpoint": "mm_coevolved"}])
    with pytest.raises(Exception, match="parent-order fields are for execution policies"):
        load_scenario(mm)

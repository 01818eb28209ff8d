"""``ModelBasedEnv.step_array``: the batched interface gives exactly what the PettingZoo
``step`` gives for the same actions, and rejects bad batches naming the row."""

from __future__ import annotations

import numpy as np
import pytest

from abmm.env.actions import InvalidActionError
from abmm.env.model_based_env import ModelBasedEnv


@pytest.mark.parametrize("mode,n_agents", [("discrete", 2), ("continuous", 1),
                                           ("discrete", 1)])
def test_step_array_matches_step(mode, n_agents):
    kw = dict(n_agents=n_agents, n_paths=40, action_mode=mode, inventory_gamma=0.01,
              max_inventory=3, seed=3)
    e1, e2 = ModelBasedEnv(**kw), ModelBasedEnv(**kw)
    o1, _ = e1.reset(seed=5)
    o2 = e2.reset_array(seed=5)
    names = e1.possible_agents
    np.testing.assert_array_equal(np.stack([o1[a] for a in names]), o2)
    rng = np.random.default_rng(0)
    steps = 0
    while e1.agents:
        n = len(names)
        acts = (rng.integers(0, e1.actions.n, n) if mode == "discrete"
                else rng.uniform(-1, 1, (n, 4)).astype(np.float32))
        ob1, r1, t1, tr1, _ = e1.step({a: acts[j] for j, a in enumerate(names)})
        ob2, r2, t2, tr2 = e2.step_array(acts)
        np.testing.assert_array_equal(np.stack([ob1[a] for a in names]), ob2)
        np.testing.assert_array_equal(np.array([r1[a] for a in names]), r2)
        assert t2 == t1[names[0]] and tr2 == tr1[names[0]]
        steps += 1
    assert steps == e1.max_cycles and not e2.agents
    with pytest.raises(RuntimeError, match="reset"):
        e2.step_array(acts)


def test_step_array_rejects_bad_batches():
    e = ModelBasedEnv(n_paths=5, action_mode="continuous", seed=1)
    e.reset_array(seed=1)
    good = np.zeros((5, 4), np.float32)
    bad = good.copy()
    bad[3, 1] = 1.5
    with pytest.raises(InvalidActionError, match="row 3"):
        e.step_array(bad)
    bad[3, 1] = np.nan
    with pytest.raises(InvalidActionError, match="row 3"):
        e.step_array(bad)
    with pytest.raises(InvalidActionError, match="one action per agent"):
        e.step_array(good[:4])
    d = ModelBasedEnv(n_paths=3, seed=1)
    d.reset_array(seed=1)
    with pytest.raises(InvalidActionError, match="row 1"):
        d.step_array(np.array([0, 99, 1]))
    with pytest.raises(InvalidActionError, match="integer"):
        d.step_array(np.array([0.5, 1.0, 1.0]))

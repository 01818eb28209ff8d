"""Each learner on a tiny problem with a known answer; PPO's loss pieces and GAE by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from abmm.learn.buffers import gae
from abmm.learn.config import TrainConfig
from abmm.learn.normalize import RunningNorm
from abmm.learn.policy import FrozenPolicy
from abmm.learn.ppo import approx_kl, policy_loss, value_loss
from abmm.learn.trainer import Trainer


def train(env, algo, updates, episodes, tmp_path, **algo_args):
    cfg = TrainConfig(name="t", env="model_based", algo=algo, algo_args=algo_args,
                      updates=updates, episodes_per_update=episodes, checkpoint_every=10**6)
    t = Trainer(cfg, tmp_path, tmp_path / "out", env=env)
    for _ in range(updates):
        t.train_update()
    return t


def greedy(t, obs):
    return FrozenPolicy(next(iter(t.learners.values())).policy_state())(obs[None])[0]


# ------------------------------------------------------------------------------ known answers
@pytest.mark.parametrize("algo,kw,updates,episodes", [
    ("ppo", {"lr": 3e-3, "minibatch": 64, "epochs": 4}, 40, 64),
    ("dqn", {"lr": 3e-3, "learning_starts": 50, "batch": 32, "train_every": 1,
             "target_every": 20, "eps_decay_steps": 600, "gamma": 0.0}, 40, 32),
    ("tabular", {"alpha": 0.2, "gamma": 0.0, "eps_decay_steps": 600, "bins": {0: [0.5]}},
     40, 32),
])
def test_learners_solve_a_bandit(algo, kw, updates, episodes, tmp_path, bandit):
    env = bandit()
    t = train(env, algo, updates, episodes, tmp_path, **kw)
    obs = env.reset()[0]["a_0"]
    assert greedy(t, obs) == 1  # the arm paying 1
    last = t.history[-1]["a_0/return"]
    assert last > 0.7  # mostly pulls the best arm by now


@pytest.mark.parametrize("algo,kw", [
    ("ppo", {"lr": 3e-3, "minibatch": 64, "gamma": 0.95}),
    ("dqn", {"lr": 3e-3, "learning_starts": 100, "batch": 32, "train_every": 1,
             "target_every": 50, "eps_decay_steps": 2000, "gamma": 0.95}),
    ("tabular", {"alpha": 0.3, "gamma": 0.95, "eps_decay_steps": 2000,
                 "bins": {0: [0.5], 1: [0.5], 2: [0.5]}}),
])
def test_learners_solve_a_short_chain(algo, kw, tmp_path, chain):
    env = chain()
    t = train(env, algo, 30, 16, tmp_path, **kw)
    obs = env.reset()[0]["a_0"]
    assert greedy(t, obs) == 1  # go right
    assert t.history[-1]["a_0/return"] > 0.8


def test_ppo_continuous_finds_the_target(tmp_path, target):
    env = target(0.5)
    t = train(env, "ppo", 60, 64, tmp_path, lr=1e-2, minibatch=64, init_log_std=-0.5)
    a = greedy(t, env.reset()[0]["a_0"])
    assert a.shape == (1,) and a[0] == pytest.approx(0.5, abs=0.1)


# ------------------------------------------------------------------------------ pieces by hand
def test_gae_against_a_hand_computation():
    r, v = [1.0, 0.0, 2.0], [0.5, 0.4, 0.3]
    g, lam = 0.9, 0.8
    d2 = 2.0 + g * 0.7 - 0.3          # bootstrapped with last value 0.7
    d1 = 0.0 + g * 0.3 - 0.4
    d0 = 1.0 + g * 0.4 - 0.5
    a2 = d2
    a1 = d1 + g * lam * a2
    a0 = d0 + g * lam * a1
    adv, ret = gae(r, v, [0, 0, 0], 0.7, g, lam)
    np.testing.assert_allclose(adv, [a0, a1, a2], rtol=1e-6)
    np.testing.assert_allclose(ret, np.array([a0, a1, a2]) + v, rtol=1e-6)
    # an episode ending after step 1: no bootstrap across it
    adv, _ = gae(r, v, [0, 1, 0], 0.7, g, lam)
    b1 = 0.0 - 0.4
    assert adv[1] == pytest.approx(b1)
    assert adv[0] == pytest.approx(1.0 + g * 0.4 - 0.5 + g * lam * b1)


def test_ppo_loss_pieces_on_fixed_tensors():
    new = torch.log(torch.tensor([0.5, 0.2, 0.9]))
    old = torch.log(torch.tensor([0.25, 0.4, 0.9]))
    adv = torch.tensor([1.0, 1.0, -2.0])
    # ratios 2.0, 0.5, 1.0; clip 0.2: min(2, 1.2)=1.2, min(0.5, 0.8)=0.5, min(-2, -2)=-2
    assert float(policy_loss(new, old, adv, 0.2)) == pytest.approx(-(1.2 + 0.5 - 2.0) / 3)
    adv_neg = torch.tensor([-1.0, -1.0, 0.0])
    # negative advantages: min(-2, -1.2) = -2; min(-0.5, -0.8) = -0.8
    assert float(policy_loss(new, old, adv_neg, 0.2)) == pytest.approx((2 + 0.8) / 3)
    v, ret = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 4.0])
    assert float(value_loss(v, ret)) == pytest.approx(0.5 * (1 + 4) / 2)
    vo = torch.tensor([1.5, 1.5])  # clipped at +-0.2 around the old values: 1.3 and 1.7
    assert float(value_loss(v, ret, vo, 0.2)) == pytest.approx(
        0.5 * (max(1.0, 1.3 ** 2) + max(4.0, (1.7 - 4) ** 2)) / 2)
    lr = new - old
    assert float(approx_kl(new, old)) == pytest.approx(float(((lr.exp() - 1) - lr).mean()))


def test_running_norm_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, (1000, 4))
    n = RunningNorm((4,))
    for chunk in np.array_split(x, 7):
        n.update(chunk)
    np.testing.assert_allclose(n.mean, x.mean(0))
    np.testing.assert_allclose(n.var, x.var(0))
    z = n.normalize(x)
    assert abs(z.mean()) < 1e-6 and math.isclose(float(z.std()), 1.0, rel_tol=1e-3)

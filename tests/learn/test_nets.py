"""The numpy copy of the actor-critic that acting uses gives the torch network's numbers."""

import numpy as np
import pytest
import torch

from abmm.learn.nets import ActorCritic, numpy_actor_critic


@pytest.mark.parametrize("action", [{"discrete": 7},
                                    {"box": 3, "low": [-1.0] * 3, "high": [1.0] * 3}])
def test_numpy_forward_matches_torch(action):
    torch.manual_seed(0)
    net = ActorCritic(5, action, (16, 16))
    with torch.no_grad():  # non-trivial weights (the output layer starts near zero)
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    fast = numpy_actor_critic(net)
    x = np.random.default_rng(1).normal(size=(64, 5)).astype(np.float32)
    a, logp, v = fast.sample(x, np.random.default_rng(2))
    xt = torch.as_tensor(x)
    with torch.no_grad():
        d = net.dist(xt)
        ref_logp = net.log_prob(d, torch.as_tensor(a)).numpy()
        ref_v = net.value(xt).numpy()
        ref_act = net.act(xt)
    np.testing.assert_allclose(logp, ref_logp, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(v, ref_v, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast.act(x), ref_act, rtol=1e-5, atol=1e-6)


def test_numpy_sampling_follows_the_categorical():
    torch.manual_seed(0)
    net = ActorCritic(2, {"discrete": 4}, (8,))
    with torch.no_grad():
        net.actor[-1].bias.copy_(torch.tensor([0.0, 1.0, 2.0, -1.0]))
    fast = numpy_actor_critic(net)
    x = np.zeros((200_000, 2), np.float32)
    a, _, _ = fast.sample(x, np.random.default_rng(3))
    with torch.no_grad():
        p = net.dist(torch.as_tensor(x[:1])).probs.numpy()[0]
    freq = np.bincount(a, minlength=4) / len(a)
    # 4 standard errors of a multinomial frequency
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / len(a)))

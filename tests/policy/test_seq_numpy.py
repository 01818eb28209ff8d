"""Sequence encoders in numpy (``abmm.policy.sequence``): the same numbers as the torch modules
(``abmm.learn.nets``) on random weights, a reversed window does not match (negative control),
the encoders read the history and the MLP only the latest observation, the per-agent windows
of a stateful policy, the policy file's version-3 ``encoder`` field, and one-line spec
errors."""

from __future__ import annotations

import numpy as np
import pytest

from abmm.policy.file import PolicyFileError, build_policy, load_policy, save_policy
from abmm.policy.sequence import Windows, encoder_arrays, encoder_out_dim, encoder_spec

torch = pytest.importorskip("torch")
from abmm.learn.nets import ActorCritic, QNet, numpy_actor_critic  # noqa: E402

SPECS = {
    "conv1d": {"type": "conv1d", "window": 8, "channels": [6, 5], "kernel": 3},
    "conv1d_k1": {"type": "conv1d", "window": 3, "channels": [4], "kernel": 1},
    "gru": {"type": "gru", "window": 8, "hidden": 12},
    "gru2": {"type": "gru", "window": 5, "hidden": 7, "layers": 2},
}
F = 6


def _perturbed(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # non-trivial weights (the output layers start near zero)
        for p in net.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    return net


def _windows(n, spec, seed=1):
    return np.random.default_rng(seed).normal(size=(n, spec["window"], F)).astype(np.float32)


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("action", [{"discrete": 5},
                                    {"box": 2, "low": [-1.0, -1.0], "high": [1.0, 1.0]}])
def test_numpy_actor_critic_matches_torch(name, action):
    spec = encoder_spec(SPECS[name])
    torch.manual_seed(0)
    net = _perturbed(ActorCritic(F, action, (16, 16), encoder=spec))
    fast = numpy_actor_critic(net)
    x = _windows(64, spec)
    xt = torch.as_tensor(x)
    with torch.no_grad():
        ref_f = net.features(xt).numpy()
        d = net.dist(xt)
        ref_v = net.value(xt).numpy()
        ref_act = net.act(xt)
    f = fast.features(x)
    assert f.shape == (64, encoder_out_dim(spec, F)) and f.dtype == np.float32
    np.testing.assert_allclose(f, ref_f, rtol=1e-5, atol=1e-5)
    a, logp, v = fast.sample(x, np.random.default_rng(2))
    with torch.no_grad():
        ref_logp = net.log_prob(d, torch.as_tensor(a)).numpy()
    np.testing.assert_allclose(logp, ref_logp, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(v, ref_v, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast.act(x), ref_act, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(SPECS))
def test_numpy_q_values_match_torch(name):
    from abmm.learn.export import frozen_policy

    spec = encoder_spec(SPECS[name])
    torch.manual_seed(1)
    net = _perturbed(QNet(F, 4, (16,), encoder=spec), seed=3)
    state = {"algo": "dqn", "spec": net.spec, "norm": None,
             "weights": {k: v.clone() for k, v in net.state_dict().items()}}
    pol = frozen_policy(state)
    assert pol.window == spec["window"]
    x = _windows(32, spec)
    with torch.no_grad():
        ref = net(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(pol.q_values(x), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["conv1d", "gru", "gru2"])
def test_a_reversed_window_does_not_match_torch(name):
    """Negative control: the comparison above would catch a numpy forward pass that reads the
    window newest-first."""
    spec = encoder_spec(SPECS[name])
    torch.manual_seed(0)
    net = _perturbed(ActorCritic(F, {"discrete": 5}, (16,), encoder=spec))
    fast = numpy_actor_critic(net)
    x = _windows(16, spec)
    with torch.no_grad():
        ref = net.features(torch.as_tensor(x)).numpy()
    wrong = fast.features(np.ascontiguousarray(x[:, ::-1]))
    assert np.abs(wrong - ref).max() > 1e-2


@pytest.mark.parametrize("name", ["conv1d", "gru"])
def test_the_encoders_read_earlier_steps_of_the_window(name):
    spec = encoder_spec(SPECS[name])
    torch.manual_seed(0)
    fast = numpy_actor_critic(_perturbed(ActorCritic(F, {"discrete": 5}, (16,), encoder=spec)))
    x = _windows(1, spec)
    base = fast.features(x)
    for t in (0, spec["window"] // 2):  # the oldest step and a middle one
        y = x.copy()
        y[0, t] += 1.0
        assert np.abs(fast.features(y) - base).max() > 1e-4, t


def _file_policy(tmp_path, spec, algo="ppo", norm=True):
    """A policy file written from a torch network, and the network."""
    from abmm.learn.export import snapshot_to_arrays

    torch.manual_seed(2)
    action = {"discrete": 5}
    net = _perturbed(ActorCritic(F, action, (16,), encoder=spec) if algo == "ppo"
                     else QNet(F, 5, (16,), encoder=spec))
    rng = np.random.default_rng(4)
    state = {"algo": algo, "spec": net.spec,
             "weights": {k: v.clone() for k, v in net.state_dict().items()},
             "norm": None if not norm else {"mean": rng.normal(size=F).tolist(),
                                            "var": rng.uniform(0.5, 2, F).tolist(),
                                            "count": 10.0, "clip": 10.0, "eps": 1e-8}}
    path = save_policy(tmp_path / "seq.npz", {"learner": snapshot_to_arrays("learner", state)},
                       {"kind": "market", "args": {}, "policy_config": {}})
    return path, net, state


@pytest.mark.parametrize("name", ["conv1d", "gru2"])
@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_a_sequence_policy_file_round_trips(tmp_path, name, algo):
    spec = encoder_spec(SPECS[name])
    path, net, state = _file_policy(tmp_path, spec, algo)
    pols, config = load_policy(path)
    assert config["version"] == 3
    cfg = config["learners"]["learner"]
    assert cfg["encoder"] == spec and cfg["obs_dim"] == F
    pol = pols["learner"]
    assert pol.window == spec["window"] and pol.obs_dim == F
    # the stateful policy, fed one observation at a time, acts as torch does on the
    # zero-padded windows (normalized row by row)
    rng = np.random.default_rng(5)
    steps = rng.normal(size=(spec["window"] + 3, 2, F)).astype(np.float32)
    hist = np.zeros((2, spec["window"], F), np.float32)
    mean, var = np.asarray(state["norm"]["mean"]), np.asarray(state["norm"]["var"])
    for obs in steps:
        hist = np.concatenate([hist[:, 1:], obs[:, None]], axis=1)
        got = pol(obs)
        x = np.clip((hist - mean) / np.sqrt(var + 1e-8), -10, 10).astype(np.float32)
        with torch.no_grad():
            xt = torch.as_tensor(x)
            ref = net.act(xt) if algo == "ppo" else net(xt).argmax(-1).numpy()
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(pol.fork()(hist), got)  # stateless windows: the same


def test_a_stateful_policy_keeps_one_window_per_fork_and_resets():
    spec = encoder_spec(SPECS["gru"])
    torch.manual_seed(0)
    net = _perturbed(ActorCritic(F, {"box": 1, "low": [-9.0], "high": [9.0]}, (8,),
                                 encoder=spec))
    from abmm.learn.export import frozen_policy

    pol = frozen_policy({"algo": "ppo", "spec": net.spec, "norm": None,
                         "weights": net.state_dict()})
    rng = np.random.default_rng(0)
    a_obs, b_obs = rng.normal(size=(2, 5, F)).astype(np.float32)
    pa, pb = pol.fork(), pol.fork()
    assert pa is not pb and pa.net is pb.net  # the weights are shared
    out_a = [pa(o)[0] for o in a_obs]
    out_b = [pb(o)[0] for o in b_obs]
    both = pol.fork()
    together = [both(np.stack([x, y])) for x, y in zip(a_obs, b_obs, strict=True)]
    # (a batch of two rounds its matrix products differently from one row: float32 ulps)
    np.testing.assert_allclose(np.stack(out_a), np.stack([t[0] for t in together]), atol=1e-6)
    np.testing.assert_allclose(np.stack(out_b), np.stack([t[1] for t in together]), atol=1e-6)
    pa.reset()
    np.testing.assert_array_equal(pa(a_obs[0])[0], out_a[0])  # an empty window again
    with pytest.raises(ValueError, match="fork"):
        both(a_obs[0])  # two streams, then one: a caller mixing up agents
    with pytest.raises(ValueError, match="windows of shape"):
        pol(np.zeros((1, 3, F), np.float32))


def test_an_mlp_policy_reads_only_the_latest_observation(tmp_path):
    torch.manual_seed(0)
    net = _perturbed(ActorCritic(F, {"box": 2, "low": [-9.0] * 2, "high": [9.0] * 2}, (8,)))
    from abmm.learn.export import frozen_policy

    pol = frozen_policy({"algo": "ppo", "spec": net.spec, "norm": None,
                         "weights": net.state_dict()})
    assert pol.window == 1 and pol.fork() is pol
    rng = np.random.default_rng(0)
    last = rng.normal(size=(1, F)).astype(np.float32)
    outs = []
    for seed in range(3):  # different histories, the same latest observation
        for o in np.random.default_rng(seed).normal(size=(4, 1, F)).astype(np.float32):
            pol(o)
        outs.append(pol(last))
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


def test_windows_pad_with_zeros_and_keep_streams_apart():
    w = Windows(3, 2)
    out = w.push(np.array([[1, 1], [2, 2]], np.float32), ["a", "b"])
    np.testing.assert_array_equal(out[0], [[0, 0], [0, 0], [1, 1]])
    out = w.push(np.array([[3, 3]], np.float32), ["b"])
    np.testing.assert_array_equal(out[0], [[0, 0], [2, 2], [3, 3]])
    np.testing.assert_array_equal(w.peek("a", np.array([5, 5])), [[0, 0], [1, 1], [5, 5]])
    np.testing.assert_array_equal(w.peek("new", np.array([5, 5])), [[0, 0], [0, 0], [5, 5]])
    w.drop("a")
    out = w.push(np.array([[7, 7], [8, 8]], np.float32), ["c", "b"])  # c reuses a's row
    np.testing.assert_array_equal(out[0], [[0, 0], [0, 0], [7, 7]])
    np.testing.assert_array_equal(out[1], [[2, 2], [3, 3], [8, 8]])
    assert len(w) == 2
    w.clear()
    assert len(w) == 0
    many = w.push(np.ones((300, 2), np.float32), [f"k{i}" for i in range(300)])
    assert many.shape == (300, 3, 2) and len(w.buf) == 512  # capacity doubles, no more
    np.testing.assert_array_equal(many[:, :2], 0)
    rows = Windows(4, 2)
    for _ in range(3):
        out = rows.push(np.ones((100, 2), np.float32))  # rows 0..99 as streams
    assert len(rows.buf) == 128 and out.shape == (100, 4, 2)
    np.testing.assert_array_equal(out[:, 0], 0)
    np.testing.assert_array_equal(out[:, 1:], 1)


@pytest.mark.parametrize("raw,match", [
    ({"type": "lstm"}, "encoder.type: 'lstm'; expected one of mlp, conv1d, gru"),
    ({"type": "gru", "window": 0}, "encoder.window: 0; expected an int from 1"),
    ({"type": "conv1d", "window": -3}, "encoder.window: -3"),
    ({"type": "mlp", "window": 4}, "encoder.window: 4 with type mlp; expected 1"),
    ({"type": "gru", "channels": [4]}, "encoder.channels: not a key of a gru encoder"),
    ({"type": "conv1d", "window": 4, "kernel": 3, "channels": [8, 8]},
     "encoder.window: 4; 2 convolution"),
    ({"type": "conv1d", "channels": []}, "encoder.channels"),
    ({"type": "gru", "hidden": 2.5}, "encoder.hidden: 2.5"),
    ("gru", "encoder: 'gru'; expected a mapping"),
])
def test_bad_encoder_specs_are_one_line_errors(raw, match):
    with pytest.raises(ValueError, match=match.replace("(", r"\(")) as exc:
        encoder_spec(raw)
    assert "\n" not in str(exc.value)


def test_encoder_spec_defaults():
    assert encoder_spec(None) is None and encoder_spec({"type": "mlp"}) is None
    assert encoder_spec({"type": "conv1d"}) == {"type": "conv1d", "window": 16,
                                                "channels": [32, 32], "kernel": 3}
    assert encoder_spec({"type": "gru", "window": 32}) == {"type": "gru", "window": 32,
                                                           "hidden": 64, "layers": 1}
    assert set(encoder_arrays(encoder_spec({"type": "gru", "layers": 2}), 5)) == {
        f"gru/{i}/{k}" for i in (0, 1) for k in ("w_ih", "w_hh", "b_ih", "b_hh")}


def test_bad_sequence_policy_files(tmp_path):
    spec = encoder_spec(SPECS["conv1d"])
    path, _, _ = _file_policy(tmp_path, spec)
    from abmm.policy.file import read_policy_file

    config, arrays = read_policy_file(path)
    cfg = config["learners"]["learner"]
    bad = dict(cfg, encoder={"type": "transformer"})
    with pytest.raises(PolicyFileError, match="encoder.type: 'transformer'"):
        build_policy("learner", bad, arrays)
    short = {k: v for k, v in arrays.items() if k != "learner/encoder/conv/1/b"}
    with pytest.raises(PolicyFileError, match="missing arrays"):
        build_policy("learner", cfg, short)
    wrong = dict(arrays)
    wrong["learner/encoder/conv/0/w"] = np.zeros((6, F, 2), np.float32)
    with pytest.raises(PolicyFileError, match="conv/0/w has shape"):
        build_policy("learner", cfg, wrong)


def test_the_torch_conv1d_encoder_is_a_conv1d():
    """``Conv1dEncoder`` computes its convolutions as matrix products (fast on CPU); they are
    ``torch.nn.Conv1d``'s."""
    spec = encoder_spec(SPECS["conv1d"])
    torch.manual_seed(0)
    enc = ActorCritic(F, {"discrete": 2}, (4,), encoder=spec).encoder
    x = torch.as_tensor(_windows(8, spec))
    with torch.no_grad():
        ref = x.transpose(1, 2)
        for conv in enc.convs:
            ref = torch.relu(conv(ref))
        ref = ref.transpose(1, 2).flatten(1)
        torch.testing.assert_close(enc(x), ref, rtol=1e-5, atol=1e-5)

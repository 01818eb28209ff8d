"""Outside policies: SB3 .zip and TorchScript to the torch-free .npz; converted policies act as
the originals; mismatched spaces give one line naming both shapes; evaluate_policy."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from abmm.learn import importers  # noqa: E402
from abmm.learn.evaluate import evaluate_policy, resolve_policy  # noqa: E402
from abmm.policy.file import load_policy, read_policy_file  # noqa: E402

KW = {"max_cycles": 5, "overrides": ["market.close=10:06"]}


def _sb3_model(algo, tmp_path, obs_dim=16, action=None, **kw):
    sb3 = pytest.importorskip("stable_baselines3", reason="stable-baselines3: the sb3 extra")
    import gymnasium as gym

    class Dummy(gym.Env):
        observation_space = gym.spaces.Box(-1, 1, (obs_dim,), np.float32)
        action_space = action or gym.spaces.Discrete(26)

        def reset(self, seed=None, options=None):
            return self.observation_space.sample(), {}

        def step(self, a):
            return self.observation_space.sample(), 0.0, False, False, {}

    model = getattr(sb3, algo)("MlpPolicy", Dummy(), seed=0, device="cpu", **kw)
    path = tmp_path / f"{algo}.zip"
    model.save(path)
    return model, path


def _obs(n=512, d=16):
    return np.random.default_rng(1).uniform(-1, 1, (n, d)).astype(np.float32)


@pytest.mark.parametrize("algo", ["PPO", "A2C", "DQN"])
def test_sb3_discrete_acts_exactly_like_sb3(algo, tmp_path):
    model, path = _sb3_model(algo, tmp_path)
    pols, config = importers.import_sb3(path)
    x = _obs()
    np.testing.assert_array_equal(pols["learner"](x), model.predict(x, deterministic=True)[0])
    out = importers.save_imported((pols, config), tmp_path / "p.npz")
    loaded, cfg = load_policy(out)
    np.testing.assert_array_equal(loaded["learner"](x), model.predict(x, deterministic=True)[0])
    assert cfg["env"]["kind"] == "market" and cfg["env"]["policy_config"]["action_mode"] == \
        "discrete"
    assert cfg["version"] == (2 if algo == "DQN" else 1)  # v2 only for DQN's relu


def test_sb3_box_and_relu_and_unequal_critic(tmp_path):
    import gymnasium as gym

    model, path = _sb3_model(
        "PPO", tmp_path, action=gym.spaces.Box(-1, 1, (4,), np.float32),
        policy_kwargs={"net_arch": {"pi": [32], "vf": [16, 16]},
                       "activation_fn": torch.nn.ReLU})
    pols, config = importers.import_sb3(path)
    x = _obs()
    np.testing.assert_allclose(pols["learner"](x), model.predict(x, deterministic=True)[0],
                               rtol=1e-5, atol=1e-6)
    assert config["env"]["args"] == {"action_mode": "continuous"}
    assert config["learners"]["learner"]["critic_hidden"] == [16, 16]


def test_sb3_space_mismatch_names_both_shapes(tmp_path):
    _, path = _sb3_model("PPO", tmp_path, obs_dim=8)
    with pytest.raises(importers.ImportError_, match=r"\(8,\).*\(16,\)"):
        importers.import_sb3(path)
    import gymnasium as gym

    _, path = _sb3_model("PPO", tmp_path, action=gym.spaces.Discrete(4))
    with pytest.raises(importers.ImportError_, match=r"Discrete\(4\).*Discrete\(26\)"):
        importers.import_sb3(path)


def test_not_an_sb3_zip(tmp_path):
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"nope")
    pytest.importorskip("stable_baselines3")
    with pytest.raises(importers.ImportError_, match="not a Stable-Baselines3 model"):
        importers.import_sb3(bad)
    with pytest.raises(importers.ImportError_, match="no such file"):
        importers.import_external(f"sb3:{tmp_path / 'missing.zip'}")


def test_torchscript_sequential_and_functional(tmp_path):
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 26))
    path = tmp_path / "seq.pt"
    torch.jit.script(seq).save(str(path))
    pols, config = importers.import_torchscript(path)
    x = _obs()
    with torch.no_grad():
        want = seq(torch.as_tensor(x)).argmax(1).numpy()
    np.testing.assert_array_equal(pols["learner"](x), want)

    class Fn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(16, 8), torch.nn.Linear(8, 4)

        def forward(self, x):
            return self.b(torch.tanh(self.a(x)))

    fn = Fn()
    path2 = tmp_path / "fn.pt"
    torch.jit.trace(fn, torch.zeros(1, 16)).save(str(path2))
    out = importers.export_external(f"torchscript:{path2}", tmp_path / "fn.npz")
    loaded, cfg = load_policy(out)
    with torch.no_grad():
        want = np.clip(fn(torch.as_tensor(x)).numpy(), -1, 1)
    np.testing.assert_allclose(loaded["learner"](x), want, rtol=1e-5, atol=1e-6)
    assert cfg["env"]["policy_config"]["action_mode"] == "continuous"
    bad = torch.nn.Sequential(torch.nn.Linear(9, 26))
    torch.jit.script(bad).save(str(tmp_path / "bad.pt"))
    with pytest.raises(importers.ImportError_, match=r"\(9,\).*\(16,\)"):
        importers.import_torchscript(tmp_path / "bad.pt")


def test_old_files_still_version_1(tmp_path):
    from abmm.resources import shipped_policies

    cfg, _ = read_policy_file(shipped_policies()["mm_coevolved"])
    assert cfg["version"] == 1
    load_policy(shipped_policies()["mm_coevolved"])


def test_resolve_order(tmp_path):
    assert resolve_policy("sb3:x.zip") == ("external", "sb3:x.zip")
    assert resolve_policy("as") == ("baseline", "as")
    assert resolve_policy("mm_coevolved")[0] == "shipped"
    f = tmp_path / "p.npz"
    f.write_bytes(b"x")
    assert resolve_policy(str(f)) == ("file", f)
    with pytest.raises(ValueError, match="neither a checkpoint file nor a baseline"):
        resolve_policy("no_such_policy")


def test_evaluate_policy_callable_policy_and_sb3(tmp_path):
    res = evaluate_policy("mm_eval", lambda obs: 12, [1000], name="fixed-12")
    assert res["kind"] == "market_making" and res["policies"]["fixed-12"]["n"] == 2
    model, path = _sb3_model("PPO", tmp_path)
    r = evaluate_policy("mm_eval", f"sb3:{path}", [1000])
    pols, _ = importers.import_sb3(path)
    p = evaluate_policy("mm_eval", pols["learner"], [1000], name=f"sb3:{path}")
    assert r["policies"] == p["policies"]


def test_cli_export_sb3_and_one_line_error(tmp_path, capsys):
    from abmm.cli import main

    _, path = _sb3_model("PPO", tmp_path)
    assert main(["export", f"sb3:{path}", str(tmp_path / "o.npz")]) == 0
    assert load_policy(tmp_path / "o.npz")[1]["env"]["policy_config"]["decision_ns"] > 0
    _, bad = _sb3_model("DQN", tmp_path, obs_dim=8)
    capsys.readouterr()
    assert main(["export", f"sb3:{bad}", str(tmp_path / "b.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "(8,)" in err and "(16,)" in err
    from abmm.agents.policy import PolicyGroup

    group = PolicyGroup(name="ext", count=1, checkpoint=str(tmp_path / "o.npz"))
    assert group.checkpoint.endswith("o.npz")  # a kind: policy agent takes the converted file

"""The torch-free policy layer: the ``.npz`` policy file (round trip against torch, loading
without torch, clear errors for bad files), shipped policies acting as before, and
``MidVolatility`` reproducing the three volatility rules it replaces."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from abmm.learn.export import export_payload
from abmm.learn.nets import ActorCritic, QNet
from abmm.learn.normalize import RunningNorm
from abmm.learn.policy import FrozenPolicy, load_policies, load_policy_file, policy_payload
from abmm.learn.tabular import TabularQ
from abmm.policy import PolicyFileError, load_policy, save_policy
from abmm.signals import MidVolatility

ROOT = Path(__file__).resolve().parents[2]
ENV = {"kind": "market", "args": {}, "policy_config": {"decision_ns": 10**9}}


def _perturb(net):
    with torch.no_grad():  # non-trivial weights (output layers start near zero)
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return net


def _norm(dim, rng):
    n = RunningNorm((dim,))
    n.update(rng.normal(0.2, 0.5, (100, dim)))
    return n


def snapshots():
    """One snapshot per learner kind, as ``policy_state()`` returns them."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    out = {}
    for name, action in (("ppo_d", {"discrete": 7}),
                         ("ppo_b", {"box": 4, "low": [-1.0] * 4, "high": [1.0] * 4})):
        net = _perturb(ActorCritic(16, action, (32, 32)))
        out[name] = {"algo": "ppo", "spec": net.spec,
                     "weights": {k: v.clone() for k, v in net.state_dict().items()},
                     "norm": _norm(16, rng).state_dict()}
    q = _perturb(QNet(16, 9, (32,)))
    out["dqn"] = {"algo": "dqn", "spec": q.spec,
                  "weights": {k: v.clone() for k, v in q.state_dict().items()},
                  "norm": _norm(16, rng).state_dict()}
    tab = TabularQ(16, type("S", (), {"n": 5})())
    tab.Q = rng.normal(size=tab.Q.shape)
    out["tab"] = tab.policy_state()
    return out


def torch_actions(state, obs):
    """The deterministic actions the way torch computes them."""
    if state["algo"] == "tabular":
        tab = TabularQ(16, type("S", (), {"n": state["Q"].shape[1]})(), bins=state["bins"])
        tab.Q = state["Q"]
        return tab.act(obs, explore=False)[0]
    from abmm.learn.nets import build

    net = build(state["spec"])
    net.load_state_dict(state["weights"])
    n = RunningNorm((len(state["norm"]["mean"]),))
    n.load_state_dict(state["norm"])
    return net.act(torch.as_tensor(n.normalize(obs)))


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    snaps = snapshots()
    path = tmp_path_factory.mktemp("pol") / "p.npz"
    export_payload(policy_payload(snaps, ENV, "hash", {"update": 1}), path)
    return path, snaps


def test_round_trip_torch_to_npz_gives_torchs_actions(npz):
    path, snaps = npz
    pols, cfg = load_policy(path)
    assert set(pols) == set(snaps) and cfg["env"] == ENV and cfg["config_hash"] == "hash"
    obs = np.random.default_rng(1).uniform(-1, 1, (300, 16)).astype(np.float32)
    for name, state in snaps.items():
        got, ref = pols[name](obs), torch_actions(state, obs)
        if name == "ppo_b":
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, ref)
        # the league and evaluation act exactly as the file does
        np.testing.assert_array_equal(FrozenPolicy(state)(obs), got)
        assert pols[name].policy_config == ENV["policy_config"]


def test_a_policy_file_loads_and_acts_without_torch():
    code = """
import sys
sys.modules["torch"] = None  # import torch now raises ImportError
import numpy as np
import abmm.agents, abmm.policy
from abmm.market.model import MarketModel
pols, cfg = abmm.policy.load_policy("policies/mm_coevolved.npz")
print(sorted(pols), int(pols["learner_0"](np.zeros((3, 16), np.float32)).shape[0]))
scen = {"name": "t", "seed": 2, "market": {"open": "10:00", "close": "10:01", "warmup": "20s"},
        "fundamental": {"sigma_1h": 0.05},
        "agents": [{"kind": "noise", "count": 20, "wake": {"kind": "poisson", "interval": "5s"}},
                   {"kind": "market_maker", "name": "mm", "strategy": "fixed",
                    "half_spread_ticks": 2, "size": 5},
                   {"kind": "policy", "name": "rl", "checkpoint": "mm_coevolved"}]}
m = MarketModel.from_scenario(scen)
m.run()
print(m.groups["rl"][0].decisions, "torch" in sys.modules and sys.modules["torch"] is not None)
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0] == "['learner_0', 'learner_1'] 3"
    assert lines[1] == "40 False"  # 10:00:20-10:01, one decision a second


def _rewrite(src: Path, dst: Path, config=None, **arrays):
    with np.load(src, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    if config is not None:
        data["config"] = np.array(json.dumps(config(json.loads(str(data["config"])))))
    for k, v in arrays.items():
        if v is None:
            del data[k.replace("__", "/")]
        else:
            data[k.replace("__", "/")] = v
    np.savez(dst, **data)
    return dst


def test_bad_policy_files_raise_a_clear_error(npz, tmp_path):
    path, _ = npz
    w = np.load(path)["ppo_d/actor/0/w"]
    bad_w = w.copy()
    bad_w[3, 2] = np.nan

    def newer(c):
        return c | {"version": 99}

    def no_learners(c):
        return {k: v for k, v in c.items() if k != "learners"}

    (tmp_path / "junk.npz").write_bytes(b"junk")
    np.savez(tmp_path / "foreign.npz", x=np.zeros(3))
    cases = {
        tmp_path / "missing.npz": "no such policy file",
        ROOT / "policies" / "mm_coevolved.pt": "abmm export",
        tmp_path / "junk.npz": "not a readable .npz",
        tmp_path / "foreign.npz": "not an abmm policy file",
        _rewrite(path, tmp_path / "newer.npz", newer): "newer",
        _rewrite(path, tmp_path / "nol.npz", no_learners): "lacks 'learners'",
        _rewrite(path, tmp_path / "shape.npz", ppo_d__actor__0__w=w[:, :5]):
            r"ppo_d/actor/0/w has shape \(16, 5\); the config declares \(16, 32\)",
        _rewrite(path, tmp_path / "nan.npz", ppo_d__actor__0__w=bad_w): "NaN or infinite",
        _rewrite(path, tmp_path / "gone.npz", dqn__q__1__b=None): "missing arrays",
        _rewrite(path, tmp_path / "extra.npz", stray=np.zeros(2)): "unexpected arrays",
    }
    for f, msg in cases.items():
        with pytest.raises(PolicyFileError, match=msg) as e:
            load_policy(f)
        assert str(f) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(PolicyFileError, match="NaN"):  # nothing bad is ever written
        save_policy(tmp_path / "w.npz", {"x": ({"algo": "tabular", "kind": "tabular",
                                                "features": [0]},
                                               {"x/Q": np.full((2, 3), np.nan),
                                                "x/bins/0": np.zeros(1)})}, ENV)
    assert not (tmp_path / "w.npz").exists()


def test_shipped_npz_policies_act_as_their_pt(tmp_path):
    """The exported files hold exactly the .pt policies: same actions on the same
    observations (the torch-free inference is the one acting used before)."""
    obs = np.random.default_rng(5).uniform(-1, 1, (500, 16)).astype(np.float32)
    for name in ("mm_coevolved", "exec_rl", "mb_cartea_jaimungal"):
        pols, cfg = load_policies(name)  # a shipped name resolves to the .npz
        assert cfg["format"] == "abmm.policy"
        payload = load_policy_file(ROOT / "policies" / f"{name}.pt")
        assert cfg["env"] == payload["env"] and cfg["config_hash"] == payload["config_hash"]
        for k, state in payload["policies"].items():
            x = obs[:, :pols[k].obs_dim]
            np.testing.assert_array_equal(pols[k](x), FrozenPolicy(state)(x))
            ref = torch_actions(state, x)
            if "box" in state["spec"]["action"]:
                np.testing.assert_allclose(pols[k](x), ref, rtol=0, atol=1e-6)
            else:
                np.testing.assert_array_equal(pols[k](x), ref)


def test_policy_agent_takes_the_pt_policys_actions():
    """A ``kind: policy`` agent driven by the shipped ``.npz``: every action it took is the
    torch ``.pt`` policy's deterministic action on the observation it saw."""
    from abmm.market.model import MarketModel

    scen = {"name": "t", "seed": 4, "market": {"open": "10:00", "close": "10:01",
                                               "warmup": "20s"},
            "fundamental": {"sigma_1h": 0.05},
            "agents": [{"kind": "noise", "count": 30, "wake": {"kind": "poisson",
                                                               "interval": "5s"}},
                       {"kind": "market_maker", "name": "mm", "strategy": "fixed",
                        "half_spread_ticks": 2, "size": 5},
                       {"kind": "policy", "name": "rl", "count": 2,
                        "checkpoint": str(ROOT / "policies" / "mm_coevolved.npz")}]}
    m = MarketModel.from_scenario(scen)
    seen = []
    for a in m.groups["rl"]:
        def rec(obs, pol=a.policy, name=a.learner_name):
            act = pol(obs)
            seen.append((name, obs.copy(), act.copy()))
            return act
        a.policy = rec
    m.run()
    assert len(seen) == 80 and any(a.n_orders for a in m.groups["rl"])
    pt = load_policy_file(ROOT / "policies" / "mm_coevolved.pt")["policies"]
    for name, obs, act in seen:
        np.testing.assert_array_equal(torch_actions(pt[name], obs), act)


def test_a_torch_checkpoint_is_refused_by_policy_agents():
    from abmm.market.model import MarketModel
    from abmm.scenario import ScenarioError

    scen = {"name": "t", "market": {"open": "10:00", "close": "10:01"},
            "agents": [{"kind": "policy", "checkpoint": str(ROOT / "policies" /
                                                            "mm_coevolved.pt")}]}
    with pytest.raises(ScenarioError, match="abmm export .*mm_coevolved.npz"):
        MarketModel.from_scenario(scen)


def test_export_cli_and_the_deprecated_quoting_module(tmp_path, capsys):
    import importlib

    from abmm.cli import main

    out = tmp_path / "one.npz"
    assert main(["export", "mm_coevolved", str(out), "--learner", "learner_1"]) == 0
    pols, cfg = load_policy(out)
    assert list(pols) == ["learner_1"] and cfg["provenance"]["source"] == "mm_coevolved.pt"
    assert main(["export", "mm_coevolved", str(out), "--learner", "nobody"]) == 2
    assert "no learner ['nobody']" in capsys.readouterr().err
    from abmm.env.actions import InvalidActionError, check_action_dict

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import abmm.agents.quoting as q

    with pytest.warns(DeprecationWarning, match="abmm.policy"):
        q = importlib.reload(q)
    assert q.InvalidActionError is InvalidActionError and q.check_action_dict is check_action_dict


# ------------------------------------------------------------------------------ MidVolatility
def _model_rule(mids, times, hl):
    """market/model.py's ``_update_activity`` (one half-life), verbatim."""
    prev, t_prev, var, decay, out = None, 0, 0.0, 1.0, []
    for m, now in zip(mids, times, strict=True):
        if m is None:
            out.append(var / (1 - decay) if decay < 1 else 0.0)
            continue
        p, tp = prev, t_prev
        prev, t_prev = m, now
        if p is not None and now > tp:
            dt = now - tp
            r2 = (m - p) ** 2 * (1e9 / dt)
            w = 1 - 0.5 ** (dt / hl)
            var += w * (r2 - var)
            decay *= 1 - w
        out.append(var / (1 - decay) if decay < 1 else 0.0)
    return out


def _mm_rule(mids, times, hl):
    """agents/market_maker.py's ``_update_vol``, verbatim."""
    alpha = 1 - 0.5 ** (1 / hl)
    var, prev, t_prev, out = None, None, 0, []
    for m, now in zip(mids, times, strict=True):
        if m is not None:
            if prev is not None and now > t_prev:
                r2 = (m - prev) ** 2 / ((now - t_prev) / 1_000_000_000)
                var = r2 if var is None else var + alpha * (min(r2, 25 * var + 1.0) - var)
            prev, t_prev = m, now
        out.append(math.sqrt(var) if var else 0.0)
    return out


def _quoting_rule(mids, interval_ns, hl):
    """The old agents/quoting.py ``MarketFeatures`` volatility, verbatim."""
    alpha, interval_s = 1 - 0.5 ** (1 / hl), interval_ns / 1e9
    var, prev, out = 0.0, None, []
    for m in mids:
        if prev is not None and m is not None:
            var += alpha * ((m - prev) ** 2 / interval_s - var)
        if m is not None:
            prev = m
        out.append(math.sqrt(var))
    return out


def _path(seed, n=3000):
    rng = np.random.default_rng(seed)
    mids = list(10_000 + np.cumsum(rng.choice([-1.5, -0.5, 0, 0.5, 1, 7], n) *
                                   (rng.random(n) < 0.4)))
    for i in np.flatnonzero(rng.random(n) < 0.05):  # one-sided books
        mids[i] = None
    times = np.cumsum(rng.choice([0, 1, 250_000_000, 10**9, 3 * 10**9 + 7], n)).tolist()
    return mids, times


@pytest.mark.parametrize("seed", [0, 1])
def test_mid_volatility_reproduces_the_three_rules(seed):
    mids, times = _path(seed)
    for hl in (120_000_000_000, 7_200_000_000_000):
        est = MidVolatility(hl, halflife_unit="ns", bias_correct=True)
        got = []
        for m, t in zip(mids, times, strict=True):
            est.update(m, t)
            got.append(est.variance)
        assert got == _model_rule(mids, times, hl)
    est = MidVolatility(50, start="first", cap=25.0)
    assert [est.update(m, t) for m, t in zip(mids, times, strict=True)] == \
        _mm_rule(mids, times, 50)
    est = MidVolatility(30.0, interval_ns=500_000_000)
    assert [est.update(m, t) for m, t in zip(mids, times, strict=True)] == \
        _quoting_rule(mids, 500_000_000, 30.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert MidVolatility(5).update(float("nan"), 0) == 0.0
    with pytest.raises(ValueError, match="halflife"):
        MidVolatility(0)

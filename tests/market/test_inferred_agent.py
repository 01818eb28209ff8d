"""``kind: inferred`` agents: act torch-free by an inverse-RL policy file; clear one-line errors
for a missing or incompatible file."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from abmm.policy.inferred import save_inferred
from abmm.resources import policy_path
from abmm.scenario import ScenarioError, load_scenario

MM_MODEL = {"offsets": [1, 2, 3, 5, 8], "tau": 60.0, "vol_halflife": 50.0}


def _scenario(agent):
    return {"name": "inf_t", "seed": 2,
            "market": {"open": "10:00", "close": "10:05", "warmup": "30s"},
            "fundamental": {"sigma_1h": 0.3},
            "agents": [{"kind": "noise", "count": 20, "wake": {"kind": "poisson",
                                                              "interval": "5s"},
                        "p_market": 0.4, "offset_ticks": 6, "max_qty": 5,
                        "order_ttl": "20s"},
                       {"kind": "market_maker", "name": "bg", "levels": 5, "size": 40,
                        "max_inventory": 100000}, agent]}


def _mm(path):
    return {"kind": "inferred", "name": "inf", "role": "market_maker", "policy": str(path),
            "size": 5, "max_inventory": 50}


def _ex(path):
    return {"kind": "inferred", "name": "inf", "role": "executor", "policy": str(path),
            "side": "buy", "quantity": 200, "start": "10:01", "duration": "2min",
            "wake": {"kind": "fixed", "interval": "20s"}}


def test_inferred_agents_act_without_torch(tmp_path):
    mm = save_inferred(tmp_path / "mm.npz", "market_maker", [2.0, 2.0, 0.2], MM_MODEL)
    ex = save_inferred(tmp_path / "ex.npz", "executor", [40.0, 360.0], {"grid": 101})
    code = textwrap.dedent(f"""
        import sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("blocked")
        sys.meta_path.insert(0, _Block())
        from abmm.scenario import build_model
        from tests.market.test_inferred_agent import _ex, _mm, _scenario
        for agent in (_mm({str(mm)!r}), _ex({str(ex)!r})):
            m = build_model(_scenario(agent))
            m.run()
            a = m.by_name("inf/0")
            s = a.summary()
            print(agent["role"], s["orders"], s["inventory"], s.get("completion"))
        assert "torch" not in sys.modules
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in out.stdout.strip().splitlines())
    orders, _, _ = lines["market_maker"].split()
    assert int(orders) > 50  # it quoted, re-quoting as the mid moved
    orders, inv, completion = lines["executor"].split()
    assert int(inv) == 200 and float(completion) == 1.0


def _error(agent) -> str:
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_scenario(agent))
    return str(exc.value)


def test_missing_or_incompatible_policy_files_are_one_line_errors(tmp_path):
    msg = _error(_mm(tmp_path / "nope.npz"))
    assert "policy" in msg and "nope.npz" in msg and "not found" in msg
    ex = save_inferred(tmp_path / "ex.npz", "executor", [1.0, 9.0], {"grid": 101})
    msg = _error(_mm(ex))
    assert "policy" in msg and "ex.npz" in msg and "not a market_maker" in msg
    net = policy_path("mm_coevolved")  # a kind: policy network file
    msg = _error(_mm(net))
    assert "mm_coevolved.npz" in msg and "not an inferred policy" in msg
    for m in (msg,):
        assert all(len(line) < 400 for line in m.splitlines())

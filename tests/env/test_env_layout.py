"""The environments' layout: one versioned entry module each, whose docstring is its doc page;
old import paths still work for one release, with a DeprecationWarning; nothing in abmm uses
them."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import pytest

ENTRY = ["abmm.env.market_v0", "abmm.env.execution_v0", "abmm.env.model_based_v0",
         "abmm.env.multi_asset_v0"]
#: Deprecated modules (shims), importable for one more release.
SHIMS = ["abmm.env.model_based", "abmm.agents.quoting", "abmm.market.timeutil", "abmm.agents.groups"]


@pytest.mark.parametrize("name", ENTRY)
def test_entry_modules_share_one_layout(name):
    mod = importlib.import_module(name)
    for fn in ("env", "parallel_env", "raw_env"):
        assert callable(getattr(mod, fn)), f"{name}.{fn}"
    doc = mod.__doc__
    for section in ("Agents", "Episodes", "Observations", "Actions", "Reward", "Infos",
                    "Arguments", "Version history"):
        assert f"\n{section}" in doc, f"{name}'s doc page lacks {section!r}"


def test_old_model_based_path_warns_and_keeps_every_name():
    sys.modules.pop("abmm.env.model_based", None)
    with pytest.warns(DeprecationWarning, match="model_based_v0"):
        old = importlib.import_module("abmm.env.model_based")
    from abmm.env import model_based_env, model_based_sim, model_based_v0
    from abmm.policy import closed_form

    assert old.ASMarket is model_based_sim.ASMarket and old.AS2008 is model_based_sim.AS2008
    assert old.ModelBasedEnv is model_based_env.ModelBasedEnv
    assert old.parallel_env is model_based_v0.parallel_env and old.env is model_based_v0.env
    assert old.raw_env is model_based_v0.raw_env
    assert old.cartea_jaimungal_value is closed_form.cartea_jaimungal_value
    assert set(old.__all__) == {"ASMarket", "ModelBasedEnv", "parallel_env", "env", "raw_env",
                                "as_quotes", "glft_quotes", "cartea_jaimungal_value", "AS2008"}
    # the old signatures: as_quotes(s, q, t, gamma, sigma, k, T), glft_quotes(q, gamma, sigma, k, A)
    db, da = old.as_quotes(100.0, 2.0, 0.25, 0.1, 2.0, 1.5, 1.0)
    tau = 0.75
    half = 0.5 * (0.1 * 4 * tau + 2 / 0.1 * __import__("math").log1p(0.1 / 1.5))
    assert db == pytest.approx(half + 2 * 0.1 * 4 * tau) and da == pytest.approx(half - 0.8 * tau)
    assert old.as_quotes(100.0, 0.0, 2.0, 0.1, 2.0, 1.5, 1.0)[0] == pytest.approx(
        2 / 0.1 * __import__("math").log1p(0.1 / 1.5) / 2)  # t > T: tau clipped at 0
    assert old.glft_quotes(1.0, 0.1, 2.0, 1.5, 140.0) == closed_form.glft_offsets(
        1.0, 0.1, 2.0, 1.5, 140.0)


def test_no_abmm_module_imports_a_deprecated_path():
    code = f"""
import importlib, pkgutil, abmm
shims = {SHIMS!r}
names = [m.name for m in pkgutil.walk_packages(abmm.__path__, "abmm.")]
for n in names:
    if n not in shims and not n.startswith("abmm._data"):
        importlib.import_module(n)
print(len(names))
"""
    with warnings.catch_warnings():
        out = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code],
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) > 40

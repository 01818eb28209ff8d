"""abmm._compiled: compiled copies of the hot modules run only while they match their sources."""

from __future__ import annotations

import importlib.machinery
import json
import logging
import subprocess
import sys

import pytest

from abmm import _compiled


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A package root with one module, its (dummy) compiled copy and the build's hash record."""
    root = tmp_path / "abmm"
    root.mkdir()
    src = root / "fake_mod.py"
    src.write_text("X = 1\n")
    (root / ("fake_mod" + importlib.machinery.EXTENSION_SUFFIXES[0])).write_bytes(b"")
    (root / _compiled.HASHES_FILE).write_text(
        json.dumps({"abmm.fake_mod": _compiled.source_hash(src)}))
    monkeypatch.setattr(_compiled, "_ROOT", root)
    monkeypatch.setattr(_compiled, "MODULES", ("abmm.fake_mod", "abmm.not_built"))
    monkeypatch.setattr(_compiled, "_installed", None)
    monkeypatch.delenv("ABMM_PURE_PYTHON", raising=False)
    monkeypatch.delenv("ABMM_SOURCE_MODULES", raising=False)
    before = list(sys.meta_path)
    yield src
    sys.meta_path[:] = before


def test_a_compiled_copy_of_the_current_source_is_kept(fake, caplog):
    with caplog.at_level(logging.WARNING, "abmm"):
        assert _compiled.install() == {}
    assert not caplog.records


def test_an_edited_source_runs_instead_of_its_stale_compiled_copy(fake, caplog):
    fake.write_text("X = 2\n")  # edited after the build
    with caplog.at_level(logging.WARNING, "abmm"):
        route = _compiled.install()
    assert route == {"abmm.fake_mod": fake}
    assert "abmm.fake_mod" in caplog.text and "pip install -e ." in caplog.text
    spec = sys.meta_path[0].find_spec("abmm.fake_mod")
    assert spec.origin == str(fake)
    assert sys.meta_path[0].find_spec("abmm.other") is None


def test_a_missing_hash_record_counts_as_stale(fake):
    (fake.parent / _compiled.HASHES_FILE).unlink()
    assert _compiled.install() == {"abmm.fake_mod": fake}


@pytest.mark.parametrize("var", ["ABMM_PURE_PYTHON", "ABMM_SOURCE_MODULES"])
def test_pure_python_runs_every_source(fake, monkeypatch, caplog, var):
    monkeypatch.setenv(var, "1")
    with caplog.at_level(logging.WARNING, "abmm"):
        assert _compiled.install() == {"abmm.fake_mod": fake}
    assert not caplog.records  # asked for, so no warning


def _run(code: str, **env) -> str:
    import os

    e = {k: v for k, v in os.environ.items()
         if k not in ("ABMM_PURE_PYTHON", "ABMM_SOURCE_MODULES")} | env
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=e).stdout.strip()


CHECK = ("import abmm, abmm._compiled as c, abmm.market.model, abmm.agents.noise; "
         "print(','.join(c.compiled()))")


def test_the_installed_modules_run_compiled_when_built():
    built = [m for m in _compiled.MODULES if _compiled._has_extension(_compiled._source(m))]
    if not built:
        pytest.skip("abmm's Python modules were not compiled here (no compiler or ABMM_NO_EXT=1)")
    running = _run(CHECK).split(",")
    # the build's hashes match the sources: the compiled copies are the ones in use
    assert "abmm.market.model" in running and "abmm.agents.noise" in running
    # negative controls: ABMM_PURE_PYTHON=1 and ABMM_SOURCE_MODULES=1 run them as source
    assert _run(CHECK, ABMM_PURE_PYTHON="1") == ""
    assert _run(CHECK, ABMM_SOURCE_MODULES="1") == ""


SAME_LOG = r"""
import hashlib, shutil, sys, tempfile
from pathlib import Path
import numpy as np
import pyarrow.parquet as pq
from abmm.scenario import build_model
from abmm.env import market_v0
d = Path(tempfile.mkdtemp())
m = build_model("default", seed=int(sys.argv[1]), out=d / "run",
                overrides=["market.days=1", "market.close=09:50"])
m.run()
h = hashlib.sha256()
for sub in ("events", "top"):
    t = pq.read_table(d / "run" / sub).drop_columns(["time"])
    for name in t.column_names:
        h.update(name.encode() + repr(t.column(name).to_pylist()).encode())
env = market_v0.parallel_env(max_cycles=60)
obs, _ = env.reset(seed=int(sys.argv[1]))
rng = np.random.default_rng(0)
while env.agents:
    acts = {a: int(rng.integers(env.action_space(a).n)) for a in env.agents}
    obs, rew, *_ = env.step(acts)
    for a in sorted(obs):
        h.update(obs[a].tobytes() + repr(float(rew[a])).encode())
shutil.rmtree(d)
print(h.hexdigest())
"""


def test_compiled_and_source_modules_give_the_same_event_log_and_env():
    """The claim behind compiling the hot modules: the same scenario and seed give the same
    event log and the same env observations and rewards, bit for bit, compiled or as source
    (and with the pure-Python engine and event queue)."""
    built = [m for m in _compiled.MODULES if _compiled._has_extension(_compiled._source(m))]
    if not built:
        pytest.skip("abmm's Python modules were not compiled here (no compiler or ABMM_NO_EXT=1)")

    def run(seed, **env):
        e = {k: v for k, v in __import__("os").environ.items()
             if k not in ("ABMM_PURE_PYTHON", "ABMM_SOURCE_MODULES")} | env
        return subprocess.run([sys.executable, "-c", SAME_LOG, str(seed)], capture_output=True,
                              text=True, check=True, env=e).stdout.strip()

    compiled = run(3)
    assert compiled == run(3, ABMM_SOURCE_MODULES="1")
    assert compiled == run(3, ABMM_PURE_PYTHON="1")
    assert compiled != run(4)  # negative control: the hash sees a different run

"""The examples run (tiny budgets): the SB3 one here; the RLlib one runs in its own venv in CI
(.ci/run), as RLlib pins its own gymnasium."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_sb3_ppo_market_example(tmp_path):
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 (the sb3/test extras)")
    pytest.importorskip("supersuit", reason="supersuit (the rl/test extras)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "sb3_ppo_market.py"),
                          str(tmp_path)], capture_output=True, text=True, cwd=tmp_path,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ppo_market.zip" in out.stdout and "as " in out.stdout
    assert (tmp_path / "ppo_market.npz").is_file()

"""Fixtures of the sweep tests: a tiny market (about 0.2 s a run), sweep files beside it, and a
private temporary folder for Ray (removed afterwards)."""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

#: A 40-minute market of 14 agents (the calibration tests' tiny market, shortened).
TINY = {
    "name": "tiny_sweep", "seed": 1,
    "market": {"tick_size": 0.01, "reference_price": 100.0, "open": "00:00", "close": "00:40",
               "days": 1, "warmup": "5min", "step": "1s"},
    "fundamental": {"half_life": None, "sigma_1h": 1.0},
    "agents": [
        {"kind": "noise", "count": 10, "wake": {"kind": "poisson", "interval": "10s"},
         "p_market": 0.15, "offset_ticks": 20, "cross_ticks": 1, "max_qty": 5,
         "order_ttl": "1ms"},
        {"kind": "value", "count": 3, "wake": {"kind": "poisson", "interval": "5s"},
         "obs_noise": 0.02, "smoothing": 1.0, "edge_ticks": 2, "aggression": 0.8,
         "max_qty": 5, "max_position": 100000},
        {"kind": "market_maker", "count": 1, "strategy": "fixed", "half_spread_ticks": 3,
         "levels": 2, "size": 5},
    ],
}


@pytest.fixture
def tiny(tmp_path) -> Path:
    """The tiny market's scenario file (in the test's folder)."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY, sort_keys=False))
    return path


@pytest.fixture
def sweep_file(tmp_path, tiny):
    """``sweep_file(name, **keys)``: a sweep file of the tiny market (``scenario: tiny.yaml``
    unless given) with the given top-level keys."""
    def make(name: str = "sweep.yaml", **keys) -> Path:
        path = tmp_path / name
        data = {"scenario": tiny.name, **keys}
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path
    return make


@pytest.fixture
def ray_tmp(monkeypatch):
    """Ray importable, its usage statistics off and its files in a private folder (removed)."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("Ray is not installed (pip install 'abmm[distributed]'); the Ray backend is "
                    "tested where it is")
    d = tempfile.mkdtemp(prefix="abmmray", dir="/tmp")  # short: Ray's socket paths are limited
    monkeypatch.setenv("RAY_TMPDIR", d)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    yield d
    shutil.rmtree(d, ignore_errors=True)


"""Shared fixtures: every engine test runs against both engines (compiled and reference)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from abmm.engine import CompiledOrderBook, PyOrderBook

ROOT = Path(__file__).resolve().parent.parent
#: The shared benchmark folder (gen_stream.py); tests that need it skip when it is absent.
BENCH_DIR = Path(os.environ.get("ABMM_BENCH_DIR", ROOT.parent / "shared" / "bench"))

# Ray (abmm.parallel's backend where it is installed) sends no usage statistics from the tests
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

ENGINES = {"python": PyOrderBook}
if CompiledOrderBook is not None:
    ENGINES["compiled"] = CompiledOrderBook


@pytest.fixture(scope="session")
def bench_dir() -> Path:
    return BENCH_DIR


@pytest.fixture(params=["compiled", "python"])
def Book(request):
    """The order-book class under test (parametrized over both engines)."""
    if request.param not in ENGINES:
        pytest.skip("compiled engine not built (tests/engine/test_packaging.py fails for that)")
    return ENGINES[request.param]


@pytest.fixture
def book(Book):
    """A fresh book (tick 1, level events on) of the engine under test."""
    return Book()


@pytest.fixture(scope="session", autouse=True)
def _ray_files_in_a_private_folder():
    """Ray's session files (where a test starts Ray) go to a folder removed at the end."""
    d = tempfile.mkdtemp(prefix="abmmray", dir="/tmp")  # short: Ray's socket paths are limited
    before = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = d
    yield d
    if before is None:
        os.environ.pop("RAY_TMPDIR", None)
    else:
        os.environ["RAY_TMPDIR"] = before
    shutil.rmtree(d, ignore_errors=True)

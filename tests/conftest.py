"""Shared fixtures: every engine test runs against both engines (compiled and reference)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from abmm.engine import CompiledOrderBook, PyOrderBook

ROOT = Path(__file__).resolve().parent.parent
#: The shared benchmark folder (gen_stream.py); tests that need it skip when it is absent.
BENCH_DIR = Path(os.environ.get("ABMM_BENCH_DIR", ROOT.parent / "shared" / "bench"))

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

"""Which engine is in use, and the fallback: the compiled engine must be the one in use unless
``ABMM_PURE_PYTHON`` is set; without the extension abmm still works, with a logged warning."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import abmm.engine as E

PURE = os.environ.get("ABMM_PURE_PYTHON", "") not in ("", "0")


def run(code: str, **env) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "ABMM_PURE_PYTHON"}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=full_env, check=True)


def test_compiled_engine_is_in_use():
    """Fails when the extension did not build or a stale pure-Python install shadows it."""
    if PURE:
        assert E.ENGINE == "python" and E.OrderBook is E.PyOrderBook
    else:
        assert E.CompiledOrderBook is not None, f"compiled engine missing: {E._import_error}"
        assert E.ENGINE == "compiled" and E.OrderBook is E.CompiledOrderBook
        assert E.OrderBook.__module__ == "abmm.engine._cbook"
        from abmm.market import kernel as K

        assert K.EventQueue.__module__ == "abmm.market._cqueue", "the C event queue did not build"
        from abmm.agents import base as B

        assert B.Latency.__module__ == "abmm.agents._crng", "the C random-draw helpers did not build"
        from abmm.signals import MidVolatility

        assert MidVolatility.__module__ == "abmm.signals._cvol", "the C volatility did not build"


def test_env_var_forces_pure_python():
    out = run("""
        import logging; logging.basicConfig(level=logging.WARNING)
        import abmm.engine as E
        print(E.ENGINE)
        """, ABMM_PURE_PYTHON="1")
    assert out.stdout.strip() == "python"
    assert "ABMM_PURE_PYTHON is set" in out.stderr


def test_missing_extension_falls_back_with_warning():
    out = run("""
        import logging, sys
        logging.basicConfig(level=logging.WARNING)
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "abmm.engine._cbook":
                    raise ImportError("simulated build failure")
        sys.meta_path.insert(0, Block())
        import abmm.engine as E
        b = E.OrderBook()
        b.limit(0, 100, 5); b.market(1, 2)
        print(E.ENGINE, b.remaining(1))
        """)
    assert out.stdout.split() == ["python", "3"]
    assert "compiled engine unavailable" in out.stderr and "simulated build failure" in out.stderr


def test_sources_are_shipped():
    """MANIFEST.in ships the Cython sources (an sdist without them cannot build the engine)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    manifest = (root / "MANIFEST.in").read_text()
    assert "recursive-include cython_ext *.pyx *.pxd" in manifest
    assert (root / "cython_ext" / "_cbook.pyx").exists()
    assert (root / "cython_ext" / "_cqueue.pyx").exists()
    assert (root / "cython_ext" / "_crng.pyx").exists()
    assert (root / "cython_ext" / "_cvol.pyx").exists()
